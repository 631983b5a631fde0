//! Key files: a 32-byte ed25519 seed as 64 hex digits and a newline, in a file
//! readable only by its owner (mode 0600). The node and the client read the
//! same files; making a fresh key (which needs the OS's randomness) is the
//! node's `keys::generate`.

use crate::{PublicKey, SigningKey};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a key file could not be written or read.
#[derive(Debug, Error)]
pub enum KeyFileError {
    /// The file system refused.
    #[error("cannot {action} key file {path}: {source}")]
    Io {
        /// Read or write.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file exists already (keys are never overwritten).
    #[error("key file {path} already exists; refusing to overwrite a key")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The content is not 64 hex digits.
    #[error("key file {path} does not hold a key (expected 64 hex digits)")]
    Malformed {
        /// The file.
        path: PathBuf,
    },
    /// Others may read the key.
    #[error("key file {path} has mode {mode:o}; run `chmod 600 {path}`")]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// Writes `key` to a new file `path` with mode 0600.
pub fn write(path: &Path, key: &SigningKey) -> Result<(), KeyFileError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| KeyFileError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyFileError::Exists {
                    path: path.to_path_buf(),
                }
            } else {
                io(e)
            }
        })?;
    writeln!(file, "{}", hex::encode(key.seed())).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Reads a key file, refusing one that others can read.
pub fn read(path: &Path) -> Result<SigningKey, KeyFileError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |source| KeyFileError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    };
    let meta = fs::metadata(path).map_err(io)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    let text = fs::read_to_string(path).map_err(io)?;
    let mut seed = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut seed).map_err(|_| KeyFileError::Malformed {
        path: path.to_path_buf(),
    })?;
    Ok(SigningKey::from_seed(seed))
}

/// The public key of a key file.
pub fn public_of(path: &Path) -> Result<PublicKey, KeyFileError> {
    read(path).map(|k| k.public())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_and_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        let key = SigningKey::from_seed([7; 32]);
        write(&path, &key).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(read(&path).unwrap().public(), key.public());
        assert!(matches!(
            write(&path, &key),
            Err(KeyFileError::Exists { .. })
        ));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(read(&path), Err(KeyFileError::Permissions { .. })));
    }
}
