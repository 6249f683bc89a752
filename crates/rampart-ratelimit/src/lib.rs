//! rampart's limiter arithmetic and the state it keeps on one node.
//!
//! - [`Rate`]: GCRA rates (smooth, burst-tolerant), one number per key.
//! - [`Quota`]: calendar quotas (per UTC day or month), a period id and a count per key.
//! - [`Local`]: the three tables a gateway keeps (rates, quotas, requests in flight), each
//!   bounded by `max_keys` and swept of idle keys.
//!
//! Nothing here reads a clock: callers pass the time, so the arithmetic is tested with a
//! controlled clock. The gateway maps config to these types and runs the same arithmetic
//! in Redis for clusters.
#![forbid(unsafe_code)]

mod gcra;
mod local;
mod quota;
mod table;

use std::hash::{BuildHasher, Hash, Hasher};
use std::time::Duration;

pub use gcra::Rate;
pub use local::{Local, MemoryUse, Permit};
pub use quota::{Period, Quota, Window};
pub use table::{Pressure, SHARDS, Table};

/// One decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// Requests left right now (after this one, if it was admitted).
    pub remaining: u64,
    /// Until the key is back to its full allowance.
    pub reset: Duration,
    /// For a refusal: until a request would be admitted.
    pub retry_after: Duration,
}

/// Hashes (limit, key value) to the 64-bit keys of the local tables, with a per-process
/// random seed, so that nobody can aim values at one shard or at a collision.
#[derive(Debug, Clone, Default)]
pub struct KeyHasher(std::collections::hash_map::RandomState);

impl KeyHasher {
    pub fn new() -> KeyHasher {
        KeyHasher::default()
    }

    /// A limit's own seed, from its stable name.
    pub fn limit_id(&self, name: &str) -> u64 {
        self.0.hash_one(name)
    }

    /// The table key for one value of a limit's key.
    pub fn key(&self, limit: u64, value: &[u8]) -> u64 {
        let mut h = self.0.build_hasher();
        limit.hash(&mut h);
        value.hash(&mut h);
        h.finish()
    }
}
