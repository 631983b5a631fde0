//! The authenticated map of the ledger's records: a sparse Merkle tree
//! ([`kp_types::smt`]) over every provable entry of the state
//! ([`keys::is_provable`]), whose root block headers carry as
//! `records_root`.
//!
//! * The tree is not stored: its leaves are the committed entries
//!   themselves, so it is rebuilt from the store (one walk of the provable
//!   tables) the first time a ledger that applies blocks needs it, and
//!   checked against the root stored with the last commit. A ledger that
//!   only answers queries never builds it.
//! * Each applied block updates it in one batch from the block's write set:
//!   one leaf per written key, each touched node hashed once.
//! * Versions are persistent (they share unchanged subtrees), so the last
//!   [`RECORD_VERSIONS_KEPT`] are kept in a [`RecordVersions`] handle that a
//!   node's RPC reads to prove records against the root of a header already
//!   decided, while the ledger goes on applying blocks.

use crate::keys;
use crate::overlay::{Changes, Reads};
use crate::store::{StateStore, StoreError};
use kp_api::proof::RecordProof;
use kp_types::smt::Tree;
use kp_types::Hash;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, RwLock};
use thiserror::Error;

/// The values a block overwrote: for every provable key it wrote, the value
/// before it (`None`: absent). With the store's current values they give the
/// values of a kept version.
pub type Undo = Arc<BTreeMap<Vec<u8>, Option<Vec<u8>>>>;

/// One kept version: the height after which it holds, the tree, and what
/// the block of that height overwrote.
type Version = (u64, Tree, Undo);

/// Why records could not be proven.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProveError {
    /// The version asked for is no longer (or not yet) kept.
    #[error("the records of height {height} are not kept (kept: {kept:?}); ask again")]
    VersionNotKept {
        /// Asked.
        height: u64,
        /// Kept range, if any.
        kept: Option<(u64, u64)>,
    },
    /// The store moved on while reading: a value read does not match the
    /// version's tree. Asking again reads a consistent state.
    #[error("the state moved while record {key_hex} was read; ask again")]
    StateMoved {
        /// The key.
        key_hex: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Versions of the tree kept for proofs: the proof of a record is made
/// against the state after block `H - 1`, whose root header `H` carries.
pub const RECORD_VERSIONS_KEPT: usize = 16;

/// Entries read per scan while rebuilding the tree.
const REBUILD_PAGE: usize = 4096;

/// The recent versions of the tree, by the height after which they hold,
/// shared between the ledger that applies blocks and the readers that prove
/// records. Clones share the same versions.
#[derive(Clone, Debug, Default)]
pub struct RecordVersions {
    inner: Arc<RwLock<VecDeque<Version>>>,
}

impl RecordVersions {
    /// The tree of the state after block `height`, if still kept.
    pub fn at(&self, height: u64) -> Option<Tree> {
        let versions = self.inner.read().unwrap_or_else(|e| e.into_inner());
        versions
            .iter()
            .rev()
            .find(|(h, _, _)| *h == height)
            .map(|(_, t, _)| t.clone())
    }

    /// The newest version and its height.
    pub fn latest(&self) -> Option<(u64, Tree)> {
        let versions = self.inner.read().unwrap_or_else(|e| e.into_inner());
        versions.back().map(|(h, t, _)| (*h, t.clone()))
    }

    /// The oldest and newest kept heights.
    pub fn kept(&self) -> Option<(u64, u64)> {
        let versions = self.inner.read().unwrap_or_else(|e| e.into_inner());
        Some((versions.front()?.0, versions.back()?.0))
    }

    /// Proves each of `keys` (present or absent) against the tree of the
    /// state after block `height`, reading the values from `store` (the
    /// state after the newest kept block, or later) and undoing what the
    /// kept blocks after `height` overwrote. Every value is checked against
    /// the tree before it is served.
    pub fn prove<S: StateStore>(
        &self,
        store: &S,
        height: u64,
        keys: &[Vec<u8>],
    ) -> Result<Vec<RecordProof>, ProveError> {
        let (tree, later) = {
            let versions = self.inner.read().unwrap_or_else(|e| e.into_inner());
            let Some(tree) = versions
                .iter()
                .find(|(h, _, _)| *h == height)
                .map(|(_, t, _)| t.clone())
            else {
                return Err(ProveError::VersionNotKept {
                    height,
                    kept: versions
                        .front()
                        .zip(versions.back())
                        .map(|(a, b)| (a.0, b.0)),
                });
            };
            let later: Vec<Undo> = versions
                .iter()
                .filter(|(h, _, _)| *h > height)
                .map(|(_, _, u)| u.clone())
                .collect();
            (tree, later)
        };
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            // The earliest block after `height` that overwrote the key holds
            // its value at `height`; otherwise the store does.
            let value = match later.iter().find_map(|undo| undo.get(key)) {
                Some(old) => old.clone(),
                None => store.get(key)?,
            };
            let key_hash = Tree::key_hash(key);
            if tree.get(&key_hash) != value.as_deref().map(Tree::value_hash) {
                return Err(ProveError::StateMoved {
                    key_hex: key.iter().map(|b| format!("{b:02x}")).collect(),
                });
            }
            out.push(RecordProof {
                key: key.clone(),
                value,
                proof: tree.prove(&key_hash),
            });
        }
        Ok(out)
    }

    /// Records the tree after block `height`, dropping the oldest beyond
    /// [`RECORD_VERSIONS_KEPT`]. A version at or above `height` (a ledger
    /// reopened at a lower height) is dropped first.
    pub(crate) fn push(&self, height: u64, tree: Tree, undo: Undo) {
        let mut versions = self.inner.write().unwrap_or_else(|e| e.into_inner());
        while versions.back().is_some_and(|(h, _, _)| *h >= height) {
            versions.pop_back();
        }
        versions.push_back((height, tree, undo));
        while versions.len() > RECORD_VERSIONS_KEPT {
            versions.pop_front();
        }
    }
}

/// The tree of every provable entry of `store`.
pub(crate) fn build<S: StateStore>(store: &S) -> Result<Tree, StoreError> {
    let mut entries = Vec::new();
    for table in 0..keys::table::ROOT_MACHINERY_MIN {
        let prefix = [table];
        if !keys::is_provable(&prefix) {
            continue;
        }
        let mut start_after: Option<Vec<u8>> = None;
        loop {
            let rows = store.scan_prefix(&prefix, start_after.as_deref(), REBUILD_PAGE)?;
            let count = rows.len();
            for (k, v) in rows {
                entries.push((Tree::key_hash(&k), Tree::value_hash(&v)));
                start_after = Some(k);
            }
            if count < REBUILD_PAGE {
                break;
            }
        }
    }
    Ok(Tree::from_entries(entries))
}

/// The tree's changes for a block's write set: a leaf per provable key
/// written (`None`: deleted).
pub(crate) fn changes_of(changes: &Changes) -> Vec<(Hash, Option<Hash>)> {
    changes
        .iter()
        .filter(|(k, _)| keys::is_provable(k))
        .map(|(k, v)| (Tree::key_hash(k), v.as_deref().map(Tree::value_hash)))
        .collect()
}

/// What a block's write set overwrote among the provable keys: their values
/// before it, from `reads` (which holds the previous value of every
/// committed key written, see `next_state_hash`).
pub(crate) fn undo_of(changes: &Changes, reads: &Reads) -> Undo {
    Arc::new(
        changes
            .keys()
            .filter(|k| keys::is_provable(k))
            .map(|k| (k.clone(), reads.get(k).cloned().flatten()))
            .collect(),
    )
}
