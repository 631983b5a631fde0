//! [`SledStore`]: the [`StateStore`] of a running node, over sled's default
//! tree.
//!
//! The ledger's state (keys below `0x80`) and the host's block store (keys at
//! or above `0x80`) share this one tree, so that one commit can carry a
//! decided block, its commit certificate, receipts, indexes and the ledger's
//! state changes together: sled applies a batch atomically, including across a
//! crash (a large write set goes through a redo file instead, [`crate::redo`],
//! ADR 0017), and [`StateStore::commit`] flushes and fsyncs before it returns, so
//! a commit that returned survives a power cut (see `DiskSync` for why sled's
//! own flush is not enough on Linux).
//!
//! A value longer than [`pieces::PIECE_BYTES`] is stored in pieces under
//! keys from `0xFF` on, which the binding keeps for itself, so that sled
//! writes no blob file (ADR 0019); `get` and `scan_prefix` put it back
//! together.
//!
//! The consensus safety state lives in a separate tree of the same database
//! ([`crate::SafetyStore`]), written outside of block commits.

use crate::backend;
use crate::pieces::{self, Descriptor};
use crate::redo;
use crate::safety::SafetyStore;
use kp_chain::key_hex;
use kp_chain::keys::{SCHEMA_KEY, SCHEMA_VERSION, SCHEMA_VERSIONS_UPGRADED};
use kp_ledger::{StateStore, StoreError, WriteSet};
use std::borrow::Cow;
use std::fs::File;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Page cache sled may use by default: a modest machine per Participant must
/// be enough (sled's own default is 1 GiB).
pub const CACHE_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;

/// A sled database used as the node's state store. Clones share the database.
///
/// Open it once per process: sled locks the directory, and a second open of
/// the same path fails with [`StoreError::Open`] (after a short bounded
/// wait, since a store just dropped may still hold the lock).
#[derive(Clone, Debug)]
pub struct SledStore {
    db: sled::Db,
    disk: Arc<DiskSync>,
    /// The store's directory (where the redo file lives, ADR 0017).
    dir: Arc<PathBuf>,
    /// Held by every commit: commits never interleave, so a redo file
    /// always holds the newest writes of its keys.
    commits: Arc<Mutex<()>>,
}

/// Completes sled's flush into a real fsync.
///
/// On Linux, sled 0.34's `flush` ends the log write with
/// `sync_file_range(WAIT_BEFORE | WRITE | WAIT_AFTER)`, which pushes the
/// pages to the device but neither flushes the device's volatile cache nor
/// the file's metadata (its length, when the log grows); its background
/// thread only calls `fsync` every 500 ms. Pages too large for a log
/// segment (over about 128 KiB) go to files under `blobs/`, which sled
/// writes without any sync; since schema 3 no value is stored that large
/// (large values go in pieces, ADR 0019), but a store written before may
/// still have them rewritten. A process kill
/// loses none of this (the page cache survives), a power cut could. So after
/// sled's flush we fsync the log file ourselves (fsync acts on the file, not
/// on the descriptor), every blob file not yet synced, and the blob directory.
#[derive(Debug)]
struct DiskSync {
    log: File,
    blobs_dir: PathBuf,
    /// Highest blob id (sled names blobs by log sequence number) already
    /// synced, so that each commit syncs only the blobs it created.
    blobs_synced_max: Mutex<Option<u64>>,
}

impl DiskSync {
    fn open(path: &Path) -> Result<DiskSync, StoreError> {
        let open_error = |e: std::io::Error| StoreError::Open {
            path: path.display().to_string(),
            detail: format!("cannot open sled's files for fsync: {e}"),
        };
        // sled 0.34 keeps its log in `<path>/db` and large values in
        // `<path>/blobs/<lsn>` (`Config::db_path`, `Config::blob_path`).
        let log = File::open(path.join(SLED_LOG_FILE)).map_err(open_error)?;
        // Make the creation of sled's files themselves durable.
        File::open(path)
            .and_then(|dir| dir.sync_all())
            .map_err(open_error)?;
        Ok(DiskSync {
            log,
            blobs_dir: path.join(SLED_BLOBS_DIR),
            blobs_synced_max: Mutex::new(None),
        })
    }

    fn sync(&self) -> Result<(), StoreError> {
        let io = |e: std::io::Error| StoreError::Backend {
            operation: "fsync",
            detail: e.to_string(),
        };
        self.log.sync_all().map_err(io)?;
        let mut synced_max = self
            .blobs_synced_max
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let entries = match std::fs::read_dir(&self.blobs_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(e)),
        };
        let mut newest = *synced_max;
        // Bounded by the number of live blobs (sled deletes dead ones).
        for entry in entries {
            let entry = entry.map_err(io)?;
            let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if synced_max.is_some_and(|max| id <= max) {
                continue;
            }
            match File::open(entry.path()).and_then(|f| f.sync_all()) {
                Ok(()) => {}
                // sled garbage-collected it in the meantime.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(e)),
            }
            newest = Some(newest.map_or(id, |n| n.max(id)));
        }
        if newest != *synced_max {
            File::open(&self.blobs_dir)
                .and_then(|dir| dir.sync_all())
                .map_err(io)?;
            *synced_max = newest;
        }
        Ok(())
    }
}

/// How many times [`SledStore::open`] tries a directory whose lock is held.
const OPEN_LOCK_ATTEMPTS: u32 = 25;
/// The wait between two of those attempts (at most about half a second in all).
const OPEN_LOCK_RETRY_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

/// Whether sled refused to open because the directory's lock is held. sled
/// 0.34 reports it only as an `Other` IO error with this message.
fn is_lock_held(error: &sled::Error) -> bool {
    matches!(error, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

/// sled 0.34's log file inside the store directory.
const SLED_LOG_FILE: &str = "db";
/// sled 0.34's directory of large values inside the store directory.
const SLED_BLOBS_DIR: &str = "blobs";

impl SledStore {
    /// Opens (creating if needed) the store in directory `path`, with the
    /// default cache size.
    ///
    /// A new store gets the schema marker of this build; an existing store
    /// must carry the same one or one this build upgrades
    /// (`kp_chain::keys::SCHEMA_VERSIONS_UPGRADED`: its marker is rewritten
    /// on open), otherwise it is refused with
    /// [`StoreError::UnknownSchemaVersion`] (written by another build) or
    /// [`StoreError::NotAKpledgerStore`] (data but no marker).
    pub fn open(path: impl AsRef<Path>) -> Result<SledStore, StoreError> {
        SledStore::open_with_cache(path, CACHE_BYTES_DEFAULT)
    }

    /// Like [`SledStore::open`] with a page cache of `cache_bytes`.
    pub fn open_with_cache(
        path: impl AsRef<Path>,
        cache_bytes: u64,
    ) -> Result<SledStore, StoreError> {
        let path = path.as_ref();
        let config = sled::Config::new().path(path).cache_capacity(cache_bytes);
        let mut attempt = 1;
        let db = loop {
            match config.open() {
                Ok(db) => break db,
                // sled closes its file from background threads after the
                // last handle is dropped, so a reopen in the same process
                // can find the lock still held for a moment (sled's own
                // tests block on it for this reason). Another live process
                // keeps it, and after the bounded wait the error stands.
                Err(e) if is_lock_held(&e) && attempt < OPEN_LOCK_ATTEMPTS => {
                    attempt += 1;
                    std::thread::sleep(OPEN_LOCK_RETRY_WAIT);
                }
                Err(e) => {
                    // sled's own message for a held lock is Rust debug text
                    // (`Os { code: 11, kind: WouldBlock, .. }`): say what it means.
                    let detail = if is_lock_held(&e) {
                        "another process has it open (is a node already running on this \
                         data directory?)"
                            .to_string()
                    } else {
                        e.to_string()
                    };
                    return Err(StoreError::Open {
                        path: path.display().to_string(),
                        detail,
                    });
                }
            }
        };
        let disk = Arc::new(DiskSync::open(path)?);
        let store = SledStore {
            db,
            disk,
            dir: Arc::new(path.to_path_buf()),
            commits: Arc::new(Mutex::new(())),
        };
        store.check_schema(path)?;
        store.finish_interrupted_commit()?;
        Ok(store)
    }

    /// Applies again the redo file of a commit that a crash interrupted
    /// (ADR 0017), and removes it.
    fn finish_interrupted_commit(&self) -> Result<(), StoreError> {
        let Some(entries) = redo::pending(&self.dir)? else {
            return Ok(());
        };
        self.apply_entries(entries.iter().map(|(k, v)| (k, v)))?;
        self.flush("finish interrupted commit")?;
        redo::remove(&self.dir)
    }

    /// Applies entries one at a time (each of sled's single writes shares
    /// the lock with readers), then those that announce how far the store
    /// has come ([`announces`]) together in one small batch, so that a
    /// reader who sees the new height finds the data it covers.
    ///
    /// A large value's pieces go in before its descriptor, and the pieces of
    /// the value it replaces come out after it (ADR 0019): a reader who finds
    /// a descriptor finds its pieces.
    fn apply_entries<'a>(
        &self,
        entries: impl Iterator<Item = (&'a Vec<u8>, &'a Option<Vec<u8>>)>,
    ) -> Result<(), StoreError> {
        let mut direct = Direct(&self.db);
        let mut announcing = Vec::new();
        for (key, value) in entries {
            if announces(key) {
                announcing.push((key, value));
                continue;
            }
            let (stored, new) = stage(&mut direct, key, value.as_deref())?;
            // sled's single writes return the value they replace.
            let old = match stored {
                Some(stored) => self.db.insert(key.as_slice(), stored.as_ref()),
                None => self.db.remove(key.as_slice()),
            }
            .map_err(backend("commit"))?;
            drop_replaced(&mut direct, key, old.as_deref(), new)?;
        }
        let mut last = sled::Batch::default();
        let mut replaced = Vec::new();
        for (key, value) in announcing {
            let old = self.db.get(key).map_err(backend("commit"))?;
            // The pieces go in at once, the descriptor with the batch.
            let (stored, new) = stage(&mut direct, key, value.as_deref())?;
            last.put(key, stored.as_deref())?;
            replaced.push((key, old, new));
        }
        self.db.apply_batch(last).map_err(backend("commit"))?;
        for (key, old, new) in replaced {
            drop_replaced(&mut direct, key, old.as_deref(), new)?;
        }
        Ok(())
    }

    /// The value stored under `key` as `stored`: itself, or the value its
    /// pieces hold when it is a descriptor; `None` if the key was removed
    /// while its pieces were read.
    ///
    /// A commit that replaces a large value removes the old pieces once the
    /// key holds the new descriptor, so a reader who read the old descriptor
    /// just before can find its pieces gone. When the pieces do not check,
    /// the key and its pieces are read again, a bounded number of times;
    /// pieces that still do not check are damaged.
    fn resolve(&self, key: &[u8], stored: sled::IVec) -> Result<Option<Vec<u8>>, StoreError> {
        let mut stored = stored;
        let mut attempt = 1;
        loop {
            let error = match self.assemble(key, &stored) {
                Ok(value) => return Ok(Some(value)),
                Err(error) => error,
            };
            if attempt >= RESOLVE_ATTEMPTS {
                return Err(error);
            }
            attempt += 1;
            // The same descriptor again may be the same value written anew
            // (its pieces removed and written again): read again too.
            match self.db.get(key).map_err(backend("get"))? {
                Some(now) => stored = now,
                None => return Ok(None),
            }
        }
    }

    /// [`SledStore::resolve`] once.
    fn assemble(&self, key: &[u8], stored: &sled::IVec) -> Result<Vec<u8>, StoreError> {
        let Some(descriptor) = Descriptor::parse(key, stored)? else {
            return Ok(stored.to_vec());
        };
        let bound = usize::try_from(descriptor.count()).unwrap_or(usize::MAX);
        let mut found = Vec::with_capacity(bound.min(4096));
        // One more than the descriptor counts, so an extra piece is seen.
        for entry in self
            .db
            .scan_prefix(descriptor.prefix(key))
            .take(bound.saturating_add(1))
        {
            let (_, piece) = entry.map_err(backend("read large value"))?;
            found.push(piece);
        }
        descriptor.assemble(key, found.iter())
    }

    /// Reads the schema marker, writing it into a brand-new store.
    fn check_schema(&self, path: &Path) -> Result<(), StoreError> {
        let stored = self.db.get(SCHEMA_KEY).map_err(backend("read schema"))?;
        match stored {
            Some(bytes) => {
                let found = decode_schema(&bytes)?;
                if found == SCHEMA_VERSION {
                    return Ok(());
                }
                if !SCHEMA_VERSIONS_UPGRADED.contains(&found) {
                    return Err(StoreError::UnknownSchemaVersion {
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
                // An earlier schema whose entries this build reads as they
                // are: only the marker changes, durably, before anything
                // of the new schema is written (kp_chain::keys).
                self.db
                    .insert(SCHEMA_KEY, SCHEMA_VERSION.to_be_bytes().to_vec())
                    .map_err(backend("upgrade schema"))?;
                self.flush("upgrade schema")
            }
            None => {
                // Only an empty database may be adopted; anything else was
                // written by someone else (or lost its marker) and is left alone.
                // Any tree besides sled's default one (ours is the safety
                // tree) counts as data too; nothing is created before this check.
                let has_data = self.db.first().map_err(backend("read schema"))?.is_some();
                let has_trees = self.db.tree_names().len() > 1;
                if has_data || has_trees {
                    return Err(StoreError::NotAKpledgerStore {
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
    pub fn safety_store(&self) -> Result<SafetyStore, StoreError> {
        SafetyStore::open(self)
    }

    /// Bytes the database occupies on disk (for metrics).
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(backend("size on disk"))
    }

    /// The underlying sled database (for [`SafetyStore`] and for tests that
    /// need to reach below the trait, e.g. to plant a foreign schema marker).
    /// Crate-private so that no sled type leaks into the public API.
    pub(crate) fn db(&self) -> &sled::Db {
        &self.db
    }

    /// Makes everything written so far durable: sled's flush, then a real
    /// fsync of what it wrote ([`DiskSync`]).
    pub(crate) fn flush(&self, operation: &'static str) -> Result<(), StoreError> {
        self.db.flush().map_err(backend(operation))?;
        self.disk.sync()
    }
}

/// Reads of a large value that a commit replaced meanwhile, at most
/// ([`SledStore::resolve`]).
const RESOLVE_ATTEMPTS: u32 = 8;

/// What [`stage`] leaves to store under a key: its bytes (`None`: a
/// removal), and the descriptor when they are one.
type Staged<'v> = (Option<Cow<'v, [u8]>>, Option<Descriptor>);

/// Where a commit's writes go: sled's single writes ([`Direct`]) or one
/// batch, so that both paths stage pieces with the same code.
trait Sink {
    /// Writes `value` under `key`, or removes `key` for `None`.
    fn put(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), StoreError>;
}

impl Sink for sled::Batch {
    fn put(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), StoreError> {
        match value {
            Some(value) => self.insert(key, value),
            None => self.remove(key),
        }
        Ok(())
    }
}

/// sled's single writes, each applied at once.
struct Direct<'a>(&'a sled::Db);

impl Sink for Direct<'_> {
    fn put(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), StoreError> {
        match value {
            Some(value) => self.0.insert(key, value).map(drop),
            None => self.0.remove(key).map(drop),
        }
        .map_err(backend("commit"))
    }
}

/// Writes the pieces of `value` to `sink` when it goes in pieces (ADR
/// 0019), and says what to store under `key` itself.
fn stage<'v>(
    sink: &mut impl Sink,
    key: &[u8],
    value: Option<&'v [u8]>,
) -> Result<Staged<'v>, StoreError> {
    match value {
        Some(value) if pieces::needs_pieces(value) => {
            let (descriptor, pieces) = pieces::split(key, value);
            for (piece_key, piece) in pieces {
                sink.put(&piece_key, Some(piece))?;
            }
            Ok((Some(Cow::Owned(descriptor.to_bytes())), Some(descriptor)))
        }
        Some(value) => Ok((Some(Cow::Borrowed(value)), None)),
        None => Ok((None, None)),
    }
}

/// Removes through `sink` the pieces of `old`, the value `key` held before,
/// unless they are those of its new value.
fn drop_replaced(
    sink: &mut impl Sink,
    key: &[u8],
    old: Option<&[u8]>,
    new: Option<Descriptor>,
) -> Result<(), StoreError> {
    let Some(old) = old else {
        return Ok(());
    };
    match Descriptor::parse(key, old)? {
        Some(old) if Some(old) != new => {
            for piece_key in old.piece_keys(key) {
                sink.put(&piece_key, None)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Whether `key` says how far the store has come rather than holding data:
/// the ledger's metadata (its height, roots) and stored root, the block
/// store's metadata (its base) and last block. A large commit writes these
/// last, together.
fn announces(key: &[u8]) -> bool {
    use kp_ledger::keys::table;
    matches!(
        key.first(),
        Some(
            &(table::META
                | table::ROOT_META
                | kp_chain::keys::TABLE_META
                | kp_chain::keys::TABLE_LAST_BLOCK)
        )
    )
}

/// The schema marker is a bare big-endian `u32` (no value envelope): it is
/// what tells a reader which envelope to expect, so it cannot depend on one.
fn decode_schema(bytes: &[u8]) -> Result<u32, StoreError> {
    let array: [u8; 4] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        key_hex: key_hex(SCHEMA_KEY),
        detail: format!("schema marker of {} bytes, expected 4", bytes.len()),
    })?;
    Ok(u32::from_be_bytes(array))
}

impl StateStore for SledStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.db.get(key).map_err(backend("get"))? {
            Some(stored) => self.resolve(key, stored),
            None => Ok(None),
        }
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
        if prefix.first() == Some(&pieces::RESERVED) {
            // The binding's own range: no table of its callers is there.
            return Ok(out);
        }
        for entry in self.db.range::<&[u8], _>((lower, Bound::Unbounded)) {
            if out.len() >= limit {
                break;
            }
            let (key, value) = entry.map_err(backend("scan_prefix"))?;
            // The reserved range sorts last: nothing of the callers' follows.
            if !key.starts_with(prefix) || key.first() == Some(&pieces::RESERVED) {
                break;
            }
            // A key removed while its pieces were read is left out, as if
            // the scan had passed it a moment later.
            if let Some(value) = self.resolve(&key, value)? {
                out.push((key.to_vec(), value));
            }
        }
        Ok(out)
    }

    fn commit(&self, writes: &WriteSet) -> Result<(), StoreError> {
        if let Some(key) = writes
            .entries
            .keys()
            .find(|key| key.first() == Some(&pieces::RESERVED))
        {
            return Err(StoreError::Backend {
                operation: "commit",
                detail: format!(
                    "key {} is in the range the store keeps for the pieces of large values",
                    key_hex(key)
                ),
            });
        }
        let _serial = self.commits.lock().unwrap_or_else(|e| e.into_inner());
        if writes.entries.len() >= redo::REDO_ENTRIES_MIN {
            // Durable whole before any entry changes; removed once all are
            // durable (ADR 0017).
            redo::write(&self.dir, writes)?;
            self.apply_entries(writes.entries.iter())?;
            self.flush("commit flush")?;
            return redo::remove(&self.dir);
        }
        let mut batch = sled::Batch::default();
        for (key, value) in &writes.entries {
            // The value this replaces, for its pieces (ADR 0019); a batch
            // does not return old values as single writes do.
            let old = self.db.get(key).map_err(backend("commit"))?;
            let (stored, new) = stage(&mut batch, key, value.as_deref())?;
            batch.put(key, stored.as_deref())?;
            drop_replaced(&mut batch, key, old.as_deref(), new)?;
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

    fn blob_files(dir: &Path) -> usize {
        std::fs::read_dir(dir.join("db").join(SLED_BLOBS_DIR))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    fn patterned(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
    }

    #[test]
    fn large_values_go_in_pieces_and_sled_writes_no_blob() {
        let (dir, store) = temp();
        // Far over sled's inline limit (segment size / 4): without pieces,
        // sled would write this as a blob file.
        let big = patterned(3 * 1024 * 1024 + 5, 1);
        let mut ws = WriteSet::default();
        ws.put(b"big".to_vec(), big.clone());
        ws.put(b"small".to_vec(), b"s".to_vec());
        store.commit(&ws).unwrap();
        assert_eq!(blob_files(dir.path()), 0, "sled wrote a blob file");
        assert_eq!(store.get(b"big").unwrap(), Some(big.clone()));
        // A scan puts it back together too, and does not show the pieces.
        let all = store.scan_prefix(&[], None, 100).unwrap();
        assert_eq!(
            all.iter().map(|(k, _)| k.as_slice()).collect::<Vec<_>>(),
            vec![b"big".as_slice(), b"small".as_slice(), SCHEMA_KEY]
        );
        assert_eq!(all[0].1, big);
        assert!(store
            .scan_prefix(&[pieces::RESERVED], None, 10)
            .unwrap()
            .is_empty());
        drop(store);
        let store = SledStore::open(dir.path().join("db")).unwrap();
        assert_eq!(store.get(b"big").unwrap(), Some(big));
    }

    /// Entries under the binding's reserved range.
    fn pieces_stored(store: &SledStore) -> usize {
        store.db.scan_prefix([pieces::RESERVED]).count()
    }

    #[test]
    fn replacing_or_removing_a_large_value_removes_its_pieces() {
        for entries in [1, redo::REDO_ENTRIES_MIN] {
            let (_dir, store) = temp();
            let commit = |value: Option<Vec<u8>>| {
                let mut ws = WriteSet::default();
                match value {
                    Some(v) => ws.put(b"k".to_vec(), v),
                    None => ws.delete(b"k".to_vec()),
                }
                // Filler, to take the redo file's path when asked.
                for i in 1..entries {
                    ws.put(
                        [b"f".as_slice(), &(i as u32).to_be_bytes()].concat(),
                        vec![1],
                    );
                }
                store.commit(&ws).unwrap();
            };
            let a = patterned(5 * pieces::PIECE_BYTES, 2);
            let b = patterned(3 * pieces::PIECE_BYTES + 1, 3);
            commit(Some(a.clone()));
            assert_eq!(pieces_stored(&store), 5, "{entries} entries");
            // The same value again keeps its pieces.
            commit(Some(a));
            assert_eq!(pieces_stored(&store), 5);
            commit(Some(b.clone()));
            assert_eq!(pieces_stored(&store), 4);
            assert_eq!(store.get(b"k").unwrap(), Some(b));
            commit(Some(b"short".to_vec()));
            assert_eq!(pieces_stored(&store), 0);
            commit(Some(patterned(pieces::PIECE_BYTES + 1, 4)));
            assert_eq!(pieces_stored(&store), 2);
            commit(None);
            assert_eq!(pieces_stored(&store), 0);
            assert_eq!(store.get(b"k").unwrap(), None);
        }
    }

    #[test]
    fn a_reader_sees_a_whole_value_while_commits_replace_it() {
        // Through the redo file's single writes (the old pieces go after the
        // new descriptor lands) and through batches.
        for entries in [redo::REDO_ENTRIES_MIN, 1] {
            let (_dir, store) = temp();
            let values = [
                patterned(3 * pieces::PIECE_BYTES, 7),
                patterned(4 * pieces::PIECE_BYTES + 3, 8),
            ];
            let commit = |value: &Vec<u8>| {
                let mut ws = WriteSet::default();
                ws.put(b"k".to_vec(), value.clone());
                for i in 1..entries {
                    ws.put(
                        [b"f".as_slice(), &(i as u32).to_be_bytes()].concat(),
                        vec![1],
                    );
                }
                store.commit(&ws).unwrap();
            };
            commit(&values[0]);
            let done = std::sync::atomic::AtomicBool::new(false);
            std::thread::scope(|scope| {
                let reader = scope.spawn(|| {
                    let mut reads = 0u32;
                    while !done.load(std::sync::atomic::Ordering::Relaxed) || reads < 10 {
                        let got = store.get(b"k").expect("a whole value, not an error");
                        assert!(values.contains(&got.expect("present")));
                        reads += 1;
                    }
                    reads
                });
                for round in 0..40 {
                    commit(&values[round % 2]);
                }
                done.store(true, std::sync::atomic::Ordering::Relaxed);
                assert!(reader.join().unwrap() >= 10);
            });
        }
    }

    #[test]
    fn a_small_value_that_looks_like_a_descriptor_is_kept_as_written() {
        let (_dir, store) = temp();
        let mut tricky = pieces::MAGIC.to_vec();
        tricky.extend_from_slice(&[0u8; 40]);
        let mut ws = WriteSet::default();
        ws.put(b"t".to_vec(), tricky.clone());
        store.commit(&ws).unwrap();
        assert_eq!(store.get(b"t").unwrap(), Some(tricky));
    }

    #[test]
    fn a_changed_or_missing_piece_is_corrupt_not_a_wrong_value() {
        let (_dir, store) = temp();
        let mut ws = WriteSet::default();
        ws.put(b"k".to_vec(), patterned(3 * pieces::PIECE_BYTES, 5));
        store.commit(&ws).unwrap();
        let (piece_key, piece) = store
            .db
            .scan_prefix([pieces::RESERVED])
            .nth(1)
            .unwrap()
            .unwrap();
        let mut changed = piece.to_vec();
        changed[0] ^= 1;
        store.db.insert(&piece_key, changed).unwrap();
        assert!(matches!(store.get(b"k"), Err(StoreError::Corrupt { .. })));
        assert!(matches!(
            store.scan_prefix(b"k", None, 10),
            Err(StoreError::Corrupt { .. })
        ));
        store.db.remove(&piece_key).unwrap();
        assert!(matches!(store.get(b"k"), Err(StoreError::Corrupt { .. })));
    }

    #[test]
    fn a_write_into_the_reserved_range_is_refused_and_changes_nothing() {
        let (_dir, store) = temp();
        let mut ws = WriteSet::default();
        ws.put(b"a".to_vec(), b"1".to_vec());
        ws.put(vec![pieces::RESERVED, b'P', 1], b"x".to_vec());
        assert!(matches!(
            store.commit(&ws),
            Err(StoreError::Backend {
                operation: "commit",
                ..
            })
        ));
        assert_eq!(store.get(b"a").unwrap(), None);
        assert_eq!(pieces_stored(&store), 0);
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
            StoreError::UnknownSchemaVersion {
                found: 7,
                supported: SCHEMA_VERSION
            }
        );
    }

    #[test]
    fn earlier_schemas_are_upgraded_on_open_and_refused_by_their_builds() {
        for earlier in SCHEMA_VERSIONS_UPGRADED.iter().copied() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("db");
            let big = patterned(300 * 1024, 6);
            {
                let store = SledStore::open(&path).unwrap();
                store
                    .db()
                    .insert(SCHEMA_KEY, earlier.to_be_bytes().to_vec())
                    .unwrap();
                // What an earlier build wrote: a large value stored whole.
                store.db().insert(b"whole", big.clone()).unwrap();
                let mut ws = WriteSet::default();
                ws.put(b"a".to_vec(), b"1".to_vec());
                store.commit(&ws).unwrap();
            }
            let store = SledStore::open(&path).unwrap();
            assert_eq!(
                store.db().get(SCHEMA_KEY).unwrap().unwrap().to_vec(),
                SCHEMA_VERSION.to_be_bytes().to_vec()
            );
            assert_eq!(store.get(b"a").unwrap(), Some(b"1".to_vec()));
            assert_eq!(store.get(b"whole").unwrap(), Some(big));
            // What a build of the earlier schema checks on open: the marker.
            let marker = decode_schema(&store.db().get(SCHEMA_KEY).unwrap().unwrap()).unwrap();
            assert_ne!(
                marker, earlier,
                "a schema-{earlier} build would read new entries"
            );
        }
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
            Err(StoreError::Corrupt { .. })
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
            Err(StoreError::NotAKpledgerStore { .. })
        ));
    }

    #[test]
    fn second_open_in_one_process_fails_cleanly() {
        let (dir, _store) = temp();
        let error = SledStore::open(dir.path().join("db")).unwrap_err();
        assert!(matches!(error, StoreError::Open { .. }), "{error:?}");
        let text = error.to_string();
        assert!(text.contains("another process has it open"), "{text}");
        assert!(!text.contains("WouldBlock"), "{text}");
    }
}
