//! The core's duties beyond the rules of Algorithm 1: commit certificates,
//! decisions from block sync, message checks before state, buffering of
//! future heights, validator-set changes, the wire encoding, observers,
//! evidence, and helping laggards. Same 4-validator fixture as
//! `core_rules.rs`.

mod common;
use common::*;

#[test]
fn decide_certificate_verifies_against_the_validator_set() {
    let fx = Fixture::new(7);
    let me = fx.me();
    let others = fx.others(&me);
    let p0 = fx.proposer(0).clone();
    let b = block(1, p0.public());
    let mut node = fx.node(me.clone(), None);
    node.handle(proposal(&p0, 0, None, &b));
    node.handle(valid(&b, true));
    let mut decided = None;
    for k in others.iter().take(5) {
        for a in node.handle(vote(k, 0, VoteKind::Precommit, Some(b.hash()))) {
            if let Action::Decide { certificate, .. } = a {
                decided = Some(certificate);
            }
        }
    }
    let cert = decided.expect("decided with quorum(7) = 5 precommits");
    assert_eq!(cert.signatures.len(), 5);
    cert.verify(CHAIN, &fx.validators)
        .expect("certificate verifies");
    assert!(cert.verify(CHAIN, &fx.validators[..4]).is_err());
}

#[test]
fn commit_from_sync_decides_only_with_a_valid_certificate() {
    let fx = Fixture::new(4);
    let me = fx.me();
    let others = fx.others(&me);
    let p0 = fx.proposer(0).clone();
    let b = block(1, p0.public());
    // Build a certificate from another node's decision.
    let mut donor = fx.node(others[0].clone(), None);
    donor.handle(proposal(&p0, 0, None, &b));
    donor.handle(valid(&b, true));
    let mut cert = None;
    for k in fx
        .keys
        .iter()
        .filter(|k| k.public() != others[0].public())
        .take(3)
    {
        for a in donor.handle(vote(k, 0, VoteKind::Precommit, Some(b.hash()))) {
            if let Action::Decide { certificate, .. } = a {
                cert = Some(certificate);
            }
        }
    }
    let cert = cert.expect("donor decided");
    let mut node = fx.node(me.clone(), None);
    let mut forged = cert.clone();
    forged.signatures.truncate(2);
    let actions = node.handle(Input::CommitFromSync {
        block: b.clone().into(),
        certificate: forged,
    });
    assert!(!actions.iter().any(|a| matches!(a, Action::Decide { .. })));
    let actions = node.handle(Input::CommitFromSync {
        block: b.clone().into(),
        certificate: cert,
    });
    assert!(actions.iter().any(|a| matches!(a, Action::Decide { .. })));
    assert!(node.is_decided());
}

#[test]
fn messages_are_checked_before_touching_state() {
    let fx = Fixture::new(4);
    let me = fx.me();
    let node = fx.node(me.clone(), None);
    let stranger = SigningKey::from_seed([99; 32]);
    let p0 = fx.proposer(0).clone();
    let p1 = fx.proposer(1).clone();
    let b = block(1, p0.public());
    let msg = |i: Input| match i {
        Input::Message { message, .. } => message,
        _ => unreachable!(),
    };
    use kp_consensus::MessageError as E;
    assert!(matches!(
        node.check(&msg(vote(&stranger, 0, VoteKind::Prevote, None))),
        Err(E::NotAValidator { .. })
    ));
    assert!(matches!(
        node.check(&msg(proposal(&p1, 0, None, &b))),
        Err(E::WrongProposer { .. })
    ));
    let mut forged = msg(vote(&p0, 0, VoteKind::Prevote, None));
    if let ConsensusMessage::Vote(v) = &mut forged {
        v.vote.block = Some(b.hash());
    }
    assert!(matches!(node.check(&forged), Err(E::BadSignature { .. })));
    let mut other_chain = msg(vote(&p0, 0, VoteKind::Prevote, None));
    if let ConsensusMessage::Vote(v) = &mut other_chain {
        v.vote.chain_id = "other".into();
    }
    assert!(matches!(
        node.check(&other_chain),
        Err(E::WrongChain { .. })
    ));
    assert!(matches!(
        node.check(&msg(vote(&p0, 1_000, VoteKind::Prevote, None))),
        Err(E::RoundOutOfWindow { .. })
    ));
    let mut mismatched = msg(proposal(&p0, 0, None, &b));
    if let ConsensusMessage::Proposal { block, .. } = &mut mismatched {
        std::sync::Arc::make_mut(block).header.time = Timestamp(5);
    }
    assert!(matches!(
        node.check(&mismatched),
        Err(E::BlockMismatch { .. })
    ));
    assert!(node.check(&msg(proposal(&p0, 0, None, &b))).is_ok());
}

#[test]
fn future_height_messages_are_buffered_bounded_and_replayed() {
    let fx = Fixture::new(4);
    let me = fx.me();
    let other = fx.others(&me)[0].clone();
    let mut node = fx.node(me.clone(), None);
    let future_vote = |round: u32| -> Input {
        Input::Message {
            from: other.public(),
            message: ConsensusMessage::Vote(
                Vote {
                    chain_id: CHAIN.into(),
                    height: H + 1,
                    round,
                    kind: VoteKind::Prevote,
                    block: None,
                    validator: other.public(),
                }
                .sign(&other),
            ),
        }
    };
    let first = node.handle(future_vote(0));
    assert!(first
        .iter()
        .any(|a| matches!(a, Action::RequestCommit { height: H })));
    for r in 1..50 {
        node.handle(future_vote(r));
    }
    assert_eq!(node.future_buffered(), 8, "bounded per signer and height");
    // Decide H by sync-less route: give up the height and start the next.
    let p0 = fx.proposer(0).clone();
    let b = block(1, p0.public());
    node.handle(proposal(&p0, 0, None, &b));
    node.handle(valid(&b, true));
    for k in fx.others(&me).iter().take(3) {
        node.handle(vote(k, 0, VoteKind::Precommit, Some(b.hash())));
    }
    assert!(node.is_decided());
    node.handle(Input::StartHeight {
        height: H + 1,
        validators: fx.validators.clone(),
    });
    assert_eq!(node.future_buffered(), 0);
    assert!(node.votes_kept() >= 1, "buffered votes were replayed");
}

#[test]
fn validator_set_change_takes_effect_at_the_started_height() {
    let fx = Fixture::new(5);
    let me = fx.me();
    let mut node = fx.node(me.clone(), None);
    let expelled = fx.others(&me)[0].clone();
    let p0 = fx.proposer(0).clone();
    let b = block(1, p0.public());
    node.handle(Input::CommitFromSync {
        block: b.clone().into(),
        certificate: kp_types::CommitCertificate {
            chain_id: CHAIN.into(),
            height: H,
            round: 0,
            block_hash: b.hash(),
            signatures: vec![],
        },
    });
    assert!(!node.is_decided(), "an empty certificate proves nothing");
    // Force a decision, then start H+1 without the expelled validator.
    node.handle(proposal(&p0, 0, None, &b));
    node.handle(valid(&b, true));
    for k in fx.others(&me).iter().take(4) {
        node.handle(vote(k, 0, VoteKind::Precommit, Some(b.hash())));
    }
    assert!(node.is_decided());
    let remaining: Vec<PublicKey> = fx
        .validators
        .iter()
        .copied()
        .filter(|v| *v != expelled.public())
        .collect();
    node.handle(Input::StartHeight {
        height: H + 1,
        validators: remaining.clone(),
    });
    assert_eq!(node.validators().len(), 4);
    let v = ConsensusMessage::Vote(
        Vote {
            chain_id: CHAIN.into(),
            height: H + 1,
            round: 0,
            kind: VoteKind::Prevote,
            block: None,
            validator: expelled.public(),
        }
        .sign(&expelled),
    );
    assert!(matches!(
        node.check(&v),
        Err(kp_consensus::MessageError::NotAValidator { .. })
    ));
}

#[test]
fn wire_encoding_round_trips_and_refuses_garbage() {
    let fx = Fixture::new(4);
    let p0 = fx.proposer(0).clone();
    let b = block(1, p0.public());
    let Input::Message { message, .. } = proposal(&p0, 0, None, &b) else {
        unreachable!()
    };
    let bytes = message.encode();
    assert_eq!(ConsensusMessage::decode(&bytes).expect("decodes"), message);
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(ConsensusMessage::decode(&trailing).is_err());
    assert!(ConsensusMessage::decode(&bytes[..bytes.len() / 2]).is_err());
    assert!(ConsensusMessage::decode(&[0xff; 64]).is_err());
}

#[test]
fn observers_follow_without_signing() {
    let fx = Fixture::new(4);
    let observer = SigningKey::from_seed([77; 32]);
    let mut node = fx.node(observer.clone(), None);
    assert!(!node.is_validator());
    let p0 = fx.proposer(0).clone();
    let b = block(1, p0.public());
    let mut all = Vec::new();
    all.extend(node.handle(proposal(&p0, 0, None, &b)));
    all.extend(node.handle(valid(&b, true)));
    all.extend(node.handle(timeout(0, TimeoutKind::Propose)));
    for k in fx.keys.iter().take(3) {
        all.extend(node.handle(vote(k, 0, VoteKind::Precommit, Some(b.hash()))));
    }
    assert!(own_votes(&all, observer.public()).is_empty());
    assert!(all.iter().any(|a| matches!(a, Action::Decide { .. })));
}

#[test]
fn l28_proof_of_lock_carried_by_the_proposal_is_counted() {
    // Locked on b in round 0; round 1 passes without us seeing its prevotes;
    // in round 2 c is proposed with vr = 1 and its proof of lock attached.
    let fx = Fixture::new(4);
    let me = fx.me();
    let others = fx.others(&me);
    let p0 = fx.proposer(0).clone();
    let p2 = fx.proposer(2).clone();
    let b = block(1, p0.public());
    let c = block(2, fx.proposer(1).public());
    let mut node = fx.node(me.clone(), None);
    node.handle(proposal(&p0, 0, None, &b));
    node.handle(valid(&b, true));
    for k in others.iter().take(3) {
        node.handle(vote(k, 0, VoteKind::Prevote, Some(b.hash())));
    }
    assert_eq!(node.safety().locked.as_ref().map(|l| l.round), Some(0));
    node.handle(timeout(0, TimeoutKind::Precommit));
    node.handle(timeout(1, TimeoutKind::Propose));
    for k in others.iter().take(3) {
        node.handle(vote(k, 1, VoteKind::Precommit, None));
    }
    node.handle(timeout(1, TimeoutKind::Precommit));
    assert_eq!(node.round(), 2);
    let pol: Vec<_> = others
        .iter()
        .take(3)
        .map(|k| match vote(k, 1, VoteKind::Prevote, Some(c.hash())) {
            Input::Message {
                message: ConsensusMessage::Vote(v),
                ..
            } => v,
            _ => unreachable!(),
        })
        .collect();
    let Input::Message { from, message } = proposal(&p2, 2, Some(1), &c) else {
        unreachable!()
    };
    let ConsensusMessage::Proposal { signed, block, .. } = message else {
        unreachable!()
    };
    let mut actions = node.handle(Input::Message {
        from,
        message: ConsensusMessage::Proposal { signed, block, pol },
    });
    actions.extend(node.handle(valid(&c, true)));
    assert!(own_votes(&actions, me.public()).contains(&(VoteKind::Prevote, Some(c.hash()))));
}

#[test]
fn evidence_is_reported_once_and_its_memory_is_bounded() {
    let fx = Fixture::new(4);
    let me = fx.me();
    let mut config = ConsensusConfig::new(CHAIN, me.clone());
    config.limits.evidence_held_max = 2;
    let mut node = Consensus::new(config, None);
    node.handle(Input::StartHeight {
        height: H,
        validators: fx.validators.clone(),
    });
    let mut reported = 0;
    for (i, k) in fx.others(&me).iter().enumerate() {
        let a = Hash::of(kp_types::Domain::Document, &[i as u8]);
        for input in [
            vote(k, 0, VoteKind::Prevote, Some(a)),
            vote(k, 0, VoteKind::Prevote, None),
            vote(k, 0, VoteKind::Prevote, None), // the same conflict again
        ] {
            reported += node
                .handle(input)
                .iter()
                .filter(|a| matches!(a, Action::Evidence(_)))
                .count();
        }
    }
    assert_eq!(reported, 3, "one report per equivocating validator");
    assert_eq!(node.evidence_held(), 2, "bounded by evidence_held_max");
}

#[test]
fn a_validator_far_ahead_triggers_block_sync_without_buffering() {
    let fx = Fixture::new(4);
    let me = fx.me();
    let other = fx.others(&me)[0].clone();
    let mut node = fx.node(me, None);
    let far = ConsensusMessage::Vote(
        Vote {
            chain_id: CHAIN.into(),
            height: H + 10,
            round: 0,
            kind: VoteKind::Prevote,
            block: None,
            validator: other.public(),
        }
        .sign(&other),
    );
    let actions = node.handle(Input::Message {
        from: other.public(),
        message: far,
    });
    assert!(actions
        .iter()
        .any(|a| matches!(a, Action::RequestCommit { height: H })));
    assert_eq!(node.future_buffered(), 0);
}

#[test]
fn only_a_laggard_itself_is_answered_and_only_by_its_helpers() {
    let fx = Fixture::new(4);
    let me = fx.me();
    let others = fx.others(&me);
    let (a, b, laggard) = (&others[0], &others[1], &others[2]);
    let mut node = fx.node(me.clone(), None);
    // A round-0 vote to relay, then f+1 = 2 validators in round 1: skip
    // there (L55), then prevote nil.
    let _ = node.handle(vote(a, 0, VoteKind::Prevote, None));
    let _ = node.handle(vote(a, 1, VoteKind::Prevote, None));
    let _ = node.handle(vote(b, 1, VoteKind::Prevote, None));
    assert_eq!(node.round(), 1);
    let _ = node.handle(timeout(1, TimeoutKind::Propose));
    let sent_to = |actions: &[Action], peer: PublicKey| {
        actions
            .iter()
            .filter(|x| matches!(x, Action::SendTo(p, _) if *p == peer))
            .count()
    };

    // The laggard's round-0 vote, relayed by a: news about the laggard, not
    // a request from it. Nothing is sent.
    let Input::Message { message, .. } = vote(laggard, 0, VoteKind::Prevote, None) else {
        unreachable!()
    };
    let relayed = node.handle(Input::Message {
        from: a.public(),
        message: message.clone(),
    });
    assert_eq!(sent_to(&relayed, laggard.public()), 0, "{relayed:?}");

    // The same vote from the laggard itself: it gets our current-round vote
    // at least, and the round-0 votes only if we are one of its helpers.
    let direct = node.handle(Input::Message {
        from: laggard.public(),
        message,
    });
    let own_round_1 = direct.iter().any(|x| {
        matches!(x, Action::SendTo(p, ConsensusMessage::Vote(v))
            if *p == laggard.public() && v.vote.validator == me.public() && v.vote.round == 1)
    });
    assert!(own_round_1, "{direct:?}");
    let relayed_votes = direct
        .iter()
        .filter(|x| matches!(x, Action::SendTo(_, ConsensusMessage::Vote(v)) if v.vote.round == 0))
        .count();
    let helper = kp_consensus::core::relay_helper(&fx.validators, me.public(), laggard.public(), 0);
    assert_eq!(relayed_votes > 0, helper, "{direct:?}");
}

#[test]
fn f_plus_one_helpers_relay_to_each_laggard_and_they_rotate() {
    for n in 1..=64u8 {
        let fx = Fixture::new(n);
        let f = kp_types::consensus::faults_tolerated(usize::from(n));
        for laggard in &fx.validators {
            let mut sets = std::collections::BTreeSet::new();
            for round in 0..8 {
                let helpers: Vec<PublicKey> = fx
                    .validators
                    .iter()
                    .copied()
                    .filter(|me| {
                        kp_consensus::core::relay_helper(&fx.validators, *me, *laggard, round)
                    })
                    .collect();
                assert!(!helpers.contains(laggard));
                assert_eq!(helpers.len(), (f + 1).min(usize::from(n) - 1), "n={n}");
                sets.insert(helpers);
            }
            if usize::from(n) > f + 2 {
                assert!(sets.len() > 1, "helpers never rotate for n={n}");
            }
        }
    }
    // Not a validator: never a helper, never helped.
    let fx = Fixture::new(4);
    let outsider = SigningKey::from_seed([99; 32]).public();
    assert!(!kp_consensus::core::relay_helper(
        &fx.validators,
        outsider,
        fx.validators[0],
        0
    ));
    assert!(!kp_consensus::core::relay_helper(
        &fx.validators,
        fx.validators[0],
        outsider,
        0
    ));
}

#[test]
fn a_restart_below_the_persisted_height_signs_nothing_until_it_gets_there() {
    // The store lost the blocks below the persisted safety state's height
    // (say a restore from an older backup): the node voted in those heights
    // before, so it must not vote in them again, nor overwrite the state
    // that guards the later height.
    let fx = Fixture::new(4);
    let me = fx.me();
    let p0 = fx.proposer(0).clone();
    let b = block(1, p0.public());
    let mut later = SafetyState::new(H + 1);
    later.round = 3;
    let mut node = fx.node(me.clone(), Some(later));
    let mut actions = Vec::new();
    for input in [
        proposal(&p0, 0, None, &b),
        valid(&b, true),
        timeout(0, TimeoutKind::Propose),
        timeout(0, TimeoutKind::Rebroadcast),
    ] {
        actions.extend(node.handle(input));
    }
    assert!(own_votes(&actions, me.public()).is_empty(), "{actions:?}");
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::PersistSafety(_))),
        "{actions:?}"
    );
    // At the persisted height it resumes the persisted round, and signs.
    let _ = node.handle(Input::StartHeight {
        height: H + 1,
        validators: fx.validators.clone(),
    });
    assert_eq!(node.safety().height, H + 1);
    assert_eq!(node.safety().round, 3);
}
