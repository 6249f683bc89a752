//! The gateway's table of API keys: what a request is checked against.
//!
//! The table lives in memory, so that a request never waits on a database: one hash-map
//! lookup by key id, then one HMAC compared in constant time. Keys declared in the config
//! file are fixed for the table's life; keys from the store are upserted as the store's
//! revision moves (the gateway polls it), so revocations and new keys are live within a
//! second. Last-used times are collected here and written back in batches.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use rampart_store::{KeyRecord, Timestamp};

use crate::api_key::{ApiKey, KeyHash, KeyHasher};

/// A key as the request path sees it.
#[derive(Debug)]
pub struct KeyEntry {
    pub id: Arc<str>,
    pub consumer: Arc<str>,
    pub scopes: Box<[Box<str>]>,
    /// The consumer's roles.
    pub roles: Box<[Box<str>]>,
    hash: KeyHash,
    expires: Option<Timestamp>,
    revoked: bool,
    last_used: AtomicI64,
}

impl KeyEntry {
    pub fn new(record: &KeyRecord) -> KeyEntry {
        KeyEntry {
            id: record.id.as_str().into(),
            consumer: record.consumer.as_str().into(),
            scopes: record.scopes.iter().map(|s| s.as_str().into()).collect(),
            roles: record.roles.iter().map(|s| s.as_str().into()).collect(),
            hash: KeyHash(record.hash),
            expires: record.expires,
            revoked: record.revoked.is_some(),
            last_used: AtomicI64::new(record.last_used.unwrap_or(0)),
        }
    }

    /// Does the key carry every scope in `required`?
    pub fn has_scopes(&self, required: &[Box<str>]) -> bool {
        required.iter().all(|r| self.scopes.contains(r))
    }
}

/// Why a presented key was refused. The client sees the same 401 for all of them; the code
/// goes to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFailure {
    Malformed(&'static str),
    Unknown,
    Mismatch,
    Expired,
    Revoked,
}

impl KeyFailure {
    pub fn code(&self) -> &'static str {
        match self {
            KeyFailure::Malformed(code) => code,
            KeyFailure::Unknown => "auth.key_unknown",
            KeyFailure::Mismatch => "auth.key_mismatch",
            KeyFailure::Expired => "auth.key_expired",
            KeyFailure::Revoked => "auth.key_revoked",
        }
    }
}

pub struct KeyTable {
    hasher: KeyHasher,
    declared: HashMap<Box<str>, Arc<KeyEntry>>,
    stored: RwLock<HashMap<Box<str>, Arc<KeyEntry>>>,
    /// Ids used since the last [`KeyTable::take_last_used`], each once per second at most.
    used: Mutex<Vec<(Arc<str>, Timestamp)>>,
    /// Verified against when the id is unknown, so that an unknown id costs the same HMAC
    /// as a known one.
    decoy: KeyHash,
}

impl std::fmt::Debug for KeyTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyTable")
            .field("declared", &self.declared.len())
            .field("stored", &self.stored_len())
            .finish_non_exhaustive()
    }
}

impl KeyTable {
    /// A table with the keys declared in the config; stored keys are added by
    /// [`KeyTable::apply`].
    pub fn new(hasher: KeyHasher, declared: &[KeyRecord]) -> KeyTable {
        KeyTable {
            hasher,
            declared: declared
                .iter()
                .map(|r| (r.id.as_str().into(), Arc::new(KeyEntry::new(r))))
                .collect(),
            stored: RwLock::new(HashMap::new()),
            used: Mutex::new(Vec::new()),
            decoy: KeyHash([0; 32]),
        }
    }

    pub fn hasher(&self) -> &KeyHasher {
        &self.hasher
    }

    pub fn stored_len(&self) -> usize {
        self.stored.read().map_or(0, |m| m.len())
    }

    /// Upserts keys read from the store. An id declared in the config keeps its declared
    /// entry: the reviewed file wins over the database.
    pub fn apply(&self, changed: &[KeyRecord]) {
        let entries = self.entries(changed);
        let mut map = self.stored.write().unwrap_or_else(|p| p.into_inner());
        map.reserve(entries.len());
        map.extend(entries);
    }

    /// Replaces every stored key with `all` (the store was replaced, e.g. restored): a key
    /// the new store does not have must stop working.
    pub fn replace_all(&self, all: &[KeyRecord]) {
        let map: HashMap<_, _> = self.entries(all).into_iter().collect();
        *self.stored.write().unwrap_or_else(|p| p.into_inner()) = map;
    }

    fn entries(&self, records: &[KeyRecord]) -> Vec<(Box<str>, Arc<KeyEntry>)> {
        records
            .iter()
            .filter(|r| !self.declared.contains_key(r.id.as_str()))
            .map(|r| (Box::<str>::from(r.id.as_str()), Arc::new(KeyEntry::new(r))))
            .collect()
    }

    /// Checks a presented key at time `now`. The error carries the key id when the format
    /// was valid, for the log.
    pub fn verify(
        &self,
        presented: &str,
        now: Timestamp,
    ) -> Result<Arc<KeyEntry>, (KeyFailure, Option<Arc<str>>)> {
        let id =
            ApiKey::check_format(presented).map_err(|e| (KeyFailure::Malformed(e.code()), None))?;
        let entry = match self.declared.get(id) {
            Some(entry) => Some(Arc::clone(entry)),
            None => self
                .stored
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(id)
                .cloned(),
        };
        let Some(entry) = entry else {
            let _ = self.hasher.verify_presented(presented, &self.decoy);
            return Err((KeyFailure::Unknown, Some(id.into())));
        };
        if !self.hasher.verify_presented(presented, &entry.hash) {
            return Err((KeyFailure::Mismatch, Some(id.into())));
        }
        // Checked after the hash, so that only the key's holder learns its state (in the
        // log; the client sees one 401 for everything).
        if entry.revoked {
            return Err((KeyFailure::Revoked, Some(id.into())));
        }
        if entry.expires.is_some_and(|e| e <= now) {
            return Err((KeyFailure::Expired, Some(id.into())));
        }
        self.mark_used(&entry, now);
        Ok(entry)
    }

    fn mark_used(&self, entry: &KeyEntry, now: Timestamp) {
        if entry.last_used.load(Ordering::Relaxed) >= now {
            return;
        }
        if entry.last_used.swap(now, Ordering::Relaxed) < now {
            let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
            used.push((entry.id.clone(), now));
        }
    }

    /// The last-used times collected since the previous call, one per key.
    pub fn take_last_used(&self) -> Vec<(String, Timestamp)> {
        let taken = std::mem::take(&mut *self.used.lock().unwrap_or_else(|p| p.into_inner()));
        let mut latest: HashMap<Arc<str>, Timestamp> = HashMap::with_capacity(taken.len());
        for (id, at) in taken {
            let slot = latest.entry(id).or_insert(at);
            *slot = (*slot).max(at);
        }
        latest
            .into_iter()
            .map(|(id, at)| (id.to_string(), at))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_key::Secret;

    fn table(declared: &[KeyRecord]) -> KeyTable {
        let hasher = KeyHasher::new(&Secret::new(vec![9; 32])).expect("pepper");
        KeyTable::new(hasher, declared)
    }

    fn record(table: &KeyTable, key: &ApiKey, consumer: &str) -> KeyRecord {
        KeyRecord {
            id: key.id().as_str().to_owned(),
            consumer: consumer.to_owned(),
            hash: table.hasher().hash(key).0,
            scopes: vec!["orders:read".to_owned()],
            created: 0,
            expires: None,
            revoked: None,
            rotated_from: None,
            last_used: None,
            roles: Vec::new(),
        }
    }

    #[test]
    fn each_failure_has_its_own_reason_and_a_good_key_passes() {
        let t = table(&[]);
        let good = ApiKey::generate().expect("rng");
        let revoked = ApiKey::generate().expect("rng");
        let expired = ApiKey::generate().expect("rng");
        let unknown = ApiKey::generate().expect("rng");
        let mut r = record(&t, &revoked, "a");
        r.revoked = Some(5);
        let mut e = record(&t, &expired, "a");
        e.expires = Some(100);
        t.apply(&[record(&t, &good, "shop"), r, e]);

        let entry = t.verify(good.reveal(), 100).expect("good key");
        assert_eq!(&*entry.consumer, "shop");
        assert!(entry.has_scopes(&["orders:read".into()]));
        assert!(!entry.has_scopes(&["orders:read".into(), "orders:write".into()]));

        let code = |text: &str| {
            t.verify(text, 100)
                .map(|_| ())
                .expect_err("refused")
                .0
                .code()
        };
        assert_eq!(code(revoked.reveal()), "auth.key_revoked");
        assert_eq!(code(expired.reveal()), "auth.key_expired");
        assert_eq!(code(unknown.reveal()), "auth.key_unknown");
        assert_eq!(code("not a key"), "auth.key_malformed");
        // A typo is caught by the checksum, before any lookup.
        let mut typo = good.reveal().to_owned();
        typo.replace_range(10..11, if &typo[10..11] == "a" { "b" } else { "a" });
        assert_eq!(code(&typo), "auth.key_checksum");
        // A well-formed key whose id is stored with another key's hash: a forged secret.
        let forged = ApiKey::generate().expect("rng");
        let mut stolen_id = record(&t, &good, "shop");
        stolen_id.id = forged.id().as_str().to_owned();
        t.apply(&[stolen_id]);
        assert_eq!(code(forged.reveal()), "auth.key_mismatch");
    }

    #[test]
    fn revocation_applied_later_takes_effect_and_declared_keys_win() {
        let key = ApiKey::generate().expect("rng");
        let probe = table(&[]);
        let declared = record(&probe, &key, "from-config");
        let t = table(std::slice::from_ref(&declared));
        let mut stored = declared;
        stored.consumer = "from-db".to_owned();
        stored.revoked = Some(1);
        t.apply(&[stored]);
        let entry = t.verify(key.reveal(), 10).expect("declared entry kept");
        assert_eq!(&*entry.consumer, "from-config");

        let other = ApiKey::generate().expect("rng");
        let mut r = record(&t, &other, "shop");
        t.apply(std::slice::from_ref(&r));
        assert!(t.verify(other.reveal(), 10).is_ok());
        r.revoked = Some(11);
        t.apply(&[r]);
        assert_eq!(
            t.verify(other.reveal(), 12)
                .map(|_| ())
                .expect_err("refused")
                .0,
            KeyFailure::Revoked
        );
    }

    #[test]
    fn replacing_the_store_drops_keys_it_no_longer_has() {
        let t = table(&[]);
        let gone = ApiKey::generate().expect("rng");
        let kept = ApiKey::generate().expect("rng");
        t.apply(&[record(&t, &gone, "a"), record(&t, &kept, "b")]);
        t.replace_all(&[record(&t, &kept, "b")]);
        assert_eq!(
            t.verify(gone.reveal(), 1).map(|_| ()).expect_err("gone").0,
            KeyFailure::Unknown
        );
        assert!(t.verify(kept.reveal(), 1).is_ok());
    }

    #[test]
    fn last_used_is_collected_once_per_key_and_second() {
        let t = table(&[]);
        let key = ApiKey::generate().expect("rng");
        t.apply(&[record(&t, &key, "shop")]);
        for _ in 0..100 {
            t.verify(key.reveal(), 50).expect("ok");
        }
        t.verify(key.reveal(), 51).expect("ok");
        let used = t.take_last_used();
        assert_eq!(used, vec![(key.id().as_str().to_owned(), 51)]);
        assert!(t.take_last_used().is_empty());
    }
}
