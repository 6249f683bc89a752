//! JWT access tokens (RFC 7519, RFC 9068): the claim checks around a verified JWS.
//!
//! [`Issuer`] is one configured issuer: its policy and its current key set. A token is
//! accepted only if its signature verifies with a key of the issuer it names, with an
//! algorithm the issuer allows, and `iss`, `aud`, `exp`, `nbf`, `iat` and the required
//! claims all check out. Numeric dates must be JSON numbers: a string `exp` is refused,
//! never skipped. Verified tokens are cached by the SHA-256 of the token, never past `exp`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::jose::{JwsError, b64, strict_object};
use crate::jwk::{Algorithm, KeySet};

/// Leeway is capped: a minute of clock skew is generous; more turns expiry into a
/// suggestion.
pub const MAX_LEEWAY: u64 = 60;

/// What an issuer's tokens must satisfy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub issuer: String,
    /// The token's `aud` must contain one of these.
    pub audiences: Vec<String>,
    pub algorithms: Vec<Algorithm>,
    /// Seconds of clock skew allowed on `exp`, `nbf` and `iat` (at most [`MAX_LEEWAY`]).
    pub leeway: u64,
    /// Claims that must be present besides `iss`, `aud` and `exp`.
    pub required_claims: Vec<String>,
    /// Where roles are, as a dot path (`roles`, `realm_access.roles`); `None`: no roles.
    pub roles_claim: Option<String>,
    /// The claim that names the caller (default `sub`, then `client_id`).
    pub consumer_claim: String,
}

/// A verified token: who the caller is and what it holds.
#[derive(Debug)]
pub struct Verified {
    pub issuer: Arc<str>,
    /// The caller's name: the consumer claim (by default `sub`).
    pub consumer: Arc<str>,
    pub scopes: Box<[Box<str>]>,
    pub roles: Box<[Box<str>]>,
    pub acr: Option<Box<str>>,
    pub amr: Box<[Box<str>]>,
    pub expires: i64,
    /// Every claim, for object-level rules.
    pub claims: serde_json::Map<String, serde_json::Value>,
}

impl Verified {
    pub fn has_scopes(&self, required: &[Box<str>]) -> bool {
        required.iter().all(|r| self.scopes.contains(r))
    }
}

/// Why a token was refused; one 401 for all of them, the code for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtFailure {
    Jws(JwsError),
    /// The token names no configured issuer.
    UnknownIssuer,
    Expired,
    NotYetValid,
    IssuedInFuture,
    Audience,
    /// A required claim is missing, or a claim has the wrong JSON type.
    Claims,
    /// `typ` says this is not an access token (an ID token, a logout token, ...).
    Type,
    /// The introspection endpoint says the token is not active.
    Inactive,
}

impl JwtFailure {
    pub fn code(&self) -> &'static str {
        match self {
            JwtFailure::Jws(e) => e.code(),
            JwtFailure::UnknownIssuer => "auth.jwt_issuer",
            JwtFailure::Expired => "auth.jwt_expired",
            JwtFailure::NotYetValid => "auth.jwt_not_yet_valid",
            JwtFailure::IssuedInFuture => "auth.jwt_iat_future",
            JwtFailure::Audience => "auth.jwt_audience",
            JwtFailure::Claims => "auth.jwt_claims",
            JwtFailure::Type => "auth.jwt_type",
            JwtFailure::Inactive => "auth.token_inactive",
        }
    }
}

impl From<JwsError> for JwtFailure {
    fn from(e: JwsError) -> Self {
        JwtFailure::Jws(e)
    }
}

/// The cache key of a token: its SHA-256.
pub fn token_id(token: &str) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut id = [0u8; 32];
    id.copy_from_slice(digest.as_ref());
    id
}

/// The `iss` of a token, read without verifying anything: only to pick which issuer's
/// keys and policy to verify it with. Nothing else is taken from an unverified token.
pub fn claimed_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    // Tokens are at most a few KB; refuse to decode anything absurd before verification.
    if payload.len() > 16 * 1024 {
        return None;
    }
    let claims = strict_object(&b64(payload)?)?;
    match claims.get("iss") {
        Some(serde_json::Value::String(iss)) => Some(iss.clone()),
        _ => None,
    }
}

/// One issuer: its policy, its keys (swapped whole on refresh) and its cache.
pub struct Issuer {
    pub policy: Policy,
    issuer: Arc<str>,
    keys: ArcSwap<KeySet>,
    cache: TokenCache,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("issuer", &self.policy.issuer)
            .field("keys", &self.keys.load().len())
            .finish_non_exhaustive()
    }
}

impl Issuer {
    pub fn new(policy: Policy, keys: KeySet) -> Issuer {
        Issuer {
            issuer: policy.issuer.as_str().into(),
            policy,
            keys: ArcSwap::from_pointee(keys),
            cache: TokenCache::new(10_000),
        }
    }

    pub fn keys(&self) -> Arc<KeySet> {
        self.keys.load_full()
    }

    /// Replaces the key set. Cached verifications are dropped: a key the issuer withdrew
    /// must stop working at once.
    pub fn set_keys(&self, keys: KeySet) {
        self.keys.store(Arc::new(keys));
        self.cache.clear();
    }

    /// Verifies `token` at `now` (seconds since the epoch).
    pub fn verify(&self, token: &str, now: i64) -> Result<Arc<Verified>, JwtFailure> {
        self.verify_with_id(token, &token_id(token), now)
    }

    /// A verification of the token with this [`token_id`] still in the cache, if any.
    pub fn cached(&self, id: &[u8; 32], now: i64) -> Option<Arc<Verified>> {
        self.cache.get(id, now).ok()
    }

    /// [`Issuer::verify`] for a token whose [`token_id`] the caller has computed already.
    pub fn verify_with_id(
        &self,
        token: &str,
        id: &[u8; 32],
        now: i64,
    ) -> Result<Arc<Verified>, JwtFailure> {
        let id = *id;
        let generation = match self.cache.get(&id, now) {
            Ok(hit) => return Ok(hit),
            Err(generation) => generation,
        };
        let verified = Arc::new(self.verify_uncached(token, now)?);
        self.cache
            .insert(id, Arc::clone(&verified), now, generation);
        Ok(verified)
    }

    fn verify_uncached(&self, token: &str, now: i64) -> Result<Verified, JwtFailure> {
        let jws = crate::jose::Jws::parse(token, &self.policy.algorithms)?;
        if let Some(typ) = &jws.header.typ {
            let typ = typ.to_ascii_lowercase();
            let typ = typ.strip_prefix("application/").unwrap_or(&typ);
            if typ != "jwt" && typ != "at+jwt" {
                return Err(JwtFailure::Type);
            }
        }
        let payload = jws.verify(&self.keys.load())?;
        let claims = strict_object(&payload).ok_or(JwtFailure::Jws(JwsError::Malformed))?;
        self.check_claims(claims, now)
    }

    fn check_claims(
        &self,
        claims: serde_json::Map<String, serde_json::Value>,
        now: i64,
    ) -> Result<Verified, JwtFailure> {
        let policy = &self.policy;
        let leeway = policy.leeway.min(MAX_LEEWAY) as i64;
        match claims.get("iss") {
            Some(serde_json::Value::String(iss)) if *iss == policy.issuer => {}
            Some(serde_json::Value::String(_)) => return Err(JwtFailure::UnknownIssuer),
            _ => return Err(JwtFailure::Claims),
        }
        let exp = numeric_date(claims.get("exp"))?.ok_or(JwtFailure::Claims)?;
        if now >= exp.saturating_add(leeway) {
            return Err(JwtFailure::Expired);
        }
        if let Some(nbf) = numeric_date(claims.get("nbf"))?
            && now.saturating_add(leeway) < nbf
        {
            return Err(JwtFailure::NotYetValid);
        }
        if let Some(iat) = numeric_date(claims.get("iat"))?
            && iat > now.saturating_add(leeway)
        {
            return Err(JwtFailure::IssuedInFuture);
        }
        let audience_ok = match claims.get("aud") {
            Some(serde_json::Value::String(aud)) => policy.audiences.contains(aud),
            Some(serde_json::Value::Array(auds)) => {
                let mut any = false;
                for aud in auds {
                    let Some(aud) = aud.as_str() else {
                        return Err(JwtFailure::Claims);
                    };
                    any |= policy.audiences.iter().any(|a| a == aud);
                }
                any
            }
            Some(_) => return Err(JwtFailure::Claims),
            None => false,
        };
        if !audience_ok {
            return Err(JwtFailure::Audience);
        }
        if policy
            .required_claims
            .iter()
            .any(|c| claims.get(c).is_none_or(serde_json::Value::is_null))
        {
            return Err(JwtFailure::Claims);
        }
        let (consumer, scopes, roles) = caller_claims(
            &claims,
            &policy.consumer_claim,
            policy.roles_claim.as_deref(),
        )?;
        let acr = match claims.get("acr") {
            None => None,
            Some(serde_json::Value::String(acr)) => Some(acr.as_str().into()),
            Some(_) => return Err(JwtFailure::Claims),
        };
        let amr = strings(claims.get("amr"))?;
        Ok(Verified {
            issuer: Arc::clone(&self.issuer),
            consumer,
            scopes: scopes.into(),
            roles: roles.into(),
            acr,
            amr: amr.into(),
            expires: exp,
            claims,
        })
    }
}

/// What an RFC 7662 introspection answer must satisfy.
#[derive(Debug, Clone)]
pub struct IntrospectionPolicy {
    /// If set, an `iss` in the answer must equal it.
    pub issuer: Option<String>,
    /// If non-empty, the answer's `aud` must name one of these.
    pub audiences: Vec<String>,
    pub roles_claim: Option<String>,
    pub consumer_claim: String,
}

/// Reads an introspection answer. Only `"active": true` (the JSON boolean) is active; an
/// active token past its `exp` is refused anyway.
pub fn introspected(
    answer: &[u8],
    policy: &IntrospectionPolicy,
    now: i64,
) -> Result<Verified, JwtFailure> {
    let claims = strict_object(answer).ok_or(JwtFailure::Claims)?;
    if claims.get("active") != Some(&serde_json::Value::Bool(true)) {
        return Err(JwtFailure::Inactive);
    }
    let exp = numeric_date(claims.get("exp"))?;
    if exp.is_some_and(|exp| now >= exp) {
        return Err(JwtFailure::Expired);
    }
    if let Some(nbf) = numeric_date(claims.get("nbf"))?
        && now < nbf
    {
        return Err(JwtFailure::NotYetValid);
    }
    let issuer: Arc<str> = match (&policy.issuer, claims.get("iss")) {
        (Some(want), Some(serde_json::Value::String(iss))) if iss == want => want.as_str().into(),
        (Some(_), Some(_)) => return Err(JwtFailure::UnknownIssuer),
        (Some(want), None) => want.as_str().into(),
        (None, Some(serde_json::Value::String(iss))) => iss.as_str().into(),
        (None, _) => "".into(),
    };
    if !policy.audiences.is_empty() {
        let auds = strings(claims.get("aud"))?;
        if !auds
            .iter()
            .any(|a| policy.audiences.iter().any(|w| w.as_str() == &**a))
        {
            return Err(JwtFailure::Audience);
        }
    }
    let (consumer, scopes, roles) = caller_claims(
        &claims,
        &policy.consumer_claim,
        policy.roles_claim.as_deref(),
    )?;
    let acr = claims.get("acr").and_then(|v| v.as_str()).map(Into::into);
    let amr = strings(claims.get("amr"))?;
    Ok(Verified {
        issuer,
        consumer,
        scopes: scopes.into(),
        roles: roles.into(),
        acr,
        amr: amr.into(),
        expires: exp.unwrap_or(i64::MAX),
        claims,
    })
}

/// Who the caller is and what it holds: the consumer claim (falling back to `client_id`),
/// scopes from `scope` or `scp`, roles from the roles claim.
type CallerClaims = (Arc<str>, Vec<Box<str>>, Vec<Box<str>>);

fn caller_claims(
    claims: &serde_json::Map<String, serde_json::Value>,
    consumer_claim: &str,
    roles_claim: Option<&str>,
) -> Result<CallerClaims, JwtFailure> {
    let consumer = [consumer_claim, "client_id"]
        .into_iter()
        .find_map(|name| claims.get(name).and_then(serde_json::Value::as_str))
        .filter(|name| !name.is_empty() && name.len() <= 256)
        .ok_or(JwtFailure::Claims)?;
    let mut scopes = strings(claims.get("scope"))?;
    if scopes.is_empty() {
        scopes = strings(claims.get("scp"))?;
    }
    let roles = match roles_claim {
        Some(path) => strings(lookup(claims, path))?,
        None => Vec::new(),
    };
    Ok((consumer.into(), scopes, roles))
}

/// A NumericDate: a JSON number of seconds. Strings, booleans and absurd values are refused
/// rather than treated as absent.
fn numeric_date(value: Option<&serde_json::Value>) -> Result<Option<i64>, JwtFailure> {
    match value {
        None => Ok(None),
        Some(serde_json::Value::Number(n)) => {
            let seconds = n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.is_finite())
                        .map(|f| f.floor() as i64)
                })
                .ok_or(JwtFailure::Claims)?;
            if !(0..=253_402_300_799).contains(&seconds) {
                return Err(JwtFailure::Claims);
            }
            Ok(Some(seconds))
        }
        Some(_) => Err(JwtFailure::Claims),
    }
}

/// A claim holding strings: one space-separated string, or an array of strings.
fn strings(value: Option<&serde_json::Value>) -> Result<Vec<Box<str>>, JwtFailure> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::String(s)) => Ok(s.split_whitespace().map(Into::into).collect()),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(Into::into).ok_or(JwtFailure::Claims))
            .collect(),
        Some(_) => Err(JwtFailure::Claims),
    }
}

/// Follows a dot path (`realm_access.roles`) through nested objects.
fn lookup<'a>(
    claims: &'a serde_json::Map<String, serde_json::Value>,
    path: &str,
) -> Option<&'a serde_json::Value> {
    let mut parts = path.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// Verified tokens by SHA-256 of the token, bounded, each only until its `exp`.
struct TokenCache {
    capacity: usize,
    inner: Mutex<CacheInner>,
}

struct CacheInner {
    entries: HashMap<[u8; 32], Arc<Verified>>,
    /// Bumped by `clear`: a verification that started before a key change is not cached.
    generation: u64,
}

impl TokenCache {
    fn new(capacity: usize) -> TokenCache {
        TokenCache {
            capacity,
            inner: Mutex::new(CacheInner {
                entries: HashMap::new(),
                generation: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A cached verification, and the generation to insert under on a miss.
    fn get(&self, id: &[u8; 32], now: i64) -> Result<Arc<Verified>, u64> {
        let mut inner = self.lock();
        match inner.entries.get(id) {
            Some(hit) if now < hit.expires => Ok(Arc::clone(hit)),
            Some(_) => {
                inner.entries.remove(id);
                Err(inner.generation)
            }
            None => Err(inner.generation),
        }
    }

    fn insert(&self, id: [u8; 32], verified: Arc<Verified>, now: i64, generation: u64) {
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        if inner.entries.len() >= self.capacity {
            // Bounded: drop what has expired; if that is not enough, start over.
            inner.entries.retain(|_, v| now < v.expires);
            if inner.entries.len() >= self.capacity {
                inner.entries.clear();
            }
        }
        inner.entries.insert(id, verified);
    }

    fn clear(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwk::VerifyingKey;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    struct Signer {
        ec: EcdsaKeyPair,
        ed: Ed25519KeyPair,
    }

    impl Signer {
        fn new() -> Signer {
            Signer {
                ec: EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                    .expect("ec key"),
                ed: Ed25519KeyPair::generate().expect("ed key"),
            }
        }

        fn jwks(&self) -> KeySet {
            let point = self.ec.public_key().as_ref();
            let ec = json!({
                "kty": "EC", "crv": "P-256", "kid": "ec-1", "use": "sig",
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
            });
            let ed = json!({
                "kty": "OKP", "crv": "Ed25519", "kid": "ed-1",
                "x": URL_SAFE_NO_PAD.encode(self.ed.public_key().as_ref()),
            });
            KeySet::from_keys([
                VerifyingKey::from_jwk(&ec).expect("ec jwk"),
                VerifyingKey::from_jwk(&ed).expect("ed jwk"),
            ])
        }

        fn token(&self, header: serde_json::Value, claims: &str) -> String {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims)
            );
            let sig = match header["alg"].as_str() {
                Some("EdDSA") => self.ed.sign(input.as_bytes()).as_ref().to_vec(),
                _ => self
                    .ec
                    .sign(&SystemRandom::new(), input.as_bytes())
                    .expect("sign")
                    .as_ref()
                    .to_vec(),
            };
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
        }

        fn es256(&self, claims: serde_json::Value) -> String {
            self.token(
                json!({"alg": "ES256", "kid": "ec-1", "typ": "at+jwt"}),
                &claims.to_string(),
            )
        }
    }

    fn policy() -> Policy {
        Policy {
            issuer: "https://idp.test".to_owned(),
            audiences: vec!["orders-api".to_owned()],
            algorithms: vec![Algorithm::ES256, Algorithm::EdDSA],
            leeway: 60,
            required_claims: vec!["sub".to_owned()],
            roles_claim: Some("realm_access.roles".to_owned()),
            consumer_claim: "sub".to_owned(),
        }
    }

    fn claims() -> serde_json::Value {
        json!({
            "iss": "https://idp.test", "aud": ["other", "orders-api"], "sub": "client-7",
            "exp": NOW + 300, "iat": NOW - 5, "nbf": NOW - 5,
            "scope": "orders:read orders:write",
            "realm_access": {"roles": ["admin"]},
            "acr": "mfa", "amr": ["pwd", "otp"],
        })
    }

    fn refused(issuer: &Issuer, token: &str) -> &'static str {
        issuer
            .verify(token, NOW)
            .map(|_| ())
            .expect_err("refused")
            .code()
    }

    #[test]
    fn a_good_token_yields_the_caller_and_is_cached() {
        let signer = Signer::new();
        let issuer = Issuer::new(policy(), signer.jwks());
        let token = signer.es256(claims());
        let verified = issuer.verify(&token, NOW).expect("valid");
        assert_eq!(&*verified.consumer, "client-7");
        assert!(verified.has_scopes(&["orders:read".into(), "orders:write".into()]));
        assert_eq!(&*verified.roles, &["admin".into()]);
        assert_eq!(verified.acr.as_deref(), Some("mfa"));
        let again = issuer.verify(&token, NOW).expect("cached");
        assert!(Arc::ptr_eq(&verified, &again));
        // The cache never outlives exp (plus leeway, as for an uncached token).
        assert!(
            issuer.verify(&token, NOW + 360).is_err(),
            "expired tokens are refused even when cached"
        );
    }

    #[test]
    fn time_claims_are_checked_with_bounded_leeway() {
        let signer = Signer::new();
        let issuer = Issuer::new(policy(), signer.jwks());
        let with = |name: &str, value: serde_json::Value| {
            let mut c = claims();
            c[name] = value;
            signer.es256(c)
        };
        assert_eq!(
            refused(&issuer, &with("exp", json!(NOW - 61))),
            "auth.jwt_expired"
        );
        assert!(
            issuer.verify(&with("exp", json!(NOW - 30)), NOW).is_ok(),
            "within leeway"
        );
        assert_eq!(
            refused(&issuer, &with("nbf", json!(NOW + 120))),
            "auth.jwt_not_yet_valid"
        );
        assert_eq!(
            refused(&issuer, &with("iat", json!(NOW + 120))),
            "auth.jwt_iat_future"
        );
        // A string date is refused, never skipped.
        assert_eq!(
            refused(&issuer, &with("exp", json!("2099-01-01"))),
            "auth.jwt_claims"
        );
        assert_eq!(
            refused(&issuer, &with("nbf", json!("later"))),
            "auth.jwt_claims"
        );
        let mut no_exp = claims();
        no_exp.as_object_mut().expect("object").remove("exp");
        assert_eq!(refused(&issuer, &signer.es256(no_exp)), "auth.jwt_claims");
        // A cached token stops at exp, even with leeway left.
        let short = with("exp", json!(NOW + 10));
        issuer.verify(&short, NOW).expect("valid now");
        assert!(
            issuer.verify(&short, NOW + 10).is_ok(),
            "re-verified within leeway"
        );
        let mut strict = policy();
        strict.leeway = 0;
        let issuer = Issuer::new(strict, signer.jwks());
        issuer.verify(&short, NOW).expect("valid now");
        assert!(
            issuer.verify(&short, NOW + 10).is_err(),
            "cache entry ended at exp"
        );
    }

    #[test]
    fn issuer_audience_type_and_required_claims() {
        let signer = Signer::new();
        let issuer = Issuer::new(policy(), signer.jwks());
        let with = |name: &str, value: serde_json::Value| {
            let mut c = claims();
            c[name] = value;
            signer.es256(c)
        };
        assert_eq!(
            refused(&issuer, &with("aud", json!("billing-api"))),
            "auth.jwt_audience"
        );
        assert_eq!(
            refused(&issuer, &with("aud", json!([1, 2]))),
            "auth.jwt_claims"
        );
        assert_eq!(
            refused(&issuer, &with("iss", json!("https://evil.test"))),
            "auth.jwt_issuer"
        );
        assert_eq!(
            refused(&issuer, &with("sub", json!(null))),
            "auth.jwt_claims"
        );
        assert_eq!(
            refused(&issuer, &with("scope", json!(42))),
            "auth.jwt_claims"
        );
        let logout = signer.token(
            json!({"alg": "ES256", "kid": "ec-1", "typ": "logout+jwt"}),
            &claims().to_string(),
        );
        assert_eq!(refused(&issuer, &logout), "auth.jwt_type");
    }

    #[test]
    fn header_attacks_are_refused() {
        let signer = Signer::new();
        let issuer = Issuer::new(policy(), signer.jwks());
        let body = claims().to_string();
        let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
        // alg none, with and without a signature.
        let none = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(&body));
        assert_eq!(refused(&issuer, &none), "auth.jwt_malformed");
        let none = format!("{}.{}.AAAA", b64(r#"{"alg":"none"}"#), b64(&body));
        assert_eq!(refused(&issuer, &none), "auth.jwt_algorithm");
        // HS256 "signed" with the public key as the secret: no symmetric key exists.
        let point = signer.ec.public_key().as_ref().to_vec();
        let input = format!("{}.{}", b64(r#"{"alg":"HS256","kid":"ec-1"}"#), b64(&body));
        let mac = aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &point),
            input.as_bytes(),
        );
        let confused = format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()));
        assert_eq!(refused(&issuer, &confused), "auth.jwt_algorithm");
        // An algorithm the issuer does not allow.
        let mut es_only = policy();
        es_only.algorithms = vec![Algorithm::ES256];
        let strict = Issuer::new(es_only, signer.jwks());
        let ed = signer.token(json!({"alg": "EdDSA", "kid": "ed-1"}), &body);
        assert!(issuer.verify(&ed, NOW).is_ok());
        assert_eq!(refused(&strict, &ed), "auth.jwt_algorithm");
        // A key id naming the other key's type.
        let swapped = signer.token(json!({"alg": "EdDSA", "kid": "ec-1"}), &body);
        assert_eq!(refused(&issuer, &swapped), "auth.jwt_unknown_key");
        // crit: no extension is understood.
        let crit = signer.token(
            json!({"alg": "ES256", "kid": "ec-1", "crit": ["exp"]}),
            &body,
        );
        assert_eq!(refused(&issuer, &crit), "auth.jwt_crit");
        // An embedded jwk or jku never supplies the key.
        let other = Signer::new();
        let point = other.ec.public_key().as_ref();
        let embedded = other.token(
            json!({"alg": "ES256", "kid": "ec-1", "jku": "https://evil.test/jwks",
                   "jwk": {"kty": "EC", "crv": "P-256",
                           "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                           "y": URL_SAFE_NO_PAD.encode(&point[33..65])}}),
            &body,
        );
        assert_eq!(refused(&issuer, &embedded), "auth.jwt_signature");
        // Duplicate members: two parsers could read two different tokens.
        let dup = signer.token(
            json!({"alg": "ES256", "kid": "ec-1"}),
            &body.replacen('{', &format!("{{\"exp\":{},", NOW + 9_999_999), 1),
        );
        assert_eq!(refused(&issuer, &dup), "auth.jwt_malformed");
        // Padding and stray characters in base64url.
        let token = signer.es256(claims());
        assert_eq!(refused(&issuer, &format!("{token}=")), "auth.jwt_malformed");
        assert_eq!(refused(&issuer, &format!(" {token}")), "auth.jwt_malformed");
        assert_eq!(
            refused(&issuer, &format!("{token}.x")),
            "auth.jwt_malformed"
        );
        // An unknown kid, and a token without one when the set has several keys.
        let unknown = signer.token(json!({"alg": "ES256", "kid": "ec-2"}), &body);
        assert_eq!(refused(&issuer, &unknown), "auth.jwt_unknown_key");
    }

    #[test]
    fn replacing_the_keys_drops_cached_tokens() {
        let signer = Signer::new();
        let issuer = Issuer::new(policy(), signer.jwks());
        let token = signer.es256(claims());
        issuer.verify(&token, NOW).expect("valid");
        issuer.set_keys(Signer::new().jwks());
        assert_eq!(refused(&issuer, &token), "auth.jwt_signature");
        assert_eq!(claimed_issuer(&token).as_deref(), Some("https://idp.test"));
    }
}
