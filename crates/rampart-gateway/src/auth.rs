//! The authentication and authorization stage, and the key table behind it.
//!
//! [`ApiKeys`] holds the in-memory [`KeyTable`] (keys declared in the config, plus every
//! key of the store) and keeps it in step with the store: a background task polls the
//! store's revision every 250 ms and reads only the rows that changed, so that a key
//! created or revoked with `rampart keys` is live within a second, without a restart and
//! without a database call on the request path. Last-used times are written back in
//! batches every few seconds.
//!
//! [`RouteAuth`] is what one route demands; [`RouteAuth::check`] turns a request's headers
//! into a decision: the caller's identity, a 401 (one answer for every authentication
//! failure) or a 403 (authenticated, not allowed).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};
use rampart_auth::api_key::KeyHasher;
use rampart_auth::keys::KeyTable;
use rampart_auth::master::MasterKey;
use rampart_config::{AuthMethod, Config, Diagnostic};
use rampart_store::{KeyRecord, SqliteStore, Store, Timestamp};

use crate::introspection::{IntrospectionError, Introspector};
use crate::jwt::JwtIssuers;
use crate::problem::Rejection;
use rampart_auth::jwt::Verified;

const POLL_EVERY: Duration = Duration::from_millis(250);
const LAST_USED_EVERY: Duration = Duration::from_secs(5);

/// Now, in seconds since the Unix epoch.
pub fn now() -> Timestamp {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The API-key hasher for a config: HMAC-SHA256 under the pepper derived from the master
/// key file of `[store]`.
pub fn hasher(config: &Config) -> Result<KeyHasher, String> {
    let store = config
        .store
        .as_ref()
        .ok_or("this config has no [store] section (it holds master_key_file)")?;
    hasher_from(&store.master_key_file)
}

fn hasher_from(master_key_file: &Path) -> Result<KeyHasher, String> {
    let master = MasterKey::load(master_key_file).map_err(|e| e.to_string())?;
    KeyHasher::new(&master.api_key_pepper()).map_err(|e| e.to_string())
}

/// The keys declared in the config (`[[consumers]] keys = [...]`), as store records.
pub fn declared_keys(config: &Config) -> Vec<KeyRecord> {
    config
        .consumers
        .iter()
        .flat_map(|c| {
            c.keys.iter().map(|k| KeyRecord {
                id: k.id.clone(),
                consumer: c.name.clone(),
                hash: k.hash,
                scopes: k.scopes.clone(),
                created: 0,
                expires: k.expires,
                revoked: None,
                rotated_from: None,
                last_used: None,
                roles: c.roles.clone(),
            })
        })
        .collect()
}

/// Opens the store a config names.
pub fn open_store(config: &Config) -> Result<SqliteStore, String> {
    let path = config
        .store
        .as_ref()
        .and_then(|s| s.path.as_deref())
        .ok_or("this config has no [store] path: keys can only be declared in the file (`rampart keys declare`)")?;
    SqliteStore::open(path).map_err(|e| e.to_string())
}

/// How much of the key machinery to bring up: `Check` validates the master key and the
/// declared keys without creating or opening the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Serve,
    Check,
}

pub struct ApiKeys {
    table: KeyTable,
    store: Option<Arc<dyn Store>>,
    revision: AtomicU64,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys")
            .field("table", &self.table)
            .field("revision", &self.revision)
            .finish_non_exhaustive()
    }
}

impl ApiKeys {
    /// The key table for `config`, loaded; `None` when no route accepts API keys and no
    /// consumer is declared.
    pub fn build(config: &Config, mode: Mode) -> Result<Option<Arc<ApiKeys>>, Vec<Diagnostic>> {
        let used = config
            .routes
            .iter()
            .any(|r| r.auth.contains(&AuthMethod::ApiKey));
        let Some(store_config) = config.store.as_ref() else {
            return Ok(None);
        };
        if !used && config.consumers.is_empty() && store_config.path.is_none() {
            return Ok(None);
        }
        let hasher = hasher_from(&store_config.master_key_file)
            .map_err(|e| vec![Diagnostic::new("store.master_key_file", e)])?;
        let table = KeyTable::new(hasher, &declared_keys(config));
        let mut revision = 0;
        let store: Option<Arc<dyn Store>> = match (&store_config.path, mode) {
            (Some(path), Mode::Serve) => {
                let store = SqliteStore::open(path)
                    .map_err(|e| vec![Diagnostic::new("store.path", e.to_string())])?;
                let all = store
                    .keys_changed_since(0)
                    .map_err(|e| vec![Diagnostic::new("store.path", e.to_string())])?;
                table.apply(&all.keys);
                revision = all.revision;
                Some(Arc::new(store))
            }
            _ => None,
        };
        Ok(Some(Arc::new(ApiKeys {
            table,
            store,
            revision: AtomicU64::new(revision),
        })))
    }

    pub fn table(&self) -> &KeyTable {
        &self.table
    }

    /// Starts the task that follows the store. It ends by itself when the table is dropped
    /// (a reload replaced it).
    pub fn follow_store(self: &Arc<Self>) {
        if self.store.is_some() {
            tokio::spawn(follow(Arc::downgrade(self)));
        }
    }

    /// One poll: reads what changed since the last one. Returns whether anything did.
    async fn refresh(&self, store: Arc<dyn Store>) -> Result<bool, String> {
        let seen = self.revision.load(Ordering::Acquire);
        let changes = tokio::task::spawn_blocking(move || {
            let current = store.revision()?;
            if current == seen {
                return Ok(None);
            }
            // A lower revision means the database was replaced (a restore): read it all,
            // and drop what it no longer has.
            let reset = current < seen;
            store
                .keys_changed_since(if reset { 0 } else { seen })
                .map(|changes| Some((reset, changes)))
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        let Some((reset, changes)) = changes else {
            return Ok(false);
        };
        if reset {
            self.table.replace_all(&changes.keys);
        } else {
            self.table.apply(&changes.keys);
        }
        self.revision.store(changes.revision, Ordering::Release);
        tracing::info!(
            revision = changes.revision,
            changed = changes.keys.len(),
            "API keys reloaded from the store"
        );
        Ok(true)
    }

    async fn write_last_used(&self, store: Arc<dyn Store>) -> Result<(), String> {
        let used = self.table.take_last_used();
        if used.is_empty() {
            return Ok(());
        }
        tokio::task::spawn_blocking(move || store.record_last_used(&used))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }
}

async fn follow(keys: Weak<ApiKeys>) {
    let mut poll = tokio::time::interval(POLL_EVERY);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_write = tokio::time::Instant::now();
    loop {
        poll.tick().await;
        let Some(keys) = keys.upgrade() else { return };
        let Some(store) = keys.store.clone() else {
            return;
        };
        if let Err(e) = keys.refresh(Arc::clone(&store)).await {
            // The table keeps serving what it has; the next poll tries again.
            crate::metrics::store_error("refresh");
            tracing::warn!(error = %e, "cannot read API keys from the store");
        }
        if last_write.elapsed() >= LAST_USED_EVERY {
            last_write = tokio::time::Instant::now();
            if let Err(e) = keys.write_last_used(store).await {
                crate::metrics::store_error("last_used");
                tracing::warn!(error = %e, "cannot record key last-used times");
            }
        }
    }
}

/// A client certificate the TLS handshake verified (chain to the configured CA, not
/// revoked), with its SHA-256 fingerprint.
#[derive(Debug)]
pub struct ClientCert {
    der: rustls_pki_types::CertificateDer<'static>,
    pub sha256: [u8; 32],
}

impl ClientCert {
    pub fn new(der: rustls_pki_types::CertificateDer<'static>) -> ClientCert {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der.as_ref());
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(digest.as_ref());
        ClientCert { der, sha256 }
    }

    /// Does the certificate name `san` (a DNS name or IP address) among its SANs?
    fn has_san(&self, san: &rustls_pki_types::ServerName<'static>) -> bool {
        webpki::EndEntityCert::try_from(&self.der)
            .is_ok_and(|cert| cert.verify_is_valid_for_subject_name(san).is_ok())
    }
}

/// Consumers that authenticate with client certificates, from `[[consumers]] mtls = ...`.
#[derive(Debug, Default)]
pub struct CertConsumers {
    by_fingerprint: HashMap<[u8; 32], MtlsConsumer>,
    by_san: Vec<(rustls_pki_types::ServerName<'static>, MtlsConsumer)>,
}

#[derive(Debug, Clone)]
struct MtlsConsumer {
    name: Arc<str>,
    roles: Box<[Box<str>]>,
}

impl CertConsumers {
    pub fn build(config: &Config) -> Arc<CertConsumers> {
        let mut out = CertConsumers::default();
        for c in &config.consumers {
            let consumer = MtlsConsumer {
                name: c.name.as_str().into(),
                roles: c.roles.iter().map(|r| r.as_str().into()).collect(),
            };
            for fp in &c.cert_sha256 {
                out.by_fingerprint.insert(*fp, consumer.clone());
            }
            for san in &c.cert_san {
                if let Ok(name) = rustls_pki_types::ServerName::try_from(san.clone()) {
                    out.by_san.push((name, consumer.clone()));
                }
            }
        }
        Arc::new(out)
    }

    /// The consumer a certificate belongs to: by fingerprint first, then by SAN.
    fn find(&self, cert: &ClientCert) -> Option<&MtlsConsumer> {
        self.by_fingerprint.get(&cert.sha256).or_else(|| {
            self.by_san
                .iter()
                .find(|(san, _)| cert.has_san(san))
                .map(|(_, consumer)| consumer)
        })
    }
}

/// What a route demands of its callers.
#[derive(Debug)]
pub struct RouteAuth {
    public: bool,
    api_key: Option<ApiKeyCheck>,
    jwt: Option<Arc<JwtIssuers>>,
    introspection: Option<Arc<Introspector>>,
    mtls: Option<Arc<CertConsumers>>,
    scopes: Box<[Box<str>]>,
    roles: Box<[Box<str>]>,
    step_up: Option<rampart_config::StepUp>,
    owner: Option<rampart_config::Owner>,
    /// `WWW-Authenticate` challenges: when no credential was presented, and when one was.
    challenge_missing: Arc<[HeaderValue]>,
    challenge_invalid: Arc<[HeaderValue]>,
}

#[derive(Debug)]
struct ApiKeyCheck {
    keys: Arc<ApiKeys>,
    header: HeaderName,
}

/// Who the caller turned out to be.
#[derive(Debug, Clone)]
pub struct Caller {
    pub consumer: Arc<str>,
    pub key_id: Option<Arc<str>>,
    /// The verified token, for JWT callers (roles, claims for object rules).
    pub token: Option<Arc<Verified>>,
}

/// A presented credential, found in the request headers.
enum Credential<'a> {
    ApiKey(&'a str),
    Bearer(&'a str),
}

impl RouteAuth {
    pub fn new(
        route: &rampart_config::Route,
        keys: Option<&Arc<ApiKeys>>,
        jwt: Option<&Arc<JwtIssuers>>,
        introspection: Option<&Arc<Introspector>>,
        mtls: Option<&Arc<CertConsumers>>,
        header: &HeaderName,
    ) -> RouteAuth {
        let api_key = match (route.auth.contains(&AuthMethod::ApiKey), keys) {
            (true, Some(keys)) => Some(ApiKeyCheck {
                keys: Arc::clone(keys),
                header: header.clone(),
            }),
            _ => None,
        };
        let jwt = match (route.auth.contains(&AuthMethod::Jwt), jwt) {
            (true, Some(jwt)) => Some(Arc::clone(jwt)),
            _ => None,
        };
        let introspection = match (
            route.auth.contains(&AuthMethod::Introspection),
            introspection,
        ) {
            (true, Some(i)) => Some(Arc::clone(i)),
            _ => None,
        };
        let mtls = match (route.auth.contains(&AuthMethod::Mtls), mtls) {
            (true, Some(m)) => Some(Arc::clone(m)),
            _ => None,
        };
        let mut missing = Vec::new();
        let mut invalid = Vec::new();
        if jwt.is_some() || introspection.is_some() {
            // RFC 6750 §3: no error code when no token was sent; invalid_token and nothing
            // more when one was.
            missing.push(HeaderValue::from_static("Bearer realm=\"rampart\""));
            invalid.push(HeaderValue::from_static(
                "Bearer realm=\"rampart\", error=\"invalid_token\"",
            ));
        }
        if api_key.is_some() {
            let value = api_key_challenge(header);
            missing.push(value.clone());
            invalid.push(value);
        }
        if mtls.is_some() {
            // No registered scheme exists for client certificates; this one says which
            // credential the route takes, and nothing else.
            let value = HeaderValue::from_static("MutualTLS realm=\"rampart\"");
            missing.push(value.clone());
            invalid.push(value);
        }
        RouteAuth {
            public: route.auth.contains(&AuthMethod::None),
            api_key,
            jwt,
            introspection,
            mtls,
            scopes: route.scopes.iter().map(|s| s.as_str().into()).collect(),
            roles: route.roles.iter().map(|s| s.as_str().into()).collect(),
            step_up: route.step_up.clone(),
            owner: route.owner.clone(),
            challenge_missing: missing.into(),
            challenge_invalid: invalid.into(),
        }
    }

    fn unauthorized(&self, code: &'static str, presented: bool) -> Rejection {
        Rejection::Unauthorized {
            code,
            challenges: Arc::clone(if presented {
                &self.challenge_invalid
            } else {
                &self.challenge_missing
            }),
        }
    }

    /// The one credential of a request, among those this route accepts.
    fn credential<'h>(&self, headers: &'h HeaderMap) -> Result<Option<Credential<'h>>, Rejection> {
        let mut found = None;
        let mut count = 0;
        if let Some(check) = &self.api_key {
            for value in headers.get_all(&check.header) {
                count += 1;
                let text = value
                    .to_str()
                    .map_err(|_| self.unauthorized("auth.key_malformed", true))?;
                found = Some(Credential::ApiKey(text.trim()));
            }
        }
        if self.consumes_authorization() {
            for value in headers.get_all(http::header::AUTHORIZATION) {
                count += 1;
                let token = value
                    .to_str()
                    .ok()
                    .and_then(bearer_token)
                    .ok_or_else(|| self.unauthorized("auth.bearer_malformed", true))?;
                found = Some(Credential::Bearer(token));
            }
        }
        if count > 1 {
            // Two credentials could name two callers; the gateway never picks one.
            return Err(self.unauthorized("auth.credentials_ambiguous", true));
        }
        Ok(found)
    }

    pub fn is_public(&self) -> bool {
        self.public
    }

    /// The key id of a well-formed API key in the request, before any verification (for
    /// brute-force bans on that id).
    pub fn presented_key_id<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        let check = self.api_key.as_ref()?;
        let value = headers.get(&check.header)?.to_str().ok()?.trim();
        let id = value
            .strip_prefix(rampart_auth::api_key::PREFIX)?
            .get(..12)?;
        (value.len() == rampart_auth::api_key::KEY_LEN
            && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(id)
    }

    /// The path parameter the route's owner rule compares, if it has one.
    pub fn owner_param(&self) -> Option<&str> {
        self.owner.as_ref().map(|o| o.param.as_str())
    }

    /// Authorization, in order: every scope, one of the roles, step-up, the owner rule.
    /// `owner_value` is the raw path parameter the owner rule names.
    fn authorize(
        &self,
        caller: &Principal<'_>,
        owner_value: Option<&str>,
    ) -> Result<(), Rejection> {
        if !self.scopes.iter().all(|s| caller.scopes.contains(s)) {
            return Err(Rejection::Forbidden("authz.scope_missing"));
        }
        if !self.roles.is_empty() && !self.roles.iter().any(|r| caller.roles.contains(r)) {
            return Err(Rejection::Forbidden("authz.role_missing"));
        }
        if let Some(step_up) = &self.step_up {
            let acr_ok = caller
                .acr
                .is_some_and(|acr| step_up.acr.iter().any(|a| a == acr));
            let amr_ok = caller
                .amr
                .iter()
                .any(|m| step_up.amr.iter().any(|a| a.as_str() == &**m));
            if !acr_ok && !amr_ok {
                return Err(Rejection::Forbidden("authz.step_up_required"));
            }
        }
        if let Some(owner) = &self.owner {
            let exempt = owner
                .unless_roles
                .iter()
                .any(|r| caller.roles.iter().any(|have| &**have == r.as_str()));
            if !exempt {
                let wanted = owner_value.and_then(percent_decode);
                let have = (caller.claim)(&owner.claim);
                match (wanted, have) {
                    (Some(wanted), Some(have)) if wanted == have => {}
                    _ => return Err(Rejection::Forbidden("authz.not_owner")),
                }
            }
        }
        Ok(())
    }

    /// Authenticates and authorizes a request. `Ok(None)` for a public route. Denies when
    /// the route names no method this gateway could check (deny by default).
    pub async fn check(
        &self,
        headers: &HeaderMap,
        client_cert: Option<&ClientCert>,
        owner_value: Option<&str>,
        key_id: &mut Option<Arc<str>>,
    ) -> Result<Option<Caller>, Rejection> {
        if self.public {
            return Ok(None);
        }
        if self.api_key.is_none()
            && self.jwt.is_none()
            && self.introspection.is_none()
            && self.mtls.is_none()
        {
            return Err(Rejection::Forbidden("authz.no_method"));
        }
        let caller = match self.credential(headers)? {
            // A client certificate counts when no header credential was presented: one
            // request, one caller.
            None => match (&self.mtls, client_cert) {
                (Some(consumers), Some(cert)) => match consumers.find(cert) {
                    Some(consumer) => {
                        let claim = |name: &str| match name {
                            "sub" | "consumer" => Some(std::borrow::Cow::Borrowed(&*consumer.name)),
                            _ => None,
                        };
                        self.authorize(
                            &Principal {
                                scopes: &[],
                                roles: &consumer.roles,
                                acr: None,
                                amr: &[],
                                claim: &claim,
                            },
                            owner_value,
                        )?;
                        Caller {
                            consumer: Arc::clone(&consumer.name),
                            key_id: None,
                            token: None,
                        }
                    }
                    None => return Err(self.unauthorized("auth.mtls_unknown_certificate", true)),
                },
                _ => return Err(self.unauthorized("auth.credentials_missing", false)),
            },
            Some(Credential::ApiKey(presented)) => {
                let Some(check) = &self.api_key else {
                    return Err(self.unauthorized("auth.credentials_missing", false));
                };
                match check.keys.table().verify(presented, now()) {
                    Ok(entry) => {
                        *key_id = Some(entry.id.clone());
                        let claim = |name: &str| match name {
                            "sub" | "consumer" => {
                                Some(std::borrow::Cow::Borrowed(&*entry.consumer))
                            }
                            _ => None,
                        };
                        self.authorize(
                            &Principal {
                                scopes: &entry.scopes,
                                roles: &entry.roles,
                                acr: None,
                                amr: &[],
                                claim: &claim,
                            },
                            owner_value,
                        )?;
                        Caller {
                            consumer: Arc::clone(&entry.consumer),
                            key_id: Some(entry.id.clone()),
                            token: None,
                        }
                    }
                    Err((failure, id)) => {
                        *key_id = id;
                        return Err(self.unauthorized(failure.code(), true));
                    }
                }
            }
            Some(Credential::Bearer(token)) => {
                // A JWS-shaped token goes to the JWT verifier when the route takes JWTs;
                // anything else to introspection when the route takes that.
                let looks_like_jwt = token.bytes().filter(|b| *b == b'.').count() == 2;
                let result = match (&self.jwt, &self.introspection) {
                    (Some(jwt), _) if looks_like_jwt || self.introspection.is_none() => {
                        jwt.verify(token, now()).await
                    }
                    (_, Some(introspection)) => match introspection.verify(token, now()).await {
                        Ok(verified) => Ok(verified),
                        Err(IntrospectionError::Refused(failure)) => Err(failure),
                        Err(IntrospectionError::Unavailable) => {
                            return Err(Rejection::AuthUnavailable);
                        }
                    },
                    _ => return Err(self.unauthorized("auth.credentials_missing", false)),
                };
                match result {
                    Ok(verified) => {
                        let claim = |name: &str| match verified.claims.get(name) {
                            Some(serde_json::Value::String(s)) => {
                                Some(std::borrow::Cow::Borrowed(s.as_str()))
                            }
                            Some(serde_json::Value::Number(n)) => {
                                Some(std::borrow::Cow::Owned(n.to_string()))
                            }
                            _ => None,
                        };
                        self.authorize(
                            &Principal {
                                scopes: &verified.scopes,
                                roles: &verified.roles,
                                acr: verified.acr.as_deref(),
                                amr: &verified.amr,
                                claim: &claim,
                            },
                            owner_value,
                        )?;
                        Caller {
                            consumer: Arc::clone(&verified.consumer),
                            key_id: None,
                            token: Some(verified),
                        }
                    }
                    Err(failure) => return Err(self.unauthorized(failure.code(), true)),
                }
            }
        };
        Ok(Some(caller))
    }

    /// Does this route consume the `Authorization` header (so it is not forwarded)?
    pub fn consumes_authorization(&self) -> bool {
        self.jwt.is_some() || self.introspection.is_some()
    }
}

/// What authorization looks at, whichever way the caller authenticated.
struct Principal<'a> {
    scopes: &'a [Box<str>],
    roles: &'a [Box<str>],
    acr: Option<&'a str>,
    amr: &'a [Box<str>],
    /// A claim (JWT) or consumer attribute (API key: `sub` and `consumer` are its name).
    claim: &'a dyn Fn(&str) -> Option<std::borrow::Cow<'a, str>>,
}

/// A path parameter as the caller meant it: percent-escapes decoded, valid UTF-8 only.
/// (Normalization has already refused encoded slashes, NULs and double encoding.)
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `Bearer <token>`, the scheme case-insensitive (RFC 9110 §11.1), one space or more.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim_start_matches(' ');
    (!token.is_empty() && !token.contains(' ')).then_some(token)
}

/// `WWW-Authenticate` for an API-key route: a scheme of its own (RFC 9110 §11.6.1 requires
/// a challenge on every 401), naming the header to use and nothing else.
fn api_key_challenge(header: &HeaderName) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "ApiKey realm=\"rampart\", header=\"{}\"",
        header.as_str()
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("ApiKey realm=\"rampart\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn route_auth(extra: &str) -> RouteAuth {
        let text = format!(
            "[store]\nmaster_key_file = \"m.key\"\n[[upstreams]]\nname = \"u\"\nurl = \"http://127.0.0.1:9\"\n[[jwt_issuers]]\nissuer = \"https://idp.test\"\naudiences = [\"a\"]\njwks_file = \"k.json\"\nalgorithms = [\"ES256\"]\n[[routes]]\nname = \"r\"\npath = \"/v1/users/{{id}}\"\nupstream = \"u\"\nauth = [\"api_key\", \"jwt\"]\n{extra}\n"
        );
        let config = rampart_config::Config::from_toml_str(&text).expect("config");
        RouteAuth::new(
            &config.routes[0],
            None,
            None,
            None,
            None,
            &HeaderName::from_static("x-api-key"),
        )
    }

    fn check(
        auth: &RouteAuth,
        roles: &[&str],
        acr: Option<&str>,
        amr: &[&str],
        sub: &str,
        id: &str,
    ) -> Result<(), &'static str> {
        let roles: Vec<Box<str>> = roles.iter().map(|r| (*r).into()).collect();
        let amr: Vec<Box<str>> = amr.iter().map(|r| (*r).into()).collect();
        let claim = |name: &str| (name == "sub").then_some(Cow::Borrowed(sub));
        auth.authorize(
            &Principal {
                scopes: &["orders:read".into()],
                roles: &roles,
                acr,
                amr: &amr,
                claim: &claim,
            },
            Some(id),
        )
        .map_err(|r| r.code())
    }

    #[test]
    fn step_up_needs_a_listed_acr_or_amr() {
        let auth = route_auth("step_up = { acr = [\"urn:mfa\"], amr = [\"otp\", \"hwk\"] }");
        assert_eq!(
            check(&auth, &[], None, &["pwd"], "a", "a"),
            Err("authz.step_up_required")
        );
        assert_eq!(
            check(&auth, &[], Some("urn:basic"), &[], "a", "a"),
            Err("authz.step_up_required")
        );
        assert_eq!(check(&auth, &[], Some("urn:mfa"), &[], "a", "a"), Ok(()));
        assert_eq!(check(&auth, &[], None, &["pwd", "otp"], "a", "a"), Ok(()));
    }

    #[test]
    fn scopes_roles_and_owner_rules_in_order() {
        let auth = route_auth("scopes = [\"orders:read\", \"orders:write\"]");
        assert_eq!(
            check(&auth, &[], None, &[], "a", "a"),
            Err("authz.scope_missing")
        );
        let auth = route_auth("roles = [\"admin\", \"support\"]");
        assert_eq!(
            check(&auth, &["user"], None, &[], "a", "a"),
            Err("authz.role_missing")
        );
        assert_eq!(check(&auth, &["support"], None, &[], "a", "a"), Ok(()));
        let auth =
            route_auth("owner = { param = \"id\", claim = \"sub\", unless_roles = [\"admin\"] }");
        assert_eq!(check(&auth, &[], None, &[], "alice", "alice"), Ok(()));
        assert_eq!(
            check(&auth, &[], None, &[], "alice", "bob"),
            Err("authz.not_owner")
        );
        assert_eq!(
            check(&auth, &[], None, &[], "a@b.c", "a%40b.c"),
            Ok(()),
            "decoded"
        );
        assert_eq!(
            check(&auth, &[], None, &[], "alice", "%ZZ"),
            Err("authz.not_owner")
        );
        assert_eq!(check(&auth, &["admin"], None, &[], "alice", "bob"), Ok(()));
    }
}
