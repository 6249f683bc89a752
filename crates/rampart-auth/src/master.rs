//! The master key: 32 random bytes in a file only its owner can read, from which rampart
//! derives the keys it needs (today the API-key pepper) with HKDF-SHA256, each under its own
//! label. The key never appears in a log, an error or a `Debug` output.
//!
//! File format: 64 lowercase hex digits and an optional newline. A file that group or others
//! can read is refused, as ssh refuses such a private key: a leaked pepper turns every
//! stored key hash into an offline-guessable target.

use std::fmt;
use std::io::Write;
use std::path::Path;

use aws_lc_rs::hkdf;

use crate::api_key::{RandomnessUnavailable, Secret};

const LEN: usize = 32;
const SALT: &[u8] = b"rampart master key v1";
const PEPPER_LABEL: &[u8] = b"rampart api-key pepper v1";

pub struct MasterKey(Secret);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} can be read by group or others (mode {mode:o}); run: chmod 600 {path}")]
    Exposed { path: String, mode: u32 },
    #[error("the master key file {path} must hold exactly 64 hex digits")]
    Format { path: String },
    #[error("cannot write the master key file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Randomness(#[from] RandomnessUnavailable),
}

impl MasterKey {
    pub fn generate() -> Result<MasterKey, RandomnessUnavailable> {
        let mut bytes = vec![0u8; LEN];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| RandomnessUnavailable)?;
        Ok(MasterKey(Secret::new(bytes)))
    }

    pub fn load(path: &Path) -> Result<MasterKey, MasterKeyError> {
        let text = read_private_file(path)?;
        let hex = text.strip_suffix('\n').unwrap_or(&text);
        decode_hex(hex)
            .map(|bytes| MasterKey(Secret::new(bytes)))
            .ok_or(MasterKeyError::Format {
                path: path.display().to_string(),
            })
    }

    /// Writes the key to a new file (never over an existing one), readable by the owner only.
    pub fn write_new(&self, path: &Path) -> Result<(), MasterKeyError> {
        use std::os::unix::fs::OpenOptionsExt;
        let write_error = |source| MasterKeyError::Write {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(write_error)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(write_error)?;
        let mut text = zeroize::Zeroizing::new(String::with_capacity(LEN * 2 + 1));
        for b in self.0.expose() {
            text.push(char::from(HEX[usize::from(b >> 4)]));
            text.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        text.push('\n');
        file.write_all(text.as_bytes()).map_err(write_error)?;
        file.sync_all().map_err(write_error)
    }

    /// The pepper under which API keys are hashed.
    pub fn api_key_pepper(&self) -> Secret {
        self.derive(PEPPER_LABEL)
    }

    fn derive(&self, label: &[u8]) -> Secret {
        struct Len;
        impl hkdf::KeyType for Len {
            fn len(&self) -> usize {
                LEN
            }
        }
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, SALT).extract(self.0.expose());
        let mut out = vec![0u8; LEN];
        // `expand` and `fill` fail only for an output longer than 255 hash lengths.
        let filled = prk.expand(&[label], Len).and_then(|okm| okm.fill(&mut out));
        debug_assert!(filled.is_ok());
        Secret::new(out)
    }
}

/// Reads a secret file (the master key, an introspection client secret). A file that group
/// or others can read is refused, as ssh refuses such a private key. The text is wiped
/// from memory when dropped.
pub fn read_private_file(path: &Path) -> Result<zeroize::Zeroizing<String>, MasterKeyError> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display().to_string();
    let read_error = |source| MasterKeyError::Read {
        path: shown.clone(),
        source,
    };
    let mode = std::fs::metadata(path)
        .map_err(read_error)?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(MasterKeyError::Exposed { path: shown, mode });
    }
    Ok(zeroize::Zeroizing::new(
        std::fs::read_to_string(path).map_err(read_error)?,
    ))
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != LEN * 2 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("rampart-master-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("master.key")
    }

    #[test]
    fn a_written_key_loads_back_private_and_derives_the_same_pepper() {
        let path = temp("roundtrip");
        let key = MasterKey::generate().expect("rng");
        key.write_new(&path).expect("write");
        let loaded = MasterKey::load(&path).expect("load");
        assert_eq!(
            key.api_key_pepper().expose(),
            loaded.api_key_pepper().expose()
        );
        assert_ne!(
            key.api_key_pepper().expose(),
            key.0.expose(),
            "derived, not the key"
        );
        assert!(key.write_new(&path).is_err(), "never overwritten");
        assert_eq!(format!("{loaded:?}"), "MasterKey(..)");
    }

    #[test]
    fn exposed_or_malformed_files_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let path = temp("exposed");
        MasterKey::generate()
            .expect("rng")
            .write_new(&path)
            .expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = MasterKey::load(&path).expect_err("world-readable refused");
        assert!(err.to_string().contains("chmod 600"), "{err}");
        std::fs::write(&path, "abc\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(matches!(
            MasterKey::load(&path),
            Err(MasterKeyError::Format { .. })
        ));
        std::fs::write(&path, "zz".repeat(32)).expect("write");
        assert!(matches!(
            MasterKey::load(&path),
            Err(MasterKeyError::Format { .. })
        ));
    }
}
