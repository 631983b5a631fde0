//! What the client trusts: the root the user gives (a genesis or a pinned
//! header), and the anchors verification starts from.

use super::check::check_block;
use super::{LightError, ValidatorSet};
use kp_api::proof::LightBlock;
use kp_api::Genesis;
use kp_types::{validator_set_hash, Hash, ParticipantCode, ParticipantKind, PublicKey, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the client trusts at the start: a genesis document, or a header hash
/// the user pins (its light block is fetched and must hash to it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedState {
    /// The chain.
    pub chain_id: String,
    /// Hash of the chain's genesis document.
    pub genesis_hash: Hash,
    /// The trusted height (0 at genesis).
    pub height: u64,
    /// Hash of the trusted header (`None` at genesis).
    pub header_hash: Option<Hash>,
    /// Time of the trusted header (the genesis time at genesis).
    pub time: Timestamp,
    /// The set deciding `height` (at genesis: the genesis set).
    pub validators: ValidatorSet,
    /// Hash of the set deciding `height + 1`.
    pub next_validators_hash: Hash,
}

impl TrustedState {
    /// Trust from a genesis document: its government Participants, by code,
    /// decide heights 1 and 2.
    pub fn from_genesis(g: &Genesis) -> TrustedState {
        let by_code: BTreeMap<ParticipantCode, PublicKey> = g
            .participants
            .iter()
            .filter(|p| p.kind == ParticipantKind::Government)
            .map(|p| (p.code.clone(), p.node_key))
            .collect();
        let validators: ValidatorSet = by_code.into_iter().collect();
        TrustedState {
            chain_id: g.chain_id.clone(),
            genesis_hash: g.hash(),
            height: 0,
            header_hash: None,
            time: g.genesis_time,
            next_validators_hash: validator_set_hash(&validators),
            validators,
        }
    }

    /// Trust a light block as it is (the caller has checked that it is the
    /// one it means to trust: see [`TrustedState::from_pinned`]).
    pub fn from_light_block(chain_id: &str, genesis_hash: Hash, b: &LightBlock) -> TrustedState {
        TrustedState {
            chain_id: chain_id.to_string(),
            genesis_hash,
            height: b.header.height,
            header_hash: Some(b.header.hash()),
            time: b.header.time,
            validators: b.validators.clone(),
            next_validators_hash: b.header.next_validators_hash,
        }
    }

    /// Trust the header the user pinned by height and hash: `b` (fetched
    /// from a node) must be that header, well formed and certified by its
    /// own validator set.
    pub fn from_pinned(
        chain_id: &str,
        genesis_hash: Hash,
        height: u64,
        hash: Hash,
        b: &LightBlock,
    ) -> Result<TrustedState, LightError> {
        if b.header.height != height {
            return Err(LightError::Fetch {
                height,
                reason: format!("asked for height {height}, got {}", b.header.height),
            });
        }
        let found = b.header.hash();
        if found != hash {
            return Err(LightError::Conflict {
                height,
                trusted: hash,
                found,
            });
        }
        check_block(chain_id, b)?;
        Ok(TrustedState::from_light_block(chain_id, genesis_hash, b))
    }
}

/// A trusted point verification starts from.
#[derive(Clone, Debug)]
pub(super) struct Anchor {
    pub(super) height: u64,
    pub(super) hash: Option<Hash>,
    pub(super) time: Timestamp,
    pub(super) validators: ValidatorSet,
    pub(super) next_validators_hash: Hash,
}

impl Anchor {
    pub(super) fn of_root(root: &TrustedState) -> Anchor {
        Anchor {
            height: root.height,
            hash: root.header_hash,
            time: root.time,
            validators: root.validators.clone(),
            next_validators_hash: root.next_validators_hash,
        }
    }

    pub(super) fn of_block(b: &LightBlock) -> Anchor {
        Anchor {
            height: b.header.height,
            hash: Some(b.header.hash()),
            time: b.header.time,
            validators: b.validators.clone(),
            next_validators_hash: b.header.next_validators_hash,
        }
    }
}
