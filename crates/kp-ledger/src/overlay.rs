//! A two-layer write buffer over the store: the block layer holds the effects
//! of the transactions executed so far in the block, the transaction layer
//! those of the transaction being executed. A transaction that breaks a rule
//! is dropped by discarding its layer, so it changes nothing; an executed one
//! is folded into the block layer. The block layer is committed in one
//! `StateStore::commit` at the end of the block.

use crate::memo::{Decoded, ReadMemo};
use crate::records::{AuthorityRecord, ParticipantRecord};
use crate::store::{StateStore, StoreError};
use serde::{de::DeserializeOwned, Serialize};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Largest stored value the ledger decodes.
const STORED_VALUE_BYTES_MAX: usize = kp_types::encoding::DECODE_BYTES_MAX;

/// Page size when scanning the store under an overlay.
const SCAN_PAGE: usize = 512;

/// Pending puts (`Some`) and deletes (`None`).
pub(crate) type Changes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Values read from the store (`None`: absent), by key.
pub(crate) type Reads = HashMap<Vec<u8>, Option<Vec<u8>>>;

/// The store seen through the block's and the transaction's pending writes.
///
/// Point reads that reach the store are remembered for the overlay's life
/// (the store does not change under an overlay: writes go to its layers and
/// the store is committed only after it is consumed). A block reads the same
/// members, authorities and keys for every certificate, and the state root
/// needs the previous value of every key the block changes, which execution
/// has mostly read already. Bounded by what one block or query reads.
pub(crate) struct Overlay<'a, S: StateStore> {
    store: &'a S,
    block: Changes,
    tx: Changes,
    reads: RefCell<Reads>,
    /// Member and authority records of the store (not of the pending
    /// layers), decoded once per overlay.
    members: Local<ParticipantRecord>,
    authorities: Local<AuthorityRecord>,
    /// Store values remembered across overlays, if known to be of the
    /// store's current state.
    memo: Option<&'a ReadMemo>,
}

impl<'a, S: StateStore> Overlay<'a, S> {
    /// An overlay with no pending writes.
    pub(crate) fn new(store: &'a S) -> Self {
        Overlay {
            store,
            block: BTreeMap::new(),
            tx: BTreeMap::new(),
            reads: RefCell::new(HashMap::new()),
            members: RefCell::new(HashMap::new()),
            authorities: RefCell::new(HashMap::new()),
            memo: None,
        }
    }

    /// Reads the small tables through `memo` (of the store's current state).
    pub(crate) fn with_memo(mut self, memo: Option<&'a ReadMemo>) -> Self {
        self.memo = memo;
        self
    }

    /// Raw read: transaction layer, then block layer, then store.
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(v) = self.tx.get(key) {
            return Ok(v.clone());
        }
        if let Some(v) = self.block.get(key) {
            return Ok(v.clone());
        }
        if let Some(v) = self.reads.borrow().get(key) {
            return Ok(v.clone());
        }
        let memo = self.memo.filter(|_| ReadMemo::covers(key));
        let v = match memo.and_then(|m| m.get(key)) {
            Some(v) => v,
            None => {
                let v = self.store.get(key)?;
                if let Some(m) = memo {
                    m.remember(key, &v);
                }
                v
            }
        };
        self.reads.borrow_mut().insert(key.to_vec(), v.clone());
        Ok(v)
    }

    /// Whether a key holds a value.
    pub(crate) fn contains(&self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.get(key)?.is_some())
    }

    /// [`Overlay::contains`] for a key the caller knows the store does not
    /// hold unless `in_store_maybe`: then only the pending layers are
    /// consulted, and the store's absence is remembered as a read.
    pub(crate) fn contains_hinted(
        &self,
        key: &[u8],
        in_store_maybe: bool,
    ) -> Result<bool, StoreError> {
        if in_store_maybe {
            return self.contains(key);
        }
        if let Some(v) = self.tx.get(key).or_else(|| self.block.get(key)) {
            return Ok(v.is_some());
        }
        let mut reads = self.reads.borrow_mut();
        Ok(reads.entry(key.to_vec()).or_insert(None).is_some())
    }

    /// Typed read.
    pub(crate) fn get_value<T: DeserializeOwned>(
        &self,
        key: &[u8],
    ) -> Result<Option<T>, StoreError> {
        match self.get(key)? {
            None => Ok(None),
            Some(bytes) => decode_stored(key, &bytes).map(Some),
        }
    }

    /// The record under `key` (of the member or the authority table),
    /// decoded once per overlay, and once per height where the memo is on,
    /// unless a pending layer holds the key: the store's record does not
    /// change under an overlay, and a pending write is decoded afresh.
    pub(crate) fn shared_record<T: SharedRecord>(
        &self,
        key: &[u8],
    ) -> Result<Option<Arc<T>>, StoreError> {
        if self.tx.contains_key(key) || self.block.contains_key(key) {
            return Ok(self.get_value(key)?.map(Arc::new));
        }
        if let Some(record) = T::in_overlay(self).borrow().get(key) {
            return Ok(record.clone());
        }
        let record = match self.memo.and_then(|m| T::in_memo(m).get(key)) {
            Some(record) => record,
            None => {
                let record = self.get_value(key)?.map(Arc::new);
                if let Some(m) = self.memo {
                    T::in_memo(m).remember(key, &record);
                }
                record
            }
        };
        T::in_overlay(self)
            .borrow_mut()
            .insert(key.to_vec(), record.clone());
        Ok(record)
    }

    /// Raw write into the transaction layer.
    pub(crate) fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.tx.insert(key, Some(value));
    }

    /// Raw write of a key the store cannot hold yet (it names the height
    /// being executed): remembered as absent, so that the state hash does
    /// not read the store for its previous value.
    pub(crate) fn put_new(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.reads.get_mut().entry(key.clone()).or_insert(None);
        self.put(key, value);
    }

    /// Typed write into the transaction layer.
    pub(crate) fn put_value<T: Serialize>(&mut self, key: Vec<u8>, value: &T) {
        self.put(key, kp_types::encode(value));
    }

    /// Delete in the transaction layer.
    pub(crate) fn delete(&mut self, key: Vec<u8>) {
        self.tx.insert(key, None);
    }

    /// Whether a pending write (put or delete) has a key under `prefix`.
    pub(crate) fn writes_under(&self, prefix: &[u8]) -> bool {
        [&self.block, &self.tx].iter().any(|layer| {
            layer
                .range(prefix.to_vec()..)
                .next()
                .is_some_and(|(k, _)| k.starts_with(prefix))
        })
    }

    /// Folds the transaction layer into the block layer.
    pub(crate) fn commit_tx(&mut self) {
        let tx = std::mem::take(&mut self.tx);
        self.block.extend(tx);
    }

    /// Drops the transaction layer.
    pub(crate) fn discard_tx(&mut self) {
        self.tx.clear();
    }

    /// The block layer (after `commit_tx`), to be committed, and the store
    /// values read so far.
    pub(crate) fn into_changes_and_reads(mut self) -> (Changes, Reads) {
        self.commit_tx();
        (self.block, self.reads.into_inner())
    }

    /// The first `limit` live entries under `prefix`, in key order, as the
    /// overlay sees them (pending writes merged over the store).
    pub(crate) fn scan(
        &self,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        for layer in [&self.block, &self.tx] {
            for (k, v) in layer.range(prefix.to_vec()..) {
                if !k.starts_with(prefix) {
                    break;
                }
                merged.insert(k.clone(), v.clone());
            }
        }
        let pending: Vec<Vec<u8>> = merged.keys().cloned().collect();
        let mut cursor: Option<Vec<u8>> = None;
        loop {
            let page = self
                .store
                .scan_prefix(prefix, cursor.as_deref(), SCAN_PAGE)?;
            let exhausted = page.len() < SCAN_PAGE;
            let last = page.last().map(|(k, _)| k.clone());
            for (k, v) in page {
                if pending.binary_search(&k).is_err() {
                    merged.insert(k, Some(v));
                }
            }
            match last {
                Some(last) if !exhausted => {
                    // Every entry up to `last` is now known; stop once enough
                    // of them are live.
                    let live = merged
                        .range(..=last.clone())
                        .filter(|(_, v)| v.is_some())
                        .count();
                    if live >= limit {
                        break;
                    }
                    cursor = Some(last);
                }
                _ => break,
            }
        }
        Ok(merged
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .take(limit)
            .collect())
    }

    /// Like [`Overlay::scan`], but only the leading entries whose key
    /// satisfies `keep`, which must hold for a prefix of the key order (a
    /// time-ordered index read "up to now"). Reads the store in pages that
    /// start at one entry and double, and stops at the first key that
    /// fails, so the cost follows what is due, not the size of the index.
    /// Every block asks its expiry indexes this, and usually nothing is
    /// due: the first page then reads one value, not a page of them (a
    /// value is a whole block's group: 64 KB for 2,000 hashes).
    pub(crate) fn scan_while(
        &self,
        prefix: &[u8],
        limit: usize,
        keep: impl Fn(&[u8]) -> bool,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        const PAGE_MAX: usize = 64;
        let mut page_size = 1;
        let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        for layer in [&self.block, &self.tx] {
            for (k, v) in layer.range(prefix.to_vec()..) {
                if !k.starts_with(prefix) || !keep(k) {
                    break;
                }
                merged.insert(k.clone(), v.clone());
            }
        }
        let pending: Vec<Vec<u8>> = merged.keys().cloned().collect();
        let mut cursor: Option<Vec<u8>> = None;
        loop {
            let page = self
                .store
                .scan_prefix(prefix, cursor.as_deref(), page_size)?;
            let exhausted = page.len() < page_size;
            page_size = (page_size * 2).min(PAGE_MAX);
            let mut stopped = false;
            let mut last = None;
            for (k, v) in page {
                if !keep(&k) {
                    stopped = true;
                    break;
                }
                last = Some(k.clone());
                if pending.binary_search(&k).is_err() {
                    merged.insert(k, Some(v));
                }
            }
            let live = merged.values().filter(|v| v.is_some()).count();
            match last {
                Some(last) if !exhausted && !stopped && live < limit => cursor = Some(last),
                _ => break,
            }
        }
        Ok(merged
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .take(limit)
            .collect())
    }

    /// Typed scan.
    pub(crate) fn scan_values<T: DeserializeOwned>(
        &self,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, T)>, StoreError> {
        self.scan(prefix, limit)?
            .into_iter()
            .map(|(k, v)| decode_stored(&k, &v).map(|t| (k, t)))
            .collect()
    }
}

/// Decoded records of one kind, by key, in one overlay.
type Local<T> = RefCell<HashMap<Vec<u8>, Option<Arc<T>>>>;

/// A record kind the memo and the overlay keep decoded and shared
/// ([`Overlay::shared_record`]).
pub(crate) trait SharedRecord: DeserializeOwned + Sized {
    /// The memo's records of this kind.
    fn in_memo(memo: &ReadMemo) -> &Decoded<Self>;
    /// The overlay's.
    fn in_overlay<'o, S: StateStore>(ov: &'o Overlay<'_, S>) -> &'o Local<Self>;
}

impl SharedRecord for ParticipantRecord {
    fn in_memo(memo: &ReadMemo) -> &Decoded<Self> {
        &memo.members
    }
    fn in_overlay<'o, S: StateStore>(ov: &'o Overlay<'_, S>) -> &'o Local<Self> {
        &ov.members
    }
}

impl SharedRecord for AuthorityRecord {
    fn in_memo(memo: &ReadMemo) -> &Decoded<Self> {
        &memo.authorities
    }
    fn in_overlay<'o, S: StateStore>(ov: &'o Overlay<'_, S>) -> &'o Local<Self> {
        &ov.authorities
    }
}

/// Decodes a stored value, reporting corruption with its key.
pub(crate) fn decode_stored<T: DeserializeOwned>(
    key: &[u8],
    bytes: &[u8],
) -> Result<T, StoreError> {
    kp_types::decode(bytes, STORED_VALUE_BYTES_MAX).map_err(|e| StoreError::Corrupt {
        key_hex: hex_of(key),
        detail: e.to_string(),
    })
}

/// Lower-case hex of a key, for corruption reports.
pub(crate) fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemStore, WriteSet};

    fn store_with(keys: &[u8]) -> MemStore {
        let store = MemStore::new();
        let mut ws = WriteSet::default();
        for k in keys {
            ws.put(vec![1, *k], vec![*k]);
        }
        store.commit(&ws).unwrap();
        store
    }

    #[test]
    fn scans_merge_pending_writes_over_the_store() {
        // 0..200 in the store crosses several pages of both scans.
        let all: Vec<u8> = (0..200).collect();
        let store = store_with(&all);
        let mut ov = Overlay::new(&store);
        ov.delete(vec![1, 0]);
        ov.put(vec![1, 250], vec![7]);
        ov.commit_tx();
        ov.delete(vec![1, 1]);
        ov.put(vec![1, 3], vec![9]);
        let got = ov.scan(&[1], 3).unwrap();
        assert_eq!(
            got,
            vec![
                (vec![1, 2], vec![2]),
                (vec![1, 3], vec![9]),
                (vec![1, 4], vec![4])
            ]
        );
        assert_eq!(ov.scan(&[1], usize::MAX).unwrap().len(), 199);
        let due = ov
            .scan_while(&[1], usize::MAX, |k| k < &[1, 150][..])
            .unwrap();
        assert_eq!(due.len(), 148);
        assert_eq!(due[0].0, vec![1, 2]);
        assert_eq!(due.last().unwrap().0, vec![1, 149]);
        let limited = ov.scan_while(&[1], 5, |_| true).unwrap();
        assert_eq!(limited.len(), 5);
        ov.discard_tx();
        assert_eq!(ov.scan(&[1], 1).unwrap(), vec![(vec![1, 1], vec![1])]);
    }

    /// A store that counts the entries its scans return.
    struct ScanCounting {
        inner: MemStore,
        scanned: std::cell::Cell<usize>,
    }

    impl StateStore for ScanCounting {
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
            self.inner.get(key)
        }
        fn scan_prefix(
            &self,
            prefix: &[u8],
            start_after: Option<&[u8]>,
            limit: usize,
        ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
            let page = self.inner.scan_prefix(prefix, start_after, limit)?;
            self.scanned.set(self.scanned.get() + page.len());
            Ok(page)
        }
        fn commit(&self, writes: &WriteSet) -> Result<(), StoreError> {
            self.inner.commit(writes)
        }
    }

    /// The expiry indexes are asked at every block, and usually nothing is
    /// due: then one entry is read from the store, not a page of them.
    /// When some are due, the entries read past them fit in the last page
    /// (pages double from one: 1 + 2 + 4 entries for 3 due, at most 64
    /// extra however many are due).
    #[test]
    fn a_scan_while_nothing_is_due_reads_one_entry() {
        let store = ScanCounting {
            inner: store_with(&(0..200u8).collect::<Vec<_>>()),
            scanned: std::cell::Cell::new(0),
        };
        let ov = Overlay::new(&store);
        assert!(ov
            .scan_while(&[1], 1000, |k| k < &[1, 0][..])
            .unwrap()
            .is_empty());
        assert_eq!(store.scanned.get(), 1);
        store.scanned.set(0);
        let due = ov.scan_while(&[1], 1000, |k| k < &[1, 3][..]).unwrap();
        assert_eq!(due.len(), 3);
        assert!(store.scanned.get() <= 2 * 3 + 1, "{}", store.scanned.get());
        store.scanned.set(0);
        let due = ov.scan_while(&[1], 1000, |k| k < &[1, 150][..]).unwrap();
        assert_eq!(due.len(), 150);
        assert!(store.scanned.get() <= 150 + 64, "{}", store.scanned.get());
    }

    /// Authority records are decoded once and shared across overlays through
    /// the memo; a pending write of one is read as written, and dropping it
    /// reads the store's again.
    #[test]
    fn shared_records_are_decoded_once_and_pending_writes_win() {
        use crate::records::AuthorityRecord;
        use crate::testkit::{authority, authority_id};
        let stored = AuthorityRecord {
            authority: authority("BW"),
            registered_height: 0,
            revoked_height: None,
            compromised_since: None,
            previous_keys: Vec::new(),
        };
        let key = crate::keys::authority(authority_id("BW").as_str());
        let store = MemStore::new();
        let mut ws = WriteSet::default();
        ws.put(key.clone(), kp_types::encode(&stored));
        store.commit(&ws).unwrap();
        let memo = ReadMemo::default();

        let first = Overlay::new(&store).with_memo(Some(&memo));
        let a: Arc<AuthorityRecord> = first.shared_record(&key).unwrap().unwrap();
        assert_eq!(*a, stored);
        // Another overlay at the same height shares the decoded record.
        let mut second = Overlay::new(&store).with_memo(Some(&memo));
        let b: Arc<AuthorityRecord> = second.shared_record(&key).unwrap().unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        // A pending write is read as written.
        let revoked = AuthorityRecord {
            revoked_height: Some(7),
            ..stored.clone()
        };
        second.put_value(key.clone(), &revoked);
        let c: Arc<AuthorityRecord> = second.shared_record(&key).unwrap().unwrap();
        assert_eq!(*c, revoked);
        second.discard_tx();
        let d: Arc<AuthorityRecord> = second.shared_record(&key).unwrap().unwrap();
        assert_eq!(*d, stored);
    }
}
