//! The `command` parser: an external program, in any language, kept running and fed
//! one JSON request per line on its standard input; it answers one JSON line per
//! request on its standard output.
//!
//! Request: `{"url": "...", "kind": "article", "headers": {"content-type": "..."},
//! "body": "<html>..."}`. Answer: `{"links": ["https://..."], "records": [{"title":
//! "...", "body": "...", ...}]}` (record fields as in the JSONL output; all optional),
//! or `{"error": "why"}`.
//!
//! Invariants: the program is started directly (no shell) with a minimal environment
//! (`PATH`, `LANG` and what the config adds); one request is outstanding at a time;
//! a crash, a hang past the per-page timeout, or an answer that is not one JSON object
//! becomes that page's error, the program is killed, and it is started again on the
//! next page after a backoff that doubles per consecutive failure (up to a minute).
//! The first answer of a program just started may also take [`START_ALLOWANCE`]: an
//! interpreter that starts slowly on a busy machine is not a program that hangs.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Page, ParseError, Parsed, Parser};
use crate::record::Article;

/// `[site.command]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSection {
    /// The program: a path, or a name looked up in `PATH`.
    pub program: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// Longest wait for one page's answer.
    #[serde(default = "default_timeout", with = "crate::durations::human_duration")]
    pub timeout: Duration,
    /// Environment variables to set besides `PATH` and `LANG`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory; the crawler's when absent.
    pub workdir: Option<PathBuf>,
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

impl CommandSection {
    /// Checks the section; errors are `(key, reason)`, the key relative to the table.
    pub fn check(&self) -> Result<(), (String, String)> {
        if self.program.trim().is_empty() {
            return Err(("program".into(), "must name a program".into()));
        }
        if self.timeout.is_zero() {
            return Err(("timeout".into(), "must be positive".into()));
        }
        Ok(())
    }
}

/// Longest pause between restarts of a failing program.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Extra time for the first answer of a program just started (its start-up).
pub const START_ALLOWANCE: Duration = Duration::from_secs(10);

#[derive(Serialize)]
struct Request<'a> {
    url: &'a str,
    kind: &'a str,
    headers: BTreeMap<&'a str, &'a str>,
    body: &'a str,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    #[serde(default)]
    links: Vec<String>,
    #[serde(default)]
    records: Vec<Article>,
    error: Option<String>,
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<std::io::Result<String>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Default)]
struct State {
    running: Option<Running>,
    /// The running program has not answered yet.
    fresh: bool,
    /// Consecutive failures (crashes, hangs, malformed answers).
    failures: u32,
    /// No start before this moment (backoff after a failure).
    not_before: Option<Instant>,
}

/// Talks to one external parser process.
pub struct CommandParser {
    spec: CommandSection,
    state: Mutex<State>,
}

impl CommandParser {
    /// The program is started on the first page, not here.
    pub fn new(spec: CommandSection) -> Self {
        Self {
            spec,
            state: Mutex::new(State::default()),
        }
    }

    fn start(&self) -> Result<Running, String> {
        let mut command = Command::new(&self.spec.program);
        command
            .args(&self.spec.args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LANG", "C.UTF-8")
            .envs(&self.spec.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &self.spec.workdir {
            command.current_dir(dir);
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {:?}: {e}", self.spec.program))?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = mpsc::channel();
        let program = self.spec.program.clone();
        std::thread::Builder::new()
            .name("newscrawl-cmd-out".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let end = line.is_err();
                    if tx.send(line).is_err() || end {
                        return;
                    }
                }
            })
            .map_err(|e| format!("cannot start a reader thread: {e}"))?;
        std::thread::Builder::new()
            .name("newscrawl-cmd-err".into())
            .spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    tracing::info!(parser = %program, "{line}");
                }
            })
            .map_err(|e| format!("cannot start a reader thread: {e}"))?;
        tracing::info!(parser = %self.spec.program, pid = child.id(), "parser program started");
        Ok(Running {
            child,
            stdin,
            lines,
        })
    }

    /// Kills the program after a failure and sets the backoff before the next start.
    fn failed(&self, state: &mut State, reason: String) -> ParseError {
        state.running = None;
        state.failures += 1;
        let backoff = FIRST_BACKOFF
            .saturating_mul(1 << state.failures.min(16).saturating_sub(1))
            .min(MAX_BACKOFF);
        state.not_before = Some(Instant::now() + backoff);
        tracing::warn!(
            parser = %self.spec.program,
            "{reason}; restarting it in {backoff:?} (failure {} in a row)",
            state.failures
        );
        ParseError(format!("parser program {:?}: {reason}", self.spec.program))
    }

    fn ask(&self, state: &mut State, request: &[u8]) -> Result<Parsed, ParseError> {
        if state.running.is_none() {
            if let Some(at) = state.not_before {
                let wait = at.saturating_duration_since(Instant::now());
                if wait > self.spec.timeout {
                    return Err(ParseError(format!(
                        "parser program {:?} is failing; next start in {wait:?}",
                        self.spec.program
                    )));
                }
                std::thread::sleep(wait);
            }
            match self.start() {
                Ok(running) => {
                    state.running = Some(running);
                    state.fresh = true;
                }
                Err(e) => return Err(self.failed(state, e)),
            }
        }
        let running = state.running.as_mut().expect("started above");
        let sent = running
            .stdin
            .write_all(request)
            .and_then(|()| running.stdin.flush());
        if let Err(e) = sent {
            let status = running.child.try_wait().ok().flatten();
            return Err(self.failed(
                state,
                format!("cannot write to it ({e}); exit status {status:?}"),
            ));
        }
        let timeout = if state.fresh {
            self.spec.timeout + START_ALLOWANCE
        } else {
            self.spec.timeout
        };
        let line = match running.lines.recv_timeout(timeout) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => return Err(self.failed(state, format!("unreadable answer: {e}"))),
            Err(RecvTimeoutError::Timeout) => {
                let started = if state.fresh {
                    ", its start included"
                } else {
                    ""
                };
                return Err(self.failed(state, format!("no answer within {timeout:?}{started}")));
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = running.child.wait().ok();
                let status = status.map_or("unknown".to_string(), |s| s.to_string());
                return Err(self.failed(state, format!("exited ({status})")));
            }
        };
        let answer: Answer = match serde_json::from_str(&line) {
            Ok(answer) => answer,
            Err(e) => {
                let shown: String = line.chars().take(120).collect();
                return Err(self.failed(state, format!("malformed answer {shown:?}: {e}")));
            }
        };
        state.failures = 0;
        state.not_before = None;
        state.fresh = false;
        if let Some(error) = answer.error {
            return Err(ParseError(format!("parser program: {error}")));
        }
        Ok(Parsed {
            links: answer.links,
            articles: answer.records,
        })
    }
}

impl Parser for CommandParser {
    fn parse(&self, page: &Page<'_>) -> Result<Parsed, ParseError> {
        let request = Request {
            url: page.url.as_str(),
            kind: page.kind.name(),
            headers: page
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            body: page.body,
        };
        let mut line = serde_json::to_vec(&request)
            .map_err(|e| ParseError(format!("cannot encode the request: {e}")))?;
        line.push(b'\n');
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.ask(&mut state, &line)
    }
}
