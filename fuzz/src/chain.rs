//! A fixed synthetic chain: heights 1..=[`LEN`], each decided by all four
//! validators `GA`..`GD` with keys `SigningKey::from_seed([i; 32])`,
//! i = 1..=4 (as in `kp-client`'s light client tests).

use kp_api::proof::LightBlock;
use kp_client::light::{TrustedState, ValidatorSet};
use kp_types::{
    validator_set_hash, BlockHeader, CommitCertificate, CommitSignature, Hash, ParticipantCode,
    SigningKey, Timestamp, Vote, VoteKind,
};
use std::sync::OnceLock;

/// The chain id.
pub const CHAIN: &str = "kp-fuzz";
/// Genesis time (2026-01-01).
pub const T0: u64 = 1_767_225_600_000;
/// Time between blocks.
pub const BLOCK_MS: u64 = 5_000;
/// Heights of the chain.
pub const LEN: u64 = 32;

/// The chain and its keys.
pub struct Chain {
    /// The validators' signing keys, by code.
    pub keys: Vec<SigningKey>,
    /// The set deciding every height.
    pub set: ValidatorSet,
    /// Light blocks of heights 1..=LEN (index h - 1).
    pub blocks: Vec<LightBlock>,
}

/// The chain, built once.
pub fn chain() -> &'static Chain {
    static CHAIN_ONCE: OnceLock<Chain> = OnceLock::new();
    CHAIN_ONCE.get_or_init(build)
}

/// The code of validator `i` (0-based): `GA`, `GB`, ...
pub fn code(i: u8) -> ParticipantCode {
    ParticipantCode::new(&format!("G{}", (b'A' + i) as char)).expect("valid code")
}

/// Time of height `h`.
pub fn time_of(h: u64) -> Timestamp {
    Timestamp(T0 + h * BLOCK_MS)
}

/// The commit certificate of `header` by `signers`.
pub fn sign(header: &BlockHeader, signers: &[SigningKey]) -> CommitCertificate {
    let signatures = signers
        .iter()
        .map(|k| {
            let vote = Vote {
                chain_id: header.chain_id.clone(),
                height: header.height,
                round: 0,
                kind: VoteKind::Precommit,
                block: Some(header.hash()),
                validator: k.public(),
            };
            CommitSignature {
                validator: k.public(),
                signature: k.sign(&vote.signing_hash()),
            }
        })
        .collect();
    CommitCertificate {
        chain_id: header.chain_id.clone(),
        height: header.height,
        round: 0,
        block_hash: header.hash(),
        signatures,
    }
}

fn build() -> Chain {
    let keys: Vec<SigningKey> = (1..=4u8).map(|s| SigningKey::from_seed([s; 32])).collect();
    let set: ValidatorSet = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (code(i as u8), k.public()))
        .collect();
    let set_hash = validator_set_hash(&set);
    let mut blocks: Vec<LightBlock> = Vec::new();
    for h in 1..=LEN {
        let prev_hash = blocks.last().map_or(Hash::ZERO, |b| b.header.hash());
        let header = BlockHeader {
            chain_id: CHAIN.to_string(),
            height: h,
            time: time_of(h),
            proposer: set[(h % 4) as usize].1,
            prev_hash,
            txs_root: Hash::ZERO,
            state_root: Hash([h as u8; 32]),
            validators_hash: set_hash,
            next_validators_hash: set_hash,
            results_root: Hash::ZERO,
            records_root: Hash([h as u8 ^ 0xa5; 32]),
        };
        let commit = sign(&header, &keys);
        blocks.push(LightBlock {
            header,
            commit,
            validators: set.clone(),
        });
    }
    Chain { keys, set, blocks }
}

impl Chain {
    /// The block of height `h` (1..=LEN).
    pub fn at(&self, h: u64) -> &LightBlock {
        &self.blocks[(h - 1) as usize]
    }

    /// What an honest node answers.
    pub fn get(&self, h: u64) -> Result<LightBlock, String> {
        usize::try_from(h)
            .ok()
            .and_then(|h| h.checked_sub(1))
            .and_then(|i| self.blocks.get(i))
            .cloned()
            .ok_or_else(|| format!("no block at {h}"))
    }

    /// Trust at genesis: the four validators decide heights 1 and 2.
    pub fn genesis_root(&self) -> TrustedState {
        TrustedState {
            chain_id: CHAIN.to_string(),
            genesis_hash: Hash::ZERO,
            height: 0,
            header_hash: None,
            time: Timestamp(T0),
            validators: self.set.clone(),
            next_validators_hash: validator_set_hash(&self.set),
        }
    }
}
