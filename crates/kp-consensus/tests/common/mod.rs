//! Shared by the core's test files: a 4-validator fixture at height 1 and
//! builders of signed inputs.
#![allow(dead_code, unused_imports)] // each test file uses its own subset

pub use kp_consensus::{
    proposer, Action, Consensus, ConsensusConfig, ConsensusMessage, Input, SafetyState, Step,
    Timeout, TimeoutKind,
};
pub use kp_types::{
    Block, BlockHeader, Hash, Proposal, PublicKey, SigningKey, Timestamp, Vote, VoteKind,
};

pub const CHAIN: &str = "kp-test";
pub const H: u64 = 1;

pub struct Fixture {
    pub keys: Vec<SigningKey>,
    pub validators: Vec<PublicKey>,
}

impl Fixture {
    pub fn new(n: u8) -> Fixture {
        let mut keys: Vec<SigningKey> =
            (0..n).map(|i| SigningKey::from_seed([i + 1; 32])).collect();
        keys.sort_by_key(|k| k.public());
        let validators = keys.iter().map(|k| k.public()).collect();
        Fixture { keys, validators }
    }

    pub fn key_of(&self, pk: PublicKey) -> &SigningKey {
        self.keys
            .iter()
            .find(|k| k.public() == pk)
            .expect("known key")
    }

    /// The proposer's key of `round` at height `H`.
    pub fn proposer(&self, round: u32) -> &SigningKey {
        self.key_of(proposer(&self.validators, H, round).expect("non-empty"))
    }

    /// A key that is not the proposer of rounds 0..=2 if possible (the node
    /// under test), else the first key.
    pub fn me(&self) -> SigningKey {
        let busy: Vec<PublicKey> = (0..3)
            .filter_map(|r| proposer(&self.validators, H, r))
            .collect();
        self.keys
            .iter()
            .find(|k| !busy.contains(&k.public()))
            .unwrap_or(&self.keys[0])
            .clone()
    }

    /// Other validators than `me`, in order.
    pub fn others(&self, me: &SigningKey) -> Vec<SigningKey> {
        self.keys
            .iter()
            .filter(|k| k.public() != me.public())
            .cloned()
            .collect()
    }

    pub fn node(&self, me: SigningKey, restored: Option<SafetyState>) -> Consensus {
        let mut c = Consensus::new(ConsensusConfig::new(CHAIN, me), restored);
        let _ = c.handle(Input::StartHeight {
            height: H,
            validators: self.validators.clone(),
        });
        c
    }
}

pub fn block(tag: u64, proposer: PublicKey) -> Block {
    Block {
        header: BlockHeader {
            chain_id: CHAIN.into(),
            height: H,
            time: Timestamp(1_000 + tag),
            proposer,
            prev_hash: Hash::ZERO,
            txs_root: kp_types::merkle::root(&[]),
            state_root: Hash::ZERO,
            validators_hash: Hash::ZERO,
            next_validators_hash: Hash::ZERO,
            results_root: Hash::ZERO,
            records_root: Hash::ZERO,
        },
        txs: vec![],
    }
}

pub fn vote(key: &SigningKey, round: u32, kind: VoteKind, block: Option<Hash>) -> Input {
    Input::Message {
        from: key.public(),
        message: ConsensusMessage::Vote(
            Vote {
                chain_id: CHAIN.into(),
                height: H,
                round,
                kind,
                block,
                validator: key.public(),
            }
            .sign(key),
        ),
    }
}

pub fn proposal(key: &SigningKey, round: u32, pol_round: Option<u32>, block: &Block) -> Input {
    Input::Message {
        from: key.public(),
        message: ConsensusMessage::Proposal {
            signed: Proposal {
                chain_id: CHAIN.into(),
                height: H,
                round,
                pol_round,
                block_hash: block.hash(),
                proposer: key.public(),
            }
            .sign(key),
            block: block.clone().into(),
            pol: vec![],
        },
    }
}

pub fn valid(block: &Block, ok: bool) -> Input {
    Input::BlockValidity {
        height: H,
        block_hash: block.hash(),
        valid: ok,
    }
}

pub fn timeout(round: u32, kind: TimeoutKind) -> Input {
    Input::TimeoutElapsed(Timeout {
        height: H,
        round,
        kind,
    })
}

/// The votes `me` broadcast in `actions`.
pub fn own_votes(actions: &[Action], me: PublicKey) -> Vec<(VoteKind, Option<Hash>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Broadcast(ConsensusMessage::Vote(v)) if v.vote.validator == me => {
                Some((v.vote.kind, v.vote.block))
            }
            _ => None,
        })
        .collect()
}
