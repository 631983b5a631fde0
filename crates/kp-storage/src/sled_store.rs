//! [`SledStore`]: the [`StateStore`] of a running node, over sled's default
//! tree.
//!
//! The ledger's state (keys below `0x80`) and the host's block store (keys at
//! or above `0x80`) share this one tree, so that one `sled::Batch` can carry a
//! decided block, its commit certificate, receipts, indexes and the ledger's
//! state changes together: sled applies a batch atomically, including across a
//! crash, and [`StateStore::commit`] flushes (fsyncs) before it returns, so a
//! commit that returned survives a power cut.
//!
//! The consensus safety state lives in a separate tree of the same database
//! ([`crate::SafetyStore`]), written outside of block commits.

use crate::error::{backend, key_hex, StorageError};
use crate::keys::{SCHEMA_KEY, SCHEMA_VERSION};
use crate::safety::SafetyStore;
use kp_ledger::{StateStore, StoreError, WriteSet};
use std::ops::Bound;
use std::path::Path;

/// Page cache sled may use by default: a modest machine per Participant must
/// be enough (sled's own default is 1 GiB).
pub const CACHE_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;

/// A sled database used as the node's state store. Clones share the database.
///
/// Open it once per process: sled locks the directory, and a second open of
/// the same path fails with [`StorageError::Open`].
#[derive(Clone, Debug)]
pub struct SledStore {
    db: sled::Db,
}

impl SledStore {
    /// Opens (creating if needed) the store in directory `path`, with the
    /// default cache size.
    ///
    /// A new store gets the schema marker of this build; an existing store
    /// must carry the same one, otherwise it is refused with
    /// [`StorageError::UnknownSchemaVersion`] (written by another build) or
    /// [`StorageError::NotAKpledgerStore`] (data but no marker).
    pub fn open(path: impl AsRef<Path>) -> Result<SledStore, StorageError> {
        SledStore::open_with_cache(path, CACHE_BYTES_DEFAULT)
    }

    /// Like [`SledStore::open`] with a page cache of `cache_bytes`.
    pub fn open_with_cache(
        path: impl AsRef<Path>,
        cache_bytes: u64,
    ) -> Result<SledStore, StorageError> {
        let path = path.as_ref();
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            .open()
            .map_err(|e| StorageError::Open {
                path: path.display().to_string(),
                detail: e.to_string(),
            })?;
        let store = SledStore { db };
        store.check_schema(path)?;
        Ok(store)
    }

    /// Reads the schema marker, writing it into a brand-new store.
    fn check_schema(&self, path: &Path) -> Result<(), StorageError> {
        let stored = self.db.get(SCHEMA_KEY).map_err(backend("read schema"))?;
        match stored {
            Some(bytes) => {
                let found = decode_schema(&bytes)?;
                if found != SCHEMA_VERSION {
                    return Err(StorageError::UnknownSchemaVersion {
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
                Ok(())
            }
            None => {
                // Only an empty database may be adopted; anything else was
                // written by someone else (or lost its marker) and is left alone.
                // Any tree besides sled's default one (ours is the safety
                // tree) counts as data too; nothing is created before this check.
                let has_data = self.db.first().map_err(backend("read schema"))?.is_some();
                let has_trees = self.db.tree_names().len() > 1;
                if has_data || has_trees {
                    return Err(StorageError::NotAKpledgerStore {
                        path: path.display().to_string(),
                    });
                }
                self.db
                    .insert(SCHEMA_KEY, SCHEMA_VERSION.to_be_bytes().to_vec())
                    .map_err(backend("write schema"))?;
                self.flush("write schema")
            }
        }
    }

    /// The consensus safety state of this database.
    pub fn safety_store(&self) -> Result<SafetyStore, StorageError> {
        SafetyStore::open(self)
    }

    /// Bytes the database occupies on disk (for metrics).
    pub fn size_on_disk(&self) -> Result<u64, StorageError> {
        self.db.size_on_disk().map_err(backend("size on disk"))
    }

    /// The underlying sled database (for [`SafetyStore`] and for tests that
    /// need to reach below the trait, e.g. to plant a foreign schema marker).
    /// Crate-private so that no sled type leaks into the public API.
    pub(crate) fn db(&self) -> &sled::Db {
        &self.db
    }

    /// Makes everything written so far durable.
    pub(crate) fn flush(&self, operation: &'static str) -> Result<(), StorageError> {
        self.db.flush().map(|_| ()).map_err(backend(operation))
    }
}

/// The schema marker is a bare big-endian `u32` (no value envelope): it is
/// what tells a reader which envelope to expect, so it cannot depend on one.
fn decode_schema(bytes: &[u8]) -> Result<u32, StorageError> {
    let array: [u8; 4] = bytes.try_into().map_err(|_| StorageError::Corrupt {
        key_hex: key_hex(SCHEMA_KEY),
        detail: format!("schema marker of {} bytes, expected 4", bytes.len()),
    })?;
    Ok(u32::from_be_bytes(array))
}

impl StateStore for SledStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let value = self.db.get(key).map_err(backend("get"))?;
        Ok(value.map(|v| v.to_vec()))
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        // A `start_after` below the prefix means "from the start"; above it
        // the range is simply empty once the prefix no longer matches.
        let lower: Bound<&[u8]> = match start_after {
            Some(after) if after >= prefix => Bound::Excluded(after),
            _ => Bound::Included(prefix),
        };
        let mut out = Vec::with_capacity(limit.min(1024));
        for entry in self.db.range::<&[u8], _>((lower, Bound::Unbounded)) {
            if out.len() >= limit {
                break;
            }
            let (key, value) = entry.map_err(backend("scan_prefix"))?;
            if !key.starts_with(prefix) {
                break;
            }
            out.push((key.to_vec(), value.to_vec()));
        }
        Ok(out)
    }

    fn commit(&self, writes: &WriteSet) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (key, value) in &writes.entries {
            match value {
                Some(value) => batch.insert(key.as_slice(), value.as_slice()),
                None => batch.remove(key.as_slice()),
            }
        }
        // One batch is applied atomically, crash included; the flush makes it
        // durable before the caller reports the block as stored.
        self.db.apply_batch(batch).map_err(backend("commit"))?;
        self.flush("commit flush")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp() -> (tempfile::TempDir, SledStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path().join("db")).unwrap();
        (dir, store)
    }

    #[test]
    fn commit_get_and_delete() {
        let (_dir, store) = temp();
        let mut ws = WriteSet::default();
        ws.put(vec![1, 2], vec![3]);
        ws.put(vec![0x90], vec![4]);
        store.commit(&ws).unwrap();
        assert_eq!(store.get(&[1, 2]).unwrap(), Some(vec![3]));
        assert_eq!(store.get(&[0x90]).unwrap(), Some(vec![4]));
        let mut del = WriteSet::default();
        del.delete(vec![1, 2]);
        store.commit(&del).unwrap();
        assert_eq!(store.get(&[1, 2]).unwrap(), None);
        assert_eq!(store.get(&[0x90]).unwrap(), Some(vec![4]));
    }

    #[test]
    fn scan_prefix_pages_and_stops_at_prefix_end() {
        let (_dir, store) = temp();
        let mut ws = WriteSet::default();
        for i in 0u8..10 {
            ws.put(vec![1, i], vec![i]);
        }
        ws.put(vec![0], vec![]);
        ws.put(vec![2, 0], vec![]);
        store.commit(&ws).unwrap();

        let mut seen = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        // Pages of 3: 3 + 3 + 3 + 1, then an empty page ends the walk.
        for _ in 0..10 {
            let page = store.scan_prefix(&[1], after.as_deref(), 3).unwrap();
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 3);
            after = page.last().map(|(k, _)| k.clone());
            seen.extend(page.into_iter().map(|(_, v)| v[0]));
        }
        assert_eq!(seen, (0u8..10).collect::<Vec<_>>());

        // `start_after` below the prefix starts at the prefix.
        let from_below = store.scan_prefix(&[1], Some(&[0, 9]), 2).unwrap();
        assert_eq!(from_below[0].0, vec![1, 0]);
        // Past the prefix: nothing.
        assert!(store
            .scan_prefix(&[1], Some(&[1, 9]), 5)
            .unwrap()
            .is_empty());
        assert!(store.scan_prefix(&[1], Some(&[3]), 5).unwrap().is_empty());
        assert!(store.scan_prefix(&[1], None, 0).unwrap().is_empty());
        // The empty prefix is the whole keyspace, schema marker included.
        let all = store.scan_prefix(&[], None, 100).unwrap();
        assert_eq!(all.len(), 13);
    }

    #[test]
    fn scan_matches_mem_store() {
        // The same writes and queries give the same answers as the reference
        // in-memory store, so the simulator and a node behave alike.
        let (_dir, sled) = temp();
        let mem = kp_ledger::MemStore::new();
        let mut ws = WriteSet::default();
        for i in 0u16..300 {
            let [a, b] = i.to_be_bytes();
            ws.put(vec![a % 3, b, a], vec![b]);
        }
        sled.commit(&ws).unwrap();
        mem.commit(&ws).unwrap();
        for prefix in [vec![], vec![0], vec![1, 7], vec![2, 200, 0], vec![5]] {
            for after in [None, Some(vec![0, 100]), Some(vec![1, 7, 0]), Some(vec![9])] {
                for limit in [0, 1, 7, 1000] {
                    let mut from_sled = sled.scan_prefix(&prefix, after.as_deref(), limit).unwrap();
                    // The schema marker is sled-only.
                    from_sled.retain(|(k, _)| k.as_slice() != SCHEMA_KEY);
                    let from_mem = mem.scan_prefix(&prefix, after.as_deref(), limit).unwrap();
                    if prefix.is_empty() && from_sled.len() < from_mem.len() {
                        // The marker took one slot of the page.
                        assert_eq!(from_sled[..], from_mem[..from_sled.len()]);
                    } else {
                        assert_eq!(from_sled, from_mem, "{prefix:?} {after:?} {limit}");
                    }
                }
            }
        }
    }

    #[test]
    fn size_on_disk_grows_with_data() {
        let (_dir, store) = temp();
        let before = store.size_on_disk().unwrap();
        let mut ws = WriteSet::default();
        for i in 0u32..200 {
            ws.put(i.to_be_bytes().to_vec(), vec![7; 1024]);
        }
        store.commit(&ws).unwrap();
        assert!(store.size_on_disk().unwrap() > before);
    }

    #[test]
    fn reopen_keeps_committed_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let store = SledStore::open(&path).unwrap();
            let mut ws = WriteSet::default();
            ws.put(b"a".to_vec(), b"1".to_vec());
            store.commit(&ws).unwrap();
        }
        let store = SledStore::open(&path).unwrap();
        assert_eq!(store.get(b"a").unwrap(), Some(b"1".to_vec()));
    }

    #[test]
    fn unknown_schema_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let store = SledStore::open(&path).unwrap();
            store
                .db()
                .insert(SCHEMA_KEY, 7u32.to_be_bytes().to_vec())
                .unwrap();
            store.db().flush().unwrap();
        }
        assert_eq!(
            SledStore::open(&path).unwrap_err(),
            StorageError::UnknownSchemaVersion {
                found: 7,
                supported: SCHEMA_VERSION
            }
        );
    }

    #[test]
    fn malformed_schema_marker_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let store = SledStore::open(&path).unwrap();
            store.db().insert(SCHEMA_KEY, vec![1u8]).unwrap();
            store.db().flush().unwrap();
        }
        assert!(matches!(
            SledStore::open(&path),
            Err(StorageError::Corrupt { .. })
        ));
    }

    #[test]
    fn foreign_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let db = sled::open(&path).unwrap();
            db.insert(b"someone else's", b"data").unwrap();
            db.flush().unwrap();
        }
        assert!(matches!(
            SledStore::open(&path),
            Err(StorageError::NotAKpledgerStore { .. })
        ));
    }

    #[test]
    fn second_open_in_one_process_fails_cleanly() {
        let (dir, _store) = temp();
        assert!(matches!(
            SledStore::open(dir.path().join("db")),
            Err(StorageError::Open { .. })
        ));
    }
}
