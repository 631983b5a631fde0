//! The node's next consensus key (ADR 0008, "Switching to a rotated
//! consensus key"). The operator writes the key a `keys rotate consensus`
//! installs beside the node key, as `<key_file>.next`. At start, once the
//! ledger lists that key as a member's node key, the node makes it its key
//! file by one atomic rename (the old key is kept as `<key_file>.retired`
//! first, by a hard link), so a `kill -9` at any point restarts with the
//! key the ledger lists: before the rename the next key is still beside the
//! old one and is promoted again; after it the key file is the new key.
//!
//! No height is ever signed by both keys: each height's validator set lists
//! one node key per government, and the consensus core signs only heights
//! whose set lists its key (`kp-consensus`), so the old key's last height
//! is before the new key's first, whenever the switch happens.

use super::NodeError;
use crate::keys;
use kp_types::{PublicKey, SigningKey};
use std::path::{Path, PathBuf};

/// What the start made of a next key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NextKey {
    /// No next key beside the key file.
    None,
    /// A next key the ledger does not list yet: the node keeps its key.
    Waiting(PublicKey),
    /// The ledger lists the next key: it is now the key file.
    Promoted {
        /// The key the node had.
        old: PublicKey,
        /// The key it has now.
        new: PublicKey,
    },
}

fn beside(key_file: &Path, suffix: &str) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Where the operator puts the next key: `<key_file>.next`.
pub(super) fn next_path(key_file: &Path) -> PathBuf {
    beside(key_file, ".next")
}

/// Where the promotion keeps the old key: `<key_file>.retired`.
pub(super) fn retired_path(key_file: &Path) -> PathBuf {
    beside(key_file, ".retired")
}

/// Promotes `<key_file>.next` to `key_file` if `listed` says the ledger
/// lists it as a node key; returns the key the node runs with.
pub(super) fn promote_if_listed(
    key_file: &Path,
    current: SigningKey,
    listed: impl Fn(&PublicKey) -> bool,
) -> Result<(SigningKey, NextKey), NodeError> {
    let next_file = next_path(key_file);
    if !next_file.exists() {
        return Ok((current, NextKey::None));
    }
    let next = keys::read(&next_file)?;
    if next.public() == current.public() {
        // Promoted already (a copy left behind): nothing to switch.
        return Ok((current, NextKey::None));
    }
    if !listed(&next.public()) {
        return Ok((current, NextKey::Waiting(next.public())));
    }
    let io = |action| move |source| NodeError::Io { action, source };
    match std::fs::hard_link(key_file, retired_path(key_file)) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            return Err(io("keep the retired node key")(e))
        }
        _ => {}
    }
    std::fs::rename(&next_file, key_file).map_err(io("install the next node key"))?;
    // The rename is durable only once its directory is synced.
    let dir = key_file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync the key directory"))?;
    Ok((
        next.clone(),
        NextKey::Promoted {
            old: current.public(),
            new: next.public(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_seed([seed; 32])
    }

    #[test]
    fn a_next_key_waits_until_listed_then_replaces_the_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.key");
        keys::write(&file, &key(1)).unwrap();
        // No next key: nothing changes.
        let (k, what) = promote_if_listed(&file, key(1), |_| true).unwrap();
        assert_eq!((k.public(), what), (key(1).public(), NextKey::None));

        keys::write(&next_path(&file), &key(2)).unwrap();
        let old_only = |k: &PublicKey| *k == key(1).public();
        let (k, what) = promote_if_listed(&file, key(1), old_only).unwrap();
        assert_eq!(k.public(), key(1).public());
        assert_eq!(what, NextKey::Waiting(key(2).public()));
        assert!(next_path(&file).exists());
        assert_eq!(keys::read(&file).unwrap().public(), key(1).public());

        let new_only = |k: &PublicKey| *k == key(2).public();
        let (k, what) = promote_if_listed(&file, key(1), new_only).unwrap();
        assert_eq!(k.public(), key(2).public());
        assert_eq!(
            what,
            NextKey::Promoted {
                old: key(1).public(),
                new: key(2).public()
            }
        );
        assert_eq!(keys::read(&file).unwrap().public(), key(2).public());
        assert!(!next_path(&file).exists());
        assert_eq!(
            keys::read(&retired_path(&file)).unwrap().public(),
            key(1).public()
        );
        // A restart after the switch runs with the new key, and changes nothing.
        let current = keys::read(&file).unwrap();
        let (k, what) = promote_if_listed(&file, current, new_only).unwrap();
        assert_eq!((k.public(), what), (key(2).public(), NextKey::None));
    }

    #[test]
    fn a_crash_between_keeping_the_old_key_and_the_rename_promotes_again() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.key");
        keys::write(&file, &key(1)).unwrap();
        keys::write(&next_path(&file), &key(2)).unwrap();
        // The state a kill -9 leaves after the hard link, before the rename.
        std::fs::hard_link(&file, retired_path(&file)).unwrap();
        let listed = |k: &PublicKey| *k == key(2).public();
        let (k, _) = promote_if_listed(&file, key(1), listed).unwrap();
        assert_eq!(k.public(), key(2).public());
        assert_eq!(keys::read(&file).unwrap().public(), key(2).public());
        assert!(!next_path(&file).exists());
    }

    #[test]
    fn an_unreadable_next_key_stops_the_start() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.key");
        keys::write(&file, &key(1)).unwrap();
        keys::write(&next_path(&file), &key(2)).unwrap();
        std::fs::set_permissions(next_path(&file), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            promote_if_listed(&file, key(1), |_| true),
            Err(NodeError::Key(_))
        ));
        assert_eq!(keys::read(&file).unwrap().public(), key(1).public());
    }
}
