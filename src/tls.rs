//! TLS trust and TLS failures: which certificate authorities the crawler trusts beyond
//! the built-in roots (a PEM file of one or more CAs, `crawler.ca_file` or
//! `--ca-file`), and what a failure of the TLS layer is called.
//!
//! Invariant: certificates are always verified; a CA file adds trust and never removes
//! it; a TLS failure is named by what failed (an unknown issuer, an expired
//! certificate, a certificate for another name, a refused handshake), never reported
//! as a bare network error.

use std::error::Error;
use std::path::Path;

use rustls::{AlertDescription, CertificateError};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// The certificates of a PEM file of one or more CAs; an error names what is wrong
/// with the file.
pub fn read_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut certs = Vec::new();
    for (n, der) in CertificateDer::pem_slice_iter(&pem).enumerate() {
        let der = der.map_err(|e| {
            format!(
                "{}: certificate {} is not valid PEM: {e}",
                path.display(),
                n + 1
            )
        })?;
        let cert = reqwest::Certificate::from_der(&der)
            .map_err(|e| format!("{}: certificate {}: {e}", path.display(), n + 1))?;
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err(format!(
            "{}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it",
            path.display()
        ));
    }
    Ok(certs)
}

/// What failed in the TLS layer, when `error` (or one of its causes) is a TLS error.
pub fn failure(error: &(dyn Error + 'static)) -> Option<String> {
    let mut cause: Option<&(dyn Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(describe(tls));
        }
        // An I/O error hides the error it wraps from `source()`: follow it instead.
        cause = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn Error + 'static)),
            None => e.source(),
        };
    }
    None
}

fn describe(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => {
                "certificate not trusted: unknown issuer (add its CA with --ca-file)".into()
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "certificate expired".into()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "certificate not valid yet".into()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "certificate not valid for this host name".into()
            }
            CertificateError::Revoked => "certificate revoked".into(),
            CertificateError::BadSignature => "certificate has a bad signature".into(),
            other => format!("invalid certificate: {other:?}"),
        },
        rustls::Error::AlertReceived(alert) => match alert {
            AlertDescription::HandshakeFailure | AlertDescription::ProtocolVersion => {
                format!("handshake refused by the server ({alert:?}): no protocol version or cipher in common")
            }
            _ => format!("handshake refused by the server ({alert:?})"),
        },
        other => format!("handshake failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_error_is_found_under_io_errors_and_named() {
        let tls = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        // As hyper and tokio-rustls wrap it: an I/O error in an I/O error.
        let io = std::io::Error::other(std::io::Error::new(std::io::ErrorKind::InvalidData, tls));
        let named = failure(&io).expect("a TLS failure");
        assert!(named.contains("unknown issuer"), "{named}");
        let plain = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(failure(&plain), None);
    }

    #[test]
    fn a_ca_file_without_certificates_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let err = read_ca_file(&path).unwrap_err();
        assert!(
            err.contains("ca.pem") && err.contains("no PEM certificate"),
            "{err}"
        );
        let err = read_ca_file(&dir.path().join("missing.pem")).unwrap_err();
        assert!(
            err.contains("cannot read") && err.contains("missing.pem"),
            "{err}"
        );
    }
}
