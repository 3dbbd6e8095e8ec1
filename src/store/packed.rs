//! How a record is kept in an outbox (sled's tree, Redis's record streams): deflated,
//! behind a one-byte tag. Article records are mostly text and shrink to about a
//! quarter, so a store's cache, its files, Redis's memory and the wire carry less.
//!
//! Invariants: `unpack(pack(r)) == r`; a value without the tag is a record stored
//! before records were packed (JSON text never starts with the tag byte), and reads
//! back as itself, so an older store's outbox needs no migration.

use std::io::{Read, Write};

/// The first byte of a packed record.
const TAG: u8 = 0;

/// A record as an outbox keeps it. Deflating is done where the record is made (on the
/// CPU pool), not on the store's commit path.
pub fn pack(record: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(record.len() / 3 + 1);
    out.push(TAG);
    let mut encoder = flate2::write::DeflateEncoder::new(out, flate2::Compression::fast());
    encoder
        .write_all(record)
        .and_then(|()| encoder.finish())
        .expect("deflating into memory cannot fail")
}

/// The record an outbox value holds.
pub fn unpack(stored: &[u8]) -> std::io::Result<Vec<u8>> {
    match stored.split_first() {
        Some((&TAG, packed)) => {
            let mut record = Vec::with_capacity(packed.len() * 4);
            flate2::read::DeflateDecoder::new(packed).read_to_end(&mut record)?;
            Ok(record)
        }
        _ => Ok(stored.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_packed_smaller_and_come_back_whole() {
        let record = br#"{"title":"Storm","body":"The storm came in the night. The storm came in the night. The storm came in the night."}"#;
        let packed = pack(record);
        assert_eq!(packed[0], TAG);
        assert!(
            packed.len() < record.len(),
            "{} of {}",
            packed.len(),
            record.len()
        );
        assert_eq!(unpack(&packed).unwrap(), record);
        assert_eq!(unpack(&pack(b"")).unwrap(), b"");
    }

    #[test]
    fn a_record_stored_before_packing_reads_as_itself() {
        assert_eq!(unpack(br#"{"r":1}"#).unwrap(), br#"{"r":1}"#);
        assert_eq!(unpack(b"").unwrap(), b"");
    }

    #[test]
    fn a_damaged_packed_record_is_an_error() {
        let mut packed = pack(b"{\"body\":\"some text to deflate, some text to deflate\"}");
        packed.truncate(packed.len() / 2);
        assert!(unpack(&packed).is_err());
        assert!(unpack(&[TAG, 0xff, 0xff, 0xff]).is_err());
    }
}
