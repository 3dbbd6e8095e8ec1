//! The crawl's own keys, outside the buckets: named values (a sink's offsets, ...) and
//! the worker registry (each name held by one live process, with a time to live its
//! heartbeat renews).
//!
//! Invariant: a worker name is held by one token at a time; a name whose time ran out
//! may be taken by another process.

use std::time::Duration;

use redis::AsyncCommands;

use super::{millis, RedisFrontier};
use crate::store::StoreError;

impl RedisFrontier {
    /// A value of the crawl's own (a sink's offset, ...), by name.
    pub async fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .con
            .clone()
            .get(format!("{}:meta:{name}", self.namespace))
            .await?)
    }

    pub async fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        let _: () = self
            .con
            .clone()
            .set(format!("{}:meta:{name}", self.namespace), value)
            .await?;
        Ok(())
    }

    /// The registry of live workers: one hash (name -> "token expiry"), one key, so
    /// that it works on a Redis Cluster as on one server.
    fn workers_key(&self) -> String {
        format!("{}:workers", self.namespace)
    }

    /// Registers a worker id for `ttl` (on the server's clock), or renews it when
    /// `token` holds it; false when another live process holds the id.
    pub async fn hold_worker_id(
        &self,
        worker: &str,
        token: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let held: i64 = redis::Script::new(
            "local t = redis.call('TIME')
             local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
             local v = redis.call('HGET', KEYS[1], ARGV[1])
             if v then
               local token, expiry = string.match(v, '^(%S+) (%d+)$')
               if token ~= ARGV[2] and tonumber(expiry or '0') > now then return 0 end
             end
             redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. (now + tonumber(ARGV[3])))
             return 1",
        )
        .key(self.workers_key())
        .arg(worker)
        .arg(token)
        .arg(millis(ttl))
        .invoke_async(&mut self.con.clone())
        .await?;
        Ok(held == 1)
    }

    /// The names of the crawl's live workers, sorted.
    pub async fn live_workers(&self) -> Result<Vec<String>, StoreError> {
        let mut names: Vec<String> = redis::Script::new(
            "local t = redis.call('TIME')
             local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
             local all = redis.call('HGETALL', KEYS[1])
             local live = {}
             for i = 1, #all, 2 do
               local expiry = string.match(all[i + 1], ' (%d+)$')
               if tonumber(expiry or '0') > now then live[#live + 1] = all[i] end
             end
             return live",
        )
        .key(self.workers_key())
        .invoke_async(&mut self.con.clone())
        .await?;
        names.sort();
        Ok(names)
    }

    /// Gives a worker id up (a worker that stops cleanly).
    pub async fn release_worker_id(&self, worker: &str, token: &str) -> Result<(), StoreError> {
        let _: i64 = redis::Script::new(
            "local v = redis.call('HGET', KEYS[1], ARGV[1])
             if v and string.match(v, '^(%S+) ') == ARGV[2] then
               return redis.call('HDEL', KEYS[1], ARGV[1])
             end
             return 0",
        )
        .key(self.workers_key())
        .arg(worker)
        .arg(token)
        .invoke_async(&mut self.con.clone())
        .await?;
        Ok(())
    }
}
