//! JSON Web Keys (RFC 7517) as verification keys, typed by what they are.
//!
//! A key's type fixes which algorithms it can verify: an RSA key verifies RS*/PS*, a P-256
//! key ES256, a P-384 key ES384, an Ed25519 key EdDSA, and nothing else. There are no
//! symmetric keys at all, so `HS256` signed with a public key as the HMAC secret (the
//! "algorithm confusion" attack) has nothing to verify against, and `none` is no algorithm.
//! A key that says what it is for (`alg`, `use`, `key_ops`) is held to it.
//!
//! The signature arithmetic is aws-lc-rs's; this module only decides which key and which
//! algorithm may be used.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;

use crate::jose::b64;

/// The JWS algorithms rampart verifies. HS* and `none` are not among them, by design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

impl Algorithm {
    pub const ALL: [Algorithm; 9] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// The algorithm a JOSE `alg` value names, exactly (JOSE names are case-sensitive).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone)]
enum Material {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    P256(Vec<u8>),
    P384(Vec<u8>),
    Ed25519(Vec<u8>),
}

/// A public key that can verify signatures, and what it may verify.
#[derive(Clone)]
pub struct VerifyingKey {
    pub kid: Option<String>,
    material: Material,
    /// The key's own `alg`, if it names one: then it verifies that algorithm only.
    alg: Option<Algorithm>,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.material {
            Material::Rsa { .. } => "RSA",
            Material::P256(_) => "EC P-256",
            Material::P384(_) => "EC P-384",
            Material::Ed25519(_) => "OKP Ed25519",
        };
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("kind", &kind)
            .field("alg", &self.alg)
            .finish()
    }
}

/// Why a JWK was not accepted as a verification key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    #[error("not a JSON object with the members of a public key: {0}")]
    Shape(String),
    #[error("key type {0} is not a signature verification key rampart uses")]
    Unsupported(String),
    #[error("the key carries private members; publish public keys only")]
    Private,
    #[error("the key is for {0}, not for verifying signatures")]
    NotForVerifying(String),
    #[error("the key's alg {0} does not fit its type")]
    AlgMismatch(String),
    #[error("{0}")]
    Invalid(&'static str),
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
    // Private members: their presence makes the key unusable here.
    d: Option<serde_json::Value>,
    p: Option<serde_json::Value>,
    k: Option<serde_json::Value>,
}

impl VerifyingKey {
    /// Parses one JWK.
    pub fn from_jwk(value: &serde_json::Value) -> Result<VerifyingKey, JwkError> {
        let raw: RawJwk =
            serde_json::from_value(value.clone()).map_err(|e| JwkError::Shape(e.to_string()))?;
        if raw.d.is_some() || raw.p.is_some() || raw.k.is_some() {
            return Err(if raw.kty == "oct" {
                JwkError::Unsupported("oct".to_owned())
            } else {
                JwkError::Private
            });
        }
        if let Some(use_) = &raw.use_
            && use_ != "sig"
        {
            return Err(JwkError::NotForVerifying(format!("use={use_}")));
        }
        if let Some(ops) = &raw.key_ops
            && !ops.iter().any(|op| op == "verify")
        {
            return Err(JwkError::NotForVerifying(format!(
                "key_ops={}",
                ops.join(",")
            )));
        }
        let field = |v: &Option<String>, what: &'static str| -> Result<Vec<u8>, JwkError> {
            let text = v.as_deref().ok_or(JwkError::Invalid(what))?;
            b64(text).ok_or(JwkError::Invalid(what))
        };
        let material = match (raw.kty.as_str(), raw.crv.as_deref()) {
            ("RSA", _) => {
                let n = field(&raw.n, "RSA key without a valid modulus n")?;
                let e = field(&raw.e, "RSA key without a valid exponent e")?;
                let n = strip_leading_zeros(n);
                if n.len() * 8 < 2048 {
                    return Err(JwkError::Invalid(
                        "RSA keys shorter than 2048 bits are refused",
                    ));
                }
                if n.len() * 8 > 8192 {
                    return Err(JwkError::Invalid(
                        "RSA keys longer than 8192 bits are refused",
                    ));
                }
                if has_roca_fingerprint(&n) {
                    return Err(JwkError::Invalid(
                        "RSA key has the ROCA fingerprint (CVE-2017-15361): its private key can be computed",
                    ));
                }
                let e = strip_leading_zeros(e);
                // 3 <= e, odd, at most 33 bits: what aws-lc-rs accepts and no key needs more.
                let small = e.is_empty() || (e.len() == 1 && e[0] < 3);
                if small || e.len() > 5 || e.last().is_some_and(|b| b & 1 == 0) {
                    return Err(JwkError::Invalid("RSA public exponent is not usable"));
                }
                Material::Rsa { n, e }
            }
            ("EC", Some(crv @ ("P-256" | "P-384"))) => {
                let len = if crv == "P-256" { 32 } else { 48 };
                let x = field(&raw.x, "EC key without a valid x")?;
                let y = field(&raw.y, "EC key without a valid y")?;
                if x.len() != len || y.len() != len {
                    return Err(JwkError::Invalid("EC coordinates have the wrong length"));
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                if crv == "P-256" {
                    Material::P256(point)
                } else {
                    Material::P384(point)
                }
            }
            ("OKP", Some("Ed25519")) => {
                let x = field(&raw.x, "Ed25519 key without a valid x")?;
                if x.len() != 32 {
                    return Err(JwkError::Invalid("Ed25519 public key is not 32 bytes"));
                }
                Material::Ed25519(x)
            }
            (kty, crv) => {
                return Err(JwkError::Unsupported(match crv {
                    Some(crv) => format!("{kty}/{crv}"),
                    None => kty.to_owned(),
                }));
            }
        };
        let mut key = VerifyingKey {
            kid: raw.kid,
            material,
            alg: None,
        };
        if let Some(alg) = raw.alg {
            match Algorithm::from_name(&alg) {
                Some(a) if key.fits(a) => key.alg = Some(a),
                _ => return Err(JwkError::AlgMismatch(alg)),
            }
        }
        key.check_point()?;
        Ok(key)
    }

    /// Can this key's type verify `alg` at all?
    fn fits(&self, alg: Algorithm) -> bool {
        use Algorithm::*;
        matches!(
            (&self.material, alg),
            (
                Material::Rsa { .. },
                RS256 | RS384 | RS512 | PS256 | PS384 | PS512
            ) | (Material::P256(_), ES256)
                | (Material::P384(_), ES384)
                | (Material::Ed25519(_), EdDSA)
        )
    }

    /// May this key verify `alg`? Its type must fit, and its own `alg`, if any, must match.
    pub fn allows(&self, alg: Algorithm) -> bool {
        self.fits(alg) && self.alg.is_none_or(|own| own == alg)
    }

    /// An EC point must be on its curve; checked once, when the key is loaded.
    fn check_point(&self) -> Result<(), JwkError> {
        let (alg, point): (&'static dyn signature::VerificationAlgorithm, &[u8]) =
            match &self.material {
                Material::P256(p) => (&signature::ECDSA_P256_SHA256_FIXED, p),
                Material::P384(p) => (&signature::ECDSA_P384_SHA384_FIXED, p),
                _ => return Ok(()),
            };
        // aws-lc-rs parses the point before it looks at the signature: a point that is
        // not on the curve fails to parse as a public key.
        let parsed = aws_lc_rs::signature::ParsedPublicKey::new(alg, point);
        if parsed.is_err() {
            return Err(JwkError::Invalid("EC point is not on the curve"));
        }
        Ok(())
    }

    /// Verifies `signature` over `message` with `alg`. The caller has checked `allows`.
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        if !self.allows(alg) {
            return false;
        }
        match &self.material {
            Material::Rsa { n, e } => {
                let params: &signature::RsaParameters = match alg {
                    Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                    Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
                    Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
                    _ => return false,
                };
                RsaPublicKeyComponents { n, e }
                    .verify(params, message, signature)
                    .is_ok()
            }
            Material::P256(point) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
            Material::P384(point) => {
                UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
            Material::Ed25519(x) => UnparsedPublicKey::new(&signature::ED25519, x)
                .verify(message, signature)
                .is_ok(),
        }
    }
}

/// ROCA (CVE-2017-15361): moduli from the affected Infineon library are `k * M + 65537^a
/// mod M` for a primorial M, so for every small prime p of M, `n mod p` lies in the
/// subgroup generated by 65537 mod p. A random modulus passes all these tests with
/// negligible probability (Nemec et al., 2017, the published detection method).
fn has_roca_fingerprint(n: &[u8]) -> bool {
    const PRIMES: [u32; 38] = [
        3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
        97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
    ];
    PRIMES.iter().all(|&p| {
        let residue = n
            .iter()
            .fold(0u32, |acc, &b| (acc * 256 + u32::from(b)) % p);
        let generator = 65_537 % p;
        let mut power = 1 % p;
        for _ in 0..p {
            if power == residue {
                return true;
            }
            power = power * generator % p;
        }
        false
    })
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

/// The keys of one issuer, by `kid`.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    by_kid: HashMap<String, Arc<VerifyingKey>>,
    /// Keys without a `kid`; used only when a token names none.
    anonymous: Vec<Arc<VerifyingKey>>,
    /// What was left out of the set and why, for the log.
    pub skipped: Vec<String>,
}

impl KeySet {
    /// Builds a set from a JWKS document (`{"keys": [...]}`). Keys rampart cannot use are
    /// skipped (and listed in `skipped`); two keys with the same `kid` are both dropped,
    /// since a token naming that kid could mean either.
    pub fn from_jwks(document: &[u8]) -> Result<KeySet, JwkError> {
        let value: serde_json::Value =
            serde_json::from_slice(document).map_err(|e| JwkError::Shape(e.to_string()))?;
        let keys = value
            .get("keys")
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| JwkError::Shape("no \"keys\" array".to_owned()))?;
        let mut set = KeySet::default();
        let mut ambiguous = Vec::new();
        for (i, jwk) in keys.iter().enumerate() {
            match VerifyingKey::from_jwk(jwk) {
                Ok(key) => set.insert(key, &mut ambiguous),
                Err(e) => set.skipped.push(format!("keys[{i}]: {e}")),
            }
        }
        for kid in ambiguous {
            set.by_kid.remove(&kid);
            set.skipped
                .push(format!("kid {kid:?} appears more than once; not used"));
        }
        Ok(set)
    }

    /// A set of the given keys.
    pub fn from_keys(keys: impl IntoIterator<Item = VerifyingKey>) -> KeySet {
        let mut set = KeySet::default();
        let mut ambiguous = Vec::new();
        for key in keys {
            set.insert(key, &mut ambiguous);
        }
        for kid in ambiguous {
            set.by_kid.remove(&kid);
        }
        set
    }

    fn insert(&mut self, key: VerifyingKey, ambiguous: &mut Vec<String>) {
        match key.kid.clone() {
            Some(kid) => {
                if self.by_kid.insert(kid.clone(), Arc::new(key)).is_some()
                    && !ambiguous.contains(&kid)
                {
                    ambiguous.push(kid);
                }
            }
            None => self.anonymous.push(Arc::new(key)),
        }
    }

    pub fn len(&self) -> usize {
        self.by_kid.len() + self.anonymous.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn has_kid(&self, kid: &str) -> bool {
        self.by_kid.contains_key(kid)
    }

    /// The one key a token must be verified with: the key its `kid` names; without a kid,
    /// the only key of the set that allows `alg`. Never a guess among several.
    pub fn select(&self, kid: Option<&str>, alg: Algorithm) -> Option<&Arc<VerifyingKey>> {
        match kid {
            Some(kid) => self.by_kid.get(kid).filter(|k| k.allows(alg)),
            None => {
                let mut fitting = self
                    .anonymous
                    .iter()
                    .chain(self.by_kid.values())
                    .filter(|k| k.allows(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(key), None) => Some(key),
                    _ => None,
                }
            }
        }
    }
}
