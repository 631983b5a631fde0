//! Fixtures built from kp-types directly: signed transactions, blocks that
//! chain by hash, and commit certificates signed by a quorum of test keys.
#![allow(dead_code)]

pub mod process;

use kp_types::{
    Block, BlockHeader, CommitCertificate, Domain, Hash, Payload, PublicKey, SignedTransaction,
    SigningKey, Timestamp, Transaction,
};

/// The test chain.
pub const CHAIN: &str = "kp-storage-test";

/// Four validators: a quorum is three.
pub fn validators() -> Vec<SigningKey> {
    (1u8..=4).map(|i| SigningKey::from_seed([i; 32])).collect()
}

/// Their public keys.
pub fn validator_set() -> Vec<PublicKey> {
    validators().iter().map(SigningKey::public).collect()
}

/// A signed transaction: a government signing a resolution.
pub fn tx(signer: &SigningKey, nonce: u64) -> SignedTransaction {
    Transaction {
        chain_id: CHAIN.to_string(),
        signer: signer.public(),
        nonce,
        expires_at: Timestamp(1_900_000_000_000),
        payload: Payload::SignResolution {
            resolution: Hash::of(Domain::Document, b"resolution"),
        },
    }
    .sign(signer)
}

/// A block at `height` on top of `prev_hash` with `txs`.
pub fn block(height: u64, prev_hash: Hash, txs: Vec<SignedTransaction>) -> Block {
    let keys = validators();
    let proposer = &keys[(height % keys.len() as u64) as usize];
    let mut block = Block {
        header: BlockHeader {
            chain_id: CHAIN.to_string(),
            height,
            time: Timestamp(1_800_000_000_000 + height * 1_000),
            proposer: proposer.public(),
            prev_hash,
            txs_root: Hash::ZERO,
            state_root: Hash::of(Domain::Document, &height.to_be_bytes()),
            validators_hash: Hash::ZERO,
            next_validators_hash: Hash::ZERO,
            results_root: Hash::ZERO,
            records_root: Hash::ZERO,
        },
        txs,
    };
    block.header.txs_root = block.compute_txs_root();
    block
}

/// A commit certificate for `block` signed by the first three validators.
pub fn certificate(block: &Block) -> CommitCertificate {
    let mut certificate = CommitCertificate {
        chain_id: CHAIN.to_string(),
        height: block.header.height,
        round: 0,
        block_hash: block.hash(),
        signatures: Vec::new(),
    };
    certificate.sign_with(&validators()[..3]);
    certificate
}

/// Receipts stand-in: opaque bytes that differ per height.
pub fn receipts(height: u64) -> Vec<u8> {
    let mut bytes = b"receipts of ".to_vec();
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes
}

/// The block at `height` of a deterministic chain: two signed transactions
/// whose nonces are unique per height.
pub fn chain_block(height: u64, prev_hash: Hash) -> Block {
    let keys = validators();
    let txs = vec![tx(&keys[0], height * 10), tx(&keys[1], height * 10 + 1)];
    block(height, prev_hash, txs)
}

/// Blocks 1..=n of the deterministic chain, each with its certificate.
pub fn chain(n: u64) -> Vec<(Block, CommitCertificate)> {
    let mut out = Vec::new();
    let mut prev = Hash::ZERO;
    for height in 1..=n {
        let block = chain_block(height, prev);
        prev = block.hash();
        let certificate = certificate(&block);
        out.push((block, certificate));
    }
    out
}

/// The key under which these tests play the ledger's applied height (a
/// ledger-range key: first byte below 0x80).
pub const LEDGER_HEIGHT_KEY: &[u8] = b"\x01ledger-height";
