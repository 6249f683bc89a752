//! API keys: the format clients hold, and the only form the gateway stores.
//!
//! A key reads `rmpt_` + key id (12 base62) + secret (32 base62) + checksum (6 base62):
//! - the prefix lets secret scanners find leaked keys (`rmpt_[0-9A-Za-z]{50}`), and the whole
//!   key is one "word", so a double-click selects all of it;
//! - the key id is public and indexes the store (O(1) lookup), so a presented key is checked
//!   against exactly one stored hash;
//! - the secret carries 32 × log2(62) ≈ 190 bits from the OS's CSPRNG (at least 128 are
//!   required);
//! - the checksum (CRC-32 of everything before it) rejects typos and random garbage before
//!   any store work.
//!
//! The store keeps only HMAC-SHA256 of the whole key under a server-side pepper
//! ([`KeyHasher`]): a stolen database without the pepper yields nothing to try offline, and
//! nothing in it is reversible. Verification recomputes the HMAC and compares in constant
//! time. Keys and peppers are [`Secret`]s: they never print and are zeroized when dropped.

use std::fmt;

use aws_lc_rs::hmac;
use zeroize::Zeroizing;

pub const PREFIX: &str = "rmpt_";
const ID_LEN: usize = 12;
const SECRET_LEN: usize = 32;
const CHECKSUM_LEN: usize = 6;
/// Length of a whole key: prefix, id, secret, checksum.
pub const KEY_LEN: usize = PREFIX.len() + ID_LEN + SECRET_LEN + CHECKSUM_LEN;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Secret bytes that never print and are wiped when dropped.
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(Zeroizing::new(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The public identifier of a key: safe to log, show and index by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A key id as stored or typed on the command line: 12 base62 characters.
    pub fn parse(text: &str) -> Option<KeyId> {
        (text.len() == ID_LEN && text.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| KeyId(text.to_owned()))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A whole key, as presented by a client or just generated.
pub struct ApiKey {
    id: KeyId,
    text: Secret,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("text", &"***")
            .finish()
    }
}

/// Why a presented string is not a key. Every variant ends in the same 401 for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("not an rmpt_ key")]
    Prefix,
    #[error("wrong length")]
    Length,
    #[error("characters outside [0-9A-Za-z]")]
    Charset,
    #[error("checksum mismatch")]
    Checksum,
}

impl KeyFormatError {
    /// The reason code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            KeyFormatError::Prefix | KeyFormatError::Length | KeyFormatError::Charset => {
                "auth.key_malformed"
            }
            KeyFormatError::Checksum => "auth.key_checksum",
        }
    }
}

fn checksum(body: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut value = u64::from(crc32fast::hash(body));
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    out
}

/// The system's random source failed; no key or pepper can be made safely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomnessUnavailable;

fn random_bytes(out: &mut [u8]) -> Result<(), RandomnessUnavailable> {
    aws_lc_rs::rand::fill(out).map_err(|_| RandomnessUnavailable)
}

impl ApiKey {
    /// A fresh key from the system's CSPRNG (aws-lc-rs).
    pub fn generate() -> Result<ApiKey, RandomnessUnavailable> {
        let mut text = Zeroizing::new(Vec::with_capacity(KEY_LEN));
        text.extend_from_slice(PREFIX.as_bytes());
        let mut pool = Zeroizing::new([0u8; 64]);
        while text.len() < PREFIX.len() + ID_LEN + SECRET_LEN {
            random_bytes(&mut pool[..])?;
            for &b in pool.iter() {
                // Rejection sampling: 248 = 4 × 62, so every character is equally likely.
                if b < 248 && text.len() < PREFIX.len() + ID_LEN + SECRET_LEN {
                    text.push(BASE62[usize::from(b % 62)]);
                }
            }
        }
        let sum = checksum(&text);
        text.extend_from_slice(&sum);
        let id =
            KeyId(String::from_utf8_lossy(&text[PREFIX.len()..PREFIX.len() + ID_LEN]).into_owned());
        Ok(ApiKey {
            id,
            text: Secret(text),
        })
    }

    /// Checks the format of a presented key and returns its id, without copying anything
    /// (the request path; [`ApiKey::parse`] is the owning form).
    pub fn check_format(presented: &str) -> Result<&str, KeyFormatError> {
        let bytes = presented.as_bytes();
        if !presented.starts_with(PREFIX) {
            return Err(KeyFormatError::Prefix);
        }
        if bytes.len() != KEY_LEN {
            return Err(KeyFormatError::Length);
        }
        if !bytes[PREFIX.len()..].iter().all(u8::is_ascii_alphanumeric) {
            return Err(KeyFormatError::Charset);
        }
        let (body, sum) = bytes.split_at(KEY_LEN - CHECKSUM_LEN);
        if checksum(body) != sum {
            return Err(KeyFormatError::Checksum);
        }
        Ok(&presented[PREFIX.len()..PREFIX.len() + ID_LEN])
    }

    /// Checks the format of a presented key, without any lookup.
    pub fn parse(presented: &str) -> Result<ApiKey, KeyFormatError> {
        let id = ApiKey::check_format(presented)?;
        Ok(ApiKey {
            id: KeyId(id.to_owned()),
            text: Secret::new(presented.as_bytes().to_vec()),
        })
    }

    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// The key itself, for showing once at creation. Never log it.
    pub fn reveal(&self) -> &str {
        // Only ASCII base62 and the prefix are ever stored in `text`.
        std::str::from_utf8(self.text.expose()).unwrap_or("")
    }
}

/// The stored form of a key: HMAC-SHA256 of the whole key under the pepper.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyHash(pub [u8; 32]);

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHash(***)")
    }
}

/// Computes and verifies stored key hashes under the server's pepper.
pub struct KeyHasher {
    key: hmac::Key,
}

impl fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHasher(***)")
    }
}

/// Why a pepper was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the pepper must be at least 32 bytes")]
pub struct WeakPepper;

impl KeyHasher {
    pub fn new(pepper: &Secret) -> Result<KeyHasher, WeakPepper> {
        if pepper.expose().len() < 32 {
            return Err(WeakPepper);
        }
        Ok(KeyHasher {
            key: hmac::Key::new(hmac::HMAC_SHA256, pepper.expose()),
        })
    }

    /// A fresh 32-byte pepper from the system's CSPRNG.
    pub fn generate_pepper() -> Result<Secret, RandomnessUnavailable> {
        let mut bytes = vec![0u8; 32];
        random_bytes(&mut bytes)?;
        Ok(Secret::new(bytes))
    }

    pub fn hash(&self, key: &ApiKey) -> KeyHash {
        let tag = hmac::sign(&self.key, key.text.expose());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        KeyHash(out)
    }

    /// Does a presented key, already format-checked by [`ApiKey::check_format`], match the
    /// stored hash? Compared in constant time.
    pub fn verify_presented(&self, presented: &str, stored: &KeyHash) -> bool {
        hmac::verify(&self.key, presented.as_bytes(), &stored.0).is_ok()
    }

    /// Does `key` match the stored hash? Compared in constant time.
    pub fn verify(&self, key: &ApiKey, stored: &KeyHash) -> bool {
        hmac::verify(&self.key, key.text.expose(), &stored.0).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> KeyHasher {
        KeyHasher::new(&KeyHasher::generate_pepper().expect("randomness")).expect("pepper")
    }

    #[test]
    fn generated_keys_have_the_documented_shape_and_parse_back() {
        for _ in 0..1000 {
            let key = ApiKey::generate().expect("randomness");
            let text = key.reveal().to_owned();
            assert_eq!(text.len(), KEY_LEN);
            assert!(text.starts_with("rmpt_"));
            assert!(text[5..].bytes().all(|b| b.is_ascii_alphanumeric()));
            let parsed = ApiKey::parse(&text).expect("a generated key parses");
            assert_eq!(parsed.id(), key.id());
            assert_eq!(&text[5..17], key.id().as_str());
        }
    }

    #[test]
    fn every_single_character_typo_is_caught_by_the_checksum() {
        let key = ApiKey::generate().expect("randomness");
        let text = key.reveal().as_bytes().to_vec();
        let mut caught = 0;
        let mut tried = 0;
        for i in PREFIX.len()..text.len() {
            for &c in BASE62.iter() {
                if c == text[i] {
                    continue;
                }
                let mut typo = text.clone();
                typo[i] = c;
                tried += 1;
                let typo = String::from_utf8(typo).expect("ascii");
                if ApiKey::parse(&typo).map(|_| ()) == Err(KeyFormatError::Checksum) {
                    caught += 1;
                }
            }
        }
        assert_eq!(
            caught, tried,
            "CRC-32 detects every single-character substitution"
        );
    }

    #[test]
    fn malformed_keys_are_refused_before_any_lookup() {
        let key = ApiKey::generate().expect("randomness");
        let text = key.reveal();
        assert_eq!(
            ApiKey::parse("sk_live_abc").map(|_| ()),
            Err(KeyFormatError::Prefix)
        );
        assert_eq!(
            ApiKey::parse(&text[..KEY_LEN - 1]).map(|_| ()),
            Err(KeyFormatError::Length)
        );
        assert_eq!(
            ApiKey::parse(&format!("{text}x")).map(|_| ()),
            Err(KeyFormatError::Length)
        );
        let mut bad = text.to_owned();
        bad.replace_range(10..11, "-");
        assert_eq!(
            ApiKey::parse(&bad).map(|_| ()),
            Err(KeyFormatError::Charset)
        );
        assert_eq!(
            ApiKey::parse("rmpt_é").map(|_| ()),
            Err(KeyFormatError::Length)
        );
    }

    #[test]
    fn only_the_right_key_verifies_against_its_hash() {
        let hasher = hasher();
        let key = ApiKey::generate().expect("randomness");
        let stored = hasher.hash(&key);
        assert!(hasher.verify(&ApiKey::parse(key.reveal()).expect("parse"), &stored));
        // Same id, another valid secret: refused.
        let other = ApiKey::generate().expect("randomness");
        assert!(!hasher.verify(&other, &stored));
        // The same key under another pepper: refused (a stolen table is useless without it).
        assert!(!self::hasher().verify(&key, &stored));
        // The stored form is not the key and does not contain it.
        assert_ne!(&stored.0[..], key.reveal().as_bytes());
    }

    #[test]
    fn secrets_never_print() {
        let key = ApiKey::generate().expect("randomness");
        let shown = format!(
            "{key:?} {:?} {:?}",
            hasher().hash(&key),
            KeyHasher::generate_pepper().expect("randomness")
        );
        assert!(!shown.contains(&key.reveal()[17..]), "{shown}");
        assert!(
            shown.contains(key.id().as_str()),
            "the id is public: {shown}"
        );
        assert!(KeyHasher::new(&Secret::new(vec![1; 16])).is_err());
    }

    #[test]
    fn a_key_checksummed_by_another_implementation_parses() {
        // Made with Python's zlib.crc32 and the same base62 alphabet (fuzz/corpus/api_key_parse/valid).
        let key = ApiKey::parse("rmpt_I8aIn7BEL5wRlRlr876UYlV7irNDiqnac8F07HDZzQ6H0HoGIS")
            .expect("valid");
        assert_eq!(key.id().as_str(), "I8aIn7BEL5wR");
    }

    #[test]
    fn key_ids_parse_strictly() {
        let key = ApiKey::generate().expect("randomness");
        assert_eq!(KeyId::parse(key.id().as_str()).as_ref(), Some(key.id()));
        assert!(KeyId::parse("short").is_none());
        assert!(KeyId::parse("abc-def-ghij").is_none());
    }
}
