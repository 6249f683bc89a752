//! Opaque bearer tokens, checked at an RFC 7662 introspection endpoint.
//!
//! The gateway authenticates to the endpoint with HTTP Basic (RFC 6749 §2.3.1: client id
//! and secret form-encoded, then base64), the secret read from a file only its owner can
//! read. Answers are cached by the SHA-256 of the token: active ones for at most
//! `cache_ttl` and never past the token's `exp`, inactive ones for `negative_ttl`. The
//! cache is bounded. An endpoint that fails or times out fails closed: 503, never a pass.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rampart_auth::api_key::Secret;
use rampart_auth::jwt::{IntrospectionPolicy, JwtFailure, Verified, introspected, token_id};
use rampart_config::{Config, Diagnostic};

use crate::auth::Mode;

const TIMEOUT: Duration = Duration::from_secs(5);
const MAX_ANSWER: usize = 64 * 1024;
const MAX_CACHED: usize = 10_000;

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntrospectionError {
    /// The endpoint answered: not active, expired, wrong audience, ...
    Refused(JwtFailure),
    /// The endpoint could not be asked.
    Unavailable,
}

pub struct Introspector {
    url: String,
    authorization: HeaderValue,
    policy: IntrospectionPolicy,
    cache_ttl: Duration,
    negative_ttl: Duration,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    cache: Mutex<HashMap<[u8; 32], Cached>>,
}

/// A cached answer: until when it may be used, and the token it verified (`None`: inactive).
type Cached = (Instant, Option<Arc<Verified>>);

impl std::fmt::Debug for Introspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspector")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Reads a secret file: refused unless only its owner can read it.
fn read_secret(path: &std::path::Path) -> Result<Secret, String> {
    let text = rampart_auth::master::read_private_file(path).map_err(|e| e.to_string())?;
    let secret = text.trim_end_matches(['\n', '\r']);
    if secret.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(Secret::new(secret.as_bytes().to_vec()))
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Introspector {
    /// The introspector of `config`, if it has one; the secret file is read in every mode.
    pub fn build(
        config: &Config,
        _mode: Mode,
    ) -> Result<Option<Arc<Introspector>>, Vec<Diagnostic>> {
        let Some(raw) = &config.introspection else {
            return Ok(None);
        };
        let secret = read_secret(&raw.client_secret_file)
            .map_err(|e| vec![Diagnostic::new("introspection.client_secret_file", e)])?;
        let credentials = zeroize::Zeroizing::new(format!(
            "{}:{}",
            form_encode(raw.client_id.as_bytes()),
            form_encode(secret.expose())
        ));
        let mut authorization = HeaderValue::from_str(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials.as_bytes())
        ))
        .map_err(|_| {
            vec![Diagnostic::new(
                "introspection.client_id",
                "not usable in a header",
            )]
        })?;
        authorization.set_sensitive(true);
        let connector = crate::jwt::https_connector(raw.ca.as_deref())
            .map_err(|e| vec![Diagnostic::new("introspection.ca", e)])?;
        Ok(Some(Arc::new(Introspector {
            url: raw.url.clone(),
            authorization,
            policy: IntrospectionPolicy {
                issuer: raw.issuer.clone(),
                audiences: raw.audiences.clone(),
                roles_claim: raw.roles_claim.clone(),
                consumer_claim: raw.consumer_claim.clone(),
            },
            cache_ttl: raw.cache_ttl,
            negative_ttl: raw.negative_ttl,
            client: Client::builder(TokioExecutor::new()).build(connector),
            cache: Mutex::new(HashMap::new()),
        })))
    }

    pub async fn verify(&self, token: &str, now: i64) -> Result<Arc<Verified>, IntrospectionError> {
        let id = token_id(token);
        let at = Instant::now();
        let cached = {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache
                .get(&id)
                .filter(|(until, _)| *until > at)
                .map(|(_, v)| v.clone())
        };
        match cached {
            Some(Some(verified)) if now < verified.expires => return Ok(verified),
            Some(None) => return Err(IntrospectionError::Refused(JwtFailure::Inactive)),
            _ => {}
        }
        let answer = self.ask(token).await.map_err(|e| {
            tracing::warn!(url = %self.url, error = %e, "token introspection failed");
            crate::metrics::introspection("unavailable");
            IntrospectionError::Unavailable
        })?;
        let result = introspected(&answer, &self.policy, now).map(Arc::new);
        let (until, entry) = match &result {
            Ok(verified) => {
                let left = u64::try_from(verified.expires.saturating_sub(now)).unwrap_or(0);
                (
                    at + self.cache_ttl.min(Duration::from_secs(left)),
                    Some(Arc::clone(verified)),
                )
            }
            Err(_) => (at + self.negative_ttl, None),
        };
        crate::metrics::introspection(if result.is_ok() { "active" } else { "refused" });
        {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= MAX_CACHED {
                cache.retain(|_, (until, _)| *until > at);
                if cache.len() >= MAX_CACHED {
                    cache.clear();
                }
            }
            cache.insert(id, (until, entry));
        }
        result.map_err(IntrospectionError::Refused)
    }

    async fn ask(&self, token: &str) -> Result<Bytes, String> {
        let body = format!(
            "token={}&token_type_hint=access_token",
            form_encode(token.as_bytes())
        );
        let request = Request::post(&self.url)
            .header(header::AUTHORIZATION, self.authorization.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| e.to_string())?;
            if response.status() != StatusCode::OK {
                return Err(format!("status {}", response.status()));
            }
            Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .map_err(|e| format!("{e} (at most {MAX_ANSWER} bytes)"))
        };
        tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| format!("no answer within {TIMEOUT:?}"))?
    }
}
