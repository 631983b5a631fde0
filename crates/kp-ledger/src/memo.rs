//! Store values of the small tables every transaction reads, kept between
//! admission checks.
//!
//! An admission check executes one transaction in a fresh overlay, so
//! without this each check reads the same records from the store again: the
//! exporting and importing members, the issuing authority, the chain
//! metadata, the quarter statistics. A block's overlay already reads each of
//! them once per block; this memo extends that to every overlay of the
//! ledger at one height.
//!
//! It holds raw stored bytes (or their absence), exactly what the store
//! would answer, so it never changes a verdict or a root. It is valid only
//! while the store is unchanged: [`crate::Ledger::apply_block`] clears it
//! when it commits, and only a ledger that applies the blocks uses it (see
//! `Ledger::memo`). Tables with one entry per certificate or transaction
//! are not memoized: each of their keys is read about once.

use crate::keys::table;
use crate::records::{AuthorityRecord, ParticipantRecord};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most entries held; past it the memo starts over (members, authorities
/// and statistics of a few quarters fit many times over).
pub(crate) const MEMO_ENTRIES_MAX: usize = 4_096;

/// See the module documentation.
#[derive(Default)]
pub(crate) struct ReadMemo {
    values: Mutex<HashMap<Vec<u8>, Option<Vec<u8>>>>,
    /// Member records decoded from the remembered values, by key: every
    /// certificate reads its two members, whose records (keys, territories,
    /// sanction) cost more to decode, or even to clone, than to share.
    pub(crate) members: Decoded<ParticipantRecord>,
    /// Authority records, decoded: every certificate reads its issuing
    /// authority, and a sealed one its importing authority too.
    pub(crate) authorities: Decoded<AuthorityRecord>,
}

/// Records decoded from remembered values, by key, shared.
pub(crate) struct Decoded<T>(Mutex<HashMap<Vec<u8>, Option<Arc<T>>>>);

impl<T> Default for Decoded<T> {
    fn default() -> Self {
        Decoded(Mutex::new(HashMap::new()))
    }
}

impl<T> Decoded<T> {
    /// The remembered record under `key` (`Some(None)`: remembered absent).
    pub(crate) fn get(&self, key: &[u8]) -> Option<Option<Arc<T>>> {
        lock(&self.0).get(key).cloned()
    }

    /// Remembers the store's decoded record under `key`.
    pub(crate) fn remember(&self, key: &[u8], record: &Option<Arc<T>>) {
        let mut records = lock(&self.0);
        if records.len() >= MEMO_ENTRIES_MAX {
            records.clear();
        }
        records.insert(key.to_vec(), record.clone());
    }

    fn clear(&mut self) {
        self.0.get_mut().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

// The stored values would flood any debug output of the ledger.
impl std::fmt::Debug for ReadMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadMemo")
            .field("entries", &self.lock().len())
            .finish()
    }
}

impl ReadMemo {
    /// Whether `key` belongs to a memoized table.
    pub(crate) fn covers(key: &[u8]) -> bool {
        matches!(
            key.first(),
            Some(
                &table::META
                    | &table::PARTICIPANT
                    | &table::NODE_KEY
                    | &table::AUTHORITY
                    | &table::AUTHORITY_KEY
                    | &table::STATS
                    | &table::GLOBAL_STATS
                    | &table::TERRITORY
            )
        )
    }

    /// The remembered store value of `key` (`Some(None)`: remembered absent).
    pub(crate) fn get(&self, key: &[u8]) -> Option<Option<Vec<u8>>> {
        self.lock().get(key).cloned()
    }

    /// Remembers the store's value of a covered `key`.
    pub(crate) fn remember(&self, key: &[u8], value: &Option<Vec<u8>>) {
        if !Self::covers(key) {
            return;
        }
        let mut values = self.lock();
        if values.len() >= MEMO_ENTRIES_MAX {
            values.clear();
        }
        values.insert(key.to_vec(), value.clone());
    }

    /// Forgets everything (the store changed).
    pub(crate) fn clear(&mut self) {
        self.values
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.members.clear();
        self.authorities.clear();
    }

    /// Number of entries held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Option<Vec<u8>>>> {
        lock(&self.values)
    }
}

fn lock<T>(map: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The maps hold no invariant a panic could break.
    map.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys;
    use kp_types::{Hash, ParticipantCode};

    #[test]
    fn only_small_tables_are_remembered_and_the_size_is_bounded() {
        let memo = ReadMemo::default();
        let code = ParticipantCode::new("BW").expect("code");
        memo.remember(&keys::participant(&code), &Some(vec![1]));
        memo.remember(&keys::executed(&Hash::ZERO), &None);
        assert_eq!(memo.get(&keys::participant(&code)), Some(Some(vec![1])));
        assert_eq!(memo.get(&keys::executed(&Hash::ZERO)), None);
        for i in 0..MEMO_ENTRIES_MAX as u32 + 10 {
            memo.remember(&keys::meta(&i.to_string()), &None);
        }
        assert!(memo.len() <= MEMO_ENTRIES_MAX);
    }
}
