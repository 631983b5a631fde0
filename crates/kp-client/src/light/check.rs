//! Checks of a light block alone (chain, validator list, proposer, commit
//! quorum), and of the link between adjacent blocks.

use super::LightError;
use kp_api::proof::{LightBlock, LIGHT_VALIDATORS_MAX};
use kp_types::{validator_set_hash, ParticipantCode, PublicKey};
use std::collections::BTreeSet;

/// Checks a validator list alone: not empty, bounded, no duplicate codes or
/// keys.
pub(super) fn check_set(
    height: u64,
    set: &[(ParticipantCode, PublicKey)],
) -> Result<(), LightError> {
    let bad = |reason: String| LightError::BadValidatorSet { height, reason };
    if set.is_empty() {
        return Err(bad("the validator set is empty".into()));
    }
    if set.len() > LIGHT_VALIDATORS_MAX {
        return Err(bad(format!(
            "{} validators listed; at most {LIGHT_VALIDATORS_MAX}",
            set.len()
        )));
    }
    let mut codes = BTreeSet::new();
    let mut keys = BTreeSet::new();
    for (code, key) in set {
        if !codes.insert(code) {
            return Err(bad(format!("member {code} listed twice")));
        }
        if !keys.insert(key) {
            return Err(bad(format!("key {key} listed twice")));
        }
    }
    Ok(())
}

/// Checks a light block alone: chain, validator list against the header,
/// proposer, and a valid quorum of its own set's precommits for the header.
/// Says nothing of whether that set is to be trusted.
pub(super) fn check_block(chain_id: &str, b: &LightBlock) -> Result<(), LightError> {
    let height = b.header.height;
    for found in [&b.header.chain_id, &b.commit.chain_id] {
        if found != chain_id {
            return Err(LightError::WrongChain {
                height,
                expected: chain_id.to_string(),
                found: found.chars().take(80).collect(),
            });
        }
    }
    if height == 0 {
        return Err(LightError::BadHeader {
            height,
            reason: "heights start at 1".into(),
        });
    }
    check_set(height, &b.validators)?;
    let set_hash = validator_set_hash(&b.validators);
    if set_hash != b.header.validators_hash {
        return Err(LightError::BadValidatorSet {
            height,
            reason: format!(
                "the listed validators hash to {set_hash}, the header says {}",
                b.header.validators_hash
            ),
        });
    }
    if !b.validators.iter().any(|(_, k)| *k == b.header.proposer) {
        return Err(LightError::BadHeader {
            height,
            reason: format!("proposer {} is not a validator of it", b.header.proposer),
        });
    }
    let bad = |reason: String| LightError::BadCommit { height, reason };
    if b.commit.height != height {
        return Err(bad(format!("the commit is for height {}", b.commit.height)));
    }
    let hash = b.header.hash();
    if b.commit.block_hash != hash {
        return Err(bad(format!(
            "the commit is for block {}, the header hashes to {hash}",
            b.commit.block_hash
        )));
    }
    if b.commit.signatures.len() > b.validators.len() {
        return Err(bad(format!(
            "{} signatures for {} validators",
            b.commit.signatures.len(),
            b.validators.len()
        )));
    }
    let keys: Vec<PublicKey> = b.validators.iter().map(|(_, k)| *k).collect();
    b.commit
        .verify(chain_id, &keys)
        .map_err(|e| bad(e.to_string()))
}

/// Checks that `upper` (at `lower + 1`) follows `lower`.
pub(super) fn check_link(lower: &LightBlock, upper: &LightBlock) -> Result<(), String> {
    if upper.header.prev_hash != lower.header.hash() {
        return Err(format!(
            "height {}: prev_hash does not link to height {}",
            upper.header.height, lower.header.height
        ));
    }
    if upper.header.validators_hash != lower.header.next_validators_hash {
        return Err(format!(
            "height {}: validators are not those announced at height {}",
            upper.header.height, lower.header.height
        ));
    }
    Ok(())
}
