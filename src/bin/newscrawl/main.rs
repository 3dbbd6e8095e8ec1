//! The `newscrawl` command line: parses arguments, calls the library, and turns errors
//! into a message and an exit code (2: bad configuration or usage, 1: anything else).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use std::io::IsTerminal;

use anyhow::{Context, Result};
use clap::Parser;
use indicatif::ProgressBar;

use newscrawl::config::{ConfigError, ConfigFile, CrawlConfig, Overrides};
use newscrawl::crawl::{CrawlError, Crawler, Summary};
use newscrawl::fixture::{FixtureServer, FixtureSite, FixtureSpec};
use newscrawl::parse::ParserRegistry;
use newscrawl::store::SledStore;

mod allocator;
mod args;
mod progress;

use args::*;

fn main() -> ExitCode {
    allocator::tune();
    let cli = Cli::parse();
    // A one-shot crawl on a terminal draws a progress bar; log lines are printed
    // above it.
    let bar = if matches!(cli.command, Command::Crawl(_))
        && cli.log_format == LogFormat::Text
        && std::io::stderr().is_terminal()
    {
        Some(progress::bar())
    } else {
        None
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("newscrawl=info,warn"));
    let writer = progress::LogWriter(bar.clone());
    match cli.log_format {
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(writer)
            .init(),
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(writer)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .init(),
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Demo(args) => demo(args).await,
            Command::Crawl(args) => crawl(args, bar).await,
            Command::Daemon(args) => daemon(args).await,
            Command::Fixture(args) => fixture(args).await,
            Command::Status(args) => status(args).await,
            Command::Export(args) => export(args),
            Command::Parse(args) => parse_page(args),
            Command::Eval(args) => eval(args),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            let usage = |c: &(dyn std::error::Error + 'static)| {
                c.downcast_ref::<ConfigError>().is_some()
                    || matches!(
                        c.downcast_ref::<CrawlError>(),
                        Some(CrawlError::OtherCrawl { .. } | CrawlError::UnknownParser { .. })
                    )
            };
            if e.chain().any(usage) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Deletes what a crawl keeps (its store and its output file), for `--fresh`.
fn forget_crawl(config: &CrawlConfig) -> Result<()> {
    let db = config.state_dir.join("db");
    if db.exists() {
        std::fs::remove_dir_all(&db).with_context(|| format!("cannot delete {}", db.display()))?;
    }
    let mut outputs: Vec<PathBuf> = config.warc_path.iter().cloned().collect();
    let jsonl = newscrawl::sink::JsonlOutput {
        path: config.output_path.clone(),
        rotate_bytes: config.rotate_bytes,
    };
    let sites: Vec<String> = config.sites.iter().map(|s| s.name.clone()).collect();
    let bases = newscrawl::sink::jsonl_outputs(&jsonl, &sites)
        .into_iter()
        .map(|(base, _)| base);
    for base in bases {
        // The file and its rotated successors.
        outputs.extend(
            (0..)
                .map(|n| newscrawl::sink::series_path(&base, n))
                .take_while(|p| p.exists()),
        );
    }
    for output in outputs {
        if output.exists() {
            std::fs::remove_file(&output)
                .with_context(|| format!("cannot delete {}", output.display()))?;
        }
    }
    Ok(())
}

/// Opens (or creates) the crawl's state directory and store, and builds the crawler.
async fn open_crawler(config: CrawlConfig) -> Result<Crawler> {
    std::fs::create_dir_all(&config.state_dir).with_context(|| {
        format!(
            "cannot create state directory {}",
            config.state_dir.display()
        )
    })?;
    let db_dir = config.state_dir.join("db");
    let store = tokio::task::spawn_blocking(move || SledStore::open(&db_dir)).await??;
    Ok(Crawler::new(
        config,
        Arc::new(store),
        ParserRegistry::default(),
    )?)
}

/// A crawl that stopped because its state or output could not be written: says where
/// and why, and that nothing committed is lost.
fn storage_stop(e: CrawlError, state_dir: &Path) -> anyhow::Error {
    let Some(io) = e.storage_io_error() else {
        return e.into();
    };
    let hint = match io.kind() {
        std::io::ErrorKind::StorageFull => " (the disk is full)",
        std::io::ErrorKind::FileTooLarge => " (a file size limit was reached)",
        _ => "",
    };
    anyhow::anyhow!(
        "the crawl stopped: cannot write its state under {}: {io}{hint}. Everything committed before this is kept; make room and run the same command again to resume",
        state_dir.display()
    )
}

async fn run_crawl(config: CrawlConfig, bar: Option<ProgressBar>) -> Result<Summary> {
    let output = config.output_path.clone();
    let state_dir = config.state_dir.clone();
    let mut crawler = open_crawler(config).await?;
    let ticker = bar.map(|bar| {
        crawler.log_progress_every(None);
        progress::follow(bar, crawler.handle())
    });
    let summary = crawler.run(stop_signal()).await;
    if let Some(ticker) = ticker {
        ticker.finish().await;
    }
    let summary = summary.map_err(|e| storage_stop(e, &state_dir))?;
    eprintln!("{summary}");
    eprintln!("records: {}", output.display());
    Ok(summary)
}

fn read_seed_file(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: path.display().to_string(),
        source,
    })?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// Where a crawl's config came from, so that SIGHUP can read it again.
struct ConfigSource {
    file: Option<PathBuf>,
    overrides: Overrides,
}

impl ConfigSource {
    fn reload(&self) -> Result<CrawlConfig, ConfigError> {
        let file = self.file.as_ref().ok_or_else(|| ConfigError::Invalid {
            file: "<command line>".into(),
            key: "--config".into(),
            reason: "started from seed URLs: there is no config file to read again".into(),
        })?;
        let origin = file.display().to_string();
        let config = ConfigFile::load(file)?.validate(&origin, &self.overrides)?;
        check_parsers(&config, &origin)?;
        Ok(config)
    }
}

/// The binary has the built-in parsers only: a site naming another is a config error
/// (a program embedding the library may register more).
fn check_parsers(config: &CrawlConfig, origin: &str) -> Result<(), ConfigError> {
    let registry = ParserRegistry::default();
    for (i, site) in config.sites.iter().enumerate() {
        if registry.for_spec(&site.parser_spec).is_none() {
            return Err(ConfigError::Invalid {
                file: origin.to_string(),
                key: format!("site[{i}].parser"),
                reason: format!(
                    "unknown parser {:?}; built-in parsers: article, links, selectors, command",
                    site.parser
                ),
            });
        }
    }
    Ok(())
}

/// The config that `--config` or the seed flags describe, with the overrides applied.
fn resolve_config(source: SourceArgs, overrides: Overrides) -> Result<(CrawlConfig, ConfigSource)> {
    let mut seeds = source.seeds;
    if let Some(file) = &source.seeds_file {
        seeds.extend(read_seed_file(file)?);
    }
    let config = match (&source.config, seeds.is_empty()) {
        (Some(path), true) => {
            let origin = path.display().to_string();
            let config = ConfigFile::load(path)?.validate(&origin, &overrides)?;
            check_parsers(&config, &origin)?;
            config
        }
        (None, false) => {
            let mut overrides = overrides.clone();
            if overrides.state_dir.is_none() {
                overrides.state_dir = Some(PathBuf::from("state/adhoc"));
            }
            ConfigFile::from_seeds(&seeds, &source.parser)?
                .validate("<command line>", &overrides)?
        }
        (Some(_), false) => {
            return Err(ConfigError::Invalid {
                file: "<command line>".into(),
                key: "--seed".into(),
                reason: "give either --config or seeds (--seed/--seeds), not both".into(),
            }
            .into())
        }
        (None, true) => {
            return Err(ConfigError::Invalid {
                file: "<command line>".into(),
                key: "--config".into(),
                reason: "nothing to crawl: pass --config FILE, --seed URL or --seeds FILE".into(),
            }
            .into())
        }
    };
    let source = ConfigSource {
        file: source.config,
        overrides,
    };
    Ok((config, source))
}

async fn crawl(args: CrawlArgs, bar: Option<ProgressBar>) -> Result<()> {
    let (config, _) = resolve_config(args.source, args.overrides.into())?;
    if config.shared.is_some() {
        if args.fresh {
            anyhow::bail!("--fresh deletes a state directory; a shared crawl lives in Redis: start it over under another store.namespace, or delete its keys");
        }
        return run_shared_crawl(config).await;
    }
    if args.fresh {
        forget_crawl(&config)?;
    }
    run_crawl(config, bar).await.map(|_| ())
}

/// One worker of a crawl shared through Redis, until the shared crawl is done.
#[cfg(feature = "redis")]
async fn run_shared_crawl(config: CrawlConfig) -> Result<()> {
    let output = config.output_path.clone();
    let crawler =
        newscrawl::crawl::SharedCrawler::connect(config, ParserRegistry::default()).await?;
    let summary = crawler.run(stop_signal()).await?;
    eprintln!("{summary}");
    eprintln!("records: {}", output.display());
    Ok(())
}

/// One worker of a daemon crawl shared through Redis, until SIGTERM or SIGINT;
/// SIGHUP reloads its config.
#[cfg(feature = "redis")]
async fn run_shared_daemon(config: CrawlConfig, source: ConfigSource) -> Result<()> {
    let http = config.http;
    let crawler =
        newscrawl::crawl::SharedCrawler::connect(config, ParserRegistry::default()).await?;
    let handle = crawler.watch();
    let endpoint = Endpoint::start(http, handle.clone()).await?;
    let reloader = tokio::spawn(reload_on_hangup(source, move |config| {
        let handle = handle.clone();
        async move {
            if let Err(e) = handle.reload(config).await {
                tracing::error!("configuration not reloaded: {e}; the running one stays");
            }
        }
    }));
    let summary = crawler.run_daemon(stop_signal()).await;
    reloader.abort();
    Endpoint::stop(endpoint).await;
    eprintln!("{}", summary?);
    Ok(())
}

#[cfg(not(feature = "redis"))]
async fn run_shared_daemon(config: CrawlConfig, _source: ConfigSource) -> Result<()> {
    run_shared_crawl(config).await
}

#[cfg(not(feature = "redis"))]
async fn run_shared_crawl(_config: CrawlConfig) -> Result<()> {
    anyhow::bail!("this build cannot share a crawl through Redis (store.url or --store): build it with `cargo build --release --features redis`")
}

async fn daemon(args: DaemonArgs) -> Result<()> {
    let mut overrides: Overrides = args.overrides.into();
    overrides.http = args.http;
    // A daemon runs unattended on a network with neighbours: refuse private
    // addresses unless the config says otherwise.
    overrides.block_private_by_default = true;
    let (config, source) = resolve_config(args.source, overrides)?;
    if config.shared.is_some() {
        return run_shared_daemon(config, source).await;
    }
    let http = config.http;
    let state_dir = config.state_dir.clone();
    let mut crawler = open_crawler(config).await?;
    crawler.log_progress_every(Some(Duration::from_secs(60)));
    let handle = crawler.handle();
    let endpoint = Endpoint::start(http, handle.clone()).await?;
    let reloader = tokio::spawn(reload_on_hangup(source, move |config| {
        let handle = handle.clone();
        // The scheduler logs whether it applied it.
        async move {
            let _ = handle.reload(config).await;
        }
    }));
    let summary = crawler.run_daemon(stop_signal()).await;
    reloader.abort();
    Endpoint::stop(endpoint).await;
    eprintln!("{}", summary.map_err(|e| storage_stop(e, &state_dir))?);
    Ok(())
}

/// A daemon's HTTP endpoint, running until stopped.
struct Endpoint {
    task: tokio::task::JoinHandle<()>,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl Endpoint {
    /// Serves `/healthz`, `/status` and `/metrics` of `watch` on `http`, if set.
    async fn start(
        http: Option<std::net::SocketAddr>,
        watch: impl newscrawl::endpoint::Watch,
    ) -> Result<Option<Self>> {
        let Some(addr) = http else {
            return Ok(None);
        };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (daemon.http)"))?;
        let bound = listener.local_addr()?;
        tracing::info!("serving /healthz, /status and /metrics on http://{bound}");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let stopped = async {
                let _ = stopped.await;
            };
            if let Err(e) = newscrawl::endpoint::serve(listener, watch, stopped).await {
                tracing::error!("HTTP endpoint failed: {e}");
            }
        });
        Ok(Some(Self { task, stop }))
    }

    async fn stop(endpoint: Option<Self>) {
        if let Some(endpoint) = endpoint {
            let _ = endpoint.stop.send(());
            let _ = endpoint.task.await;
        }
    }
}

/// Re-reads, validates and applies the config on every SIGHUP; a config that does not
/// validate (or cannot be applied) is logged and the running one kept.
async fn reload_on_hangup<F, Fut>(source: ConfigSource, apply: F)
where
    F: Fn(CrawlConfig) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; config reloads are off");
            return;
        };
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reading the configuration again");
            match source.reload() {
                Ok(config) => apply(config).await,
                Err(e) => tracing::error!("configuration not reloaded: {e}; the running one stays"),
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (source, apply);
        std::future::pending::<()>().await;
    }
}

async fn demo(args: DemoArgs) -> Result<()> {
    if args.state.exists() {
        std::fs::remove_dir_all(&args.state)
            .with_context(|| format!("cannot clear demo state {}", args.state.display()))?;
    }
    let site = Arc::new(FixtureSite::new(FixtureSpec {
        articles: args.articles,
        ..FixtureSpec::default()
    }));
    let server = FixtureServer::start(site, [127, 0, 0, 1].into(), 0).await?;
    eprintln!("demo news site at {}", server.origin());
    let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo.toml"))
        .replace("{origin}", server.origin());
    let overrides = Overrides {
        state_dir: Some(args.state.clone()),
        output_path: Some(args.state.join("records.jsonl")),
        ..Overrides::default()
    };
    let config =
        ConfigFile::parse(&text, "config/demo.toml")?.validate("config/demo.toml", &overrides)?;
    let output = config.output_path.clone();
    run_crawl(config, None).await?;
    let records = std::fs::read_to_string(&output).unwrap_or_default();
    for line in records.lines().take(3) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
            eprintln!(
                "  {} | {} | {}",
                v["published"].as_str().unwrap_or("-"),
                v["authors"].as_array().map(|a| a.len()).unwrap_or(0),
                v["title"].as_str().unwrap_or("-")
            );
        }
    }
    eprintln!(
        "{} requests served by the demo site",
        server.requests().len()
    );
    Ok(())
}

async fn fixture(args: FixtureArgs) -> Result<()> {
    let site = Arc::new(FixtureSite::new(FixtureSpec {
        articles: args.articles,
        ..FixtureSpec::default()
    }));
    let server = FixtureServer::start(site, args.addr.ip(), args.addr.port()).await?;
    eprintln!(
        "serving the fixture news site at {} (Ctrl-C stops)",
        server.origin()
    );
    stop_signal().await;
    Ok(())
}

/// Opens the store of an existing crawl (never creates one).
fn open_existing(args: &StateArgs) -> Result<SledStore> {
    let dir = match (&args.state, &args.config) {
        (Some(dir), _) => dir.clone(),
        (None, Some(config)) => ConfigFile::load(config)?.crawler.state_dir,
        (None, None) => {
            return Err(ConfigError::Invalid {
                file: "<command line>".into(),
                key: "--state".into(),
                reason: "name the crawl: --state DIR or --config FILE".into(),
            }
            .into())
        }
    };
    let db = dir.join("db");
    if !db.is_dir() {
        anyhow::bail!(
            "no crawl state in {} (expected {})",
            dir.display(),
            db.display()
        );
    }
    Ok(SledStore::open(&db)?)
}

async fn status(args: StatusArgs) -> Result<()> {
    if let Some(shared) = shared_of(&args)? {
        return shared_status(shared, args.json).await;
    }
    let store = open_existing(&args.state)?;
    let status = newscrawl::report::status(&store, args.errors)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        println!("{status}");
    }
    Ok(())
}

/// The shared crawl `status` is asked about: named by `--store`, or by the config's
/// `store.url` when no `--state` directory is named.
fn shared_of(args: &StatusArgs) -> Result<Option<newscrawl::config::SharedStore>> {
    let Some(path) = &args.state.config else {
        if args.store.is_some() {
            return Err(ConfigError::Invalid {
                file: "<command line>".into(),
                key: "--store".into(),
                reason: "name the crawl's config too (--config FILE): its store.namespace and store.buckets".into(),
            }
            .into());
        }
        return Ok(None);
    };
    let file = ConfigFile::load(path)?;
    if args.store.is_none() && (args.state.state.is_some() || file.store.url.is_none()) {
        return Ok(None);
    }
    let overrides = Overrides {
        store_url: args.store.clone(),
        ..Overrides::default()
    };
    Ok(file
        .validate(&path.display().to_string(), &overrides)?
        .shared)
}

#[cfg(feature = "redis")]
async fn shared_status(shared: newscrawl::config::SharedStore, json: bool) -> Result<()> {
    let load = newscrawl::crawl::crawl_load(&shared).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&load)?);
    } else {
        println!("shared crawl {:?} at {}", shared.namespace, shared.url);
        print!("{load}");
    }
    Ok(())
}

#[cfg(not(feature = "redis"))]
async fn shared_status(_shared: newscrawl::config::SharedStore, _json: bool) -> Result<()> {
    anyhow::bail!("this build cannot read a shared crawl's Redis (store.url or --store): build it with `cargo build --release --features redis`")
}

fn parse_page(args: ParseArgs) -> Result<()> {
    use newscrawl::site::UrlKind;
    let usage = |key: &str, reason: String| ConfigError::Invalid {
        file: "<command line>".into(),
        key: key.into(),
        reason,
    };
    let url = url::Url::parse(&args.url)
        .map_err(|e| usage("--url", format!("{:?} is not a URL: {e}", args.url)))?;
    let bytes = match args.file.as_deref() {
        None => read_stdin()?,
        Some(p) if p == Path::new("-") => read_stdin()?,
        Some(path) => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
    };
    let registry = ParserRegistry::default();
    let (parser, name, zone, classified) = match &args.config {
        Some(path) => {
            let origin = path.display().to_string();
            let config = ConfigFile::load(path)?.validate(&origin, &Overrides::default())?;
            let site = match &args.site {
                Some(name) => config
                    .sites
                    .iter()
                    .find(|s| &s.name == name)
                    .ok_or_else(|| {
                        usage("--site", format!("{origin} has no site named {name:?}"))
                    })?,
                None => config
                    .sites
                    .iter()
                    .find(|s| s.allows_host(&url))
                    .unwrap_or(&config.sites[0]),
            };
            let parser = registry.for_spec(&site.parser_spec).ok_or_else(|| {
                usage(
                    "--config",
                    format!("site {:?} uses parser {:?}, which only a program embedding the crawler can register", site.name, site.parser),
                )
            })?;
            (
                parser,
                site.parser.clone(),
                site.time_zone,
                site.classify(&url),
            )
        }
        None => {
            let name = args.parser.clone().unwrap_or_else(|| "article".into());
            let parser = registry.get(&name).ok_or_else(|| {
                usage("--parser", format!("unknown parser {name:?} (article, links; selectors and command need --config)"))
            })?;
            (parser, name, chrono_tz::UTC, None)
        }
    };
    let kind = match args.kind.as_deref() {
        Some("article") => UrlKind::Article,
        Some("section") => UrlKind::Section,
        Some("page") => UrlKind::Page,
        Some(other) => {
            return Err(usage("--kind", format!("{other:?}: use article, section or page")).into())
        }
        None => classified.unwrap_or(UrlKind::Article),
    };
    let fetched_at = match &args.fetched_at {
        Some(t) => Some(
            chrono::DateTime::parse_from_rfc3339(t)
                .map_err(|e| {
                    usage(
                        "--fetched-at",
                        format!("{t:?} is not an RFC 3339 time: {e}"),
                    )
                })?
                .with_timezone(&chrono::Utc),
        ),
        None => None,
    };
    let (text, encoding) = newscrawl::fetch::decode_html(&bytes, None);
    let page = newscrawl::parse::Page {
        url: &url,
        kind,
        headers: &[],
        body: &text,
        time_zone: zone,
        fetched_at,
        max_links: usize::MAX,
    };
    let parsed = parser
        .parse(&page)
        .map_err(|e| anyhow::anyhow!("parser {name:?} failed: {e}"))?;
    #[derive(serde::Serialize)]
    struct Output<'a> {
        url: &'a str,
        kind: &'static str,
        parser: String,
        encoding: &'static str,
        records: Vec<newscrawl::record::Article>,
        links: Vec<String>,
    }
    let out = Output {
        url: url.as_str(),
        kind: kind.name(),
        parser: name,
        encoding: encoding.name(),
        records: parsed.articles,
        links: parsed.links,
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

fn eval(args: EvalArgs) -> Result<()> {
    let parser =
        ParserRegistry::default()
            .get(&args.parser)
            .ok_or_else(|| ConfigError::Invalid {
                file: "<command line>".into(),
                key: "--parser".into(),
                reason: format!("unknown parser {:?} (article, links)", args.parser),
            })?;
    let report = newscrawl::eval::evaluate(&args.corpus, &*parser)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

fn read_stdin() -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
        .context("cannot read standard input")?;
    Ok(bytes)
}

fn export(args: ExportArgs) -> Result<()> {
    let store = open_existing(&args.state)?;
    let written = match &args.out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            let n = newscrawl::report::export(&store, args.since, &mut out)?;
            std::io::Write::flush(&mut out)?;
            n
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let n = newscrawl::report::export(&store, args.since, &mut out)?;
            std::io::Write::flush(&mut out)?;
            n
        }
    };
    eprintln!("{written} records");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message a full disk gives, as the README quotes it (a test cannot fill a
    /// disk without privileges; `tests/storage.rs` reaches the same path with a file
    /// size limit).
    #[test]
    fn a_full_disk_is_named_with_the_place_and_the_way_out() {
        let full = CrawlError::Sink(newscrawl::sink::SinkError::Io {
            path: "/srv/crawl/records.jsonl".into(),
            source: std::io::Error::from_raw_os_error(libc::ENOSPC),
        });
        assert_eq!(
            storage_stop(full, Path::new("/srv/crawl")).to_string(),
            "the crawl stopped: cannot write its state under /srv/crawl: No space left on device (os error 28) (the disk is full). Everything committed before this is kept; make room and run the same command again to resume"
        );
    }
}
