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

use crate::backend;
use crate::sled_store::SledStore;
use kp_chain::keys::{unwrap_raw, wrap_raw, KEY_V1};
use kp_chain::StoreError;

/// Name of the sled tree that holds the safety state.
pub const SAFETY_TREE: &[u8] = b"kpledger/consensus-safety";

/// The key of the whole safety state in one value (the first format).
pub const SAFETY_KEY: &[u8] = &[KEY_V1];

/// The key of the safety record (the state with its blocks named by hash),
/// written at every step in the second format.
pub const SAFETY_RECORD_KEY: &[u8] = &[2];

/// The key of the blocks the safety record names, written only when they
/// change, in the same atomic batch as the record that first names them.
pub const SAFETY_BLOCKS_KEY: &[u8] = &[2, 1];

/// What [`SafetyStore::load_parts`] finds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SavedSafety {
    /// Nothing was ever saved.
    None,
    /// A whole state, saved by [`SafetyStore::save`].
    Whole(Vec<u8>),
    /// A record and the blocks last saved with one, saved by
    /// [`SafetyStore::save_parts`].
    Parts {
        /// The record.
        record: Vec<u8>,
        /// The blocks, if any were saved.
        blocks: Option<Vec<u8>>,
    },
}

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
    pub fn open(store: &SledStore) -> Result<SafetyStore, StoreError> {
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
    pub fn save(&self, bytes: &[u8]) -> Result<(), StoreError> {
        if bytes.len() > SAFETY_STATE_BYTES_MAX {
            return Err(StoreError::TooLarge {
                what: "consensus safety state",
                len: bytes.len(),
                limit: SAFETY_STATE_BYTES_MAX,
            });
        }
        // A record saved in the second format would be read first: it goes.
        let mut batch = sled::Batch::default();
        batch.insert(SAFETY_KEY, wrap_raw(bytes));
        batch.remove(SAFETY_RECORD_KEY);
        batch.remove(SAFETY_BLOCKS_KEY);
        self.tree
            .apply_batch(batch)
            .map_err(backend("save safety state"))?;
        // sled flushes all trees of a database together.
        self.store.flush("flush safety state")
    }

    /// Replaces the safety record with `record` and, if given, the saved
    /// blocks with `blocks`, atomically, and makes them durable before
    /// returning. A whole state saved earlier by [`SafetyStore::save`] is
    /// removed in the same batch, so that it can never be read in place of
    /// a newer record.
    pub fn save_parts(&self, record: &[u8], blocks: Option<&[u8]>) -> Result<(), StoreError> {
        let len = record.len() + blocks.map_or(0, <[u8]>::len);
        if len > SAFETY_STATE_BYTES_MAX {
            return Err(StoreError::TooLarge {
                what: "consensus safety state",
                len,
                limit: SAFETY_STATE_BYTES_MAX,
            });
        }
        let mut batch = sled::Batch::default();
        batch.insert(SAFETY_RECORD_KEY, wrap_raw(record));
        if let Some(blocks) = blocks {
            batch.insert(SAFETY_BLOCKS_KEY, wrap_raw(blocks));
        }
        batch.remove(SAFETY_KEY);
        self.tree
            .apply_batch(batch)
            .map_err(backend("save safety record"))?;
        self.store.flush("flush safety record")
    }

    /// The last saved safety state in whichever format it was saved.
    pub fn load_parts(&self) -> Result<SavedSafety, StoreError> {
        if let Some(record) = self.read(SAFETY_RECORD_KEY)? {
            let blocks = self.read(SAFETY_BLOCKS_KEY)?;
            return Ok(SavedSafety::Parts { record, blocks });
        }
        Ok(match self.load()? {
            Some(whole) => SavedSafety::Whole(whole),
            None => SavedSafety::None,
        })
    }

    /// The last saved safety state, or `None` on a node that never voted.
    pub fn load(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(SAFETY_KEY)
    }

    /// The body of the value at `key` of the safety tree, checked for size
    /// and format version.
    fn read(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(value) = self.tree.get(key).map_err(backend("load safety state"))? else {
            return Ok(None);
        };
        if value.len() > SAFETY_STATE_BYTES_MAX + 1 {
            return Err(StoreError::Corrupt {
                key_hex: kp_chain::key_hex(key),
                detail: format!("safety value of {} bytes is over the limit", value.len()),
            });
        }
        Ok(Some(unwrap_raw(key, &value)?.to_vec()))
    }

    /// [`SafetyStore::load`] decoded with [`kp_types::decode`] within
    /// `limit` bytes; bytes that do not decode are [`StoreError::Corrupt`].
    pub fn load_decoded<T: serde::de::DeserializeOwned>(
        &self,
        limit: usize,
    ) -> Result<Option<T>, StoreError> {
        let Some(bytes) = self.load()? else {
            return Ok(None);
        };
        kp_types::decode(&bytes, limit)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                key_hex: kp_chain::key_hex(SAFETY_KEY),
                detail: format!("consensus safety state: {e}"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A safety store in a fresh database (the directory lives as long as
    /// the guard).
    fn temp_safety() -> (tempfile::TempDir, SafetyStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path().join("db")).unwrap();
        let safety = store.safety_store().unwrap();
        (dir, safety)
    }

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
        let (_dir, safety) = temp_safety();
        assert_eq!(safety.load_decoded::<(u64, u32)>(64).unwrap(), None);
        safety.save(&kp_types::encode(&(7u64, 2u32))).unwrap();
        assert_eq!(safety.load_decoded::<(u64, u32)>(64).unwrap(), Some((7, 2)));
        safety.save(b"xyz").unwrap();
        assert!(matches!(
            safety.load_decoded::<(u64, u32)>(64),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn oversized_state_is_refused() {
        let (_dir, safety) = temp_safety();
        let big = vec![0u8; SAFETY_STATE_BYTES_MAX + 1];
        assert!(matches!(
            safety.save(&big),
            Err(StoreError::TooLarge { .. })
        ));
        assert_eq!(safety.load().unwrap(), None);
    }

    /// A state holding full blocks (several MB with large blocks) is saved:
    /// refusing it would stop a validator as soon as blocks grow.
    #[test]
    fn state_with_large_blocks_is_saved() {
        let (_dir, safety) = temp_safety();
        let big = vec![7u8; 3 * 1024 * 1024];
        safety.save(&big).unwrap();
        assert_eq!(safety.load().unwrap(), Some(big));
    }

    #[test]
    fn parts_keep_their_blocks_until_replaced_and_supersede_a_whole_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let store = SledStore::open(&path).unwrap();
            let safety = store.safety_store().unwrap();
            assert_eq!(safety.load_parts().unwrap(), SavedSafety::None);
            safety.save(b"whole").unwrap();
            assert_eq!(
                safety.load_parts().unwrap(),
                SavedSafety::Whole(b"whole".to_vec())
            );
            safety.save_parts(b"r1", Some(b"blocks A")).unwrap();
            safety.save_parts(b"r2", None).unwrap();
            // The whole state is gone: an older reader finds nothing stale.
            assert_eq!(safety.load().unwrap(), None);
        }
        let store = SledStore::open(&path).unwrap();
        let safety = store.safety_store().unwrap();
        let parts = |record: &[u8], blocks: &[u8]| SavedSafety::Parts {
            record: record.to_vec(),
            blocks: Some(blocks.to_vec()),
        };
        assert_eq!(safety.load_parts().unwrap(), parts(b"r2", b"blocks A"));
        safety.save_parts(b"r3", Some(b"")).unwrap();
        assert_eq!(safety.load_parts().unwrap(), parts(b"r3", b""));
        let big = vec![0u8; SAFETY_STATE_BYTES_MAX];
        assert!(matches!(
            safety.save_parts(b"r4", Some(&big)),
            Err(StoreError::TooLarge { .. })
        ));
        assert_eq!(safety.load_parts().unwrap(), parts(b"r3", b""));
        safety.save(b"whole again").unwrap();
        assert_eq!(
            safety.load_parts().unwrap(),
            SavedSafety::Whole(b"whole again".to_vec())
        );
    }

    #[test]
    fn unknown_value_version_is_corrupt() {
        let (_dir, safety) = temp_safety();
        safety.tree.insert(SAFETY_KEY, vec![9u8, 1, 2]).unwrap();
        assert!(matches!(safety.load(), Err(StoreError::Corrupt { .. })));
    }
}
