//! Which network addresses a crawl may connect to (the SSRF guard).
//!
//! A crawler fetches URLs that strangers wrote: a public page can link, or redirect, to
//! `http://169.254.169.254/` (a cloud metadata service), `http://10.0.0.5/admin` or
//! `http://localhost:6379/`. With the guard on, such addresses are refused unless the
//! operator allowed them: a site with `allow_private_addresses = true` allows its
//! hosts, and a seed whose host is itself a private address (`--seed
//! http://127.0.0.1:8080/`) allows that host only.
//!
//! Invariant: with the guard on, no connection is made to a private, loopback,
//! link-local, shared or unspecified address for a host that was not allowed. The
//! check is on the address actually connected to: IP literals before the request, and
//! host names on what DNS returned (the resolver itself filters), so a name that
//! resolves to a public address once and a private one later (DNS rebinding) gains
//! nothing.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The addresses a crawl may connect to.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    /// Refuse private addresses for hosts not in `allowed`.
    pub block_private: bool,
    /// Host names (or IP literals, as written in URLs) that may be private.
    pub allowed: HashSet<String>,
}

impl AddressPolicy {
    /// The policy of a crawl: with `block_private`, the hosts of sites that allow
    /// private addresses, and the host of every seed that is itself one (an IP
    /// literal such as `127.0.0.1`, or `localhost`), may be private.
    pub fn for_sites(block_private: bool, sites: &[crate::site::Site]) -> Self {
        let mut allowed = HashSet::new();
        for site in sites {
            if site.allow_private_addresses {
                for key in site.allowed_hosts() {
                    if let Some(host) = url::Url::parse(&format!("http://{key}/"))
                        .ok()
                        .and_then(|u| u.host_str().map(str::to_string))
                    {
                        allowed.insert(host);
                    }
                }
            }
            for seed in &site.seeds {
                let private = match seed.host() {
                    Some(url::Host::Ipv4(ip)) => is_private(IpAddr::V4(ip)),
                    Some(url::Host::Ipv6(ip)) => is_private(IpAddr::V6(ip)),
                    Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
                    None => false,
                };
                if private {
                    allowed.extend(seed.host_str().map(str::to_ascii_lowercase));
                }
            }
        }
        Self {
            block_private,
            allowed,
        }
    }

    /// Whether `host` (a URL's host, without port) may connect to `ip`.
    pub fn permits(&self, host: &str, ip: IpAddr) -> bool {
        !self.block_private || !is_private(ip) || self.allowed.contains(&host.to_ascii_lowercase())
    }

    /// Why a URL's host may not be requested, when it is an IP literal the policy
    /// refuses (names are checked when they are resolved).
    pub fn refusal(&self, url: &url::Url) -> Option<String> {
        let ip = match url.host()? {
            url::Host::Ipv4(ip) => IpAddr::V4(ip),
            url::Host::Ipv6(ip) => IpAddr::V6(ip),
            url::Host::Domain(_) => return None,
        };
        let host = url.host_str().unwrap_or_default();
        (!self.permits(host, ip)).then(|| refused(host, ip))
    }
}

fn refused(host: &str, ip: IpAddr) -> String {
    format!(
        "refused: {host} is a private address ({ip}); allow it with the site's \
         `allow_private_addresses` or a seed on that host"
    )
}

/// The resolver's refusal, found again in reqwest's error chain.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PrivateAddressRefused(pub String);

/// Loopback, private (RFC 1918, unique local), link-local, shared (RFC 6598),
/// unspecified, broadcast and multicast addresses, IPv4-mapped ones included.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (a == 100 && (64..128).contains(&b))
                || a == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// A DNS resolver for reqwest that drops the addresses the policy refuses.
pub struct GuardedResolver {
    pub policy: Arc<AddressPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| policy.permits(&host, a.ip()))
                .collect();
            if kept.is_empty() {
                if let Some(first) = found.first() {
                    return Err(Box::new(PrivateAddressRefused(refused(&host, first.ip())))
                        as Box<dyn std::error::Error + Send + Sync>);
                }
            }
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "100.128.0.1"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn the_daemon_blocks_by_default_and_seeds_and_sites_grant_their_hosts() {
        use crate::config::{ConfigFile, Overrides};
        let text = r#"
            [[site]]
            name = "local"
            seeds = ["http://127.0.0.1:8080/"]
            [[site]]
            name = "intranet"
            seeds = ["https://news.example/"]
            allowed_hosts = ["news.example", "wiki.corp:8443"]
            allow_private_addresses = true
            [[site]]
            name = "public"
            seeds = ["https://paper.example/"]
        "#;
        let policy = |overrides: &Overrides, text: &str| {
            let config = ConfigFile::parse(text, "t.toml")
                .unwrap()
                .validate("t.toml", overrides)
                .unwrap();
            (*config.address_policy).clone()
        };
        let daemon = Overrides {
            block_private_by_default: true,
            ..Overrides::default()
        };
        let p = policy(&daemon, text);
        assert!(p.block_private);
        for host in ["127.0.0.1", "news.example", "wiki.corp"] {
            assert!(p.allowed.contains(host), "{host}: {:?}", p.allowed);
        }
        assert!(!p.allowed.contains("paper.example"));
        assert!(
            !policy(&Overrides::default(), text).block_private,
            "crawl: off by default"
        );
        let said = format!("[crawler]\nblock_private_addresses = false\n{text}");
        assert!(!policy(&daemon, &said).block_private, "the config decides");
    }

    #[test]
    fn only_allowed_hosts_may_be_private() {
        let policy = AddressPolicy {
            block_private: true,
            allowed: ["127.0.0.1".to_string()].into(),
        };
        let url = |u: &str| url::Url::parse(u).unwrap();
        assert!(policy.refusal(&url("http://127.0.0.1:8080/a")).is_none());
        let refusal = policy.refusal(&url("http://127.0.0.2:8080/a")).unwrap();
        assert!(refusal.contains("127.0.0.2"), "{refusal}");
        assert!(policy.refusal(&url("http://[::1]/")).is_some());
        assert!(policy.refusal(&url("http://93.184.216.34/")).is_none());
        assert!(policy.permits("news.example", "93.184.216.34".parse().unwrap()));
        assert!(!policy.permits("evil.example", "10.0.0.1".parse().unwrap()));
        let open = AddressPolicy::default();
        assert!(open.refusal(&url("http://10.0.0.1/")).is_none());
    }
}
