//! Tests of the node task's pure parts: the resend gate, direct-message chunks, sync answer sizes, safety-state formats.

use super::outbound::{direct_chunks, ResendGate};
use super::start::load_safety;
use super::*;
use kp_consensus::SafetyState;
use kp_types::{BlockHeader, Hash};

fn decided(height: u64, padding: usize) -> (Block, CommitCertificate) {
    let key = SigningKey::from_seed([3; 32]);
    let block = Block {
        header: BlockHeader {
            chain_id: "x".repeat(padding),
            height,
            time: Timestamp(height),
            proposer: key.public(),
            prev_hash: Hash::ZERO,
            txs_root: Hash::ZERO,
            state_root: Hash::ZERO,
            validators_hash: Hash::ZERO,
            next_validators_hash: Hash::ZERO,
            results_root: Hash::ZERO,
            records_root: Hash::ZERO,
        },
        txs: vec![],
    };
    let certificate = CommitCertificate {
        chain_id: "x".into(),
        height,
        round: 0,
        block_hash: block.hash(),
        signatures: vec![],
    };
    (block, certificate)
}

#[test]
fn the_same_message_is_resent_only_after_the_interval() {
    let mut gate = ResendGate::default();
    let (a, b) = (kp_types::Hash([1; 32]), kp_types::Hash([2; 32]));
    let t0 = Instant::now();
    let at = |ms| t0 + Duration::from_millis(ms);
    assert!(gate.due(a, t0));
    assert!(!gate.due(a, at(RESEND_MS - 1)));
    // Another message goes at once, and does not free the first.
    assert!(gate.due(b, at(100)));
    assert!(!gate.due(a, at(200)));
    assert!(!gate.due(b, at(200)));
    assert!(gate.due(a, at(RESEND_MS)));
    assert!(!gate.due(a, at(2 * RESEND_MS - 1)));
    assert!(gate.due(b, at(100 + RESEND_MS)));
    // Old ids are forgotten and the memory stays bounded.
    for i in 0..5000u32 {
        let mut id = [0; 32];
        id[..4].copy_from_slice(&i.to_be_bytes());
        assert!(gate.due(kp_types::Hash(id), at(3 * RESEND_MS)));
    }
    assert!(gate.sent.len() <= ResendGate::IDS_MAX);
}

#[test]
fn direct_chunks_fit_and_keep_every_message_in_order() {
    let key = SigningKey::from_seed([5; 32]);
    let messages: Vec<ConsensusMessage> = (0..1500u32)
        .map(|round| {
            let vote = kp_types::Vote {
                chain_id: "kp".into(),
                height: 1,
                round,
                kind: kp_types::VoteKind::Prevote,
                block: None,
                validator: key.public(),
            };
            ConsensusMessage::Vote(vote.sign(&key))
        })
        .collect();
    let one = kp_types::encoding::encoded_len(&messages[0]);
    for bytes_max in [one + 9, 10 * one, 64 * 1024, 16 << 20] {
        let chunks = direct_chunks(messages.clone(), bytes_max);
        for chunk in &chunks {
            assert!(!chunk.is_empty() && chunk.len() <= DIRECT_MESSAGES_MAX);
            assert!(kp_types::encode(chunk).len() <= bytes_max, "{bytes_max}");
        }
        let flat: Vec<_> = chunks.into_iter().flatten().collect();
        assert_eq!(flat, messages, "{bytes_max}");
    }
    // Nothing fits: nothing is sent.
    assert!(direct_chunks(messages, one).is_empty());
}

/// The safety state comes back from either format: the whole state an
/// earlier build wrote, or a record with the blocks saved when they last
/// changed; a record naming a block not saved is refused, not guessed.
#[test]
fn the_safety_state_loads_from_either_format() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path().join("db")).unwrap();
    let safety = SafetyStore::open(&store).unwrap();
    assert_eq!(load_safety(&safety).unwrap(), None);
    let block = Arc::new(decided(7, 4).0);
    let mut state = SafetyState::new(7);
    state.locked = Some(kp_consensus::RoundValue {
        round: 0,
        block: block.clone(),
    });
    state.valid = state.locked.clone();
    safety.save(&kp_types::encode(&state)).unwrap();
    assert_eq!(load_safety(&safety).unwrap().as_ref(), Some(&state));

    let (record, named) = state.to_record();
    assert_eq!(named.len(), 1, "one block locked and valid is saved once");
    let blocks: Vec<kp_consensus::SharedBlock> = named.into_iter().map(|(_, b)| b).collect();
    safety
        .save_parts(&kp_types::encode(&record), Some(&kp_types::encode(&blocks)))
        .unwrap();
    state.step = kp_consensus::Step::Precommit;
    // The blocks are unchanged: only the record is written.
    safety
        .save_parts(&kp_types::encode(&state.to_record().0), None)
        .unwrap();
    assert_eq!(load_safety(&safety).unwrap().as_ref(), Some(&state));

    let no_blocks: Vec<kp_consensus::SharedBlock> = Vec::new();
    safety
        .save_parts(
            &kp_types::encode(&record),
            Some(&kp_types::encode(&no_blocks)),
        )
        .unwrap();
    assert!(matches!(
        load_safety(&safety),
        Err(NodeError::SafetyBlockMissing)
    ));
}
