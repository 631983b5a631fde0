//! The state-store trait the ledger reads and writes through, and an
//! in-memory implementation for tests and the simulator. The sled-backed
//! implementation lives in `kp-storage`.
//!
//! Keys are opaque bytes. The ledger only uses keys whose first byte is below
//! [`HOST_KEY_PREFIX_MIN`]; a host (the node) may put its own entries (blocks,
//! commit certificates, indexes) with first byte at or above it into the same
//! [`WriteSet`], so that a decided block and the state it produces are written
//! in one atomic commit.

pub use crate::store_error::StoreError;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// Keys whose first byte is at least this belong to the host, never to the ledger.
pub const HOST_KEY_PREFIX_MIN: u8 = 0x80;

/// A set of puts (`Some`) and deletes (`None`) to apply atomically.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteSet {
    /// Key to new value, or `None` to delete.
    pub entries: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl WriteSet {
    /// Records a put.
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.entries.insert(key, Some(value));
    }

    /// Records a delete.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.entries.insert(key, None);
    }

    /// Adds every entry of `other`, which wins on conflicts.
    pub fn extend(&mut self, other: WriteSet) {
        self.entries.extend(other.entries);
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Where ledger state lives. Implementations must make `commit` atomic: after a
/// crash, either every entry of a write set is visible or none is.
pub trait StateStore {
    /// The value under `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Entries whose key starts with `prefix`, in key order, strictly after
    /// `start_after` if given, at most `limit` of them.
    fn scan_prefix(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError>;

    /// Applies every entry of `writes` atomically and durably.
    fn commit(&self, writes: &WriteSet) -> Result<(), StoreError>;

    /// [`StateStore::commit`] of a write set the caller no longer needs: a
    /// store that keeps the writes in memory can take them without a copy.
    fn commit_owned(&self, writes: WriteSet) -> Result<(), StoreError> {
        self.commit(&writes)
    }
}

/// An in-memory store: a shared `BTreeMap`. Clones share the same map.
#[derive(Clone, Debug, Default)]
pub struct MemStore {
    map: Arc<RwLock<BTreeMap<Vec<u8>, Vec<u8>>>>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> MemStore {
        MemStore::default()
    }

    /// A deep copy (for simulating a crash that keeps what was committed).
    pub fn snapshot(&self) -> MemStore {
        let map = self.read().clone();
        MemStore {
            map: Arc::new(RwLock::new(map)),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        // A poisoned lock means a writer panicked mid-commit: a bug, not input.
        self.map.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl StateStore for MemStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.read().get(key).cloned())
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        use std::ops::Bound;
        let map = self.read();
        let lower = match start_after {
            Some(after) if after >= prefix => Bound::Excluded(after.to_vec()),
            _ => Bound::Included(prefix.to_vec()),
        };
        Ok(map
            .range((lower, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn commit(&self, writes: &WriteSet) -> Result<(), StoreError> {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        for (key, value) in &writes.entries {
            match value {
                Some(v) => map.insert(key.clone(), v.clone()),
                None => map.remove(key),
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_prefix_pages() {
        let store = MemStore::new();
        let mut ws = WriteSet::default();
        for i in 0u8..10 {
            ws.put(vec![1, i], vec![i]);
        }
        ws.put(vec![2, 0], vec![]);
        store.commit(&ws).unwrap();
        let first = store.scan_prefix(&[1], None, 4).unwrap();
        assert_eq!(first.len(), 4);
        let next = store.scan_prefix(&[1], Some(&first[3].0), 100).unwrap();
        assert_eq!(next.len(), 6);
        assert_eq!(next[0].0, vec![1, 4]);
        let mut del = WriteSet::default();
        del.delete(vec![1, 0]);
        store.commit(&del).unwrap();
        assert_eq!(store.get(&[1, 0]).unwrap(), None);
    }
}
