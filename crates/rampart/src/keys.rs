//! `rampart keys`: create, list, revoke and rotate API keys.
//!
//! A new key is printed once, alone on the last line of stdout; only its peppered hash is
//! stored. Running gateways pick up every change within a second (they follow the store's
//! revision), so there is nothing to restart.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use rampart_auth::api_key::{ApiKey, KeyHasher};
use rampart_config::Config;
use rampart_gateway::auth;
use rampart_store::{KeyRecord, Store, StoreError, Timestamp};
use serde::Serialize;

/// At most this long between creation and expiry, or for a rotation's overlap.
const MAX_LIFETIME: Duration = Duration::from_secs(5 * 365 * 86_400);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

fn load(config: &Path) -> anyhow::Result<Config> {
    Config::load(config).map_err(|e| anyhow::anyhow!("{e}"))
}

fn consumer_name(name: &str) -> anyhow::Result<()> {
    if !rampart_config::is_name(name) {
        bail!("--consumer \"{name}\": use 1 to 64 letters, digits, '-' and '_'");
    }
    Ok(())
}

fn scope_list(scopes: Option<&str>) -> anyhow::Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for scope in scopes.unwrap_or("").split(',').map(str::trim) {
        if scope.is_empty() {
            continue;
        }
        if !rampart_config::is_scope(scope) {
            bail!(
                "--scopes: \"{scope}\" is not a scope (1 to 128 printable characters, no spaces, quotes or backslashes)"
            );
        }
        if !out.iter().any(|s| s == scope) {
            out.push(scope.to_owned());
        }
    }
    Ok(out)
}

/// `--expires`: a duration from now (`90d`) or an RFC 3339 time.
fn expiry(text: Option<&str>, now: Timestamp) -> anyhow::Result<Option<Timestamp>> {
    let Some(text) = text else { return Ok(None) };
    let at = match rampart_config::parse_duration(text) {
        Ok(d) if d.is_zero() || d > MAX_LIFETIME => {
            bail!("--expires: between 1s and 5 years from now")
        }
        Ok(d) => now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        Err(_) => {
            let t = humantime::parse_rfc3339_weak(text).map_err(|_| {
                anyhow::anyhow!(
                    "--expires \"{text}\": write a duration (90d) or a time (2027-01-31T00:00:00Z)"
                )
            })?;
            let at = t
                .duration_since(std::time::UNIX_EPOCH)
                .ok()
                .and_then(|d| i64::try_from(d.as_secs()).ok())
                .unwrap_or(0);
            if at <= now {
                bail!("--expires \"{text}\" is in the past");
            }
            at
        }
    };
    Ok(Some(at))
}

fn time(at: Option<Timestamp>, none: &str) -> String {
    match at.and_then(|t| u64::try_from(t).ok()) {
        Some(t) => {
            humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_secs(t))
                .to_string()
        }
        None => none.to_owned(),
    }
}

fn hasher(config: &Config) -> anyhow::Result<KeyHasher> {
    auth::hasher(config).map_err(|e| anyhow::anyhow!("{e}"))
}

fn store(config: &Config) -> anyhow::Result<rampart_store::SqliteStore> {
    auth::open_store(config).map_err(|e| anyhow::anyhow!("{e}"))
}

fn new_key(
    hasher: &KeyHasher,
    consumer: &str,
    scopes: Vec<String>,
    now: Timestamp,
    expires: Option<Timestamp>,
) -> anyhow::Result<(ApiKey, KeyRecord)> {
    let key = ApiKey::generate().context("cannot generate a key")?;
    let record = KeyRecord {
        id: key.id().as_str().to_owned(),
        consumer: consumer.to_owned(),
        hash: hasher.hash(&key).0,
        scopes,
        created: now,
        expires,
        revoked: None,
        rotated_from: None,
        last_used: None,
        roles: Vec::new(),
    };
    Ok((key, record))
}

/// The arguments of `create` and `declare`, checked, the config loaded, and a new key.
fn checked_new_key(
    config: &Path,
    consumer: &str,
    scopes: Option<&str>,
    expires: Option<&str>,
) -> anyhow::Result<(Config, ApiKey, KeyRecord)> {
    consumer_name(consumer)?;
    let scopes = scope_list(scopes)?;
    let now = auth::now();
    let expires = expiry(expires, now)?;
    let config = load(config)?;
    let hasher = hasher(&config)?;
    let (key, record) = new_key(&hasher, consumer, scopes, now, expires)?;
    Ok((config, key, record))
}

pub(crate) fn create(
    config: &Path,
    consumer: &str,
    scopes: Option<&str>,
    expires: Option<&str>,
) -> anyhow::Result<()> {
    let (config, key, record) = checked_new_key(config, consumer, scopes, expires)?;
    let store = store(&config)?;
    store.create_key(&record)?;
    println!(
        "created key {} for consumer {} (scopes: {}; expires: {})",
        record.id,
        record.consumer,
        shown_scopes(&record.scopes),
        time(record.expires, "never")
    );
    println!("the key is shown this once; only its hash is stored:");
    println!("{}", key.reveal());
    Ok(())
}

/// A key for a consumer declared in the config file: prints the `[[consumers]]` entry to
/// add, then the key.
pub(crate) fn declare(
    config: &Path,
    consumer: &str,
    scopes: Option<&str>,
    expires: Option<&str>,
) -> anyhow::Result<()> {
    let (_, key, record) = checked_new_key(config, consumer, scopes, expires)?;
    let hash: String = record.hash.iter().map(|b| format!("{b:02x}")).collect();
    let scopes: Vec<String> = record.scopes.iter().map(|s| format!("{s:?}")).collect();
    let mut entry = format!(
        "id = \"{}\", hash = \"{hash}\", scopes = [{}]",
        record.id,
        scopes.join(", ")
    );
    if record.expires.is_some() {
        entry.push_str(&format!(", expires = \"{}\"", time(record.expires, "")));
    }
    println!("# add to the config (the hash is not the key; the key is never stored):");
    println!("[[consumers]]\nname = \"{consumer}\"\nkeys = [{{ {entry} }}]");
    println!("# the key, shown this once:");
    println!("{}", key.reveal());
    Ok(())
}

#[derive(Serialize)]
struct Listed<'a> {
    id: &'a str,
    consumer: &'a str,
    scopes: &'a [String],
    status: &'static str,
    expires: Option<String>,
    created: Option<String>,
    last_used: Option<String>,
    rotated_from: Option<&'a str>,
    source: &'static str,
}

pub(crate) fn list(config: &Path, format: Format) -> anyhow::Result<()> {
    let config = load(config)?;
    let mut keys: Vec<(KeyRecord, &'static str)> = auth::declared_keys(&config)
        .into_iter()
        .map(|k| (k, "config"))
        .collect();
    if config.store.as_ref().is_some_and(|s| s.path.is_some()) {
        keys.extend(
            store(&config)?
                .list_keys()?
                .into_iter()
                .map(|k| (k, "store")),
        );
    } else if config.store.is_none() {
        bail!("this config has no [store] section, so it has no keys");
    }
    let now = auth::now();
    let listed = keys.iter().map(|(k, source)| Listed {
        id: &k.id,
        consumer: &k.consumer,
        scopes: &k.scopes,
        status: k.status(now),
        expires: k.expires.map(|_| time(k.expires, "")),
        created: (k.created > 0).then(|| time(Some(k.created), "")),
        last_used: k.last_used.map(|_| time(k.last_used, "")),
        rotated_from: k.rotated_from.as_deref(),
        source,
    });
    match format {
        Format::Json => {
            let all: Vec<Listed<'_>> = listed.collect();
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
        Format::Text => {
            for k in listed {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    k.id,
                    k.consumer,
                    shown_scopes(k.scopes),
                    k.status,
                    k.expires.as_deref().unwrap_or("never"),
                    k.last_used.as_deref().unwrap_or("never used"),
                );
            }
        }
    }
    Ok(())
}

fn shown_scopes(scopes: &[String]) -> String {
    if scopes.is_empty() {
        "-".to_owned()
    } else {
        scopes.join(",")
    }
}

fn key_id(config: &Config, id: &str) -> anyhow::Result<()> {
    if rampart_auth::api_key::KeyId::parse(id).is_none() {
        bail!(
            "\"{id}\" is not a key id (12 letters and digits, as `rampart keys list` shows; never the key itself)"
        );
    }
    if config
        .consumers
        .iter()
        .any(|c| c.keys.iter().any(|k| k.id == id))
    {
        bail!("key {id} is declared in the config file; remove it there and reload");
    }
    Ok(())
}

fn store_error(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::KeyNotFound(id) => anyhow::anyhow!("no key has the id {id}"),
        other => other.into(),
    }
}

pub(crate) fn revoke(config: &Path, id: &str) -> anyhow::Result<()> {
    let config = load(config)?;
    key_id(&config, id)?;
    let store = store(&config)?;
    store.revoke_key(id, auth::now()).map_err(store_error)?;
    println!("revoked key {id}; running gateways refuse it within a second");
    Ok(())
}

pub(crate) fn rotate(config: &Path, id: &str, overlap: &str) -> anyhow::Result<()> {
    let config = load(config)?;
    key_id(&config, id)?;
    let overlap =
        rampart_config::parse_duration(overlap).map_err(|e| anyhow::anyhow!("--overlap: {e}"))?;
    if overlap > MAX_LIFETIME {
        bail!("--overlap: at most 5 years");
    }
    let hasher = hasher(&config)?;
    let store = store(&config)?;
    let old = store
        .key(id)?
        .ok_or_else(|| anyhow::anyhow!("no key has the id {id}"))?;
    let now = auth::now();
    // The successor keeps the old key's lifetime, counted from now.
    let expires = old
        .expires
        .map(|e| now.saturating_add(e.saturating_sub(old.created).max(0)));
    let (key, mut record) = new_key(&hasher, &old.consumer, old.scopes.clone(), now, expires)?;
    record.rotated_from = Some(old.id.clone());
    let old_expires = now.saturating_add(i64::try_from(overlap.as_secs()).unwrap_or(i64::MAX));
    store
        .rotate_key(&record, old_expires)
        .map_err(store_error)?;
    let old_now = store.key(id)?.and_then(|k| k.expires);
    println!(
        "rotated key {id} (consumer {}): it stops working at {}; its successor is {}",
        old.consumer,
        time(old_now, "never"),
        record.id
    );
    println!("the new key is shown this once; only its hash is stored:");
    println!("{}", key.reveal());
    Ok(())
}

/// `rampart consumers list`: one consumer a line: name, roles, number of keys.
pub(crate) fn consumers_list(config: &Path, format: Format) -> anyhow::Result<()> {
    let config = load(config)?;
    let mut consumers: Vec<rampart_store::ConsumerRecord> = config
        .consumers
        .iter()
        .map(|c| rampart_store::ConsumerRecord {
            name: c.name.clone(),
            roles: c.roles.clone(),
            created: 0,
            keys: c.keys.len() as i64,
        })
        .collect();
    if config.store.as_ref().is_some_and(|s| s.path.is_some()) {
        consumers.extend(store(&config)?.list_consumers()?);
    }
    match format {
        Format::Json => {
            let all: Vec<serde_json::Value> = consumers
                .iter()
                .map(|c| serde_json::json!({"name": c.name, "roles": c.roles, "keys": c.keys}))
                .collect();
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
        Format::Text => {
            for c in &consumers {
                println!("{}\t{}\t{} key(s)", c.name, shown_scopes(&c.roles), c.keys);
            }
        }
    }
    Ok(())
}

/// `rampart consumers set-roles NAME --roles a,b`: replaces a stored consumer's roles;
/// running gateways apply them within a second.
pub(crate) fn consumers_set_roles(config: &Path, name: &str, roles: &str) -> anyhow::Result<()> {
    consumer_name(name)?;
    let roles = scope_list(Some(roles))
        .map_err(|e| anyhow::anyhow!(e.to_string().replace("--scopes", "--roles")))?;
    let config = load(config)?;
    if config.consumers.iter().any(|c| c.name == name) {
        bail!("consumer {name} is declared in the config file; set its roles there");
    }
    let store = store(&config)?;
    store
        .set_consumer_roles(name, &roles)
        .map_err(|e| match e {
            StoreError::ConsumerNotFound(n) => {
                anyhow::anyhow!("no consumer is named {n} (create a key for it first)")
            }
            other => other.into(),
        })?;
    println!(
        "consumer {name} now has roles: {}; running gateways apply them within a second",
        shown_scopes(&roles)
    );
    Ok(())
}
