//! [`SafetyStore`]: the consensus safety state (height, round, lock, last
//! vote), persisted before a vote that depends on it leaves the node.
//!
//! The bytes are opaque here: the node encodes the consensus core's state, so
//! storage does not depend on consensus. They live in their own sled tree,
//! [`SAFETY_TREE`], under one key, so that a safety write never touches the
//! state keyspace and never waits for, or joins, a block commit.
//!
//! [`SafetyStore::save`] returns only after sled has flushed: if the process
//! dies right after a vote is sent, the restarted node reloads a state at
//! least as recent as that vote, and so cannot sign a conflicting one.

use crate::error::{backend, StorageError};
use crate::keys::{unwrap_raw, wrap_raw, KEY_V1};
use crate::sled_store::SledStore;

/// Name of the sled tree that holds the safety state.
pub const SAFETY_TREE: &[u8] = b"kpledger/consensus-safety";

/// The one key of [`SAFETY_TREE`]: its key-format version.
pub const SAFETY_KEY: &[u8] = &[KEY_V1];

/// Largest safety state accepted: the consensus core's state holds up to
/// three whole blocks (locked, valid, and the one it proposed), each up to
/// [`kp_types::block::BLOCK_BYTES_MAX`], plus votes and counters.
pub const SAFETY_STATE_BYTES_MAX: usize = 3 * kp_types::block::BLOCK_BYTES_MAX + 64 * 1024;

/// The durable consensus safety state of one node. Clones share the tree.
#[derive(Clone, Debug)]
pub struct SafetyStore {
    store: SledStore,
    tree: sled::Tree,
}

impl SafetyStore {
    /// The safety state of `store`'s database.
    pub fn open(store: &SledStore) -> Result<SafetyStore, StorageError> {
        let tree = store
            .db()
            .open_tree(SAFETY_TREE)
            .map_err(backend("open safety tree"))?;
        Ok(SafetyStore {
            store: store.clone(),
            tree,
        })
    }

    /// Replaces the safety state with `bytes` and makes it durable before
    /// returning. Call it before sending the vote that depends on it.
    pub fn save(&self, bytes: &[u8]) -> Result<(), StorageError> {
        if bytes.len() > SAFETY_STATE_BYTES_MAX {
            return Err(StorageError::TooLarge {
                what: "consensus safety state",
                len: bytes.len(),
                limit: SAFETY_STATE_BYTES_MAX,
            });
        }
        self.tree
            .insert(SAFETY_KEY, wrap_raw(bytes))
            .map_err(backend("save safety state"))?;
        // sled flushes all trees of a database together.
        self.store.flush("flush safety state")
    }

    /// The last saved safety state, or `None` on a node that never voted.
    pub fn load(&self) -> Result<Option<Vec<u8>>, StorageError> {
        let Some(value) = self
            .tree
            .get(SAFETY_KEY)
            .map_err(backend("load safety state"))?
        else {
            return Ok(None);
        };
        if value.len() > SAFETY_STATE_BYTES_MAX + 1 {
            return Err(StorageError::Corrupt {
                key_hex: crate::error::key_hex(SAFETY_KEY),
                detail: format!("safety state of {} bytes is over the limit", value.len()),
            });
        }
        Ok(Some(unwrap_raw(SAFETY_KEY, &value)?.to_vec()))
    }

    /// [`SafetyStore::load`] decoded with [`kp_types::decode`] within
    /// `limit` bytes; bytes that do not decode are [`StorageError::Corrupt`].
    pub fn load_decoded<T: serde::de::DeserializeOwned>(
        &self,
        limit: usize,
    ) -> Result<Option<T>, StorageError> {
        let Some(bytes) = self.load()? else {
            return Ok(None);
        };
        kp_types::decode(&bytes, limit)
            .map(Some)
            .map_err(|e| StorageError::Corrupt {
                key_hex: crate::error::key_hex(SAFETY_KEY),
                detail: format!("consensus safety state: {e}"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let store = SledStore::open(&path).unwrap();
            let safety = store.safety_store().unwrap();
            assert_eq!(safety.load().unwrap(), None);
            safety.save(b"first").unwrap();
            safety.save(b"second").unwrap();
            assert_eq!(safety.load().unwrap(), Some(b"second".to_vec()));
            // An empty state is a state, not an absence.
            safety.save(b"").unwrap();
            assert_eq!(safety.load().unwrap(), Some(Vec::new()));
            safety.save(b"last").unwrap();
        }
        let store = SledStore::open(&path).unwrap();
        assert_eq!(
            store.safety_store().unwrap().load().unwrap(),
            Some(b"last".to_vec())
        );
        // The safety tree is not part of the state keyspace.
        use kp_ledger::StateStore;
        assert_eq!(store.get(SAFETY_KEY).unwrap(), None);
    }

    #[test]
    fn typed_load_decodes_or_reports_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path().join("db")).unwrap();
        let safety = store.safety_store().unwrap();
        assert_eq!(safety.load_decoded::<(u64, u32)>(64).unwrap(), None);
        safety.save(&kp_types::encode(&(7u64, 2u32))).unwrap();
        assert_eq!(safety.load_decoded::<(u64, u32)>(64).unwrap(), Some((7, 2)));
        safety.save(b"xyz").unwrap();
        assert!(matches!(
            safety.load_decoded::<(u64, u32)>(64),
            Err(StorageError::Corrupt { .. })
        ));
    }

    #[test]
    fn oversized_state_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path().join("db")).unwrap();
        let safety = store.safety_store().unwrap();
        let big = vec![0u8; SAFETY_STATE_BYTES_MAX + 1];
        assert!(matches!(
            safety.save(&big),
            Err(StorageError::TooLarge { .. })
        ));
        assert_eq!(safety.load().unwrap(), None);
    }

    /// A state holding full blocks (several MB with large blocks) is saved:
    /// refusing it would stop a validator as soon as blocks grow.
    #[test]
    fn state_with_large_blocks_is_saved() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path().join("db")).unwrap();
        let safety = store.safety_store().unwrap();
        let big = vec![7u8; 3 * 1024 * 1024];
        safety.save(&big).unwrap();
        assert_eq!(safety.load().unwrap(), Some(big));
    }

    #[test]
    fn unknown_value_version_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path().join("db")).unwrap();
        let safety = store.safety_store().unwrap();
        safety.tree.insert(SAFETY_KEY, vec![9u8, 1, 2]).unwrap();
        assert!(matches!(safety.load(), Err(StorageError::Corrupt { .. })));
    }
}
