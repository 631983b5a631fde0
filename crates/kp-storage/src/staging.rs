//! [`StagingStore`]: lets the host add writes that depend on the ledger's
//! result (the block's receipts) to the ledger's own atomic commit.
//!
//! `Ledger::apply_block(block, host_writes)` commits the block's state
//! changes and the host's writes in one `StateStore::commit`, but the
//! receipts it returns do not exist before that commit, so they cannot be
//! among `host_writes`. Writing them in a second commit leaves a window where
//! a crash loses them for good: the ledger cannot re-execute a block it has
//! already applied.
//!
//! Wrapping the node's store in a `StagingStore` closes that window without
//! changing the ledger:
//!
//! 1. [`StagingStore::stage`] arms capture;
//! 2. `apply_block` runs; its `commit` is captured in memory, not written;
//! 3. [`StagingStore::commit_staged`] writes the captured set plus the
//!    host's late writes (receipts) in one atomic, durable commit.
//!
//! While a set is captured, reads see it overlaid on the inner store, so the
//! store looks exactly as if the capture had been written. If step 3 fails,
//! the ledger's in-memory state is ahead of the disk: the node must stop
//! (STYLE §8, a failed storage write is fatal) and will resume from the disk.

use crate::error::StorageError;
use kp_ledger::{StateStore, StoreError, WriteSet};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

/// Largest page the overlay scan asks of the inner store at once.
const OVERLAY_PAGE_MAX: usize = 1024;

#[derive(Debug, Default)]
enum Stage {
    /// Commits go straight to the inner store.
    #[default]
    Idle,
    /// Commits are captured (merged, later entries winning) until
    /// [`StagingStore::commit_staged`].
    Capturing(WriteSet),
}

/// A [`StateStore`] whose commits can be held back and completed with more
/// writes in one atomic commit. Clones share the inner store and the stage.
#[derive(Clone, Debug)]
pub struct StagingStore<S> {
    inner: S,
    stage: Arc<Mutex<Stage>>,
}

impl<S: StateStore> StagingStore<S> {
    /// Wraps `inner`; commits pass straight through until [`StagingStore::stage`].
    pub fn new(inner: S) -> StagingStore<S> {
        StagingStore {
            inner,
            stage: Arc::new(Mutex::new(Stage::Idle)),
        }
    }

    /// The wrapped store (reads on it do not see captured writes).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Starts capturing commits. Refused while a capture is already open,
    /// which would mean a previous block was never completed.
    pub fn stage(&self) -> Result<(), StorageError> {
        let mut stage = self.lock();
        if let Stage::Capturing(pending) = &*stage {
            return Err(StorageError::StagingOpen {
                pending_entries: pending.len(),
            });
        }
        *stage = Stage::Capturing(WriteSet::default());
        Ok(())
    }

    /// Whether commits are being captured.
    pub fn is_staging(&self) -> bool {
        matches!(&*self.lock(), Stage::Capturing(_))
    }

    /// Writes everything captured since [`StagingStore::stage`] plus `late`
    /// (which wins on conflicts) in one atomic, durable commit, and stops
    /// capturing. Refused when no capture is open.
    pub fn commit_staged(&self, late: WriteSet) -> Result<(), StorageError> {
        let mut stage = self.lock();
        let Stage::Capturing(captured) = std::mem::take(&mut *stage) else {
            return Err(StorageError::NotStaging);
        };
        let mut writes = captured;
        writes.extend(late);
        // The stage is already back to idle: whatever happens here, nothing
        // stays captured to be written twice or read as if it were stored.
        self.inner.commit(&writes)?;
        Ok(())
    }

    /// Drops what was captured and stops capturing. Only safe when the
    /// captured commit's author (the ledger) has not kept its result in
    /// memory, i.e. after it returned an error; otherwise stop the node.
    pub fn abort_staged(&self) {
        *self.lock() = Stage::Idle;
    }

    fn lock(&self) -> MutexGuard<'_, Stage> {
        // A poisoned lock means a panic mid-update of the stage, a bug; the
        // stage itself is always a whole value, so going on is sound.
        self.stage.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<S: StateStore> StateStore for StagingStore<S> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Stage::Capturing(captured) = &*self.lock() {
            if let Some(value) = captured.entries.get(key) {
                return Ok(value.clone());
            }
        }
        self.inner.get(key)
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        match &*self.lock() {
            Stage::Capturing(captured) if !captured.is_empty() => {
                scan_overlay(&self.inner, &captured.entries, prefix, start_after, limit)
            }
            _ => self.inner.scan_prefix(prefix, start_after, limit),
        }
    }

    fn commit(&self, writes: &WriteSet) -> Result<(), StoreError> {
        let mut stage = self.lock();
        match &mut *stage {
            Stage::Capturing(captured) => {
                captured.extend(writes.clone());
                Ok(())
            }
            Stage::Idle => self.inner.commit(writes),
        }
    }
}

/// Key-value pairs in key order, as `scan_prefix` returns them.
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// `scan_prefix` over `inner` with `overlay` applied on top: overlay puts
/// replace or add entries, overlay deletes hide them. Both sides are walked
/// in key order and merged; the inner store is read in pages, so deleted
/// entries can cost extra pages but never an unbounded read at once.
fn scan_overlay<S: StateStore>(
    inner: &S,
    overlay: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    prefix: &[u8],
    start_after: Option<&[u8]>,
    limit: usize,
) -> Result<Entries, StoreError> {
    let lower: Bound<&[u8]> = match start_after {
        Some(after) if after >= prefix => Bound::Excluded(after),
        _ => Bound::Included(prefix),
    };
    let mut staged = overlay
        .range::<[u8], _>((lower, Bound::Unbounded))
        .take_while(|(k, _)| k.starts_with(prefix))
        .peekable();
    let page_size = limit.clamp(1, OVERLAY_PAGE_MAX);
    let mut cursor: Option<Vec<u8>> = start_after.map(<[u8]>::to_vec);
    let mut page = std::collections::VecDeque::new();
    let mut inner_done = false;
    let mut out = Vec::with_capacity(limit.min(OVERLAY_PAGE_MAX));
    while out.len() < limit {
        if page.is_empty() && !inner_done {
            let fetched = inner.scan_prefix(prefix, cursor.as_deref(), page_size)?;
            inner_done = fetched.len() < page_size;
            if let Some((last, _)) = fetched.last() {
                cursor = Some(last.clone());
            }
            page.extend(fetched);
        }
        let order = match (page.front(), staged.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some((inner_key, _)), Some((staged_key, _))) => {
                inner_key.as_slice().cmp(staged_key.as_slice())
            }
        };
        if order == std::cmp::Ordering::Equal {
            // The staged entry replaces (or deletes) the stored one.
            page.pop_front();
        }
        let take_inner = order == std::cmp::Ordering::Less;
        if take_inner {
            if let Some(entry) = page.pop_front() {
                out.push(entry);
            }
        } else if let Some((key, Some(value))) = staged.next() {
            out.push((key.clone(), value.clone()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kp_ledger::MemStore;
    use rand::{Rng, SeedableRng};

    fn random_writes(rng: &mut rand_chacha::ChaCha8Rng, count: usize) -> WriteSet {
        let mut writes = WriteSet::default();
        for _ in 0..count {
            let key = vec![
                rng.gen_range(0..3u8),
                rng.gen_range(0..6u8),
                rng.gen_range(0..4u8),
            ];
            if rng.gen_bool(0.3) {
                writes.delete(key);
            } else {
                writes.put(key, vec![rng.gen()]);
            }
        }
        writes
    }

    #[test]
    fn captured_reads_equal_committed_reads() {
        // For many random stores and captures, the staged view answers every
        // query exactly as the store would after the capture is written.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for round in 0..200 {
            let base = random_writes(&mut rng, 40);
            let captured = random_writes(&mut rng, 15);
            let staging = StagingStore::new(MemStore::new());
            staging.commit(&base).unwrap();
            staging.stage().unwrap();
            staging.commit(&captured).unwrap();
            let reference = MemStore::new();
            reference.commit(&base).unwrap();
            reference.commit(&captured).unwrap();
            for _ in 0..20 {
                let prefix: Vec<u8> = (0..rng.gen_range(0..3))
                    .map(|_| rng.gen_range(0..3))
                    .collect();
                let after: Option<Vec<u8>> = rng
                    .gen_bool(0.5)
                    .then(|| vec![rng.gen_range(0..3), rng.gen_range(0..6)]);
                let limit = rng.gen_range(0..12);
                assert_eq!(
                    staging
                        .scan_prefix(&prefix, after.as_deref(), limit)
                        .unwrap(),
                    reference
                        .scan_prefix(&prefix, after.as_deref(), limit)
                        .unwrap(),
                    "round {round} prefix {prefix:?} after {after:?} limit {limit}"
                );
                let key = vec![
                    rng.gen_range(0..3),
                    rng.gen_range(0..6),
                    rng.gen_range(0..4),
                ];
                assert_eq!(staging.get(&key).unwrap(), reference.get(&key).unwrap());
            }
            // Nothing reached the inner store yet.
            let inner = staging.inner().scan_prefix(&[], None, 1000).unwrap();
            let base_only = MemStore::new();
            base_only.commit(&base).unwrap();
            assert_eq!(inner, base_only.scan_prefix(&[], None, 1000).unwrap());
        }
    }

    #[test]
    fn commit_staged_writes_capture_and_late_writes_together() {
        let staging = StagingStore::new(MemStore::new());
        staging.stage().unwrap();
        assert!(staging.is_staging());
        let mut ledger = WriteSet::default();
        ledger.put(b"\x01height".to_vec(), vec![1]);
        ledger.put(b"\x85receipts".to_vec(), vec![]);
        staging.commit(&ledger).unwrap();
        assert_eq!(staging.inner().get(b"\x01height").unwrap(), None);
        let mut late = WriteSet::default();
        late.put(b"\x85receipts".to_vec(), vec![9]);
        staging.commit_staged(late).unwrap();
        assert!(!staging.is_staging());
        assert_eq!(staging.inner().get(b"\x01height").unwrap(), Some(vec![1]));
        // The late write won over the placeholder.
        assert_eq!(staging.inner().get(b"\x85receipts").unwrap(), Some(vec![9]));
        // Idle again: commits pass through.
        let mut direct = WriteSet::default();
        direct.put(b"x".to_vec(), vec![2]);
        staging.commit(&direct).unwrap();
        assert_eq!(staging.inner().get(b"x").unwrap(), Some(vec![2]));
    }

    #[test]
    fn stage_protocol_misuse_is_refused() {
        let staging = StagingStore::new(MemStore::new());
        assert_eq!(
            staging.commit_staged(WriteSet::default()),
            Err(StorageError::NotStaging)
        );
        staging.stage().unwrap();
        let mut ws = WriteSet::default();
        ws.put(b"a".to_vec(), vec![]);
        staging.commit(&ws).unwrap();
        assert_eq!(
            staging.stage(),
            Err(StorageError::StagingOpen { pending_entries: 1 })
        );
        staging.abort_staged();
        assert!(!staging.is_staging());
        assert_eq!(staging.get(b"a").unwrap(), None);
    }
}
