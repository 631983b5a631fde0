//! `light_verify`: a light block from arbitrary bytes, verified by
//! `LightClient::verify` over the fixed 4-validator chain of [`crate::chain`]
//! (no store). An honest node answers fetches (or none does).
//!
//! Input: a mode byte, a height byte, a clock byte, then the light block
//! (bincode). Mode bits:
//! * 1: fix what a forger can compute: the header's validators hash, the
//!   commit's height, chain and block hash;
//! * 2: small-order validators of the block "sign" its commit (ZIP-215 lets
//!   anyone sign for those keys);
//! * 4, 8: the trust the client starts from: genesis (neither); genesis
//!   and the chain's block at the height byte verified (4); that block
//!   pinned as the root (8); that block pinned, and it and one halfway
//!   below it verified (4 and 8);
//! * 16: no node answers fetches;
//! * 32: the target is verified twice.
//!
//! Soundness: when the target verifies, its header is the chain's at its
//! height (nobody holding the validators' keys signed anything else), and a
//! quorum (3) of the four trusted keys really signed it; every block the
//! client then trusts is the chain's.

use crate::chain::{chain, time_of, Chain, CHAIN, LEN};
use crate::{small_order, Input};
use kp_api::proof::{LightBlock, PROOF_BYTES_MAX};
use kp_client::light::{LightClient, LightError, TrustOptions, TrustedState};
use kp_types::{quorum, validator_set_hash, CommitSignature, VoteKind};

/// Mode bits.
pub const FIX_HASHES: u8 = 1;
/// See the module documentation.
pub const SMALL_SIGN: u8 = 2;
/// Trust: genesis and one verified block.
pub const TRUST_ONE: u8 = 4;
/// Trust: the block pinned.
pub const TRUST_PINNED: u8 = 8;
/// No node answers.
pub const NO_FETCH: u8 = 16;
/// Verify twice.
pub const TWICE: u8 = 32;

/// One input.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    let k = 1 + u64::from(input.byte()) % LEN;
    let clock = u64::from(input.byte());
    let Ok(mut target) = kp_types::decode::<LightBlock>(input.rest(), PROOF_BYTES_MAX) else {
        return;
    };
    let c = chain();
    if mode & SMALL_SIGN != 0 {
        small_sign(&mut target);
    }
    if mode & FIX_HASHES != 0 {
        fix_hashes(&mut target);
    }
    // Up to 64 days after the tip, in steps of 6 hours: past the 14-day
    // trust period for about three quarters of the clock bytes.
    let now = time_of(LEN).plus_ms(clock * 6 * 3_600_000);
    let mut client = match client(c, mode, k, now) {
        Some(client) => client,
        None => return,
    };
    let mut honest = |h: u64| c.get(h);
    let mut silent = |h: u64| Err(format!("no answer for {h}"));
    let fetch: &mut dyn FnMut(u64) -> Result<LightBlock, String> = if mode & NO_FETCH != 0 {
        &mut silent
    } else {
        &mut honest
    };
    let result = client.verify(&target, now, fetch);
    if result.is_ok() {
        check_sound(c, &target);
        if mode & TWICE != 0 {
            assert_eq!(client.verify(&target, now, fetch), Ok(()));
        }
    } else if let Err(e) = &result {
        let _ = e.to_string();
    }
    // Whatever happened, the client trusts only the chain's blocks.
    for h in 1..=LEN {
        if let Some(b) = client.trusted_at(h) {
            assert_eq!(b, c.at(h), "the client trusts a block that is not the chain's");
        }
    }
    if let Some(b) = client.latest() {
        assert!(b.header.height <= LEN && b == c.at(b.header.height));
    }
}

/// The client of the mode, or `None` when the clock has already expired the
/// trust it should start from (not what this target is about).
fn client(c: &Chain, mode: u8, k: u64, now: kp_types::Timestamp) -> Option<LightClient> {
    let options = TrustOptions::default();
    let fresh = |root: TrustedState| LightClient::new(root, options, None).expect("a valid root");
    let mut client = match (mode & TRUST_ONE != 0, mode & TRUST_PINNED != 0) {
        (_, true) => fresh(TrustedState::from_light_block(
            CHAIN,
            kp_types::Hash::ZERO,
            c.at(k),
        )),
        _ => fresh(c.genesis_root()),
    };
    let mut prior = Vec::new();
    if mode & TRUST_ONE != 0 {
        prior.push(k);
        if mode & TRUST_PINNED != 0 {
            prior.push(1 + (k - 1) / 2);
        }
    }
    for h in prior {
        let mut honest = |h: u64| c.get(h);
        match client.verify(c.at(h), now, &mut honest) {
            Ok(()) => {}
            Err(LightError::Expired { .. }) => return None,
            Err(e) => panic!("the chain's block {h} does not verify: {e}"),
        }
    }
    Some(client)
}

/// Every small-order validator of `b` signs its commit.
fn small_sign(b: &mut LightBlock) {
    for (_, key) in &b.validators {
        if !small_order::is_small(key) {
            continue;
        }
        let sig = CommitSignature {
            validator: *key,
            signature: small_order::signature(),
        };
        match b.commit.signatures.iter_mut().find(|s| s.validator == *key) {
            Some(s) => *s = sig,
            None => b.commit.signatures.push(sig),
        }
    }
}

fn fix_hashes(b: &mut LightBlock) {
    b.header.validators_hash = validator_set_hash(&b.validators);
    b.commit.chain_id = b.header.chain_id.clone();
    b.commit.height = b.header.height;
    b.commit.block_hash = b.header.hash();
}

/// What a verified target must be.
fn check_sound(c: &Chain, target: &LightBlock) {
    let h = target.header.height;
    assert!(
        (1..=LEN).contains(&h) && target.header == c.at(h).header,
        "a header the validators never signed was verified: {:?}",
        target.header
    );
    let hash = target.header.hash();
    assert_eq!(target.commit.block_hash, hash);
    assert_eq!(target.commit.height, h);
    assert_eq!(target.commit.chain_id, CHAIN);
    let mut signed = std::collections::BTreeSet::new();
    for s in &target.commit.signatures {
        let trusted = c.set.iter().any(|(_, k)| *k == s.validator);
        let vote = target.commit.precommit_for(s.validator);
        assert_eq!(vote.kind, VoteKind::Precommit);
        if trusted && s.validator.verify(&vote.signing_hash(), &s.signature).is_ok() {
            signed.insert(s.validator);
        }
    }
    assert!(
        signed.len() >= quorum(c.set.len()),
        "verified with {} valid signatures of trusted keys",
        signed.len()
    );
}

/// Seeds: chain blocks under each trust mode, and forgeries: a set of
/// small-order keys that signs its own header, at a height above the chain
/// and at a height in it.
pub fn seeds() -> Vec<Vec<u8>> {
    let c = chain();
    let mut out = Vec::new();
    for (mode, k, h) in [
        (0u8, 0u8, 1u64),
        (0, 0, 7),
        (TRUST_ONE, 3, 9),
        (TRUST_PINNED, 19, 12),
        (TRUST_ONE | TRUST_PINNED | TWICE, 27, 30),
        (NO_FETCH, 0, LEN),
    ] {
        let mut bytes = vec![mode, k, 0];
        bytes.extend(kp_types::encode(c.at(h)));
        out.push(bytes);
    }
    for h in [LEN + 5, 16] {
        let mut forged = c.at(h.min(LEN)).clone();
        forged.header.height = h;
        forged.header.time = time_of(h);
        forged.validators = (0..4u8)
            .map(|i| (crate::chain::code(i), small_order::key(usize::from(i))))
            .collect();
        forged.header.proposer = forged.validators[0].1;
        forged.commit.signatures.clear();
        small_sign(&mut forged);
        fix_hashes(&mut forged);
        let mut bytes = vec![FIX_HASHES | SMALL_SIGN, 0, 0];
        bytes.extend(kp_types::encode(&forged));
        out.push(bytes);
    }
    out
}
