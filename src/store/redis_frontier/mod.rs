//! The frontier that several worker processes share through Redis (or Valkey): each
//! host's queue, seen set, URL states and politeness clock, claimed one request at a
//! time under a lease.
//!
//! Layout (built for Redis Cluster): a host belongs to one of N buckets (a hash of the
//! host), and every key of a bucket carries its hash tag, `<ns>:{<bucket>}:`, so one
//! host's keys live in one slot and each script touches one slot. Per bucket:
//! `ready` (sorted set: host -> when it may be claimed), `links` (stream of links to
//! hosts of other buckets, routed by any worker through the `route` consumer group),
//! `content` (content fingerprint -> first URL), `ops` (write count) and `parked`.
//! Per host: `q:<host>` (sorted set: URL -> due time, plus [`FOUND`] for a URL of
//! [`Priority::Found`], so due revisits come first; `head` in `common.lua` picks the
//! URL a host serves next), `e:<host>` (URL -> queue
//! entry), `seen:<host>` (fingerprints of every URL ever found), `state:<host>`
//! (URL -> state), `settling:<host>` (URL -> lease epoch and deadline of a page
//! whose lease was handed on and that waits for its commit), `host:<host>` (next
//! allowed start, delay, backoff, lease owner, epoch and deadline, robots.txt copy).
//! Records go to `rec:<worker>` streams.
//!
//! Invariants: a host is claimed only when the Redis server's clock has passed its
//! next allowed start and no live lease holds it; a completion whose epoch is not
//! the host's current one (or, for a handed-on page, not the epoch its URL settles
//! under) commits nothing, so a page's outcome is committed at most once; a URL
//! leaves its host's queue only in the completion that settles it or, once its server
//! answered, for the host's settling set, which gives it back to the queue when its
//! commit does not come in time; so the URL of an expired lease or of an abandoned
//! page is fetched again (fetches are at least once).

use std::collections::HashMap;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::streams::{StreamAutoClaimReply, StreamReadOptions, StreamReadReply};
use redis::AsyncCommands;

use super::{fingerprint, Fingerprint, Priority, QueueEntry, StoreError};
use crate::politeness::Pace;

mod messages;
mod workers;

pub use messages::{
    pack_capture, unpack_capture, BucketLoad, Claim, Claimed, ClaimedPage, Completed, Completion,
    Delivery, NextClaim, RevisitPlan,
};

/// The consumer group that routes links between buckets.
const ROUTE_GROUP: &str = "route";

/// Buckets of a crawl unless its config says otherwise.
pub const DEFAULT_BUCKETS: u32 = 16;

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        StoreError::Redis(e.to_string())
    }
}

/// A connection to `url` (with `cluster`, a Redis Cluster that `url` is a node of).
async fn open(url: &str, cluster: bool) -> Result<Connection, StoreError> {
    let unreachable =
        |e: redis::RedisError| StoreError::Redis(format!("cannot connect to {url}: {e}"));
    if cluster {
        let client = redis::cluster::ClusterClient::builder(vec![url])
            .connection_timeout(Duration::from_secs(5))
            .response_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| StoreError::Redis(format!("store URL {url:?}: {e}")))?;
        Ok(Connection::Cluster(
            client.get_async_connection().await.map_err(unreachable)?,
        ))
    } else {
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::Redis(format!("store URL {url:?}: {e}")))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(10)))
            .set_max_delay(Duration::from_secs(2));
        Ok(Connection::Single(
            ConnectionManager::new_with_config(client, config)
                .await
                .map_err(unreachable)?,
        ))
    }
}

fn script(body: &str) -> redis::Script {
    redis::Script::new(&format!("{}\n{}", include_str!("common.lua"), body))
}

struct Scripts {
    claim: redis::Script,
    complete: redis::Script,
    hand_on: redis::Script,
    enqueue: redis::Script,
    idle: redis::Script,
    unpark: redis::Script,
    renew: redis::Script,
}

/// A connection to one Redis server (reconnecting by itself) or to a Redis Cluster
/// (following its slots).
#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl redis::aio::ConnectionLike for Connection {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Connection::Single(con) => con.req_packed_command(cmd),
            Connection::Cluster(con) => con.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Connection::Single(con) => con.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(con) => con.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(con) => con.get_db(),
            Connection::Cluster(con) => con.get_db(),
        }
    }
}

/// A connection to one shared crawl (a namespace in one Redis database, or in a
/// Redis Cluster).
#[derive(Clone)]
pub struct RedisFrontier {
    /// Completions, enqueues, routing, records: the bulk of the traffic.
    con: Connection,
    /// Claims and hand-ons, on a connection of their own, so that they never queue
    /// behind a large completion's reply (Redis answers each connection in order).
    clock: Connection,
    namespace: String,
    buckets: u32,
    scripts: std::sync::Arc<Scripts>,
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("store values always serialize")
}

fn decode<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &'static str,
    key: &str,
) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt {
        tree: what,
        key: key.to_string(),
        reason: e.to_string(),
    })
}

fn number(text: &[u8], what: &str) -> Result<u64, StoreError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .filter(|n| *n >= 0.0)
        .map(|n| n as u64)
        .ok_or_else(|| {
            StoreError::Redis(format!(
                "script answered {:?} for {what}, not a number",
                String::from_utf8_lossy(text)
            ))
        })
}

fn millis(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128) as u64
}

/// What a found URL's score adds to its due time: 2^50 ms, beyond any due time and
/// exact in a double with one added (`FOUND` in `common.lua`, which must be equal).
pub const FOUND: u64 = 1 << 50;

/// What a script adds to its clock to score a URL of class `priority` due `after`
/// from now.
fn score_after(priority: Priority, after: Duration) -> u64 {
    let due = millis(after).min(FOUND - 1);
    match priority {
        Priority::Revisit => due,
        Priority::Found => due + FOUND,
    }
}

/// A host's gap as the scripts add it to the server's clock: that clock is read in
/// whole ms, floored, so the gap is rounded up and one ms is added; a next allowed
/// start is never early by a fraction of a ms.
fn gap_millis(d: Duration) -> u64 {
    if d.is_zero() {
        return 0;
    }
    (d.as_micros().div_ceil(1000) + 1).min(u64::MAX as u128) as u64
}

/// Pairs of (host, count) after `skip` leading fields of a script's answer.
fn counts_by_host(reply: &[Vec<u8>], skip: usize) -> Result<Vec<(String, usize)>, StoreError> {
    reply[skip.min(reply.len())..]
        .chunks(2)
        .filter(|pair| pair.len() == 2)
        .map(|pair| {
            Ok((
                String::from_utf8_lossy(&pair[0]).into_owned(),
                number(&pair[1], "new links")? as usize,
            ))
        })
        .collect()
}

impl RedisFrontier {
    /// Connects to the crawl `namespace` at `url` (`redis://HOST:PORT/DB`; with
    /// `cluster`, any node of a Redis Cluster). The first worker fixes the number of
    /// buckets; later ones must use the same.
    pub async fn connect(
        url: &str,
        cluster: bool,
        namespace: &str,
        buckets: u32,
    ) -> Result<Self, StoreError> {
        if namespace.is_empty() || namespace.contains(['{', '}']) {
            return Err(StoreError::Redis(format!(
                "namespace {namespace:?} must be non-empty and hold no braces (they mark Redis Cluster hash tags)"
            )));
        }
        if buckets == 0 {
            return Err(StoreError::Redis("buckets must be at least 1".into()));
        }
        let mut frontier = Self {
            con: open(url, cluster).await?,
            clock: open(url, cluster).await?,
            namespace: namespace.to_string(),
            buckets,
            scripts: std::sync::Arc::new(Scripts {
                claim: script(include_str!("claim.lua")),
                complete: script(include_str!("complete.lua")),
                hand_on: script(include_str!("hand_on.lua")),
                enqueue: script(include_str!("enqueue.lua")),
                idle: script(include_str!("idle.lua")),
                unpark: script(include_str!("unpark.lua")),
                renew: script(include_str!("renew.lua")),
            }),
        };
        frontier.agree_on_buckets().await?;
        frontier.create_groups().await?;
        Ok(frontier)
    }

    async fn agree_on_buckets(&mut self) -> Result<(), StoreError> {
        let key = format!("{}:buckets", self.namespace);
        let _: bool = self.con.set_nx(&key, self.buckets).await?;
        let stored: u32 = self.con.get(&key).await?;
        if stored != self.buckets {
            return Err(StoreError::Redis(format!(
                "crawl {:?} was started with {stored} buckets; this worker is configured with {} (store.buckets must be the same for every worker)",
                self.namespace, self.buckets
            )));
        }
        Ok(())
    }

    async fn create_groups(&mut self) -> Result<(), StoreError> {
        for bucket in 0..self.buckets {
            let key = self.key(bucket, "links");
            let created: Result<(), redis::RedisError> = redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(&key)
                .arg(ROUTE_GROUP)
                .arg("0")
                .arg("MKSTREAM")
                .query_async(&mut self.con)
                .await;
            match created {
                Ok(()) => {}
                Err(e) if e.code() == Some("BUSYGROUP") => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    pub fn buckets(&self) -> u32 {
        self.buckets
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The bucket of a host (`host[:port]`).
    pub fn bucket_of(&self, host: &str) -> u32 {
        let hash = fingerprint(host.as_bytes());
        (u64::from_le_bytes(hash[..8].try_into().expect("8 bytes")) % u64::from(self.buckets))
            as u32
    }

    fn prefix(&self, bucket: u32) -> String {
        format!("{}:{{{bucket}}}:", self.namespace)
    }

    fn key(&self, bucket: u32, name: &str) -> String {
        format!("{}{name}", self.prefix(bucket))
    }

    /// Queues the URLs never seen; returns how many were new (and how many were
    /// dropped by `max_urls_per_host`, 0 for none).
    pub async fn enqueue(
        &self,
        entries: &[QueueEntry],
        max_urls_per_host: u64,
    ) -> Result<(usize, usize), StoreError> {
        let mut by_bucket: HashMap<u32, Vec<&QueueEntry>> = HashMap::new();
        for entry in entries {
            by_bucket
                .entry(self.bucket_of(&entry.host()))
                .or_default()
                .push(entry);
        }
        let (mut new, mut over) = (0, 0);
        for (bucket, entries) in by_bucket {
            let mut invocation = self.scripts.enqueue.prepare_invoke();
            invocation
                .key(self.key(bucket, "ready"))
                .arg(self.prefix(bucket))
                .arg(max_urls_per_host);
            for entry in entries {
                invocation
                    .arg(entry.host())
                    .arg(&fingerprint(entry.url.as_bytes())[..])
                    .arg(&entry.url)
                    .arg(encode(entry))
                    .arg("0");
            }
            let reply: Vec<Vec<u8>> = invocation.invoke_async(&mut self.con.clone()).await?;
            new += number(reply.first().map_or(&b""[..], |v| v), "new")? as usize;
            over += number(reply.get(1).map_or(&b""[..], |v| v), "over budget")? as usize;
        }
        Ok((new, over))
    }

    /// Claims up to `max` hosts of `bucket` for one request each, leased for `lease`:
    /// hosts whose request may start within `ahead` (each claim says when).
    pub async fn claim(
        &self,
        bucket: u32,
        worker: &str,
        max: usize,
        lease: Duration,
        default_delay: Duration,
        ahead: Duration,
    ) -> Result<Claimed, StoreError> {
        let reply: Vec<Vec<u8>> = self
            .scripts
            .claim
            .key(self.key(bucket, "ready"))
            .arg(self.prefix(bucket))
            .arg(worker)
            .arg(max)
            .arg(millis(lease))
            .arg(millis(default_delay))
            .arg(millis(ahead))
            .invoke_async(&mut self.clock.clone())
            .await?;
        if reply.len() < 2 {
            return Err(StoreError::Redis(format!(
                "claim script answered {} fields",
                reply.len()
            )));
        }
        let now_ms = number(&reply[0], "now")?;
        let next_ms = match &reply[1][..] {
            b"-1" => None,
            earliest => Some(number(earliest, "earliest")?),
        };
        if reply.len() == 2 {
            return Ok(match next_ms {
                None => Claimed::Empty,
                Some(until_ms) => Claimed::Wait { now_ms, until_ms },
            });
        }
        let mut claims = Vec::new();
        for fields in reply[2..].chunks(10) {
            let [host, epoch, deadline, start, url, entry, state, robots, revisit, pace] = fields
            else {
                return Err(StoreError::Redis(
                    "claim script answered a partial claim".into(),
                ));
            };
            let host = String::from_utf8_lossy(host).into_owned();
            let page = if url.is_empty() {
                None
            } else {
                let url_text = String::from_utf8_lossy(url).into_owned();
                let key = format!("{}e:{host} {url_text}", self.prefix(bucket));
                Some(ClaimedPage {
                    entry: decode(entry, "redis queue entry", &key)?,
                    state: if state.is_empty() {
                        None
                    } else {
                        Some(decode(state, "redis URL state", &key)?)
                    },
                    revisit: if revisit.is_empty() {
                        None
                    } else {
                        Some(decode(revisit, "redis revisit schedule", &key)?)
                    },
                })
            };
            claims.push(Claim {
                bucket,
                epoch: String::from_utf8_lossy(epoch).into_owned(),
                now_ms,
                deadline_ms: number(deadline, "deadline")?,
                start_ms: number(start, "start")?,
                page,
                robots: (!robots.is_empty()).then(|| robots.clone()),
                pace: Pace::from_field(&String::from_utf8_lossy(pace)),
                host,
            });
        }
        Ok(Claimed::Hosts { claims, next_ms })
    }

    /// Ends a lease with what its request produced.
    pub async fn complete(
        &self,
        claim: &Claim,
        worker: &str,
        done: Completion,
    ) -> Result<Completed, StoreError> {
        let bucket = claim.bucket;
        let mut invocation = self.scripts.complete.prepare_invoke();
        invocation
            .key(self.key(bucket, "ready"))
            .key(self.key(bucket, "links"))
            .arg(self.prefix(bucket))
            .arg(&claim.host)
            .arg(&claim.epoch)
            .arg(worker)
            .arg(done.url.as_deref().unwrap_or(""))
            .arg(done.state.as_ref().map(encode).unwrap_or_default())
            .arg(if done.requeue_after.is_some() {
                "0"
            } else {
                "1"
            })
            // A page kept queued (a retry) waits among the URLs found.
            .arg(
                done.requeue_after
                    .map_or(0, |after| score_after(Priority::Found, after)),
            )
            .arg(gap_millis(done.next_gap))
            .arg(millis(done.delay))
            .arg(done.pace.to_field())
            .arg(done.content.map(|c| c.to_vec()).unwrap_or_default())
            .arg(
                done.robots
                    .as_ref()
                    .map(|(copy, _)| copy.clone())
                    .unwrap_or_default(),
            )
            .arg(
                done.robots
                    .as_ref()
                    .map(|(_, valid)| millis(*valid).to_string())
                    .unwrap_or_default(),
            )
            .arg(done.max_urls_per_host)
            .arg(if done.park { "1" } else { "0" });
        match &done.revisit {
            Some(plan) => {
                invocation.arg(encode(&plan.entry));
                let priority = Priority::requeued(plan.entry.kind);
                for (after, schedule) in [&plan.if_changed, &plan.if_unchanged] {
                    invocation
                        .arg(score_after(priority, *after))
                        .arg(schedule.as_ref().map(encode).unwrap_or_default());
                }
            }
            None => {
                invocation.arg("").arg(0).arg("").arg(0).arg("");
            }
        }
        invocation.arg(if done.settles_handed_on { "1" } else { "0" });
        invocation.arg(score_after(done.links_priority, Duration::ZERO));
        invocation.arg(done.records.len() + usize::from(done.capture.is_some()));
        for record in &done.records {
            invocation.arg("r").arg(&record[..]);
        }
        if let Some(capture) = &done.capture {
            invocation.arg("w").arg(&capture[..]);
        }
        let (local, remote): (Vec<&QueueEntry>, Vec<&QueueEntry>) = done
            .links
            .iter()
            .partition(|link| self.bucket_of(&link.host()) == bucket);
        invocation.arg(local.len());
        for link in local {
            invocation
                .arg(link.host())
                .arg(&fingerprint(link.url.as_bytes())[..])
                .arg(&link.url)
                .arg(encode(link))
                .arg(if link.kind.is_listing() { "0" } else { "1" });
        }
        invocation.arg(remote.len());
        for link in remote {
            invocation
                .arg(&fingerprint(link.url.as_bytes())[..])
                .arg(encode(link));
        }
        invocation.arg(done.denied.len());
        for state in &done.denied {
            invocation
                .arg(&fingerprint(state.url.as_bytes())[..])
                .arg(&state.url)
                .arg(encode(state));
        }
        // A next page of another host is left to its own listing (the condition is
        // read from this host's links).
        match done
            .next_page
            .as_ref()
            .filter(|next| next.host() == claim.host)
        {
            Some(next) => invocation
                .arg(&next.url)
                .arg(&fingerprint(next.url.as_bytes())[..])
                .arg(encode(next)),
            None => invocation.arg("").arg("").arg(""),
        };
        let reply: Vec<Vec<u8>> = invocation.invoke_async(&mut self.con.clone()).await?;
        if reply.first().map(|v| &v[..]) != Some(b"1") {
            return Ok(Completed::default());
        }
        Ok(Completed {
            accepted: true,
            over_budget: number(reply.get(1).map_or(&b""[..], |v| v), "over budget")? as usize,
            denied: number(reply.get(2).map_or(&b""[..], |v| v), "denied")? as usize,
            changed: reply.get(3).map(|v| &v[..]) == Some(b"1"),
            next_claim: match (reply.get(4), reply.get(5)) {
                (Some(now), Some(at)) => Some(NextClaim::read(now, at)?),
                _ => None,
            },
            new_links: counts_by_host(&reply, 6)?,
        })
    }

    /// Ends a page's lease as soon as its server answered, before the page is
    /// processed: the host's next request may start `next_gap` from now (on the
    /// server's clock), by any worker, while the page waits in the host's settling
    /// set for its commit ([`Completion::settles_handed_on`]). A commit that has not
    /// come within `settle` is given up: the URL is queued again. Returns when the
    /// host may be claimed again, or `None` when the lease had been lost (nothing
    /// changed).
    pub async fn hand_on(
        &self,
        claim: &Claim,
        url: &str,
        next_gap: Duration,
        delay: Duration,
        pace: Pace,
        settle: Duration,
    ) -> Result<Option<NextClaim>, StoreError> {
        let handed: Vec<i64> = self
            .scripts
            .hand_on
            .key(self.key(claim.bucket, "ready"))
            .arg(self.prefix(claim.bucket))
            .arg(&claim.host)
            .arg(&claim.epoch)
            .arg(url)
            .arg(gap_millis(next_gap))
            .arg(millis(delay))
            .arg(pace.to_field())
            .arg(millis(settle))
            .invoke_async(&mut self.clock.clone())
            .await?;
        match handed[..] {
            [1, now, at] => Ok(Some(NextClaim {
                now_ms: now as u64,
                at_ms: (at >= 0).then_some(at as u64),
            })),
            [0] => Ok(None),
            _ => Err(StoreError::Redis(format!(
                "hand-on script answered {handed:?}"
            ))),
        }
    }

    /// The first URL of the bucket seen with this content.
    pub async fn content_owner(
        &self,
        bucket: u32,
        hash: &Fingerprint,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .con
            .clone()
            .hget(self.key(bucket, "content"), &hash[..])
            .await?)
    }

    /// What is left in a bucket.
    pub async fn load(&self, bucket: u32) -> Result<BucketLoad, StoreError> {
        let (hosts, links, writes, later, ready): (u64, u64, u64, u64, u64) = self
            .scripts
            .idle
            .key(self.key(bucket, "ready"))
            .key(self.key(bucket, "links"))
            .arg(self.prefix(bucket))
            .invoke_async(&mut self.con.clone())
            .await?;
        Ok(BucketLoad {
            hosts,
            links,
            writes,
            later,
            ready,
        })
    }

    /// Gives pages of `bucket` that this worker handed on and still processes another
    /// `settle` before they are queued again: (host, url, epoch of the claim) each.
    /// Returns how many were still settling under that epoch.
    pub async fn renew_settling(
        &self,
        bucket: u32,
        pages: &[(String, String, String)],
        settle: Duration,
    ) -> Result<u64, StoreError> {
        let mut invocation = self.scripts.renew.prepare_invoke();
        invocation
            .key(self.key(bucket, "ready"))
            .arg(self.prefix(bucket))
            .arg(millis(settle));
        for (host, url, epoch) in pages {
            invocation.arg(host).arg(url).arg(epoch);
        }
        Ok(invocation.invoke_async(&mut self.con.clone()).await?)
    }

    /// Makes hosts parked by an earlier run claimable again; returns how many.
    pub async fn unpark(&self, bucket: u32) -> Result<u64, StoreError> {
        Ok(self
            .scripts
            .unpark
            .key(self.key(bucket, "ready"))
            .arg(self.prefix(bucket))
            .invoke_async(&mut self.con.clone())
            .await?)
    }

    /// Moves links found in `bucket` to their own buckets' queues: with `stalled`,
    /// first those another worker read but did not finish within that time (it may
    /// have died), then new ones. Queuing is idempotent (the seen set), so a link
    /// routed twice is queued once. Returns how many links were read.
    pub async fn route_links(
        &self,
        bucket: u32,
        worker: &str,
        max_urls_per_host: u64,
        stalled: Option<Duration>,
    ) -> Result<usize, StoreError> {
        let key = self.key(bucket, "links");
        let mut con = self.con.clone();
        let mut ids = Vec::new();
        if let Some(stalled) = stalled {
            let reclaimed: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
                .arg(&key)
                .arg(ROUTE_GROUP)
                .arg(worker)
                .arg(millis(stalled))
                .arg("0-0")
                .arg("COUNT")
                .arg(256)
                .query_async(&mut con)
                .await?;
            ids = reclaimed.claimed;
        }
        let fresh: StreamReadReply = con
            .xread_options(
                &[&key],
                &[">"],
                &StreamReadOptions::default()
                    .group(ROUTE_GROUP, worker)
                    .count(512),
            )
            .await?;
        ids.extend(fresh.keys.into_iter().flat_map(|k| k.ids));
        if ids.is_empty() {
            return Ok(0);
        }
        let mut entries = Vec::with_capacity(ids.len());
        for id in &ids {
            let Some(bytes) = id.get::<Vec<u8>>("e") else {
                tracing::warn!(stream = %key, id = %id.id, "link entry without a queue entry; dropped");
                continue;
            };
            match decode::<QueueEntry>(&bytes, "redis link stream", &format!("{key} {}", id.id)) {
                Ok(entry) => entries.push(entry),
                Err(e) => tracing::warn!("{e}; dropped"),
            }
        }
        self.enqueue(&entries, max_urls_per_host).await?;
        let done: Vec<&str> = ids.iter().map(|id| id.id.as_str()).collect();
        let _: () = redis::pipe()
            .xack(&key, ROUTE_GROUP, &done)
            .ignore()
            .xdel(&key, &done)
            .ignore()
            .query_async(&mut con)
            .await?;
        Ok(ids.len())
    }

    /// What the worker committed for its outputs in `bucket` after stream id `after`,
    /// in order: records and page exchanges, as they were packed.
    pub async fn records_after(
        &self,
        bucket: u32,
        worker: &str,
        after: &str,
        count: usize,
    ) -> Result<Vec<(String, Delivery)>, StoreError> {
        let key = self.key(bucket, &format!("rec:{worker}"));
        let reply: redis::streams::StreamRangeReply = self
            .con
            .clone()
            .xrange_count(&key, format!("({after}"), "+", count)
            .await?;
        reply
            .ids
            .into_iter()
            .map(|id| {
                let item = match (id.get::<Vec<u8>>("r"), id.get::<Vec<u8>>("w")) {
                    (Some(record), _) => Delivery::Record(record),
                    (None, Some(capture)) => Delivery::Capture(capture),
                    (None, None) => {
                        return Err(StoreError::Corrupt {
                            tree: "redis record stream",
                            key: format!("{key} {}", id.id),
                            reason: "entry without a record or a page exchange".into(),
                        })
                    }
                };
                Ok((id.id, item))
            })
            .collect()
    }

    /// Drops the worker's records in `bucket` before stream id `before` (delivered:
    /// the offset past them is saved), so that Redis holds only what is on its way.
    pub async fn trim_records(
        &self,
        bucket: u32,
        worker: &str,
        before: &str,
    ) -> Result<(), StoreError> {
        let _: u64 = redis::cmd("XTRIM")
            .arg(self.key(bucket, &format!("rec:{worker}")))
            .arg("MINID")
            .arg(before)
            .query_async(&mut self.con.clone())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scripts' `FOUND` is this one: a revisit's score and a found URL's score
    /// are told apart by the same bound on both sides.
    #[test]
    fn the_scripts_found_offset_is_the_crates() {
        let common = include_str!("common.lua");
        assert!(
            common.contains(&format!("local FOUND = {FOUND}\n")),
            "common.lua's FOUND is not {FOUND}"
        );
        assert!(
            common.contains(&format!("local FOUND_ARG = '{FOUND}'\n")),
            "common.lua's FOUND_ARG is not '{FOUND}'"
        );
        // Exact in a double with a due time of the year 9999 added.
        let due = 253_402_300_799_000u64;
        assert_eq!((due + FOUND) as f64 as u64, due + FOUND);
    }

    #[test]
    fn a_found_url_scores_above_every_revisit() {
        let week = Duration::from_secs(7 * 86_400);
        assert_eq!(score_after(Priority::Revisit, week), millis(week));
        assert_eq!(score_after(Priority::Found, Duration::ZERO), FOUND);
        assert!(score_after(Priority::Revisit, Duration::MAX) < FOUND);
    }
}
