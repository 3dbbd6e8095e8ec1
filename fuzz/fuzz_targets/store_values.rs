//! Store values as read back from disk: any bytes decode to a value or an error, and a
//! value that decodes encodes back to bytes that decode to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newscrawl::store::{Capture, HostRecord, QueueEntry, RevisitSchedule, SinkOffset, UrlState};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Compared by encoding, so that a NaN in a decoded float counts as equal to itself.
fn round_trip<T: Serialize + DeserializeOwned>(bytes: &[u8]) {
    if let Ok(value) = postcard::from_bytes::<T>(bytes) {
        let encoded = postcard::to_stdvec(&value).expect("a decoded value encodes");
        let again: T = postcard::from_bytes(&encoded).expect("its encoding decodes");
        assert_eq!(postcard::to_stdvec(&again).unwrap(), encoded);
    }
}

fuzz_target!(|bytes: &[u8]| {
    round_trip::<UrlState>(bytes);
    round_trip::<QueueEntry>(bytes);
    round_trip::<HostRecord>(bytes);
    round_trip::<Capture>(bytes);
    round_trip::<RevisitSchedule>(bytes);
    round_trip::<SinkOffset>(bytes);
});
