//! Certificates for loopback TLS servers: a throwaway CA made per test, and the server
//! identities it signs.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use newscrawl::fixture::tls::TlsIdentity;
use newscrawl::fixture::{FixtureServer, FixtureSite, FixtureSpec};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// A throwaway certificate authority.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl TestCa {
    pub fn new() -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "newscrawl test CA");
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// A server identity for 127.0.0.1 (or `names` instead), valid now unless
    /// `expired`.
    pub fn identity(&self, names: &[&str], expired: bool, http2: bool) -> TlsIdentity {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        if names.is_empty() {
            params
                .subject_alt_names
                .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        }
        if expired {
            params.not_before = rcgen::date_time_ymd(2001, 1, 1);
            params.not_after = rcgen::date_time_ymd(2002, 1, 1);
        }
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        TlsIdentity {
            cert_chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            http2,
        }
    }

    /// Writes the CA's certificate to `dir/ca.pem`.
    pub fn write(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.pem).unwrap();
        path
    }
}

/// The fixture site over TLS with `identity`, on 127.0.0.1 and a free port.
pub async fn tls_server(identity: TlsIdentity) -> FixtureServer {
    let site = Arc::new(FixtureSite::new(FixtureSpec::default()));
    FixtureServer::start_tls(site, [127, 0, 0, 1].into(), 0, identity)
        .await
        .expect("the TLS fixture server starts")
}
