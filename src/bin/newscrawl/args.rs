//! The command line's arguments (clap): the commands, their flags, and the flags that
//! override a config file.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use newscrawl::config::Overrides;
use newscrawl::durations::parse_duration;

/// A polite, incremental web crawler for news sites.
#[derive(Parser)]
#[command(name = "newscrawl", version, about)]
pub(crate) struct Cli {
    /// Log format: `text` for people, `json` for journald or a log shipper (one JSON
    /// object a line).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Serve the bundled news site on 127.0.0.1 and crawl it (offline; starts fresh).
    Demo(DemoArgs),
    /// Crawl from a config file, or from seed URLs; re-running resumes.
    Crawl(CrawlArgs),
    /// Keep crawling until stopped: revisit listing pages as often as they change,
    /// fetch what is new, serve /healthz, /status and /metrics; SIGHUP reloads.
    Daemon(DaemonArgs),
    /// Serve the bundled news site on a loopback address until interrupted.
    Fixture(FixtureArgs),
    /// Summarize a crawl's state: URLs by status and kind, queues, records, errors.
    Status(StatusArgs),
    /// Write a crawl's records as JSON lines, in commit order.
    Export(ExportArgs),
    /// Run a parser on a saved page (or standard input) and print its links and
    /// records as JSON: for writing and debugging selectors.
    Parse(ParseArgs),
    /// Score a parser on a corpus of pages with known answers (body token P/R/F1,
    /// exact title, authors and date).
    Eval(EvalArgs),
}

/// Which crawl's state to read: `--state DIR`, or the `state_dir` of `--config FILE`.
#[derive(Args)]
pub(crate) struct StateArgs {
    #[arg(long, value_name = "DIR")]
    pub(crate) state: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    pub(crate) state: StateArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// How many recent errors to list.
    #[arg(long, default_value_t = 10)]
    pub(crate) errors: usize,
    /// The Redis of a shared crawl (overrides store.url of --config): its live workers
    /// and what is left, bucket by bucket.
    #[arg(long, value_name = "URL")]
    pub(crate) store: Option<String>,
}

#[derive(Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    pub(crate) state: StateArgs,
    /// Only records after this outbox sequence number.
    #[arg(long, default_value_t = 0)]
    pub(crate) since: u64,
    /// Write to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct EvalArgs {
    /// Directory of NAME.html pages with NAME.json expectations.
    #[arg(default_value = "tests/extraction/pages")]
    pub(crate) corpus: PathBuf,
    /// Built-in parser to score.
    #[arg(long, default_value = "article")]
    pub(crate) parser: String,
    /// Print JSON (every page's scores) instead of the table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct ParseArgs {
    /// The HTML file; standard input when absent or `-`.
    pub(crate) file: Option<PathBuf>,
    /// Use the parser (and time zone, and URL patterns) of a site in this config.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Which site of `--config` (default: the one whose hosts include `--url`, else
    /// the first).
    #[arg(long, value_name = "NAME")]
    pub(crate) site: Option<String>,
    /// A built-in parser, without a config: `article` (default) or `links`.
    #[arg(long, value_name = "NAME", conflicts_with = "config")]
    pub(crate) parser: Option<String>,
    /// The page's URL, for resolving links (and, with `--config`, its kind).
    #[arg(long, default_value = "https://example.invalid/")]
    pub(crate) url: String,
    /// What the page is: article, section or page (default: from the site's patterns
    /// with `--config`, else article).
    #[arg(long, value_name = "KIND")]
    pub(crate) kind: Option<String>,
    /// When the page was fetched (RFC 3339), to read relative dates ("2 hours ago")
    /// against; without it they are left unread.
    #[arg(long, value_name = "TIME")]
    pub(crate) fetched_at: Option<String>,
}

#[derive(Args)]
pub(crate) struct DemoArgs {
    /// State directory (deleted and recreated).
    #[arg(long, default_value = "state/demo")]
    pub(crate) state: PathBuf,
    /// Articles on the demo site.
    #[arg(long, default_value_t = 40)]
    pub(crate) articles: usize,
}

#[derive(Args)]
pub(crate) struct DaemonArgs {
    #[command(flatten)]
    pub(crate) source: SourceArgs,
    /// Address for /healthz, /status and /metrics (overrides daemon.http), or `off`.
    #[arg(long, value_name = "ADDR")]
    pub(crate) http: Option<String>,
    #[command(flatten)]
    pub(crate) overrides: OverrideArgs,
}

/// What to crawl: a config file, or seed URLs.
#[derive(Args)]
pub(crate) struct SourceArgs {
    /// TOML config file (see config/*.toml).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Seed URL of an ad-hoc site (repeatable): same-host links, default parser.
    #[arg(long = "seed", value_name = "URL")]
    pub(crate) seeds: Vec<String>,
    /// File with one seed URL a line (`#` starts a comment).
    #[arg(long = "seeds", value_name = "FILE")]
    pub(crate) seeds_file: Option<PathBuf>,
    /// Parser for ad-hoc sites (`article` or `links`).
    #[arg(long, default_value = "article")]
    pub(crate) parser: String,
}

#[derive(Args)]
pub(crate) struct CrawlArgs {
    #[command(flatten)]
    pub(crate) source: SourceArgs,
    /// Start over: delete the crawl's store and output file first.
    #[arg(long)]
    pub(crate) fresh: bool,
    #[command(flatten)]
    pub(crate) overrides: OverrideArgs,
}

#[derive(Args)]
pub(crate) struct OverrideArgs {
    /// State directory (overrides crawler.state_dir).
    #[arg(long, value_name = "DIR")]
    pub(crate) state: Option<PathBuf>,
    /// JSONL output file (overrides output.path).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Also write every page exchange to this WARC file (gzip per record).
    #[arg(long, value_name = "FILE")]
    pub(crate) warc: Option<PathBuf>,
    /// Minimum gap between requests to one host, e.g. 500ms, 2s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) min_delay: Option<Duration>,
    /// Stop after this many page requests.
    #[arg(long, value_name = "N")]
    pub(crate) max_pages: Option<u64>,
    /// Stop after this long, e.g. 10m.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) max_time: Option<Duration>,
    /// Share the crawl with other workers through Redis (overrides store.url), e.g.
    /// redis://127.0.0.1:6379/0. Needs a build with `--features redis`.
    #[arg(long, value_name = "URL")]
    pub(crate) store: Option<String>,
    /// This worker's name in a shared crawl (overrides store.worker).
    #[arg(long, value_name = "NAME")]
    pub(crate) worker: Option<String>,
    /// Also trust the certificate authorities in this PEM file (overrides
    /// crawler.ca_file).
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_file: Option<PathBuf>,
}

impl From<OverrideArgs> for Overrides {
    fn from(a: OverrideArgs) -> Self {
        Overrides {
            state_dir: a.state,
            output_path: a.out,
            min_delay: a.min_delay,
            max_pages: a.max_pages,
            max_time: a.max_time,
            http: None,
            warc_path: a.warc,
            block_private_by_default: false,
            store_url: a.store,
            worker: a.worker,
            ca_file: a.ca_file,
        }
    }
}

#[derive(Args)]
pub(crate) struct FixtureArgs {
    /// Loopback address to listen on.
    #[arg(long, default_value = "127.0.0.1:8088")]
    pub(crate) addr: std::net::SocketAddr,
    #[arg(long, default_value_t = 40)]
    pub(crate) articles: usize,
}
