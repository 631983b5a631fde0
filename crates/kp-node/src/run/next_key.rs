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

use super::outbound::Outbound;
use super::start::network_config;
use super::{Node, NodeError, NETWORK_STOP_WAIT};
use crate::keys;
use kp_types::{PublicKey, SigningKey};
use std::path::{Path, PathBuf};
use tokio::time::Instant;

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

impl Node {
    /// Switches to the rotated consensus key the operator put beside the
    /// key file (`<key_file>.next`) once the ledger lists it as a node key
    /// (ADR 0008), in the block of the rotation: then, not a block later
    /// when the validator set lists it, because peers stop letting the old
    /// identity in as soon as the ledger drops its key. The key file first
    /// (one atomic rename, so a crash at any point restarts with the key
    /// the ledger lists), then the replica's signer (the safety state
    /// carries over; the next height's set still lists the old key, which
    /// no longer signs, and the new key signs from the height after, so no
    /// height is signed by both), then the network, whose identity is the
    /// key. Looked for only while the ledger does not list the node's key,
    /// so a listed node pays nothing per block.
    pub(super) async fn switch_to_next_key(
        &mut self,
        members: &[PublicKey],
    ) -> Result<(), NodeError> {
        let key_file = self.config.node.key_file.clone();
        let (key, next) = promote_if_listed(&key_file, self.key.clone(), |k| members.contains(k))?;
        let NextKey::Promoted { old, new } = next else {
            return Ok(());
        };
        tracing::warn!(
            old = %old.to_hex(),
            new = %new.to_hex(),
            height = self.ledger().height(),
            "switched to the rotated node key the ledger lists; restarting the network under it"
        );
        self.replica.set_key(key.clone());
        self.key = key;
        self.restart_network().await
    }

    /// Stops the network and starts it again under the node's key: the old
    /// swarm is gone (its listener closed) before the new one listens on the
    /// same address. Consensus messages lost meanwhile are sent again by the
    /// core's rebroadcast, and missed blocks come by block sync.
    async fn restart_network(&mut self) -> Result<(), NodeError> {
        let _ = self.net.shutdown().await;
        // The old event loop drops its sender when it ends; bounded wait.
        let deadline = Instant::now() + NETWORK_STOP_WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.net_events.recv()).await {
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(_) => {
                    tracing::warn!(
                        "the old network did not stop in time; starting the new one anyway"
                    );
                    break;
                }
            }
        }
        let net_config = network_config(&self.config, &self.chain_id, &self.key, &self.allowed)?;
        let (net, events) = kp_network::start(net_config).await?;
        self.shared.metrics.set_network(net.clone());
        self.send_out(Outbound::Network(net.clone())).await;
        self.net = net;
        self.net_events = events;
        Ok(())
    }
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
