//! Structural validity of a block for the next height: header, limits, txs root, signatures.

use super::{Ledger, SignatureVerification};
use crate::error::BlockError;
use crate::store::StateStore;
use kp_types::{
    encoding::TX_BYTES_MAX, merkle, verify_batch, Block, BlockHeader, Hash, Signature, TxHash,
};

impl<S: StateStore> Ledger<S> {
    /// Structural validity of a block for the next height (the consensus
    /// paper's `valid(v)`). Does not check ledger rules: a transaction that
    /// breaks one is a receipt, not an invalid block.
    pub fn validate_block(&self, block: &Block) -> Result<(), BlockError> {
        self.validate_block_hashes(block, &|_, _| false).map(|_| ())
    }

    /// [`Ledger::validate_block`] that skips the signature check of every
    /// transaction for which `verified(hash, signature)` holds: the host
    /// already verified that exact signature over that exact transaction (a
    /// node's pool admits only verified transactions). The others are
    /// verified in one batch as usual. The verdict is the same as
    /// `validate_block`'s as long as `verified` only vouches for signatures
    /// that did verify.
    pub fn validate_block_with(
        &self,
        block: &Block,
        verified: &dyn Fn(&TxHash, &Signature) -> bool,
    ) -> Result<(), BlockError> {
        self.validate_block_hashes(block, verified).map(|_| ())
    }

    /// Header fields against the ledger's position, count limit, proposer.
    fn check_header(&self, h: &BlockHeader, tx_count: usize) -> Result<(), BlockError> {
        if h.chain_id != self.chain_id {
            return Err(BlockError::WrongChain {
                expected: self.chain_id.clone(),
                found: h.chain_id.chars().take(80).collect(),
            });
        }
        if h.height != self.height + 1 {
            return Err(BlockError::WrongHeight {
                expected: self.height + 1,
                found: h.height,
            });
        }
        if h.prev_hash != self.last_block_hash {
            return Err(BlockError::WrongPrevHash {
                expected: self.last_block_hash,
                found: h.prev_hash,
            });
        }
        if h.state_root != self.state_root() {
            return Err(BlockError::WrongStateRoot {
                expected: self.state_root(),
                found: h.state_root,
            });
        }
        for (field, expected, found) in [
            (
                "validators_hash",
                self.validator_set_hash(),
                h.validators_hash,
            ),
            (
                "next_validators_hash",
                self.next_validator_set_hash(),
                h.next_validators_hash,
            ),
            ("results_root", self.results_root, h.results_root),
            ("records_root", self.records_root, h.records_root),
        ] {
            if expected != found {
                return Err(BlockError::WrongCommitment {
                    field,
                    expected,
                    found,
                });
            }
        }
        if h.time <= self.last_block_time {
            return Err(BlockError::TimeNotAfter {
                previous: self.last_block_time,
                found: h.time,
            });
        }
        if tx_count > self.params.block_txs_max as usize {
            return Err(BlockError::TooManyTxs {
                count: tx_count,
                max: self.params.block_txs_max,
            });
        }
        if !self.validators.iter().any(|(_, k)| *k == h.proposer) {
            return Err(BlockError::ProposerNotValidator {
                proposer: h.proposer,
            });
        }
        Ok(())
    }

    pub(super) fn validate_block_hashes(
        &self,
        block: &Block,
        verified: &dyn Fn(&TxHash, &Signature) -> bool,
    ) -> Result<Vec<TxHash>, BlockError> {
        let h = &block.header;
        self.check_header(h, block.txs.len())?;
        let bytes_max = self.params.block_bytes_max as usize;
        let mut bytes = 0usize;
        let mut hashes = Vec::with_capacity(block.txs.len());
        let mut leaves = Vec::with_capacity(block.txs.len());
        for stx in &block.txs {
            let (hash, size) = stx.hash_and_size();
            if size > TX_BYTES_MAX {
                return Err(BlockError::TooManyBytes {
                    bytes: size,
                    max: TX_BYTES_MAX,
                });
            }
            bytes = bytes.saturating_add(size);
            leaves.push(kp_types::tx::tx_leaf(&hash, &stx.signature));
            hashes.push(hash);
        }
        if bytes > bytes_max {
            return Err(BlockError::TooManyBytes {
                bytes,
                max: bytes_max,
            });
        }
        let computed = merkle::root(&leaves);
        if computed != h.txs_root {
            return Err(BlockError::TxsRootMismatch {
                computed,
                found: h.txs_root,
            });
        }
        self.verify_signatures(block, &hashes, verified)?;
        Ok(hashes)
    }

    /// Everything signature verification depends on once the transactions
    /// root matched: the header (which commits to the transaction hashes,
    /// signers included) and the signatures.
    fn signatures_digest(block: &Block) -> Hash {
        let header = block.hash();
        let mut parts: Vec<&[u8]> = Vec::with_capacity(block.txs.len() + 2);
        parts.push(b"kpledger verified signatures");
        parts.push(&header.0);
        for stx in &block.txs {
            parts.push(&stx.signature.0);
        }
        Hash::of_parts(kp_types::Domain::Document, &parts)
    }

    fn verify_signatures(
        &self,
        block: &Block,
        hashes: &[TxHash],
        known: &dyn Fn(&TxHash, &Signature) -> bool,
    ) -> Result<(), BlockError> {
        let digest = Self::signatures_digest(block);
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if *verified == Some(digest) {
            return Ok(());
        }
        self.verify_signatures_uncached(block, hashes, known)?;
        *verified = Some(digest);
        Ok(())
    }

    fn verify_signatures_uncached(
        &self,
        block: &Block,
        hashes: &[TxHash],
        known: &dyn Fn(&TxHash, &Signature) -> bool,
    ) -> Result<(), BlockError> {
        // Only the transactions the host has not verified itself.
        let unknown: Vec<usize> = (0..block.txs.len())
            .filter(|&i| !known(&hashes[i], &block.txs[i].signature))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        if self.verification == SignatureVerification::Batch {
            let items: Vec<_> = unknown
                .iter()
                .map(|&i| (block.txs[i].tx.signer, hashes[i], block.txs[i].signature))
                .collect();
            if verify_batch(&items).is_ok() {
                return Ok(());
            }
        }
        // One by one: either the chosen mode, or to name the failing one.
        for index in unknown {
            let (stx, h) = (&block.txs[index], &hashes[index]);
            if stx.tx.signer.verify(h, &stx.signature).is_err() {
                return Err(BlockError::BadTxSignature { index, tx_hash: *h });
            }
        }
        Ok(())
    }
}
