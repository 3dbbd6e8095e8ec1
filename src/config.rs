//! Crawl configuration: the TOML file format, its defaults, and validation.
//!
//! Owns the translation from text (a config file, or command-line flags for ad-hoc
//! crawls) into a [`CrawlConfig`] that the engine can trust: every regex compiled,
//! every seed parsed, every duration and time zone checked. Invariant: a
//! `CrawlConfig` that exists is valid; every rejection is a [`ConfigError`] naming the
//! file, the key and the reason.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::politeness::Politeness;
use crate::revisit::RevisitBounds;
use crate::site::{Site, SiteDefaults, SiteError, SiteSection};
use crate::urlnorm::Normalizer;

/// Default product token and contact, used when the config names none.
pub const DEFAULT_USER_AGENT: &str =
    "newscrawl/0.1 (+https://github.com/newscrawl/newscrawl; polite news crawler)";

/// A configuration that could not be accepted.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: {key}: {reason}")]
    Invalid {
        file: String,
        key: String,
        reason: String,
    },
}

/// The file format, exactly as written in TOML. Validated into [`CrawlConfig`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub crawler: CrawlerSection,
    #[serde(default)]
    pub politeness: Politeness,
    #[serde(default)]
    pub output: OutputSection,
    #[serde(default)]
    pub daemon: DaemonSection,
    #[serde(default)]
    pub store: StoreSection,
    #[serde(default, rename = "site")]
    pub sites: Vec<SiteSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrawlerSection {
    /// Sent with every request; must carry a way to reach the operator (URL or e-mail).
    pub user_agent: String,
    /// The product token matched against robots.txt groups; derived from `user_agent`
    /// (the part before the first `/`) when absent.
    pub robots_token: Option<String>,
    pub state_dir: PathBuf,
    /// Requests in flight across all hosts.
    pub concurrency: usize,
    #[serde(with = "crate::durations::human_duration")]
    pub connect_timeout: Duration,
    /// Whole-request limit, body included.
    #[serde(with = "crate::durations::human_duration")]
    pub request_timeout: Duration,
    /// Longest wait for the next byte once connected.
    #[serde(with = "crate::durations::human_duration")]
    pub read_timeout: Duration,
    pub max_redirects: usize,
    /// Cap on the decoded body size; larger pages are recorded as skipped.
    pub max_body_bytes: u64,
    /// Query parameters removed during normalization; a trailing `*` matches a prefix.
    pub strip_query_params: Vec<String>,
    pub max_pages: Option<u64>,
    #[serde(default, with = "crate::durations::human_duration::option")]
    pub max_time: Option<Duration>,
    /// Links deeper than this many hops from a seed are not followed.
    pub max_depth: Option<u32>,
    /// Links read from one page; the rest are ignored (a trap or a broken page).
    pub max_links_per_page: usize,
    /// URLs discovered on one host (`host[:port]`) over the life of the crawl; links
    /// beyond it are ignored, so a calendar or session-id trap cannot grow forever.
    pub max_urls_per_host: u64,
    /// How long a stop (Ctrl-C, SIGTERM) waits for requests in flight; those still
    /// running after it are abandoned and retried by the next run.
    #[serde(with = "crate::durations::human_duration")]
    pub shutdown_grace: Duration,
    /// Refuse to connect to private, loopback and link-local addresses, except for
    /// hosts a site allows or a seed names (default: on for `daemon`, off for `crawl`).
    pub block_private_addresses: Option<bool>,
    /// A PEM file of certificate authorities trusted beyond the built-in roots (a
    /// company CA, a test CA).
    pub ca_file: Option<PathBuf>,
    /// The proxy for every request (`http://host:port`); without it, `HTTPS_PROXY`,
    /// `HTTP_PROXY` and `NO_PROXY` from the environment apply.
    pub proxy: Option<String>,
}

impl Default for CrawlerSection {
    fn default() -> Self {
        Self {
            user_agent: DEFAULT_USER_AGENT.to_string(),
            robots_token: None,
            state_dir: PathBuf::from("state/default"),
            concurrency: 32,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(10),
            max_redirects: 5,
            max_body_bytes: 10 * 1024 * 1024,
            strip_query_params: crate::urlnorm::DEFAULT_STRIP_PARAMS
                .iter()
                .map(|p| p.to_string())
                .collect(),
            max_pages: None,
            max_time: None,
            max_depth: None,
            max_links_per_page: 10_000,
            max_urls_per_host: 1_000_000,
            shutdown_grace: Duration::from_secs(10),
            block_private_addresses: None,
            ca_file: None,
            proxy: None,
        }
    }
}

/// Settings of the long-running mode (`daemon`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonSection {
    /// Address of the `/healthz`, `/status` and `/metrics` endpoint, or `"off"`.
    pub http: String,
    /// Bounds of a listing page's revisit interval (the estimate of its change rate
    /// moves it between them); sites may set their own.
    #[serde(with = "crate::durations::human_duration")]
    pub revisit_min: Duration,
    #[serde(with = "crate::durations::human_duration")]
    pub revisit_max: Duration,
}

impl Default for DaemonSection {
    fn default() -> Self {
        Self {
            http: "127.0.0.1:9187".to_string(),
            revisit_min: Duration::from_secs(120),
            revisit_max: Duration::from_secs(6 * 3600),
        }
    }
}

impl DaemonSection {
    pub fn revisit_bounds(&self) -> RevisitBounds {
        RevisitBounds {
            min: self.revisit_min,
            max: self.revisit_max,
            price: None,
        }
    }
}

/// Where the crawl's frontier lives: the state directory (sled, the default), or a
/// Redis server that several workers share.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    /// `redis://HOST:PORT/DB` to share the crawl with other workers; none: the state
    /// directory's sled store.
    pub url: Option<String>,
    /// `url` names a node of a Redis Cluster (the crawl spreads over its slots).
    pub cluster: bool,
    /// Prefix of every key of the crawl, so that several crawls can share a server.
    pub namespace: String,
    /// Host buckets (Redis Cluster slots the crawl spreads over); fixed by the first
    /// worker.
    pub buckets: u32,
    /// This worker's name, unique among the crawl's live workers and the same across
    /// its restarts (its records and output offset are kept under it); the machine's
    /// host name when absent.
    pub worker: Option<String>,
    /// How long a claim on a host lasts; `request_timeout` + 30 s when absent.
    #[serde(default, with = "crate::durations::human_duration::option")]
    pub lease: Option<Duration>,
}

impl Default for StoreSection {
    fn default() -> Self {
        Self {
            url: None,
            cluster: false,
            namespace: "newscrawl".into(),
            buckets: 16,
            worker: None,
            lease: None,
        }
    }
}

/// The shared store a worker uses, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedStore {
    pub url: String,
    pub cluster: bool,
    pub namespace: String,
    pub buckets: u32,
    pub worker: String,
    pub lease: Duration,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputSection {
    /// JSONL file for records; `<state_dir>/records.jsonl` when absent. `{site}` in
    /// the path gives each site its own file.
    pub path: Option<PathBuf>,
    /// Start a new JSONL file once the current one holds this many bytes.
    pub rotate_bytes: Option<u64>,
    /// WARC/1.1 file (gzip per record) for every page exchange; none when absent.
    pub warc: Option<PathBuf>,
}

/// A validated crawl: what the engine runs.
#[derive(Debug, Clone)]
pub struct CrawlConfig {
    pub user_agent: String,
    /// Which addresses may be connected to (the SSRF guard).
    pub address_policy: std::sync::Arc<crate::netguard::AddressPolicy>,
    pub robots_token: String,
    pub state_dir: PathBuf,
    pub output_path: PathBuf,
    pub warc_path: Option<PathBuf>,
    pub rotate_bytes: Option<u64>,
    pub concurrency: usize,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub read_timeout: Duration,
    pub max_redirects: usize,
    pub max_body_bytes: u64,
    /// Certificate authorities trusted beyond the built-in roots.
    pub ca_certs: Vec<reqwest::Certificate>,
    /// `crawler.proxy`.
    pub proxy: Option<reqwest::Proxy>,
    pub politeness: Politeness,
    pub max_pages: Option<u64>,
    pub max_time: Option<Duration>,
    pub max_depth: Option<u32>,
    pub max_links_per_page: usize,
    pub max_urls_per_host: u64,
    pub shutdown_grace: Duration,
    /// Where the daemon serves `/healthz`, `/status` and `/metrics`; `None`: nowhere.
    pub http: Option<SocketAddr>,
    pub normalizer: Normalizer,
    pub sites: Vec<Site>,
    /// The shared (Redis) store, when the crawl is shared with other workers.
    pub shared: Option<SharedStore>,
}

/// Command-line values that override the file (or stand in for it).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub state_dir: Option<PathBuf>,
    pub output_path: Option<PathBuf>,
    pub min_delay: Option<Duration>,
    pub max_pages: Option<u64>,
    pub max_time: Option<Duration>,
    /// `--http`: the endpoint's address, or `off`.
    pub http: Option<String>,
    pub warc_path: Option<PathBuf>,
    /// Whether private addresses are refused when the config does not say
    /// (`crawler.block_private_addresses`): the daemon's default is yes.
    pub block_private_by_default: bool,
    /// `--store`: the shared store's URL.
    pub store_url: Option<String>,
    /// `--worker`: this worker's name in a shared crawl.
    pub worker: Option<String>,
    /// `--ca-file`: a PEM file of certificate authorities to trust.
    pub ca_file: Option<PathBuf>,
}

impl ConfigFile {
    /// Reads and parses a TOML file; unknown keys and malformed values are errors.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: file.clone(),
            source,
        })?;
        Self::parse(&text, &file)
    }

    /// Parses TOML text; `origin` names the text in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Syntax {
            file: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })
    }

    /// A config with one ad-hoc site per seed host: same-host links, default parser.
    pub fn from_seeds(seeds: &[String], parser: &str) -> Result<Self, ConfigError> {
        let mut by_host: Vec<SiteSection> = Vec::new();
        for (i, seed) in seeds.iter().enumerate() {
            let parsed = ::url::Url::parse(seed).map_err(|e| ConfigError::Invalid {
                file: "<command line>".into(),
                key: format!("--seed[{i}]"),
                reason: format!("not a URL: {seed:?}: {e}"),
            })?;
            let host = crate::urlnorm::host_key(&parsed).unwrap_or_default();
            match by_host.iter_mut().find(|s| s.name == host) {
                Some(site) => site.seeds.push(seed.clone()),
                None => by_host.push(SiteSection {
                    name: host,
                    seeds: vec![seed.clone()],
                    allowed_hosts: Vec::new(),
                    section_patterns: Vec::new(),
                    article_patterns: Vec::new(),
                    deny_patterns: Vec::new(),
                    parser: parser.to_string(),
                    time_zone: crate::site::default_time_zone(),
                    min_delay: None,
                    sitemaps: Vec::new(),
                    feeds: Vec::new(),
                    robots_sitemaps: true,
                    discover_feeds: true,
                    follow_next_pages: true,
                    article_recheck: None,
                    revisit_min: None,
                    revisit_max: None,
                    max_listing_rate: None,
                    selectors: None,
                    command: None,
                    allow_private_addresses: false,
                    cookies: false,
                    headers: Default::default(),
                }),
            }
        }
        Ok(ConfigFile {
            sites: by_host,
            ..Default::default()
        })
    }

    /// Applies overrides and checks everything; `origin` names the file in errors.
    pub fn validate(
        mut self,
        origin: &str,
        overrides: &Overrides,
    ) -> Result<CrawlConfig, ConfigError> {
        let invalid = |key: String, reason: String| ConfigError::Invalid {
            file: origin.to_string(),
            key,
            reason,
        };
        let crawler = &mut self.crawler;
        if let Some(dir) = &overrides.state_dir {
            crawler.state_dir = dir.clone();
        }
        if let Some(delay) = overrides.min_delay {
            self.politeness.min_delay = delay;
        }
        if overrides.max_pages.is_some() {
            crawler.max_pages = overrides.max_pages;
        }
        if overrides.max_time.is_some() {
            crawler.max_time = overrides.max_time;
        }
        if let Some(out) = &overrides.output_path {
            self.output.path = Some(out.clone());
        }
        if let Some(warc) = &overrides.warc_path {
            self.output.warc = Some(warc.clone());
        }
        if let Some(http) = &overrides.http {
            self.daemon.http = http.clone();
        }
        let http = match self.daemon.http.trim() {
            "off" | "" => None,
            text => {
                let addr: SocketAddr = text.parse().map_err(|e| {
                    invalid(
                        "daemon.http".into(),
                        format!("{text:?} is not an address such as \"127.0.0.1:9187\" (or \"off\"): {e}"),
                    )
                })?;
                Some(addr)
            }
        };

        let user_agent = crawler.user_agent.trim().to_string();
        if user_agent.is_empty() || user_agent.chars().any(|c| c.is_control()) {
            return Err(invalid(
                "crawler.user_agent".into(),
                "must be a non-empty single line".into(),
            ));
        }
        if !(user_agent.contains("http://")
            || user_agent.contains("https://")
            || user_agent.contains('@'))
        {
            return Err(invalid(
                "crawler.user_agent".into(),
                format!("{user_agent:?} names no contact: add a URL or e-mail address so site operators can reach you"),
            ));
        }
        let robots_token = match &crawler.robots_token {
            Some(token) => token.clone(),
            None => user_agent
                .split(|c: char| c == '/' || c.is_whitespace())
                .next()
                .unwrap_or_default()
                .to_string(),
        };
        if robots_token.is_empty()
            || !robots_token
                .chars()
                .all(|c| c.is_ascii_alphabetic() || c == '-' || c == '_')
        {
            return Err(invalid(
                "crawler.robots_token".into(),
                format!("{robots_token:?} is not a robots.txt product token (letters, '-' and '_' only)"),
            ));
        }
        if crawler.concurrency == 0 {
            return Err(invalid(
                "crawler.concurrency".into(),
                "must be at least 1".into(),
            ));
        }
        let politeness = self.politeness.clone();
        politeness
            .validate()
            .map_err(|(key, reason)| invalid(format!("politeness.{key}"), reason))?;
        if crawler.max_links_per_page == 0 {
            return Err(invalid(
                "crawler.max_links_per_page".into(),
                "must be at least 1".into(),
            ));
        }
        if crawler.max_urls_per_host == 0 {
            return Err(invalid(
                "crawler.max_urls_per_host".into(),
                "must be at least 1".into(),
            ));
        }
        if crawler.max_body_bytes == 0 {
            return Err(invalid(
                "crawler.max_body_bytes".into(),
                "must be positive".into(),
            ));
        }
        let ca_certs = match overrides.ca_file.as_ref().or(crawler.ca_file.as_ref()) {
            Some(path) => crate::tls::read_ca_file(path)
                .map_err(|reason| invalid("crawler.ca_file".into(), reason))?,
            None => Vec::new(),
        };
        let proxy = match &crawler.proxy {
            Some(url) => Some(reqwest::Proxy::all(url.as_str()).map_err(|e| {
                invalid(
                    "crawler.proxy".into(),
                    format!("{url:?} is not a proxy URL: {e}"),
                )
            })?),
            None => None,
        };
        let normalizer = Normalizer::new(crawler.strip_query_params.clone())
            .map_err(|reason| invalid("crawler.strip_query_params".into(), reason))?;

        if self.sites.is_empty() {
            return Err(invalid(
                "site".into(),
                "no [[site]] table: nothing to crawl (add one, or pass --seed URL)".into(),
            ));
        }
        let defaults = SiteDefaults {
            min_delay: self.politeness.min_delay,
            revisit: self.daemon.revisit_bounds(),
        };
        let mut names = BTreeSet::new();
        let mut sites = Vec::with_capacity(self.sites.len());
        for (i, section) in self.sites.into_iter().enumerate() {
            if !names.insert(section.name.clone()) {
                return Err(invalid(
                    format!("site[{i}].name"),
                    format!("{:?} is used by two sites", section.name),
                ));
            }
            let site = Site::from_config(section, &normalizer, &defaults)
                .map_err(|SiteError { key, reason }| invalid(format!("site[{i}].{key}"), reason))?;
            sites.push(site);
        }

        if self.output.rotate_bytes == Some(0) {
            return Err(invalid(
                "output.rotate_bytes".into(),
                "must be positive (leave it out to never rotate)".into(),
            ));
        }
        let address_policy = std::sync::Arc::new(crate::netguard::AddressPolicy::for_sites(
            crawler
                .block_private_addresses
                .unwrap_or(overrides.block_private_by_default),
            &sites,
        ));
        let state_dir = crawler.state_dir.clone();
        let output_path = self
            .output
            .path
            .clone()
            .unwrap_or_else(|| state_dir.join("records.jsonl"));
        let shared = self
            .store
            .validate(overrides, crawler.request_timeout, &invalid)?;
        Ok(CrawlConfig {
            address_policy,
            user_agent,
            robots_token,
            state_dir,
            output_path,
            warc_path: self.output.warc.clone(),
            rotate_bytes: self.output.rotate_bytes,
            concurrency: crawler.concurrency,
            connect_timeout: crawler.connect_timeout,
            request_timeout: crawler.request_timeout,
            read_timeout: crawler.read_timeout,
            max_redirects: crawler.max_redirects,
            max_body_bytes: crawler.max_body_bytes,
            ca_certs,
            proxy,
            politeness,
            max_pages: crawler.max_pages,
            max_time: crawler.max_time,
            max_depth: crawler.max_depth,
            max_links_per_page: crawler.max_links_per_page,
            max_urls_per_host: crawler.max_urls_per_host,
            shutdown_grace: crawler.shutdown_grace,
            http,
            normalizer,
            sites,
            shared,
        })
    }
}

impl StoreSection {
    /// The shared store this section (and `--store`, `--worker`) names, if any.
    fn validate(
        &self,
        overrides: &Overrides,
        request_timeout: Duration,
        invalid: &dyn Fn(String, String) -> ConfigError,
    ) -> Result<Option<SharedStore>, ConfigError> {
        let Some(url) = overrides.store_url.clone().or_else(|| self.url.clone()) else {
            return Ok(None);
        };
        if !url.starts_with("redis://") && !url.starts_with("redis+unix://") {
            return Err(invalid(
                "store.url".into(),
                format!("{url:?} is not a Redis URL such as \"redis://127.0.0.1:6379/0\""),
            ));
        }
        if self.namespace.is_empty()
            || !self
                .namespace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
        {
            return Err(invalid(
                "store.namespace".into(),
                format!(
                    "{:?} must be letters, digits, '-', '_', '.' or ':'",
                    self.namespace
                ),
            ));
        }
        if !(1..=16384).contains(&self.buckets) {
            return Err(invalid(
                "store.buckets".into(),
                format!("{} is not between 1 and 16384", self.buckets),
            ));
        }
        let worker = match overrides.worker.clone().or_else(|| self.worker.clone()) {
            Some(worker) => worker,
            None => std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_default(),
        };
        if worker.is_empty()
            || !worker
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(invalid(
                "store.worker".into(),
                format!("{worker:?} is not a worker name (letters, digits, '-', '_', '.'); set store.worker or --worker"),
            ));
        }
        let lease = self
            .lease
            .unwrap_or(request_timeout + Duration::from_secs(30));
        // A request starts at least the timeout and a 2 s margin before the lease
        // ends; 3 s more leave time to start it.
        if lease < request_timeout + Duration::from_secs(5) {
            return Err(invalid(
                "store.lease".into(),
                format!("{lease:?} must exceed crawler.request_timeout ({request_timeout:?}) by at least 5s, so that a request can start and end within its lease"),
            ));
        }
        Ok(Some(SharedStore {
            url,
            cluster: self.cluster,
            namespace: self.namespace.clone(),
            buckets: self.buckets,
            worker,
            lease,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<CrawlConfig, ConfigError> {
        ConfigFile::parse(text, "test.toml")?.validate("test.toml", &Overrides::default())
    }

    #[test]
    fn a_shared_store_is_checked_and_named() {
        assert_eq!(
            check(MINIMAL).unwrap().shared,
            None,
            "sled unless a store is named"
        );
        let shared = |store: &str, overrides: &Overrides| {
            ConfigFile::parse(&format!("{MINIMAL}\n[store]\n{store}"), "test.toml")
                .and_then(|file| file.validate("test.toml", overrides))
        };
        let config = shared(
            "url = \"redis://10.0.0.5:6379/0\"\nworker = \"a1\"\nlease = \"2m\"",
            &Overrides::default(),
        )
        .unwrap();
        let store = config.shared.unwrap();
        assert_eq!(store.url, "redis://10.0.0.5:6379/0");
        assert_eq!((store.worker.as_str(), store.buckets), ("a1", 16));
        assert_eq!(store.lease, Duration::from_secs(120));
        // Flags win over the file.
        let overrides = Overrides {
            store_url: Some("redis://127.0.0.1:7000/".into()),
            worker: Some("b2".into()),
            ..Overrides::default()
        };
        let store = shared("url = \"redis://10.0.0.5:6379/0\"", &overrides)
            .unwrap()
            .shared
            .unwrap();
        assert_eq!(
            (store.url.as_str(), store.worker.as_str()),
            ("redis://127.0.0.1:7000/", "b2")
        );
        for (store, key) in [
            ("url = \"http://10.0.0.5\"", "store.url"),
            (
                "url = \"redis://h/0\"\nnamespace = \"a{b}\"",
                "store.namespace",
            ),
            ("url = \"redis://h/0\"\nbuckets = 0", "store.buckets"),
            ("url = \"redis://h/0\"\nworker = \"a b\"", "store.worker"),
            ("url = \"redis://h/0\"\nlease = \"10s\"", "store.lease"),
            ("url = \"redis://h/0\"\nshards = 3", "shards"),
        ] {
            let err = shared(store, &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{store}: {err}");
        }
    }

    const MINIMAL: &str = r#"
        [[site]]
        name = "news"
        seeds = ["https://news.example/"]
    "#;

    #[test]
    fn minimal_config_gets_defaults() {
        let config = check(MINIMAL).unwrap();
        assert_eq!(config.politeness.min_delay, Duration::from_secs(1));
        assert_eq!(config.politeness.per_host_concurrency, 1);
        assert_eq!(config.politeness.robots_ttl, Duration::from_secs(24 * 3600));
        assert_eq!(config.robots_token, "newscrawl");
        assert_eq!(
            config.output_path,
            PathBuf::from("state/default/records.jsonl")
        );
        assert_eq!(config.sites[0].allowed_hosts(), ["news.example"]);
    }

    #[test]
    fn unknown_key_names_file_and_key() {
        let err = check("[crawler]\nuser_agnet = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("test.toml: "), "{err}");
        assert!(err.contains("user_agnet"), "{err}");
    }

    #[test]
    fn bad_duration_is_rejected_with_the_value() {
        let err = check(&format!(
            "[politeness]\nmin_delay = \"5 parsecs\"\n{MINIMAL}"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("min_delay") && err.contains("5 parsecs"),
            "{err}"
        );
    }

    #[test]
    fn bad_regex_names_the_site_key() {
        let text = format!("{MINIMAL}article_patterns = [\"^/news/(\"]\n");
        let err = check(&text).unwrap_err().to_string();
        assert!(err.contains("site[0].article_patterns[0]"), "{err}");
    }

    #[test]
    fn missing_seeds_and_non_http_seeds_are_rejected() {
        let err = check("[[site]]\nname = \"x\"\n").unwrap_err().to_string();
        assert!(err.contains("seeds"), "{err}");
        let err = check("[[site]]\nname = \"x\"\nseeds = []\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("site[0].seeds"), "{err}");
        let err = check("[[site]]\nname = \"x\"\nseeds = [\"ftp://x.example/\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("site[0].seeds[0]") && err.contains("ftp"),
            "{err}"
        );
    }

    #[test]
    fn user_agent_needs_a_contact() {
        let err = check(&format!("[crawler]\nuser_agent = \"bot/1.0\"\n{MINIMAL}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("crawler.user_agent"), "{err}");
    }

    #[test]
    fn overrides_win_over_the_file() {
        let overrides = Overrides {
            state_dir: Some("/tmp/x".into()),
            min_delay: Some(Duration::ZERO),
            max_pages: Some(7),
            ..Default::default()
        };
        let config = ConfigFile::parse(MINIMAL, "t")
            .unwrap()
            .validate("t", &overrides)
            .unwrap();
        assert_eq!(config.state_dir, PathBuf::from("/tmp/x"));
        assert_eq!(config.output_path, PathBuf::from("/tmp/x/records.jsonl"));
        assert_eq!(config.politeness.min_delay, Duration::ZERO);
        assert_eq!(config.max_pages, Some(7));
    }

    #[test]
    fn daemon_settings_have_defaults_and_are_checked() {
        let config = check(MINIMAL).unwrap();
        assert_eq!(config.http, Some("127.0.0.1:9187".parse().unwrap()));
        assert_eq!(config.shutdown_grace, Duration::from_secs(10));
        assert_eq!(config.sites[0].revisit.min, Duration::from_secs(120));
        assert_eq!(config.sites[0].revisit.max, Duration::from_secs(6 * 3600));

        let text = format!(
            "[daemon]\nhttp = \"off\"\nrevisit_min = \"30s\"\n{MINIMAL}revisit_max = \"1h\"\n"
        );
        let config = check(&text).unwrap();
        assert_eq!(config.http, None);
        assert_eq!(config.sites[0].revisit.min, Duration::from_secs(30));
        assert_eq!(config.sites[0].revisit.max, Duration::from_secs(3600));

        let err = check(&format!("[daemon]\nhttp = \"localhost\"\n{MINIMAL}"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("daemon.http") && err.contains("localhost"),
            "{err}"
        );
        let err = check(&format!("{MINIMAL}revisit_min = \"7h\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("site[0].revisit_max"), "{err}");
        let err = check(&format!("{MINIMAL}max_listing_rate = 0\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("site[0].max_listing_rate"), "{err}");
        let budgeted = check(&format!("{MINIMAL}max_listing_rate = 120\n")).unwrap();
        assert_eq!(budgeted.sites[0].max_listing_rate, Some(120.0));
    }

    #[test]
    fn shipped_configs_are_valid() {
        for file in [
            "config/demo.toml",
            "config/koreatimes.toml",
            "config/fixture-selectors.toml",
        ] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
            let text = std::fs::read_to_string(&path)
                .unwrap()
                .replace("{origin}", "http://127.0.0.1:1");
            ConfigFile::parse(&text, file)
                .unwrap()
                .validate(file, &Overrides::default())
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
