//! The embedded store: one SQLite file in WAL mode, so that the gateway reads while the CLI
//! writes. The schema is migrated forward by `PRAGMA user_version`; a file from a newer
//! rampart is refused rather than misread.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::{BanRecord, Changes, ConsumerRecord, KeyRecord, Store, StoreError, Timestamp};

/// Each entry moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: consumers, API keys, and the revision counter.
    "CREATE TABLE meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        revision INTEGER NOT NULL
    );
    INSERT INTO meta (id, revision) VALUES (1, 0);
    CREATE TABLE consumers (
        name TEXT PRIMARY KEY,
        created INTEGER NOT NULL,
        rev INTEGER NOT NULL
    );
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        consumer TEXT NOT NULL REFERENCES consumers (name),
        hash BLOB NOT NULL CHECK (length(hash) = 32),
        scopes TEXT NOT NULL,
        created INTEGER NOT NULL,
        expires INTEGER,
        revoked INTEGER,
        rotated_from TEXT,
        last_used INTEGER,
        rev INTEGER NOT NULL
    );
    CREATE INDEX api_keys_rev ON api_keys (rev);",
    // 2: consumer roles (space-separated), for role-based authorization of API-key callers.
    "ALTER TABLE consumers ADD COLUMN roles TEXT NOT NULL DEFAULT '';
    CREATE INDEX api_keys_consumer ON api_keys (consumer);",
    // 3: abuse bans, shared by the gateways and the CLI (`rampart bans list|lift`).
    "CREATE TABLE bans (
        subject TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        until_ms INTEGER NOT NULL,
        offences INTEGER NOT NULL,
        since_ms INTEGER NOT NULL
    );
    CREATE INDEX bans_until ON bans (until_ms);",
];

pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed, readable by the owner only) and migrates the store.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let open_error = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        if !path.exists() {
            create_private(path).map_err(|e| {
                open_error(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                    Some(e.to_string()),
                ))
            })?;
        }
        let conn = Connection::open(path).map_err(open_error)?;
        Self::setup(conn).map_err(|e| match e {
            StoreError::Database(source) => open_error(source),
            other => other,
        })
    }

    /// A store that lives in memory, for tests and for `rampart check`.
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<SqliteStore, StoreError> {
        conn.busy_timeout(Duration::from_secs(5))?;
        // WAL: readers never block the writer and the writer never blocks readers.
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions roll
        // back on drop), so a poisoned lock is safe to take over.
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    }
}

fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(drop)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Bumps the store revision inside `tx` and returns the new value.
fn bump(tx: &Transaction<'_>) -> Result<i64, StoreError> {
    Ok(tx.query_row(
        "UPDATE meta SET revision = revision + 1 WHERE id = 1 RETURNING revision",
        [],
        |r| r.get(0),
    )?)
}

/// The key exists and is not revoked, or the error that says which.
fn require_live(tx: &Transaction<'_>, id: &str) -> Result<(), StoreError> {
    let revoked: Option<Option<i64>> = tx
        .query_row("SELECT revoked FROM api_keys WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    match revoked {
        None => Err(StoreError::KeyNotFound(id.to_owned())),
        Some(Some(_)) => Err(StoreError::KeyRevoked(id.to_owned())),
        Some(None) => Ok(()),
    }
}

fn insert_key(tx: &Transaction<'_>, key: &KeyRecord, rev: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO consumers (name, created, rev) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO NOTHING",
        params![key.consumer, key.created, rev],
    )?;
    let inserted = tx.execute(
        "INSERT INTO api_keys (id, consumer, hash, scopes, created, expires, revoked,
                               rotated_from, last_used, rev)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (id) DO NOTHING",
        params![
            key.id,
            key.consumer,
            &key.hash[..],
            key.scopes.join(" "),
            key.created,
            key.expires,
            key.revoked,
            key.rotated_from,
            key.last_used,
            rev
        ],
    )?;
    if inserted == 0 {
        return Err(StoreError::KeyExists(key.id.clone()));
    }
    Ok(())
}

/// Key rows with their consumer's roles.
const BAN_COLUMNS: &str = "subject, reason, until_ms, offences, since_ms";

fn ban_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<BanRecord> {
    Ok(BanRecord {
        subject: row.get(0)?,
        reason: row.get(1)?,
        until_ms: row.get(2)?,
        offences: row.get(3)?,
        since_ms: row.get(4)?,
    })
}

const KEY_COLUMNS: &str = "k.id, k.consumer, k.hash, k.scopes, k.created, k.expires, k.revoked, \
     k.rotated_from, k.last_used, c.roles";
const KEY_FROM: &str = "api_keys k JOIN consumers c ON c.name = k.consumer";

fn key_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRecord> {
    let hash: Vec<u8> = row.get(2)?;
    let hash: [u8; 32] = hash.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            2,
            rusqlite::types::Type::Blob,
            "key hash is not 32 bytes".into(),
        )
    })?;
    let scopes: String = row.get(3)?;
    let roles: String = row.get(9)?;
    Ok(KeyRecord {
        id: row.get(0)?,
        consumer: row.get(1)?,
        hash,
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        created: row.get(4)?,
        expires: row.get(5)?,
        revoked: row.get(6)?,
        rotated_from: row.get(7)?,
        last_used: row.get(8)?,
        roles: roles.split_whitespace().map(str::to_owned).collect(),
    })
}

impl Store for SqliteStore {
    fn revision(&self) -> Result<u64, StoreError> {
        self.with(|conn| {
            let rev: i64 =
                conn.query_row("SELECT revision FROM meta WHERE id = 1", [], |r| r.get(0))?;
            Ok(rev.max(0) as u64)
        })
    }

    fn keys_changed_since(&self, revision: u64) -> Result<Changes, StoreError> {
        self.with(|conn| {
            // One read transaction: the revision returned covers exactly the rows read.
            let tx = conn.transaction()?;
            let current: i64 =
                tx.query_row("SELECT revision FROM meta WHERE id = 1", [], |r| r.get(0))?;
            let since = i64::try_from(revision).unwrap_or(i64::MAX);
            let keys = {
                let mut stmt = tx.prepare(&format!(
                    "SELECT {KEY_COLUMNS} FROM {KEY_FROM} WHERE k.rev > ?1"
                ))?;
                stmt.query_map([since], key_from_row)?
                    .collect::<Result<Vec<_>, _>>()?
            };
            tx.commit()?;
            Ok(Changes {
                revision: current.max(0) as u64,
                keys,
            })
        })
    }

    fn key(&self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.with(|conn| {
            Ok(conn
                .query_row(
                    &format!("SELECT {KEY_COLUMNS} FROM {KEY_FROM} WHERE k.id = ?1"),
                    [id],
                    key_from_row,
                )
                .optional()?)
        })
    }

    fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {KEY_COLUMNS} FROM {KEY_FROM} ORDER BY k.consumer, k.created, k.id"
            ))?;
            let keys = stmt
                .query_map([], key_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(keys)
        })
    }

    fn create_key(&self, key: &KeyRecord) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            let rev = bump(&tx)?;
            insert_key(&tx, key, rev)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn revoke_key(&self, id: &str, at: Timestamp) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            require_live(&tx, id)?;
            let rev = bump(&tx)?;
            tx.execute(
                "UPDATE api_keys SET revoked = ?2, rev = ?3 WHERE id = ?1",
                params![id, at, rev],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn rotate_key(&self, successor: &KeyRecord, old_expires: Timestamp) -> Result<(), StoreError> {
        let Some(old_id) = successor.rotated_from.as_deref() else {
            return self.create_key(successor);
        };
        self.with(|conn| {
            let tx = conn.transaction()?;
            require_live(&tx, old_id)?;
            let rev = bump(&tx)?;
            insert_key(&tx, successor, rev)?;
            tx.execute(
                "UPDATE api_keys
                 SET expires = CASE WHEN expires IS NULL OR expires > ?2 THEN ?2 ELSE expires END,
                     rev = ?3
                 WHERE id = ?1",
                params![old_id, old_expires, rev],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn put_ban(&self, ban: &BanRecord) -> Result<BanRecord, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "DELETE FROM bans WHERE until_ms < ?1",
                [ban.since_ms - crate::BAN_MEMORY_MS],
            )?;
            tx.execute(
                "INSERT INTO bans (subject, reason, until_ms, offences, since_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (subject) DO UPDATE SET
                    reason = excluded.reason,
                    until_ms = max(bans.until_ms, excluded.until_ms),
                    offences = max(bans.offences + 1, excluded.offences)",
                params![
                    ban.subject,
                    ban.reason,
                    ban.until_ms,
                    ban.offences,
                    ban.since_ms
                ],
            )?;
            let stored = tx.query_row(
                &format!("SELECT {BAN_COLUMNS} FROM bans WHERE subject = ?1"),
                [&ban.subject],
                ban_from_row,
            )?;
            tx.commit()?;
            Ok(stored)
        })
    }

    fn list_bans(&self, now_ms: i64) -> Result<Vec<BanRecord>, StoreError> {
        self.with(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {BAN_COLUMNS} FROM bans WHERE until_ms > ?1 ORDER BY until_ms DESC"
            ))?;
            let bans = statement
                .query_map([now_ms], ban_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(bans)
        })
    }

    fn lift_ban(&self, subject: &str, now_ms: i64) -> Result<bool, StoreError> {
        self.with(|conn| {
            let changed = conn.execute(
                "UPDATE bans SET until_ms = ?2 WHERE subject = ?1 AND until_ms > ?2",
                params![subject, now_ms],
            )?;
            Ok(changed > 0)
        })
    }

    fn set_consumer_roles(&self, consumer: &str, roles: &[String]) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            let exists: Option<i64> = tx
                .query_row("SELECT 1 FROM consumers WHERE name = ?1", [consumer], |r| {
                    r.get(0)
                })
                .optional()?;
            if exists.is_none() {
                return Err(StoreError::ConsumerNotFound(consumer.to_owned()));
            }
            let rev = bump(&tx)?;
            tx.execute(
                "UPDATE consumers SET roles = ?2, rev = ?3 WHERE name = ?1",
                params![consumer, roles.join(" "), rev],
            )?;
            // The gateway reads keys by revision: its keys carry the roles.
            tx.execute(
                "UPDATE api_keys SET rev = ?2 WHERE consumer = ?1",
                params![consumer, rev],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn list_consumers(&self) -> Result<Vec<ConsumerRecord>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare(
                "SELECT c.name, c.roles, c.created,
                        (SELECT count(*) FROM api_keys k WHERE k.consumer = c.name)
                 FROM consumers c ORDER BY c.name",
            )?;
            let consumers = stmt
                .query_map([], |row| {
                    let roles: String = row.get(1)?;
                    Ok(ConsumerRecord {
                        name: row.get(0)?,
                        roles: roles.split_whitespace().map(str::to_owned).collect(),
                        created: row.get(2)?,
                        keys: row.get(3)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(consumers)
        })
    }

    fn record_last_used(&self, used: &[(String, Timestamp)]) -> Result<(), StoreError> {
        if used.is_empty() {
            return Ok(());
        }
        self.with(|conn| {
            let tx = conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "UPDATE api_keys SET last_used = ?2
                     WHERE id = ?1 AND (last_used IS NULL OR last_used < ?2)",
                )?;
                for (id, at) in used {
                    stmt.execute(params![id, at])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, consumer: &str) -> KeyRecord {
        KeyRecord {
            id: id.to_owned(),
            consumer: consumer.to_owned(),
            hash: [7; 32],
            scopes: vec!["orders:read".to_owned(), "orders:write".to_owned()],
            created: 1_000,
            expires: None,
            revoked: None,
            rotated_from: None,
            last_used: None,
            roles: Vec::new(),
        }
    }

    fn temp_path(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("rampart-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("sub").join("rampart.db")
    }

    #[test]
    fn keys_round_trip_and_changes_are_read_by_revision() {
        let store = SqliteStore::in_memory().expect("store");
        assert_eq!(store.revision().expect("rev"), 0);
        store
            .create_key(&key("aaaaaaaaaaaa", "billing"))
            .expect("create");
        store
            .create_key(&key("bbbbbbbbbbbb", "shop"))
            .expect("create");
        let all = store.keys_changed_since(0).expect("changes");
        assert_eq!(all.revision, 2);
        assert_eq!(all.keys.len(), 2);
        assert_eq!(all.keys[0].scopes, ["orders:read", "orders:write"]);

        store.revoke_key("aaaaaaaaaaaa", 2_000).expect("revoke");
        let changed = store.keys_changed_since(all.revision).expect("changes");
        assert_eq!(changed.revision, 3);
        assert_eq!(changed.keys.len(), 1, "only the revoked key is read again");
        assert_eq!(changed.keys[0].revoked, Some(2_000));
        assert_eq!(changed.keys[0].status(3_000), "revoked");
    }

    #[test]
    fn mistakes_are_errors_not_silent_successes() {
        let store = SqliteStore::in_memory().expect("store");
        store
            .create_key(&key("aaaaaaaaaaaa", "billing"))
            .expect("create");
        assert!(matches!(
            store.create_key(&key("aaaaaaaaaaaa", "other")),
            Err(StoreError::KeyExists(_))
        ));
        assert!(matches!(
            store.revoke_key("nope", 1),
            Err(StoreError::KeyNotFound(_))
        ));
        store.revoke_key("aaaaaaaaaaaa", 1).expect("revoke");
        assert!(matches!(
            store.revoke_key("aaaaaaaaaaaa", 2),
            Err(StoreError::KeyRevoked(_))
        ));
        let mut successor = key("cccccccccccc", "billing");
        successor.rotated_from = Some("aaaaaaaaaaaa".to_owned());
        assert!(matches!(
            store.rotate_key(&successor, 5),
            Err(StoreError::KeyRevoked(_))
        ));
        assert!(
            store.key("cccccccccccc").expect("read").is_none(),
            "nothing half-done"
        );
        // Failed writes did not move the revision past the two real changes.
        assert_eq!(store.revision().expect("rev"), 2);
    }

    #[test]
    fn rotation_adds_the_successor_and_shortens_the_old_key() {
        let store = SqliteStore::in_memory().expect("store");
        store
            .create_key(&key("aaaaaaaaaaaa", "billing"))
            .expect("create");
        let mut successor = key("cccccccccccc", "billing");
        successor.rotated_from = Some("aaaaaaaaaaaa".to_owned());
        store.rotate_key(&successor, 9_000).expect("rotate");
        let old = store.key("aaaaaaaaaaaa").expect("read").expect("old");
        assert_eq!(old.expires, Some(9_000));
        let new = store.key("cccccccccccc").expect("read").expect("new");
        assert_eq!(new.rotated_from.as_deref(), Some("aaaaaaaaaaaa"));
        // An earlier expiry is never extended by a rotation.
        let mut again = key("dddddddddddd", "billing");
        again.rotated_from = Some("aaaaaaaaaaaa".to_owned());
        store.rotate_key(&again, 50_000).expect("rotate");
        let old = store.key("aaaaaaaaaaaa").expect("read").expect("old");
        assert_eq!(old.expires, Some(9_000));
    }

    #[test]
    fn consumer_roles_reach_their_keys_through_the_revision() {
        let store = SqliteStore::in_memory().expect("store");
        store
            .create_key(&key("aaaaaaaaaaaa", "billing"))
            .expect("create");
        store
            .create_key(&key("bbbbbbbbbbbb", "shop"))
            .expect("create");
        let seen = store.revision().expect("rev");
        store
            .set_consumer_roles("billing", &["admin".to_owned(), "support".to_owned()])
            .expect("roles");
        let changed = store.keys_changed_since(seen).expect("changes");
        assert_eq!(changed.keys.len(), 1, "only billing's keys are read again");
        assert_eq!(changed.keys[0].roles, ["admin", "support"]);
        assert!(matches!(
            store.set_consumer_roles("nobody", &[]),
            Err(StoreError::ConsumerNotFound(_))
        ));
        let consumers = store.list_consumers().expect("list");
        assert_eq!(consumers.len(), 2);
        assert_eq!(consumers[0].name, "billing");
        assert_eq!(consumers[0].keys, 1);
    }

    #[test]
    fn last_used_is_batched_monotonic_and_does_not_bump_the_revision() {
        let store = SqliteStore::in_memory().expect("store");
        store
            .create_key(&key("aaaaaaaaaaaa", "billing"))
            .expect("create");
        let rev = store.revision().expect("rev");
        store
            .record_last_used(&[
                ("aaaaaaaaaaaa".to_owned(), 500),
                ("unknown00000".to_owned(), 600),
            ])
            .expect("record");
        store
            .record_last_used(&[("aaaaaaaaaaaa".to_owned(), 400)])
            .expect("record");
        let k = store.key("aaaaaaaaaaaa").expect("read").expect("key");
        assert_eq!(k.last_used, Some(500));
        assert_eq!(store.revision().expect("rev"), rev);
    }

    #[test]
    fn a_file_store_is_private_survives_reopening_and_refuses_newer_schemas() {
        use std::os::unix::fs::PermissionsExt;
        let path = temp_path("file");
        {
            let store = SqliteStore::open(&path).expect("open");
            store
                .create_key(&key("aaaaaaaaaaaa", "billing"))
                .expect("create");
        }
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o077, 0, "store file is private: {mode:o}");
        let store = SqliteStore::open(&path).expect("reopen");
        assert_eq!(store.list_keys().expect("list").len(), 1);
        store
            .with(|c| Ok(c.pragma_update(None, "user_version", 99)?))
            .expect("bump");
        drop(store);
        assert!(matches!(
            SqliteStore::open(&path),
            Err(StoreError::TooNew { found: 99, .. })
        ));
        let garbage = path.with_file_name("garbage.db");
        std::fs::write(&garbage, b"this is not a database, just some bytes").expect("write");
        let err = SqliteStore::open(&garbage).expect_err("garbage refused");
        assert!(err.to_string().contains("garbage.db"), "{err}");
    }
}

#[cfg(test)]
mod ban_tests {
    use super::*;

    fn ban(subject: &str, until_ms: i64, offences: u32) -> BanRecord {
        BanRecord {
            subject: subject.to_owned(),
            reason: "auth_failures".to_owned(),
            until_ms,
            offences,
            since_ms: 1_000,
        }
    }

    #[test]
    fn bans_are_listed_while_in_force_lifted_and_remembered() {
        let store = SqliteStore::in_memory().expect("store");
        store
            .put_ban(&ban("ip:203.0.113.7", 10_000, 1))
            .expect("ban");
        store
            .put_ban(&ban("key:AAAAAAAAAAAA", 5_000, 1))
            .expect("ban");
        let listed = store.list_bans(2_000).expect("list");
        assert_eq!(
            listed
                .iter()
                .map(|b| b.subject.as_str())
                .collect::<Vec<_>>(),
            ["ip:203.0.113.7", "key:AAAAAAAAAAAA"],
            "longest first"
        );
        assert_eq!(store.list_bans(6_000).expect("list").len(), 1, "one ended");

        // Another gateway bans the same subject: the later end wins, offences grow.
        let again = store
            .put_ban(&ban("ip:203.0.113.7", 8_000, 1))
            .expect("ban");
        assert_eq!((again.until_ms, again.offences), (10_000, 2));

        assert!(store.lift_ban("ip:203.0.113.7", 3_000).expect("lift"));
        assert!(
            !store.lift_ban("ip:203.0.113.7", 3_000).expect("lift"),
            "once"
        );
        assert!(!store.lift_ban("ip:198.51.100.1", 3_000).expect("lift"));
        assert!(
            store
                .list_bans(3_000)
                .expect("list")
                .iter()
                .all(|b| b.subject != "ip:203.0.113.7")
        );
        // The next ban still counts the earlier offences.
        let third = store
            .put_ban(&ban("ip:203.0.113.7", 20_000, 1))
            .expect("ban");
        assert_eq!(third.offences, 3);
    }
}
