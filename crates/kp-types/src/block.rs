//! Blocks: a header that commits to everything, and the transactions.

use crate::crypto::PublicKey;
use crate::hash::{Domain, Hash};
use crate::merkle;
use crate::time::Timestamp;
use crate::tx::SignedTransaction;
use serde::{Deserialize, Serialize};

/// Largest encoded block accepted from a peer.
pub const BLOCK_BYTES_MAX: usize = 16 * 1024 * 1024;

/// A block header. Its hash is the block's identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct BlockHeader {
    /// The chain.
    pub chain_id: String,
    /// Height, starting at 1 (genesis is height 0 and has no block).
    pub height: u64,
    /// Block time: the only clock the ledger knows. Strictly increasing.
    pub time: Timestamp,
    /// Node key of the validator that proposed it.
    pub proposer: PublicKey,
    /// Hash of the block at `height - 1` ([`Hash::ZERO`] at height 1).
    pub prev_hash: Hash,
    /// Merkle root of the transactions' hashes ([`merkle::root`]).
    pub txs_root: Hash,
    /// State root after executing every block up to `height - 1` (the state
    /// in which this block executes). A block's own result is committed by the
    /// next header, so proposing never waits for execution.
    pub state_root: Hash,
    /// Hash of the validator set of this height ([`validator_set_hash`]):
    /// the keys whose precommits decide this block.
    pub validators_hash: Hash,
    /// Hash of the validator set of `height + 1`. The ledger fixes the set of
    /// `h + 2` when it executes block `h`, so the header of `h + 1` already
    /// knows it: a light client that trusts this header knows whose
    /// signatures decide the next one, from headers alone.
    pub next_validators_hash: Hash,
    /// Merkle root of the results of block `height - 1`'s transactions, one
    /// leaf per position ([`result_leaf`]): accepted, or the rejection code.
    /// Proves what the ledger did with a transaction, not only that a
    /// proposer included it.
    pub results_root: Hash,
    /// Root of the authenticated map of the ledger's records after block
    /// `height - 1` (`kp_types::smt`): proves single records present or
    /// absent.
    pub records_root: Hash,
}

/// The hash of a validator set: member codes and node keys, ordered by code
/// (every validator has the same voting power).
pub fn validator_set_hash<C: Serialize>(validators: &[(C, PublicKey)]) -> Hash {
    Hash::of_value(Domain::ValidatorSet, validators)
}

/// The leaf of one transaction's result in a block's results tree: the
/// transaction's hash and `None` when the ledger accepted it, or the
/// rejection's stable code.
pub fn result_leaf(tx_hash: &Hash, rejection_code: Option<&str>) -> Hash {
    match rejection_code {
        None => Hash::of_parts(Domain::TxResult, &[&tx_hash.0, &[0]]),
        Some(code) => Hash::of_parts(Domain::TxResult, &[&tx_hash.0, &[1], code.as_bytes()]),
    }
}

impl BlockHeader {
    /// The block's identity.
    pub fn hash(&self) -> Hash {
        Hash::of_value(Domain::BlockHeader, self)
    }
}

/// A block: header and transactions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// The transactions, in execution order.
    pub txs: Vec<SignedTransaction>,
}

impl Block {
    /// The block's identity (its header's hash).
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }

    /// The Merkle root of this block's transaction hashes.
    pub fn compute_txs_root(&self) -> Hash {
        let leaves: Vec<Hash> = self.txs.iter().map(SignedTransaction::leaf).collect();
        merkle::root(&leaves)
    }

    /// Decodes untrusted bytes (at most [`BLOCK_BYTES_MAX`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, crate::EncodingError> {
        crate::decode(bytes, BLOCK_BYTES_MAX)
    }
}
