//! rampart's storage: consumers and API keys.
//!
//! [`Store`] is what the gateway and the CLI need from a database; [`SqliteStore`] is the
//! embedded implementation (one file, WAL, migrations by `user_version`). The PostgreSQL
//! implementation of the data-protection work implements the same trait.
//!
//! Keys are stored only in their peppered-HMAC form (see `rampart_auth::api_key`): nothing
//! here can give a key back. Every change bumps a store-wide revision and stamps the rows it
//! touched with it, so that a running gateway polls one integer and then reads only the rows
//! that changed: a revocation is live within a second even with a million keys stored.
#![forbid(unsafe_code)]

mod sqlite;

pub use sqlite::SqliteStore;

/// Rows of expired bans older than this are dropped when a ban is written.
pub const BAN_MEMORY_MS: i64 = 7 * 86_400_000;

/// Seconds since the Unix epoch.
pub type Timestamp = i64;

/// One API key as stored: never the key itself, only its id and peppered hash.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The public key id (the 12 characters after the prefix).
    pub id: String,
    pub consumer: String,
    /// HMAC-SHA256(pepper, key).
    pub hash: [u8; 32],
    pub scopes: Vec<String>,
    pub created: Timestamp,
    pub expires: Option<Timestamp>,
    pub revoked: Option<Timestamp>,
    /// The key this one replaced, for keys made by rotation.
    pub rotated_from: Option<String>,
    pub last_used: Option<Timestamp>,
    /// The consumer's roles (read with the key; set with [`Store::set_consumer_roles`]).
    pub roles: Vec<String>,
}

/// An abuse ban: who (`ip:ADDRESS` or `key:ID`), why, until when, and the how-manyth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanRecord {
    pub subject: String,
    /// `auth_failures` or `rate_limited`.
    pub reason: String,
    /// Milliseconds since the Unix epoch.
    pub until_ms: i64,
    /// Bans of this subject so far, this one included.
    pub offences: u32,
    /// When the subject was first banned, milliseconds since the epoch.
    pub since_ms: i64,
}

/// A consumer: a name, its roles, and how many keys it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    pub name: String,
    pub roles: Vec<String>,
    pub created: Timestamp,
    pub keys: i64,
}

impl std::fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The hash is not a secret, but it has no business in logs either.
        f.debug_struct("KeyRecord")
            .field("id", &self.id)
            .field("consumer", &self.consumer)
            .field("scopes", &self.scopes)
            .field("created", &self.created)
            .field("expires", &self.expires)
            .field("revoked", &self.revoked)
            .field("rotated_from", &self.rotated_from)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

impl KeyRecord {
    /// `active`, `revoked` or `expired` at `now`.
    pub fn status(&self, now: Timestamp) -> &'static str {
        if self.revoked.is_some() {
            "revoked"
        } else if self.expires.is_some_and(|e| e <= now) {
            "expired"
        } else {
            "active"
        }
    }
}

/// The rows changed after a revision, and the revision they bring the reader to.
#[derive(Debug)]
pub struct Changes {
    pub revision: u64,
    pub keys: Vec<KeyRecord>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no key has the id {0}")]
    KeyNotFound(String),
    #[error("a key with the id {0} exists already")]
    KeyExists(String),
    #[error("no consumer is named {0}")]
    ConsumerNotFound(String),
    #[error("key {0} is revoked")]
    KeyRevoked(String),
    #[error(
        "the store was written by a newer rampart (schema version {found}; this build knows {known})"
    )]
    TooNew { found: i64, known: i64 },
    #[error("cannot open the store at {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("store error: {0}")]
    Database(#[from] rusqlite::Error),
}

/// What rampart needs from a database. Methods block; the gateway calls them off its
/// request path (startup, a background poller, batched last-used writes).
pub trait Store: Send + Sync {
    /// The store-wide revision: it grows with every change to consumers or keys (not with
    /// last-used times).
    fn revision(&self) -> Result<u64, StoreError>;

    /// Every key changed after `revision` (all keys for 0), and the current revision.
    fn keys_changed_since(&self, revision: u64) -> Result<Changes, StoreError>;

    /// One key by id.
    fn key(&self, id: &str) -> Result<Option<KeyRecord>, StoreError>;

    /// Every key, ordered by consumer then creation time.
    fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError>;

    /// Stores a new key (and its consumer, if new).
    fn create_key(&self, key: &KeyRecord) -> Result<(), StoreError>;

    /// Marks a key revoked at `at`. Revoking a revoked key is an error, so that a typo in
    /// an id is never mistaken for success.
    fn revoke_key(&self, id: &str, at: Timestamp) -> Result<(), StoreError>;

    /// Stores `successor` and makes the key it replaces expire at `old_expires` (or keeps
    /// its earlier expiry), in one transaction.
    fn rotate_key(&self, successor: &KeyRecord, old_expires: Timestamp) -> Result<(), StoreError>;

    /// Replaces a consumer's roles; its keys are read again by running gateways.
    fn set_consumer_roles(&self, consumer: &str, roles: &[String]) -> Result<(), StoreError>;

    /// Every consumer, by name.
    fn list_consumers(&self) -> Result<Vec<ConsumerRecord>, StoreError>;

    /// Records last-used times (a batch from the gateway). Unknown ids are ignored; an
    /// older time never replaces a newer one. Does not bump the revision.
    fn record_last_used(&self, used: &[(String, Timestamp)]) -> Result<(), StoreError>;

    /// Records a ban. An existing ban of the subject keeps the later end and its first
    /// time; its offences grow. Returns the ban as stored.
    fn put_ban(&self, ban: &BanRecord) -> Result<BanRecord, StoreError>;

    /// Bans in force at `now_ms`, the longest first.
    fn list_bans(&self, now_ms: i64) -> Result<Vec<BanRecord>, StoreError>;

    /// Lifts a ban; `false` if the subject was not banned. The offence count is kept (a
    /// later ban still grows), only the end is cleared.
    fn lift_ban(&self, subject: &str, now_ms: i64) -> Result<bool, StoreError>;
}
