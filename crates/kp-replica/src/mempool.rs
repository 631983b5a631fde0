//! The transaction pool: bounded, deduplicated, in arrival order.
//!
//! A transaction enters only after its signature verified and the ledger's
//! rules accept it against the current state; after each block, transactions
//! the block included are dropped, and a bounded slice of the rest is
//! checked again, walking the pool round-robin (a certificate number taken
//! by a block, a sanction just adopted); a proposal drops what it found
//! invalid. Because only verified transactions enter, a block's
//! transaction that the pool holds with the same signature needs no second
//! verification (`holds_verified`). Arrival order is kept so that a block
//! executes an authority's issue before its later void of the same certificate.

use kp_types::{SignedTransaction, TxHash};
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

/// Why the pool refused a transaction.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MempoolError {
    /// The pool holds its maximum.
    #[error("the transaction pool is full ({size_max} transactions); retry later")]
    Full {
        /// Capacity.
        size_max: usize,
    },
    /// Already pending.
    #[error("transaction {hash} is already pending")]
    Duplicate {
        /// Its hash.
        hash: TxHash,
    },
}

#[derive(Debug)]
struct Entry {
    seq: u64,
    tx: SignedTransaction,
}

/// Pending transactions.
#[derive(Debug)]
pub struct Mempool {
    size_max: usize,
    next_seq: u64,
    by_hash: BTreeMap<TxHash, Entry>,
    order: BTreeMap<u64, TxHash>,
    /// Where the next `recheck_some` starts.
    recheck_cursor: u64,
}

impl Mempool {
    /// An empty pool holding at most `size_max` transactions.
    pub fn new(size_max: usize) -> Mempool {
        assert!(size_max > 0, "mempool capacity must be positive");
        Mempool {
            size_max,
            next_seq: 0,
            by_hash: BTreeMap::new(),
            order: BTreeMap::new(),
            recheck_cursor: 0,
        }
    }

    /// Pending transactions.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether none are pending.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// Whether `hash` is pending.
    pub fn contains(&self, hash: &TxHash) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// Whether a signature is known good: verified by the host (`verified`,
    /// the signature thread of a sync) or held by this pool. What a synced
    /// block's validation and a catch-up's one-pass execution both trust.
    pub fn knows_signature(
        &self,
        verified: &crate::VerifiedSignatures,
        hash: &TxHash,
        signature: &kp_types::Signature,
    ) -> bool {
        verified.get(hash) == Some(signature) || self.holds_verified(hash, signature)
    }

    /// Whether `hash` is pending with exactly this signature (which the pool
    /// verified on entry).
    pub fn holds_verified(&self, hash: &TxHash, signature: &kp_types::Signature) -> bool {
        self.by_hash
            .get(hash)
            .is_some_and(|e| e.tx.signature == *signature)
    }

    /// Pending transactions, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &SignedTransaction> {
        self.order
            .values()
            .filter_map(|hash| self.by_hash.get(hash).map(|e| &e.tx))
    }

    /// Adds a transaction the ledger has already accepted.
    pub fn insert(&mut self, hash: TxHash, tx: SignedTransaction) -> Result<(), MempoolError> {
        if self.by_hash.contains_key(&hash) {
            return Err(MempoolError::Duplicate { hash });
        }
        if self.by_hash.len() >= self.size_max {
            return Err(MempoolError::Full {
                size_max: self.size_max,
            });
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert(seq, hash);
        self.by_hash.insert(hash, Entry { seq, tx });
        debug_assert_eq!(self.order.len(), self.by_hash.len());
        Ok(())
    }

    /// Removes the transactions a decided block included.
    pub fn remove_included(&mut self, hashes: &BTreeSet<TxHash>) {
        for hash in hashes {
            if let Some(entry) = self.by_hash.remove(hash) {
                self.order.remove(&entry.seq);
            }
        }
        debug_assert_eq!(self.order.len(), self.by_hash.len());
    }

    /// Re-checks at most `max` pending transactions, oldest first from where
    /// the previous call stopped (wrapping around), dropping those for which
    /// `still_valid` fails; returns how many it dropped. Called after every
    /// block, it walks the whole pool in `len / max` blocks at a bounded
    /// cost per block.
    pub fn recheck_some(
        &mut self,
        max: usize,
        mut still_valid: impl FnMut(&SignedTransaction, &TxHash) -> bool,
    ) -> usize {
        // Past the newest: wrap around to the oldest now, not a call later.
        if self.order.range(self.recheck_cursor..).next().is_none() {
            self.recheck_cursor = 0;
        }
        let mut failed = Vec::new();
        let mut seen = 0usize;
        let mut last = None;
        for (&seq, hash) in self.order.range(self.recheck_cursor..) {
            if seen >= max {
                break;
            }
            seen += 1;
            last = Some(seq);
            if let Some(entry) = self.by_hash.get(hash) {
                if !still_valid(&entry.tx, hash) {
                    failed.push((seq, *hash));
                }
            }
        }
        // The end of the pool was reached: start again from the oldest.
        self.recheck_cursor = match last {
            Some(seq) if seen >= max => seq + 1,
            _ => 0,
        };
        for (seq, hash) in &failed {
            self.order.remove(seq);
            self.by_hash.remove(hash);
        }
        debug_assert_eq!(self.order.len(), self.by_hash.len());
        failed.len()
    }

    /// Drops the given pending transactions (those a proposal found invalid).
    pub fn remove(&mut self, hashes: &[TxHash]) {
        for hash in hashes {
            if let Some(entry) = self.by_hash.remove(hash) {
                self.order.remove(&entry.seq);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kp_types::tx::{Payload, Transaction};
    use kp_types::{ResolutionAction, ResolutionProposal, SigningKey, Timestamp};

    fn tx(nonce: u64) -> SignedTransaction {
        let key = SigningKey::from_seed([3; 32]);
        Transaction {
            chain_id: "t".into(),
            signer: key.public(),
            nonce,
            expires_at: Timestamp(1),
            payload: Payload::ProposeResolution(ResolutionProposal {
                title: "x".into(),
                action: ResolutionAction::AdministrativeDecision {
                    title: "x".into(),
                    text_hash: kp_types::Hash::ZERO,
                },
                deadline: None,
            }),
        }
        .sign(&key)
    }

    #[test]
    fn bounded_deduplicated_ordered() {
        let mut pool = Mempool::new(3);
        for n in 0..3 {
            let t = tx(n);
            pool.insert(t.hash(), t).unwrap();
        }
        let t = tx(0);
        assert!(matches!(
            pool.insert(t.hash(), t),
            Err(MempoolError::Duplicate { .. })
        ));
        let t = tx(9);
        assert!(matches!(
            pool.insert(t.hash(), t),
            Err(MempoolError::Full { .. })
        ));
        let order: Vec<u64> = pool.iter().map(|t| t.tx.nonce).collect();
        assert_eq!(order, vec![0, 1, 2]);
        let first = tx(0);
        assert!(pool.holds_verified(&first.hash(), &first.signature));
        let mut forged = first.clone();
        forged.signature.0[0] ^= 1;
        assert!(!pool.holds_verified(&forged.hash(), &forged.signature));
        pool.remove_included(&[tx(0).hash()].into_iter().collect());
        assert_eq!(pool.len(), 2);
        assert!(!pool.holds_verified(&first.hash(), &first.signature));
        // Rechecks walk the pool in slices, wrapping around.
        let mut checked = Vec::new();
        assert_eq!(
            pool.recheck_some(1, |t, _| {
                checked.push(t.tx.nonce);
                true
            }),
            0
        );
        assert_eq!(
            pool.recheck_some(1, |t, _| {
                checked.push(t.tx.nonce);
                t.tx.nonce != 2
            }),
            1
        );
        assert_eq!(checked, vec![1, 2]);
        assert_eq!(pool.len(), 1);
        let mut checked = Vec::new();
        pool.recheck_some(5, |t, _| {
            checked.push(t.tx.nonce);
            true
        });
        assert_eq!(checked, vec![1]);
        assert_eq!(pool.iter().next().map(|t| t.tx.nonce), Some(1));
        pool.remove(&[tx(1).hash()]);
        assert!(pool.is_empty());
    }
}
