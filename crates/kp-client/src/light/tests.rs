//! Tests of the light client: chains built and signed here, verified
//! forward, skipping, bisecting and backward; attacks refused; the store.

use super::*;
use kp_api::proof::{LightBlock, LIGHT_VALIDATORS_MAX};
use kp_api::{Genesis, Params};
use kp_types::{
    validator_set_hash, BlockHeader, CommitCertificate, CommitSignature, Hash, Participant,
    ParticipantKind, SigningKey, Territory, Timestamp, Vote, VoteKind,
};
use std::collections::BTreeMap;

const CHAIN: &str = "kp-test";
const T0: u64 = 1_767_225_600_000; // 2026-01-01
const BLOCK_MS: u64 = 5_000;

/// A validator set spec: (code index, key seed), by code index.
type Spec = Vec<(u8, u8)>;

fn code(i: u8) -> ParticipantCode {
    ParticipantCode::new(&format!("G{}", (b'A' + i) as char)).unwrap()
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed([seed; 32])
}

fn set_of(spec: &[(u8, u8)]) -> ValidatorSet {
    spec.iter()
        .map(|&(c, s)| (code(c), key(s).public()))
        .collect()
}

fn time_of(height: u64) -> Timestamp {
    Timestamp(T0 + height * BLOCK_MS)
}

fn sign(header: &BlockHeader, chain_id: &str, signers: &[SigningKey]) -> CommitCertificate {
    let signatures = signers
        .iter()
        .map(|k| {
            let vote = Vote {
                chain_id: chain_id.to_string(),
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
        chain_id: chain_id.to_string(),
        height: header.height,
        round: 0,
        block_hash: header.hash(),
        signatures,
    }
}

/// A light block decided by `spec` (all of it signing).
fn block(height: u64, prev_hash: Hash, spec: &[(u8, u8)], next: &[(u8, u8)]) -> LightBlock {
    let validators = set_of(spec);
    let header = BlockHeader {
        chain_id: CHAIN.to_string(),
        height,
        time: time_of(height),
        proposer: validators[0].1,
        prev_hash,
        txs_root: Hash::ZERO,
        state_root: Hash([height as u8; 32]),
        validators_hash: validator_set_hash(&validators),
        next_validators_hash: validator_set_hash(&set_of(next)),
        results_root: Hash::ZERO,
        records_root: Hash::ZERO,
    };
    let keys: Vec<SigningKey> = spec.iter().map(|&(_, s)| key(s)).collect();
    let commit = sign(&header, CHAIN, &keys);
    LightBlock {
        header,
        commit,
        validators,
    }
}

/// Re-signs a block after its header was changed, by `signers`.
fn resign(mut b: LightBlock, signers: &[u8]) -> LightBlock {
    let keys: Vec<SigningKey> = signers.iter().map(|&s| key(s)).collect();
    b.commit = sign(&b.header, &b.header.chain_id.clone(), &keys);
    b
}

struct TestChain {
    genesis: Genesis,
    blocks: Vec<LightBlock>,
}

impl TestChain {
    /// Heights 1..=len; `spec_at(h)` decides h (heights 1 and 2: the
    /// genesis set).
    fn new(len: u64, spec_at: impl Fn(u64) -> Spec) -> TestChain {
        let mut participants: Vec<Participant> = spec_at(1)
            .iter()
            .map(|&(c, s)| Participant {
                code: code(c),
                kind: ParticipantKind::Government,
                name: format!("government {c}"),
                territories: vec![Territory::new(code(c).as_str()).unwrap()],
                node_key: key(s).public(),
                government_key: key(s).public(),
                recovery_key: None,
            })
            .collect();
        participants.push(Participant {
            code: ParticipantCode::new("OBS").unwrap(),
            kind: ParticipantKind::Observer,
            name: "observer".into(),
            territories: vec![],
            node_key: key(250).public(),
            government_key: key(250).public(),
            recovery_key: None,
        });
        participants.reverse(); // the genesis order does not matter
        let genesis = Genesis {
            chain_id: CHAIN.into(),
            genesis_time: Timestamp(T0),
            chair: code(spec_at(1)[0].0),
            vice_chair: None,
            params: Params::default(),
            participants,
            authorities: vec![],
        };
        genesis.validate().unwrap();
        let mut blocks: Vec<LightBlock> = Vec::new();
        for h in 1..=len {
            let prev = blocks.last().map_or(Hash::ZERO, |b| b.header.hash());
            blocks.push(block(h, prev, &spec_at(h), &spec_at(h + 1)));
        }
        TestChain { genesis, blocks }
    }

    fn at(&self, h: u64) -> &LightBlock {
        &self.blocks[(h - 1) as usize]
    }

    fn get(&self, h: u64) -> Result<LightBlock, String> {
        self.blocks
            .get((h as usize).wrapping_sub(1))
            .cloned()
            .ok_or_else(|| format!("no block at {h}"))
    }

    fn client(&self) -> LightClient {
        LightClient::new(
            TrustedState::from_genesis(&self.genesis),
            TrustOptions::default(),
            None,
        )
        .unwrap()
    }
}

fn four() -> Spec {
    vec![(0, 1), (1, 2), (2, 3), (3, 4)]
}

fn no_fetch(h: u64) -> Result<LightBlock, String> {
    Err(format!("no fetch expected (height {h})"))
}

fn now_for(h: u64) -> Timestamp {
    time_of(h).plus_ms(1_000)
}

#[test]
fn genesis_trust_is_the_government_set_by_code() {
    let chain = TestChain::new(1, |_| four());
    let root = TrustedState::from_genesis(&chain.genesis);
    assert_eq!(root.height, 0);
    assert_eq!(root.validators, set_of(&four()));
    assert_eq!(
        root.next_validators_hash,
        chain.at(1).header.validators_hash
    );
    assert_eq!(root.genesis_hash, chain.genesis.hash());
}

#[test]
fn adjacent_from_genesis_over_ten_heights() {
    let chain = TestChain::new(10, |_| four());
    let mut client = chain.client();
    assert!(client.latest().is_none());
    for h in 1..=10 {
        client
            .verify(chain.at(h), now_for(h), &mut no_fetch)
            .unwrap();
        assert_eq!(client.latest().unwrap().header.height, h);
    }
    assert_eq!(client.trusted_at(5), Some(chain.at(5)));
    // Verifying a known header again is a no-op.
    client
        .verify(chain.at(7), now_for(10), &mut no_fetch)
        .unwrap();
}

#[test]
fn skipping_from_genesis_to_1000_in_one_step() {
    let chain = TestChain::new(1000, |_| four());
    let mut client = chain.client();
    client
        .verify(chain.at(1000), now_for(1000), &mut no_fetch)
        .unwrap();
    assert_eq!(client.latest(), Some(chain.at(1000)));
    assert!(client.trusted_at(500).is_none());
    // And a height between, from genesis again (forward from below).
    client
        .verify(chain.at(400), now_for(1000), &mut no_fetch)
        .unwrap();
    assert!(client.trusted_at(400).is_some());
}

#[test]
fn rotated_key_skipping_and_adjacent() {
    // Member 0 rotates its key (seed 1 -> 11) from height 300.
    let spec = |h: u64| {
        if h < 300 {
            four()
        } else {
            vec![(0, 11), (1, 2), (2, 3), (3, 4)]
        }
    };
    let chain = TestChain::new(1000, spec);
    let mut client = chain.client();
    client
        .verify(chain.at(1000), now_for(1000), &mut no_fetch)
        .unwrap();

    let mut client = chain.client();
    client
        .verify(chain.at(298), now_for(298), &mut no_fetch)
        .unwrap();
    for h in 299..=302 {
        client
            .verify(chain.at(h), now_for(h), &mut no_fetch)
            .unwrap();
    }
    assert_eq!(client.latest().unwrap().header.height, 302);
}

#[test]
fn whole_set_replaced_at_once_needs_bisection() {
    // Height 500 on: four new members with new keys.
    let spec = |h: u64| {
        if h < 500 {
            four()
        } else {
            vec![(4, 21), (5, 22), (6, 23), (7, 24)]
        }
    };
    let chain = TestChain::new(1000, spec);
    let mut client = chain.client();
    let err = client
        .verify(chain.at(1000), now_for(1000), &mut no_fetch)
        .unwrap_err();
    assert!(
        matches!(err, LightError::Fetch { height: 500, .. }),
        "{err}"
    );

    let mut client = chain.client();
    let mut calls = Vec::new();
    let mut fetch = |h: u64| {
        calls.push(h);
        chain.get(h)
    };
    client
        .verify(chain.at(1000), now_for(1000), &mut fetch)
        .unwrap();
    assert!(!calls.is_empty() && calls.len() <= FETCHES_MAX, "{calls:?}");
    assert_eq!(client.latest(), Some(chain.at(1000)));
    // The change was crossed adjacently: 499 and 500 are kept.
    assert!(client.trusted_at(499).is_some());
    assert!(client.trusted_at(500).is_some());
}

#[test]
fn gradual_replacement_bisects() {
    // One key replaced every 100 heights; from 400 on, none of the
    // genesis keys is left.
    let spec = |h: u64| {
        let step = (h / 100).min(4) as u8;
        (0..4u8)
            .map(|i| if i < step { (i, 31 + i) } else { (i, 1 + i) })
            .collect()
    };
    let chain = TestChain::new(1000, spec);
    let mut client = chain.client();
    let mut calls = Vec::new();
    let mut fetch = |h: u64| {
        calls.push(h);
        chain.get(h)
    };
    client
        .verify(chain.at(1000), now_for(1000), &mut fetch)
        .unwrap();
    assert!(!calls.is_empty() && calls.len() <= FETCHES_MAX, "{calls:?}");
    for h in calls {
        assert!(client.trusted_at(h).is_some(), "pivot {h} kept");
    }
}

#[test]
fn bisection_is_bounded() {
    // A new single-key set at every height (no key ever returns): only
    // adjacent steps work, and 200 of them need more fetches than allowed.
    let spec = |h: u64| vec![(0u8, h as u8)];
    let chain = TestChain::new(200, spec);
    let mut client = chain.client();
    let mut calls = 0;
    let mut fetch = |h: u64| {
        calls += 1;
        chain.get(h)
    };
    let err = client
        .verify(chain.at(200), now_for(200), &mut fetch)
        .unwrap_err();
    assert!(matches!(err, LightError::NotEnoughTrust { .. }), "{err}");
    assert_eq!(calls, FETCHES_MAX);
    assert!(client.trusted_at(200).is_none());
}

#[test]
fn forged_header_of_a_lone_government_is_refused() {
    let chain = TestChain::new(1000, |_| four());
    let alone: Spec = vec![(0, 1)];
    // Skipping: one of four trusted signers is not enough; bisection
    // through the honest chain then meets the forgery adjacently.
    let forged = block(1000, chain.at(999).header.hash(), &alone, &alone);
    let mut client = chain.client();
    let mut fetch = |h: u64| chain.get(h);
    let err = client
        .verify(&forged, now_for(1000), &mut fetch)
        .unwrap_err();
    assert!(
        matches!(err, LightError::BadValidatorSet { height: 1000, .. }),
        "{err}"
    );
    assert!(client.trusted_at(1000).is_none());
    // With no node to ask, it is refused for lack of trust.
    let mut client = chain.client();
    let err = client
        .verify(&forged, now_for(1000), &mut no_fetch)
        .unwrap_err();
    assert!(matches!(err, LightError::Fetch { .. }), "{err}");
    // Adjacent: not the announced set.
    let forged = block(1, Hash::ZERO, &alone, &alone);
    let err = client
        .verify(&forged, now_for(1), &mut no_fetch)
        .unwrap_err();
    assert!(
        matches!(err, LightError::BadValidatorSet { height: 1, .. }),
        "{err}"
    );
    // The forger cannot claim the real set and sign alone.
    let mut forged = chain.at(1).clone();
    forged.header.state_root = Hash([9; 32]);
    let forged = resign(forged, &[1]);
    let err = client
        .verify(&forged, now_for(1), &mut no_fetch)
        .unwrap_err();
    assert!(
        matches!(err, LightError::BadCommit { height: 1, .. }),
        "{err}"
    );
}

#[test]
fn bad_commits_and_sets_are_refused() {
    let chain = TestChain::new(10, |_| four());
    let mut client = chain.client();
    let now = now_for(10);
    let mut check = |b: &LightBlock| client.verify(b, now, &mut no_fetch).unwrap_err();

    // A commit for another block hash.
    let mut b = chain.at(1).clone();
    b.commit = chain.at(2).commit.clone();
    b.commit.height = 1;
    assert!(matches!(check(&b), LightError::BadCommit { .. }));
    let mut b = chain.at(1).clone();
    b.commit.block_hash = chain.at(2).header.hash();
    assert!(matches!(check(&b), LightError::BadCommit { .. }));

    // Another chain, signed for it.
    let mut b = chain.at(1).clone();
    b.header.chain_id = "other".into();
    let b = resign(b, &[1, 2, 3, 4]);
    assert!(matches!(check(&b), LightError::WrongChain { .. }));

    // Missing quorum: 2 of 4 (3 needed).
    let b = resign(chain.at(1).clone(), &[1, 2]);
    assert!(matches!(check(&b), LightError::BadCommit { .. }));
    // A signature that does not verify.
    let mut b = chain.at(1).clone();
    b.commit.signatures[0].signature = b.commit.signatures[1].signature;
    assert!(matches!(check(&b), LightError::BadCommit { .. }));
    // More signatures than validators (a duplicate signer).
    let mut b = chain.at(1).clone();
    let extra = b.commit.signatures[0].clone();
    b.commit.signatures.push(extra);
    assert!(matches!(check(&b), LightError::BadCommit { .. }));

    // Validators that do not hash to the header.
    let mut b = chain.at(1).clone();
    b.validators[0].1 = key(99).public();
    assert!(matches!(check(&b), LightError::BadValidatorSet { .. }));
    // A set listing one key twice, even if the header agrees.
    let mut b = chain.at(1).clone();
    b.validators[1].1 = b.validators[0].1;
    b.header.validators_hash = validator_set_hash(&b.validators);
    let b = resign(b, &[1, 3, 4]);
    assert!(matches!(check(&b), LightError::BadValidatorSet { .. }));
    // A set over the bound.
    let mut b = chain.at(1).clone();
    b.validators = (0..=LIGHT_VALIDATORS_MAX)
        .map(|i| {
            let c = format!(
                "{}{}{}",
                (b'A' + (i / 676) as u8) as char,
                (b'A' + (i / 26 % 26) as u8) as char,
                (b'A' + (i % 26) as u8) as char
            );
            let mut k = [0u8; 32];
            k[..8].copy_from_slice(&(i as u64).to_be_bytes());
            (ParticipantCode::new(&c).unwrap(), PublicKey(k))
        })
        .collect();
    let err = check(&b);
    assert!(
        matches!(&err, LightError::BadValidatorSet { reason, .. } if reason.contains("at most")),
        "{err}"
    );
    // A prev_hash that does not link (adjacent), signed by the real set.
    let mut b = chain.at(1).clone();
    b.header.prev_hash = Hash([1; 32]);
    let b = resign(b, &[1, 2, 3, 4]);
    assert!(matches!(check(&b), LightError::NotLinked { height: 1, .. }));
    // Height 0.
    let mut b = chain.at(1).clone();
    b.header.height = 0;
    assert!(matches!(check(&b), LightError::BadHeader { .. }));

    // Nothing was trusted on the way.
    assert!(client.latest().is_none());
}

#[test]
fn expired_trust_and_future_headers_are_refused() {
    let chain = TestChain::new(20, |_| four());
    let mut client = chain.client();
    let late = Timestamp(T0).plus_ms(TRUST_PERIOD_MS_DEFAULT + 1);
    let err = client
        .verify(chain.at(10), late, &mut no_fetch)
        .unwrap_err();
    assert!(
        matches!(
            err,
            LightError::Expired {
                trusted_height: 0,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("pin a recent header"));

    // A header more than the drift ahead of the clock.
    let early = time_of(10).0 - CLOCK_DRIFT_MS_DEFAULT - 1;
    let err = client
        .verify(chain.at(10), Timestamp(early), &mut no_fetch)
        .unwrap_err();
    assert!(
        matches!(err, LightError::FromTheFuture { height: 10, .. }),
        "{err}"
    );
    // Within the drift it is fine.
    let early = time_of(10).0 - CLOCK_DRIFT_MS_DEFAULT;
    client
        .verify(chain.at(10), Timestamp(early), &mut no_fetch)
        .unwrap();

    // Times must increase.
    let mut b = chain.at(11).clone();
    b.header.time = time_of(10);
    let b = resign(b, &[1, 2, 3, 4]);
    let err = client.verify(&b, now_for(20), &mut no_fetch).unwrap_err();
    assert!(matches!(err, LightError::NotMonotonic { .. }), "{err}");
}

#[test]
fn a_conflicting_header_at_a_trusted_height_is_a_fork() {
    let chain = TestChain::new(20, |_| four());
    let mut client = chain.client();
    client
        .verify(chain.at(10), now_for(20), &mut no_fetch)
        .unwrap();
    let mut fork = chain.at(10).clone();
    fork.header.state_root = Hash([77; 32]);
    let fork = resign(fork, &[1, 2, 3, 4]);
    let err = client
        .verify(&fork, now_for(20), &mut no_fetch)
        .unwrap_err();
    assert_eq!(
        err,
        LightError::Conflict {
            height: 10,
            trusted: chain.at(10).header.hash(),
            found: fork.header.hash(),
        }
    );
    // A fork at 9 that 10 does not link to.
    let mut fork = chain.at(9).clone();
    fork.header.state_root = Hash([78; 32]);
    let fork = resign(fork, &[1, 2, 3, 4]);
    let err = client
        .verify(&fork, now_for(20), &mut no_fetch)
        .unwrap_err();
    assert!(
        matches!(err, LightError::Conflict { height: 9, .. }),
        "{err}"
    );
    assert!(client.trusted_at(9).is_none());
}

#[test]
fn pinned_root_forward_and_backward() {
    let chain = TestChain::new(100, |_| four());
    let pinned = chain.at(80);
    let hash = pinned.header.hash();
    let genesis_hash = chain.genesis.hash();
    assert!(matches!(
        TrustedState::from_pinned(CHAIN, genesis_hash, 80, Hash([3; 32]), pinned),
        Err(LightError::Conflict { .. })
    ));
    let root = TrustedState::from_pinned(CHAIN, genesis_hash, 80, hash, pinned).unwrap();
    let mut client = LightClient::new(root, TrustOptions::default(), None).unwrap();
    // Forward from the pin (its time, not genesis, counts for expiry).
    let now = time_of(80).plus_ms(TRUST_PERIOD_MS_DEFAULT - 1);
    client.verify(chain.at(100), now, &mut no_fetch).unwrap();
    // Backward below it, through hash links.
    let mut calls = Vec::new();
    let mut fetch = |h: u64| {
        calls.push(h);
        chain.get(h)
    };
    client.verify(chain.at(75), now, &mut fetch).unwrap();
    assert_eq!(calls, vec![80, 79, 78, 77, 76]);
    assert!(client.trusted_at(75).is_some() && client.trusted_at(80).is_some());
    // A header not linking to the trusted ones is refused.
    let mut fork = chain.at(70).clone();
    fork.header.state_root = Hash([5; 32]);
    let fork = resign(fork, &[1, 2, 3, 4]);
    let mut fetch = |h: u64| chain.get(h);
    let err = client.verify(&fork, now, &mut fetch).unwrap_err();
    assert!(
        matches!(err, LightError::NotLinked { height: 71, .. }),
        "{err}"
    );
    // Too far back.
    let err = client.verify(chain.at(5), now, &mut fetch).unwrap_err();
    assert!(matches!(err, LightError::TooFarBack { .. }), "{err}");
    // The pinned block itself is accepted and kept.
    client.verify(chain.at(80), now, &mut no_fetch).unwrap();
}

#[test]
fn store_round_trips_and_refuses_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new(1000, |_| four());
    let store = LightStore::open(dir.path()).unwrap();
    let root = TrustedState::from_genesis(&chain.genesis);
    let mut client =
        LightClient::new(root.clone(), TrustOptions::default(), Some(store.clone())).unwrap();
    for h in [1, 2, 3, 500, 1000] {
        client
            .verify(chain.at(h), now_for(1000), &mut no_fetch)
            .unwrap();
    }
    let path = store.path_for(CHAIN, &chain.genesis.hash());
    assert!(path.exists());
    assert!(path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("kp-test-"));

    let reopened =
        LightClient::new(root.clone(), TrustOptions::default(), Some(store.clone())).unwrap();
    assert_eq!(reopened.latest(), Some(chain.at(1000)));
    for h in [1, 2, 3, 500] {
        assert_eq!(reopened.trusted_at(h), Some(chain.at(h)));
    }

    // The store is bounded.
    let long = TestChain::new(300, |_| four());
    let dir2 = tempfile::tempdir().unwrap();
    let store2 = LightStore::open(dir2.path()).unwrap();
    let mut c = LightClient::new(
        TrustedState::from_genesis(&long.genesis),
        TrustOptions::default(),
        Some(store2.clone()),
    )
    .unwrap();
    for h in 1..=300 {
        c.verify(long.at(h), now_for(300), &mut no_fetch).unwrap();
    }
    let loaded = store2.load(CHAIN, &long.genesis.hash()).unwrap();
    assert_eq!(loaded.len(), STORE_BLOCKS_MAX);
    assert_eq!(
        loaded.keys().next(),
        Some(&(300 - STORE_BLOCKS_MAX as u64 + 1))
    );

    // Tampering: a changed header no longer matches its commit.
    let text = std::fs::read_to_string(&path).unwrap();
    let state_root = chain.at(500).header.state_root.to_hex();
    assert!(text.contains(&state_root));
    let tampered = text.replace(&state_root, &Hash([0xee; 32]).to_hex());
    std::fs::write(&path, tampered).unwrap();
    let err =
        LightClient::new(root.clone(), TrustOptions::default(), Some(store.clone())).unwrap_err();
    assert!(matches!(err, LightError::Store { .. }), "{err}");

    // Tampering: validators swapped for the forger's own set, with the
    // header fields changed to match, breaks the link to height 2.
    let mut blocks = chain.blocks[..3].to_vec();
    let alone = set_of(&[(0, 1)]);
    blocks[2].validators = alone.clone();
    blocks[2].header.validators_hash = validator_set_hash(&alone);
    blocks[2] = resign(blocks[2].clone(), &[1]);
    let map: BTreeMap<u64, LightBlock> = blocks.into_iter().map(|b| (b.header.height, b)).collect();
    store.save(CHAIN, &chain.genesis.hash(), &map).unwrap();
    let err =
        LightClient::new(root.clone(), TrustOptions::default(), Some(store.clone())).unwrap_err();
    assert!(matches!(err, LightError::Store { .. }), "{err}");

    // Garbage.
    std::fs::write(&path, b"{not json").unwrap();
    let err = LightClient::new(root, TrustOptions::default(), Some(store)).unwrap_err();
    assert!(matches!(err, LightError::Store { .. }), "{err}");
}

#[test]
fn store_of_another_root_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let chain = TestChain::new(10, |_| four());
    let store = LightStore::open(dir.path()).unwrap();
    let root = TrustedState::from_genesis(&chain.genesis);
    let mut client = LightClient::new(root, TrustOptions::default(), Some(store.clone())).unwrap();
    client
        .verify(chain.at(5), now_for(10), &mut no_fetch)
        .unwrap();
    // A pin at 5 that differs from the stored 5.
    let mut other = chain.at(5).clone();
    other.header.state_root = Hash([42; 32]);
    let other = resign(other, &[1, 2, 3, 4]);
    let pinned = TrustedState::from_light_block(CHAIN, chain.genesis.hash(), &other);
    let err = LightClient::new(pinned, TrustOptions::default(), Some(store)).unwrap_err();
    assert!(
        matches!(err, LightError::Conflict { height: 5, .. }),
        "{err}"
    );
}

#[test]
fn default_dir_ends_in_light() {
    let dir = LightStore::default_dir();
    assert!(dir.ends_with("kpledger/light") || dir.ends_with(".kpledger-light"));
}
