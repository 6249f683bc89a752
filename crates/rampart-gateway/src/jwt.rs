//! JWT issuers at run time: their key sets, fetched and kept fresh.
//!
//! Keys come from a JWKS file (read at load), a JWKS URL, or OpenID Connect discovery (the
//! document's `issuer` must be the configured one; its `jwks_uri` is then fetched). Fetches
//! have connect and total timeouts and a size cap, and a failed fetch keeps the keys there
//! are. A background task fetches again every `jwks_refresh`; a token with a `kid` the set
//! lacks triggers one more fetch right away (so a key rotation at the provider costs no
//! request), but at most once per [`KID_REFRESH_EVERY`] per issuer, so that a flood of
//! random kids cannot turn the gateway against the identity provider.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rampart_auth::jwk::{Algorithm, KeySet};
use rampart_auth::jwt::{Issuer, JwtFailure, Policy, Verified, claimed_issuer, token_id};
use rampart_config::{Config, Diagnostic, JwksSource};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::auth::Mode;

/// An unknown `kid` refetches the keys at most this often.
pub const KID_REFRESH_EVERY: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_DOCUMENT: usize = 512 * 1024;
/// After a failed fetch, the next try comes this soon (or at `jwks_refresh`, if sooner).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

type Fetcher = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

pub struct JwtIssuers {
    issuers: Vec<Arc<IssuerState>>,
    by_name: HashMap<String, usize>,
}

impl std::fmt::Debug for JwtIssuers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtIssuers")
            .field("issuers", &self.by_name.keys())
            .finish()
    }
}

struct IssuerState {
    issuer: Issuer,
    source: JwksSource,
    refresh: Duration,
    fetcher: Option<Fetcher>,
    /// When an unknown kid last caused a fetch.
    kid_refresh: Mutex<Option<Instant>>,
}

impl JwtIssuers {
    /// The issuers of `config`, with file key sets loaded; `None` when there are none.
    pub fn build(config: &Config, mode: Mode) -> Result<Option<Arc<JwtIssuers>>, Vec<Diagnostic>> {
        if config.jwt_issuers.is_empty() {
            return Ok(None);
        }
        let mut errors = Vec::new();
        let mut issuers = Vec::new();
        let mut by_name = HashMap::new();
        for (i, raw) in config.jwt_issuers.iter().enumerate() {
            let policy = Policy {
                issuer: raw.issuer.clone(),
                audiences: raw.audiences.clone(),
                algorithms: raw
                    .algorithms
                    .iter()
                    .filter_map(|a| Algorithm::from_name(a))
                    .collect(),
                leeway: raw.leeway.as_secs(),
                required_claims: raw.required_claims.clone(),
                roles_claim: raw.roles_claim.clone(),
                consumer_claim: raw.consumer_claim.clone(),
            };
            let keys = match &raw.keys {
                JwksSource::File(path) => match load_file(path) {
                    Ok(keys) => keys,
                    Err(e) => {
                        errors.push(Diagnostic::new(format!("jwt_issuers[{i}].jwks_file"), e));
                        continue;
                    }
                },
                _ => KeySet::default(),
            };
            let fetcher = match (&raw.keys, mode) {
                (JwksSource::File(_), _) | (_, Mode::Check) => None,
                _ => match fetcher(raw.ca.as_deref()) {
                    Ok(f) => Some(f),
                    Err(e) => {
                        errors.push(Diagnostic::new(format!("jwt_issuers[{i}].ca"), e));
                        continue;
                    }
                },
            };
            by_name.insert(raw.issuer.clone(), issuers.len());
            issuers.push(Arc::new(IssuerState {
                issuer: Issuer::new(policy, keys),
                source: raw.keys.clone(),
                refresh: raw.jwks_refresh,
                fetcher,
                kid_refresh: Mutex::new(None),
            }));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Some(Arc::new(JwtIssuers { issuers, by_name })))
    }

    /// Starts one task per fetched issuer; each ends when this set is dropped (a reload).
    pub fn follow_providers(&self) {
        for state in &self.issuers {
            if state.fetcher.is_some() {
                tokio::spawn(follow(Arc::downgrade(state)));
            }
        }
    }

    /// Verifies a bearer token: the issuer it names, that issuer's keys and policy.
    pub async fn verify(&self, token: &str, now: i64) -> Result<Arc<Verified>, JwtFailure> {
        // A token seen before is found by its hash alone, without decoding it again.
        let id = token_id(token);
        for state in &self.issuers {
            if let Some(hit) = state.issuer.cached(&id, now) {
                return Ok(hit);
            }
        }
        let Some(state) = claimed_issuer(token)
            .and_then(|iss| self.by_name.get(&iss))
            .map(|&i| &self.issuers[i])
        else {
            return Err(JwtFailure::UnknownIssuer);
        };
        match state.issuer.verify_with_id(token, &id, now) {
            Err(JwtFailure::Jws(rampart_auth::jose::JwsError::UnknownKey))
                if state.fetcher.is_some() =>
            {
                if state.refresh_for_unknown_kid(token).await {
                    state.issuer.verify(token, now)
                } else {
                    Err(JwtFailure::Jws(rampart_auth::jose::JwsError::UnknownKey))
                }
            }
            other => other,
        }
    }
}

impl IssuerState {
    /// Fetches the keys again for a token whose kid is unknown, unless that was done less
    /// than [`KID_REFRESH_EVERY`] ago. Concurrent requests wait for the one fetch. Returns
    /// whether the keys may have changed.
    async fn refresh_for_unknown_kid(&self, token: &str) -> bool {
        let kid = rampart_auth::jose::b64(token.split('.').next().unwrap_or(""))
            .and_then(|h| rampart_auth::jose::strict_object(&h))
            .and_then(|h| h.get("kid").and_then(|k| k.as_str()).map(str::to_owned));
        let mut last = self.kid_refresh.lock().await;
        // Someone else's fetch, while we waited for the lock, may have brought the key.
        if let Some(kid) = &kid
            && self.issuer.keys().has_kid(kid)
        {
            return true;
        }
        if last.is_some_and(|at| at.elapsed() < KID_REFRESH_EVERY) {
            crate::metrics::jwks_fetch(&self.issuer.policy.issuer, "throttled");
            return false;
        }
        *last = Some(Instant::now());
        self.fetch_and_apply("unknown kid").await
    }

    async fn fetch_and_apply(&self, why: &'static str) -> bool {
        let Some(fetcher) = &self.fetcher else {
            return false;
        };
        match fetch_keys(fetcher, &self.source, &self.issuer.policy.issuer).await {
            Ok(keys) => {
                for skipped in &keys.skipped {
                    tracing::warn!(issuer = %self.issuer.policy.issuer, "JWKS key skipped: {skipped}");
                }
                tracing::info!(
                    issuer = %self.issuer.policy.issuer,
                    keys = keys.len(),
                    why,
                    "JWKS fetched"
                );
                self.issuer.set_keys(keys);
                crate::metrics::jwks_fetch(&self.issuer.policy.issuer, "ok");
                true
            }
            Err(e) => {
                crate::metrics::jwks_fetch(&self.issuer.policy.issuer, "failed");
                tracing::warn!(
                    issuer = %self.issuer.policy.issuer,
                    error = %e,
                    why,
                    "JWKS fetch failed; the keys there are stay in use"
                );
                false
            }
        }
    }
}

async fn follow(state: Weak<IssuerState>) {
    loop {
        let Some(strong) = state.upgrade() else {
            return;
        };
        let ok = strong.fetch_and_apply("schedule").await;
        let wait = if ok {
            strong.refresh
        } else {
            strong.refresh.min(RETRY_AFTER_FAILURE)
        };
        drop(strong);
        tokio::time::sleep(wait).await;
    }
}

fn load_file(path: &std::path::Path) -> Result<KeySet, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let keys = KeySet::from_jwks(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    if keys.is_empty() {
        return Err(format!(
            "{}: no usable key ({})",
            path.display(),
            keys.skipped.join("; ")
        ));
    }
    Ok(keys)
}

/// Key sets are fetched minutes apart, so every fetch opens its own connection: a pooled one
/// would sit idle until the provider's keep-alive timer closes it, and a fetch that raced
/// that close would fail, leaving a just-rotated key unknown until the next try.
fn fetcher(ca: Option<&std::path::Path>) -> Result<Fetcher, String> {
    Ok(Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(https_connector(ca)?))
}

/// An HTTPS connector trusting the system roots plus `ca`; plain http:// only where the
/// config allowed it (loopback).
pub(crate) fn https_connector(
    ca: Option<&std::path::Path>,
) -> Result<HttpsConnector<HttpConnector>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(ca) = ca {
        for cert in crate::tls::read_certs(ca)? {
            roots
                .add(cert)
                .map_err(|e| format!("{}: {e}", ca.display()))?;
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    http.enforce_http(false);
    // Plain http:// reaches only loopback addresses: the config refuses any other.
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}

/// GETs a JSON document: 200 only, within the timeout and the size cap.
async fn get(fetcher: &Fetcher, url: &str) -> Result<Bytes, String> {
    let request = Request::get(url)
        .header(header::ACCEPT, "application/json")
        .header(header::USER_AGENT, "rampart")
        .body(Empty::new())
        .map_err(|e| format!("{url}: {e}"))?;
    let exchange = async {
        let response = fetcher
            .request(request)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if response.status() != StatusCode::OK {
            return Err(format!("{url}: status {}", response.status()));
        }
        Limited::new(response.into_body(), MAX_DOCUMENT)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .map_err(|e| format!("{url}: {e} (at most {MAX_DOCUMENT} bytes)"))
    };
    tokio::time::timeout(FETCH_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("{url}: no answer within {FETCH_TIMEOUT:?}"))?
}

async fn fetch_keys(
    fetcher: &Fetcher,
    source: &JwksSource,
    issuer: &str,
) -> Result<KeySet, String> {
    let jwks_url = match source {
        JwksSource::File(path) => return load_file(path),
        JwksSource::Url(url) => url.clone(),
        JwksSource::Discovery(url) => {
            let document = get(fetcher, url).await?;
            let document: serde_json::Value =
                serde_json::from_slice(&document).map_err(|e| format!("{url}: not JSON: {e}"))?;
            // OpenID Connect Discovery §4.3: the issuer must be exactly the expected one,
            // or a document could redirect trust to another issuer's keys.
            if document.get("issuer").and_then(|v| v.as_str()) != Some(issuer) {
                return Err(format!("{url}: the document's issuer is not {issuer}"));
            }
            let jwks_uri = document
                .get("jwks_uri")
                .and_then(|v| v.as_str())
                .ok_or_else(|| format!("{url}: no jwks_uri"))?;
            if !rampart_config::is_fetchable_url(jwks_uri) {
                return Err(format!("{url}: jwks_uri {jwks_uri} is not https://"));
            }
            jwks_uri.to_owned()
        }
    };
    let document = get(fetcher, &jwks_url).await?;
    let keys = KeySet::from_jwks(&document).map_err(|e| format!("{jwks_url}: {e}"))?;
    if keys.is_empty() {
        return Err(format!(
            "{jwks_url}: no usable key ({})",
            keys.skipped.join("; ")
        ));
    }
    Ok(keys)
}
