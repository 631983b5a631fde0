//! The ledger's store with its write-behind layers: the writes of blocks the
//! ledger advanced past (`Ledger::advance_behind`) before its host made
//! them durable, read as if written.
//!
//! A host that replays many blocks (block sync) executes the next blocks
//! while the last ones are written on another thread. The layers make that
//! safe without a protocol on the store: reads see the newest layer first,
//! then older ones, then the store. The host takes the layers in order
//! (`Ledger::take_behind`), at most one taken and unwritten at a time, and
//! says when each is durable (`Ledger::behind_written`); a commit straight
//! to the store is refused while any layer is held, since it could reach the
//! store before the writes it follows.

use crate::store::{StateStore, StoreError, WriteSet};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

/// Largest page the overlay scan asks of the store below at once.
const OVERLAY_PAGE_MAX: usize = 1024;

/// A store and the layers written on top of it, oldest first.
#[derive(Debug)]
pub(crate) struct Behind<S> {
    inner: S,
    layers: Vec<Arc<WriteSet>>,
    /// Whether the newest layer still takes writes (not yet taken).
    open: bool,
}

impl<S: StateStore> Behind<S> {
    pub(crate) fn new(inner: S) -> Behind<S> {
        Behind {
            inner,
            layers: Vec::new(),
            open: false,
        }
    }

    pub(crate) fn inner(&self) -> &S {
        &self.inner
    }

    /// Whether any write is held (open or taken and not yet written).
    pub(crate) fn holds_writes(&self) -> bool {
        !self.layers.is_empty()
    }

    /// Whether a taken layer is not yet written.
    pub(crate) fn taken_unwritten(&self) -> bool {
        self.layers.len() > usize::from(self.open)
    }

    /// Adds `writes` to the open layer (later entries win).
    pub(crate) fn push(&mut self, writes: WriteSet) {
        match self.layers.last_mut() {
            Some(last) if self.open => Arc::make_mut(last).extend(writes),
            _ => {
                self.layers.push(Arc::new(writes));
                self.open = true;
            }
        }
    }

    /// Closes the open layer and returns it to be written; `None` if no
    /// layer is open. Reads keep seeing it until [`Behind::written`].
    pub(crate) fn take(&mut self) -> Option<Arc<WriteSet>> {
        if !self.open {
            return None;
        }
        self.open = false;
        self.layers.last().cloned()
    }

    /// The oldest taken layer is durable in the store: reads go there now.
    pub(crate) fn written(&mut self) -> bool {
        if !self.taken_unwritten() {
            return false;
        }
        self.layers.remove(0);
        true
    }

    fn view(&self) -> Layers<'_, S> {
        Layers {
            inner: &self.inner,
            layers: &self.layers,
        }
    }
}

impl<S: StateStore> StateStore for Behind<S> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.view().get(key)
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        self.view().scan_prefix(prefix, start_after, limit)
    }

    fn commit(&self, writes: &WriteSet) -> Result<(), StoreError> {
        self.refuse_while_behind()?;
        self.inner.commit(writes)
    }

    fn commit_owned(&self, writes: WriteSet) -> Result<(), StoreError> {
        self.refuse_while_behind()?;
        self.inner.commit_owned(writes)
    }
}

impl<S: StateStore> Behind<S> {
    fn refuse_while_behind(&self) -> Result<(), StoreError> {
        if self.holds_writes() {
            // It could reach the store before the writes it follows.
            return Err(StoreError::Backend {
                operation: "commit",
                detail: "blocks applied ahead of the store are not yet written".into(),
            });
        }
        Ok(())
    }
}

/// The store with `layers` (oldest first) on top: what it holds once they
/// are written.
struct Layers<'a, S> {
    inner: &'a S,
    layers: &'a [Arc<WriteSet>],
}

impl<S: StateStore> StateStore for Layers<'_, S> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        for layer in self.layers.iter().rev() {
            if let Some(value) = layer.entries.get(key) {
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
        match self.layers.split_last() {
            None => self.inner.scan_prefix(prefix, start_after, limit),
            Some((top, below)) if top.is_empty() => Layers {
                inner: self.inner,
                layers: below,
            }
            .scan_prefix(prefix, start_after, limit),
            Some((top, below)) => scan_overlay(
                &Layers {
                    inner: self.inner,
                    layers: below,
                },
                &top.entries,
                prefix,
                start_after,
                limit,
            ),
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

/// `scan_prefix` over `below` with `overlay` applied on top: overlay puts
/// replace or add entries, overlay deletes hide them. Both sides are walked
/// in key order and merged; the store below is read in pages, so deleted
/// entries can cost extra pages but never an unbounded read at once.
fn scan_overlay<S: StateStore>(
    below: &S,
    overlay: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    prefix: &[u8],
    start_after: Option<&[u8]>,
    limit: usize,
) -> Result<Entries, StoreError> {
    let lower: Bound<&[u8]> = match start_after {
        Some(after) if after >= prefix => Bound::Excluded(after),
        _ => Bound::Included(prefix),
    };
    let mut above = overlay
        .range::<[u8], _>((lower, Bound::Unbounded))
        .take_while(|(k, _)| k.starts_with(prefix))
        .peekable();
    let page_size = limit.clamp(1, OVERLAY_PAGE_MAX);
    let mut cursor: Option<Vec<u8>> = start_after.map(<[u8]>::to_vec);
    let mut page = std::collections::VecDeque::new();
    let mut below_done = false;
    let mut out = Vec::with_capacity(limit.min(OVERLAY_PAGE_MAX));
    while out.len() < limit {
        if page.is_empty() && !below_done {
            let fetched = below.scan_prefix(prefix, cursor.as_deref(), page_size)?;
            below_done = fetched.len() < page_size;
            if let Some((last, _)) = fetched.last() {
                cursor = Some(last.clone());
            }
            page.extend(fetched);
        }
        let order = match (page.front(), above.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some((below_key, _)), Some((above_key, _))) => {
                below_key.as_slice().cmp(above_key.as_slice())
            }
        };
        if order == std::cmp::Ordering::Equal {
            // The entry above replaces (or deletes) the one below.
            page.pop_front();
        }
        if order == std::cmp::Ordering::Less {
            if let Some(entry) = page.pop_front() {
                out.push(entry);
            }
        } else if let Some((key, Some(value))) = above.next() {
            out.push((key.clone(), value.clone()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;
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

    fn all_reads<S: StateStore>(store: &S) -> Vec<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut reads = Vec::new();
        for prefix in [vec![], vec![0u8], vec![1], vec![1, 3], vec![2, 5, 1]] {
            for limit in [1usize, 2, 5, 1000] {
                // Walk the prefix page by page, as the ledger does.
                let mut cursor: Option<Vec<u8>> = None;
                let mut walked = Vec::new();
                for _ in 0..1000 {
                    let page = store
                        .scan_prefix(&prefix, cursor.as_deref(), limit)
                        .unwrap();
                    let done = page.len() < limit;
                    cursor = page.last().map(|(k, _)| k.clone());
                    walked.extend(page);
                    if done {
                        break;
                    }
                }
                reads.push(walked);
            }
        }
        for a in 0..3u8 {
            for b in 0..6u8 {
                for c in 0..4u8 {
                    let v = store.get(&[a, b, c]).unwrap();
                    reads.push(v.into_iter().map(|v| (vec![a, b, c], v)).collect());
                }
            }
        }
        reads
    }

    /// Layers in every state (open, taken, written) read exactly like a
    /// store that had every write committed in order.
    #[test]
    fn reads_through_the_layers_equal_reads_of_the_written_store() {
        for seed in 0..200u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let base = MemStore::new();
            base.commit(&random_writes(&mut rng, 20)).unwrap();
            let expected = base.snapshot();
            let mut behind = Behind::new(base.clone());
            for step in 0..8 {
                let count = rng.gen_range(0..12);
                let writes = random_writes(&mut rng, count);
                expected.commit(&writes).unwrap();
                behind.push(writes);
                match rng.gen_range(0..3) {
                    0 if !behind.taken_unwritten() => {
                        if let Some(taken) = behind.take() {
                            // Written later: reads must not change meanwhile.
                            assert_eq!(all_reads(&behind), all_reads(&expected));
                            base.commit(&taken).unwrap();
                            assert!(behind.written());
                        }
                    }
                    1 if !behind.taken_unwritten() => {
                        let _ = behind.take();
                    }
                    _ => {}
                }
                assert_eq!(
                    all_reads(&behind),
                    all_reads(&expected),
                    "seed {seed}, step {step}"
                );
            }
        }
    }

    #[test]
    fn a_direct_commit_waits_for_no_layer_and_layers_are_written_in_order() {
        let base = MemStore::new();
        let mut behind = Behind::new(base.clone());
        let mut first = WriteSet::default();
        first.put(vec![1], vec![1]);
        behind.push(first);
        assert!(behind.commit(&WriteSet::default()).is_err());
        let taken = behind.take().unwrap();
        assert!(behind.take().is_none(), "nothing open to take");
        let mut second = WriteSet::default();
        second.put(vec![1], vec![2]);
        behind.push(second);
        assert_eq!(behind.get(&[1]).unwrap(), Some(vec![2]));
        base.commit(&taken).unwrap();
        assert!(behind.written());
        assert!(!behind.written(), "the open layer is not taken");
        assert_eq!(behind.get(&[1]).unwrap(), Some(vec![2]));
        assert_eq!(base.get(&[1]).unwrap(), Some(vec![1]));
        let taken = behind.take().unwrap();
        base.commit(&taken).unwrap();
        assert!(behind.written());
        assert!(!behind.holds_writes());
        behind.commit(&WriteSet::default()).unwrap();
        assert_eq!(base.get(&[1]).unwrap(), Some(vec![2]));
    }
}
