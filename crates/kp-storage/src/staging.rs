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
//!
//! Step 3 can also run on another thread ([`StagingStore::detach_staged`],
//! then [`PendingWrite::write`]), so that the next blocks execute while the
//! last ones are written (block sync). Until the write is done, reads see
//! the detached set under the next capture, so the store still looks written;
//! one detached write at a time, and any other write to the inner store is
//! refused meanwhile, so writes reach it in order.

use crate::error::StorageError;
use kp_ledger::{StateStore, StoreError, WriteSet};
use std::borrow::Cow;
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

/// The stage and the detached write being written, under one lock.
#[derive(Debug, Default)]
struct State {
    stage: Stage,
    /// Detached by [`StagingStore::detach_staged`], not yet written (or its
    /// write failed, after which it stays: reads keep matching the ledger's
    /// memory, and further writes are refused).
    writing: Option<Arc<WriteSet>>,
}

impl State {
    /// Ends the capture: what it captured plus `late` (which wins). Refused
    /// with no capture open or while a detached write is not yet written.
    fn take_staged(&mut self, late: WriteSet) -> Result<WriteSet, StorageError> {
        if let Some(writing) = &self.writing {
            return Err(StorageError::WriteInFlight {
                entries: writing.len(),
            });
        }
        let Stage::Capturing(mut writes) = std::mem::take(&mut self.stage) else {
            return Err(StorageError::NotStaging);
        };
        writes.extend(late);
        Ok(writes)
    }
}

/// A [`StateStore`] whose commits can be held back and completed with more
/// writes in one atomic commit. Clones share the inner store and the stage.
#[derive(Clone, Debug)]
pub struct StagingStore<S> {
    inner: S,
    stage: Arc<Mutex<State>>,
}

/// A detached staged commit: [`PendingWrite::write`] writes it, on any thread.
#[derive(Debug)]
#[must_use = "a detached commit is written only by `write`"]
pub struct PendingWrite<S> {
    store: StagingStore<S>,
    writes: Arc<WriteSet>,
}

impl<S: StateStore> PendingWrite<S> {
    /// Writes the detached set in one atomic, durable commit of the inner
    /// store; on success, reads stop seeing it as an overlay (the inner store
    /// has it). On failure the node must stop, as for `commit_staged`.
    pub fn write(self) -> Result<(), StorageError> {
        self.store.inner.commit(&self.writes)?;
        let mut state = self.store.lock();
        if state
            .writing
            .as_ref()
            .is_some_and(|w| Arc::ptr_eq(w, &self.writes))
        {
            state.writing = None;
        }
        Ok(())
    }

    /// Entries in the detached set.
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    /// Whether the detached set is empty.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}

impl<S: StateStore> StagingStore<S> {
    /// Wraps `inner`; commits pass straight through until [`StagingStore::stage`].
    pub fn new(inner: S) -> StagingStore<S> {
        StagingStore {
            inner,
            stage: Arc::new(Mutex::new(State::default())),
        }
    }

    /// The wrapped store (reads on it do not see captured writes).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Starts capturing commits. Refused while a capture is already open,
    /// which would mean a previous block was never completed.
    pub fn stage(&self) -> Result<(), StorageError> {
        let mut state = self.lock();
        if let Stage::Capturing(pending) = &state.stage {
            return Err(StorageError::StagingOpen {
                pending_entries: pending.len(),
            });
        }
        state.stage = Stage::Capturing(WriteSet::default());
        Ok(())
    }

    /// Whether commits are being captured.
    pub fn is_staging(&self) -> bool {
        matches!(&self.lock().stage, Stage::Capturing(_))
    }

    /// Whether a detached write is not yet written.
    pub fn is_writing(&self) -> bool {
        self.lock().writing.is_some()
    }

    /// Writes everything captured since [`StagingStore::stage`] plus `late`
    /// (which wins on conflicts) in one atomic, durable commit, and stops
    /// capturing. Refused when no capture is open.
    pub fn commit_staged(&self, late: WriteSet) -> Result<(), StorageError> {
        let mut state = self.lock();
        let writes = state.take_staged(late)?;
        // The stage is already back to idle: whatever happens here, nothing
        // stays captured to be written twice or read as if it were stored.
        self.inner.commit(&writes)?;
        Ok(())
    }

    /// Drops what was captured and stops capturing. Only safe when the
    /// captured commit's author (the ledger) has not kept its result in
    /// memory, i.e. after it returned an error; otherwise stop the node.
    pub fn abort_staged(&self) {
        self.lock().stage = Stage::Idle;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a panic mid-update of the stage, a bug; the
        // stage itself is always a whole value, so going on is sound.
        self.stage.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<S: StateStore + Clone> StagingStore<S> {
    /// Like [`StagingStore::commit_staged`], but returns the write instead of
    /// doing it: the caller runs [`PendingWrite::write`] on any thread, and
    /// meanwhile reads see the set as if written and a new capture may
    /// start. Refused with no capture open, or while an earlier detached
    /// write is not yet written.
    pub fn detach_staged(&self, late: WriteSet) -> Result<PendingWrite<S>, StorageError> {
        let mut state = self.lock();
        let writes = Arc::new(state.take_staged(late)?);
        state.writing = Some(writes.clone());
        Ok(PendingWrite {
            store: self.clone(),
            writes,
        })
    }
}

impl<S: StateStore> StateStore for StagingStore<S> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let state = self.lock();
        if let Stage::Capturing(captured) = &state.stage {
            if let Some(value) = captured.entries.get(key) {
                return Ok(value.clone());
            }
        }
        if let Some(writing) = &state.writing {
            if let Some(value) = writing.entries.get(key) {
                return Ok(value.clone());
            }
        }
        drop(state);
        self.inner.get(key)
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        let state = self.lock();
        let below = Written {
            inner: &self.inner,
            writing: state.writing.as_deref(),
        };
        match &state.stage {
            Stage::Capturing(captured) if !captured.is_empty() => {
                scan_overlay(&below, &captured.entries, prefix, start_after, limit)
            }
            _ => below.scan_prefix(prefix, start_after, limit),
        }
    }

    fn commit(&self, writes: &WriteSet) -> Result<(), StoreError> {
        self.commit_cow(Cow::Borrowed(writes))
    }

    fn commit_owned(&self, writes: WriteSet) -> Result<(), StoreError> {
        self.commit_cow(Cow::Owned(writes))
    }
}

impl<S: StateStore> StagingStore<S> {
    /// A commit: captured into the open stage (the writes are copied only
    /// if the caller keeps them), or straight to the inner store.
    fn commit_cow(&self, writes: Cow<'_, WriteSet>) -> Result<(), StoreError> {
        let mut state = self.lock();
        if let Stage::Capturing(captured) = &mut state.stage {
            captured.extend(writes.into_owned());
            return Ok(());
        }
        if state.writing.is_some() {
            // A direct write now could reach the inner store before the
            // detached one it follows.
            return Err(StoreError::Backend {
                operation: "commit",
                detail: "a detached staged write is not yet written".into(),
            });
        }
        drop(state);
        self.inner.commit(&writes)
    }
}

/// The inner store with a detached write (if any) overlaid: what the store
/// holds once that write is done.
struct Written<'a, S> {
    inner: &'a S,
    writing: Option<&'a WriteSet>,
}

impl<S: StateStore> StateStore for Written<'_, S> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.writing.and_then(|w| w.entries.get(key)) {
            Some(value) => Ok(value.clone()),
            None => self.inner.get(key),
        }
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        match self.writing {
            Some(w) if !w.is_empty() => {
                scan_overlay(self.inner, &w.entries, prefix, start_after, limit)
            }
            _ => self.inner.scan_prefix(prefix, start_after, limit),
        }
    }

    fn commit(&self, _writes: &WriteSet) -> Result<(), StoreError> {
        Err(StoreError::Backend {
            operation: "commit",
            detail: "a read-only view".into(),
        })
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

    #[test]
    fn a_detached_write_reads_as_written_under_the_next_capture() {
        let staging = StagingStore::new(MemStore::new());
        let mut base = WriteSet::default();
        base.put(b"a1".to_vec(), vec![0]);
        base.put(b"a2".to_vec(), vec![0]);
        base.put(b"a3".to_vec(), vec![0]);
        staging.commit(&base).unwrap();
        // First capture: change a1, delete a2, add a4; receipts as late writes.
        staging.stage().unwrap();
        let mut first = WriteSet::default();
        first.put(b"a1".to_vec(), vec![1]);
        first.delete(b"a2".to_vec());
        first.put(b"a4".to_vec(), vec![1]);
        staging.commit(&first).unwrap();
        let mut late = WriteSet::default();
        late.put(b"r1".to_vec(), vec![1]);
        let pending = staging.detach_staged(late).unwrap();
        assert_eq!(pending.len(), 4);
        assert!(staging.is_writing() && !staging.is_staging());
        // Not written yet, but read as written.
        assert_eq!(staging.inner().get(b"a1").unwrap(), Some(vec![0]));
        assert_eq!(staging.get(b"a1").unwrap(), Some(vec![1]));
        assert_eq!(staging.get(b"a2").unwrap(), None);
        assert_eq!(staging.get(b"r1").unwrap(), Some(vec![1]));
        // A second capture on top: change a3, delete a4.
        staging.stage().unwrap();
        let mut second = WriteSet::default();
        second.put(b"a3".to_vec(), vec![2]);
        second.delete(b"a4".to_vec());
        staging.commit(&second).unwrap();
        let seen = |s: &StagingStore<MemStore>| {
            s.scan_prefix(b"a", None, 10)
                .unwrap()
                .into_iter()
                .map(|(k, v)| (String::from_utf8(k).unwrap(), v))
                .collect::<Vec<_>>()
        };
        let expected = vec![("a1".to_string(), vec![1]), ("a3".to_string(), vec![2])];
        assert_eq!(seen(&staging), expected);
        // One detached write at a time, and no write around it.
        assert_eq!(
            staging.detach_staged(WriteSet::default()).unwrap_err(),
            StorageError::WriteInFlight { entries: 4 }
        );
        assert_eq!(
            staging.commit_staged(WriteSet::default()),
            Err(StorageError::WriteInFlight { entries: 4 })
        );
        // Written on another thread; the second capture is still there.
        std::thread::spawn(move || pending.write().unwrap())
            .join()
            .unwrap();
        assert!(!staging.is_writing() && staging.is_staging());
        assert_eq!(staging.inner().get(b"a1").unwrap(), Some(vec![1]));
        assert_eq!(seen(&staging), expected);
        staging.commit_staged(WriteSet::default()).unwrap();
        assert_eq!(
            staging.inner().scan_prefix(b"a", None, 10).unwrap().len(),
            2
        );
        assert_eq!(seen(&staging), expected);
    }

    #[test]
    fn a_direct_write_waits_for_no_detached_write() {
        let staging = StagingStore::new(MemStore::new());
        staging.stage().unwrap();
        let pending = staging.detach_staged(WriteSet::default()).unwrap();
        let mut ws = WriteSet::default();
        ws.put(b"x".to_vec(), vec![1]);
        assert!(staging.commit(&ws).is_err());
        pending.write().unwrap();
        staging.commit(&ws).unwrap();
        assert_eq!(staging.inner().get(b"x").unwrap(), Some(vec![1]));
    }
}
