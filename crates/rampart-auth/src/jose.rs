//! Compact JWS (RFC 7515), parsed strictly and verified against a key set.
//!
//! Strict means: exactly three dot-separated parts; canonical base64url without padding
//! (no spaces, no stray characters, no non-zero trailing bits); a header that is one JSON
//! object with no duplicate members; an `alg` from the allowlist; no `crit` extension
//! (rampart understands none, so RFC 7515 §4.1.11 says reject); and a key chosen only from
//! the configured set. `jwk`, `jku`, `x5u` and `x5c` headers are never used to find a key:
//! a token cannot bring its own.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::jwk::{Algorithm, KeySet};

/// Decodes canonical base64url without padding; anything else is `None`.
pub fn b64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Why a JWS was refused. The client sees one 401 for all; the code goes to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwsError {
    /// Not three canonical base64url parts, or a header that is not one JSON object.
    Malformed,
    /// `alg` missing, `none`, unknown, or not allowed for this issuer.
    AlgorithmNotAllowed,
    /// A `crit` header: an extension rampart does not implement.
    CriticalExtension,
    /// No configured key has this `kid` (or, without a kid, no single key fits).
    UnknownKey,
    BadSignature,
}

impl JwsError {
    pub fn code(&self) -> &'static str {
        match self {
            JwsError::Malformed => "auth.jwt_malformed",
            JwsError::AlgorithmNotAllowed => "auth.jwt_algorithm",
            JwsError::CriticalExtension => "auth.jwt_crit",
            JwsError::UnknownKey => "auth.jwt_unknown_key",
            JwsError::BadSignature => "auth.jwt_signature",
        }
    }
}

/// The protected header, as far as rampart reads it.
#[derive(Debug, Clone)]
pub struct Header {
    pub alg: Algorithm,
    pub kid: Option<String>,
    pub typ: Option<String>,
}

/// A JWS split into its parts and its header checked, not yet verified.
#[derive(Debug)]
pub struct Jws<'a> {
    pub header: Header,
    signing_input: &'a str,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl<'a> Jws<'a> {
    /// Parses a compact JWS and checks its header against `allowed`.
    pub fn parse(token: &'a str, allowed: &[Algorithm]) -> Result<Jws<'a>, JwsError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::Malformed);
        };
        // An empty payload is a valid JWS (its claims then fail as JWT claims); an empty
        // header or signature is not.
        if header.is_empty() || signature.is_empty() {
            return Err(JwsError::Malformed);
        }
        let header_json = b64(header).ok_or(JwsError::Malformed)?;
        let header = parse_header(&header_json, allowed)?;
        let payload_bytes = b64(payload).ok_or(JwsError::Malformed)?;
        let signature = b64(signature).ok_or(JwsError::Malformed)?;
        let signing_input = &token[..token.len() - signature_len(token)];
        Ok(Jws {
            header,
            signing_input,
            payload: payload_bytes,
            signature,
        })
    }

    /// Verifies the signature with the key the header selects from `keys`; returns the
    /// payload. A token whose `kid` the set lacks is `UnknownKey`, so that the caller can
    /// refresh the set and try once more.
    pub fn verify(self, keys: &KeySet) -> Result<Vec<u8>, JwsError> {
        let key = keys
            .select(self.header.kid.as_deref(), self.header.alg)
            .ok_or(JwsError::UnknownKey)?;
        if key.verify(
            self.header.alg,
            self.signing_input.as_bytes(),
            &self.signature,
        ) {
            Ok(self.payload)
        } else {
            Err(JwsError::BadSignature)
        }
    }
}

/// Length of the final `.signature` part, dot included.
fn signature_len(token: &str) -> usize {
    token.rfind('.').map_or(0, |i| token.len() - i)
}

fn parse_header(json: &[u8], allowed: &[Algorithm]) -> Result<Header, JwsError> {
    let object = strict_object(json).ok_or(JwsError::Malformed)?;
    if object.contains_key("crit") {
        return Err(JwsError::CriticalExtension);
    }
    let alg = match object.get("alg") {
        Some(serde_json::Value::String(name)) => {
            Algorithm::from_name(name).ok_or(JwsError::AlgorithmNotAllowed)?
        }
        Some(_) => return Err(JwsError::Malformed),
        None => return Err(JwsError::AlgorithmNotAllowed),
    };
    if !allowed.contains(&alg) {
        return Err(JwsError::AlgorithmNotAllowed);
    }
    let string = |name: &str| -> Result<Option<String>, JwsError> {
        match object.get(name) {
            None => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(JwsError::Malformed),
        }
    };
    Ok(Header {
        alg,
        kid: string("kid")?,
        typ: string("typ")?,
    })
}

/// Parses a JSON object, refusing duplicate member names at any depth (RFC 7515 §4 and
/// RFC 7519 §4 require it: two parsers must never read two different tokens).
pub fn strict_object(json: &[u8]) -> Option<serde_json::Map<String, serde_json::Value>> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let Strict(value) = de::Deserialize::deserialize(&mut de).ok()?;
    de.end().ok()?;
    match value {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

struct Strict(serde_json::Value);

impl<'de> de::Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON without duplicate member names")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(out.into())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            if out.insert(key, value).is_some() {
                return Err(de::Error::custom("duplicate member name"));
            }
        }
        Ok(out.into())
    }
}
