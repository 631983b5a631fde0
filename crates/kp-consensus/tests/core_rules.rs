//! Table-driven tests of the core, one row per rule of Algorithm 1 of "The
//! latest gossip on BFT consensus"; each row names the paper lines it covers.
//! Every row starts a fresh node at height 1 of a 4-validator chain (f = 1,
//! quorum 3), feeds the row's inputs, and checks the actions they produced
//! and the resulting state. The core's other duties (certificates, sync,
//! buffering, evidence, laggards) are tested in `core_duties.rs`.

mod common;
use common::*;

/// What the last input's actions must contain, or the state must be.
#[derive(Debug, Clone)]
enum Expect {
    Prevote(Option<Hash>),
    Precommit(Option<Hash>),
    NoVote,
    Not(Box<Expect>),
    Timer(TimeoutKind, u32, u64),
    Decide(Hash),
    Evidence,
    Step(Step),
    Round(u32),
    Locked(Option<u32>),
    Valid(Option<u32>),
}

fn holds(node: &Consensus, actions: &[Action], e: &Expect) -> bool {
    let votes = own_votes(actions, node.public_key());
    match e {
        Expect::Not(inner) => !holds(node, actions, inner),
        Expect::Prevote(b) => votes.contains(&(VoteKind::Prevote, *b)),
        Expect::Precommit(b) => votes.contains(&(VoteKind::Precommit, *b)),
        Expect::NoVote => votes.is_empty(),
        Expect::Timer(kind, round, ms) => actions.iter().any(|a| {
            matches!(a, Action::ScheduleTimeout { timeout, duration_ms }
                    if timeout.kind == *kind && timeout.round == *round && duration_ms == ms)
        }),
        Expect::Decide(h) => actions.iter().any(|a| {
            matches!(a, Action::Decide { block, certificate }
                    if block.hash() == *h && certificate.block_hash == *h)
        }),
        Expect::Evidence => actions.iter().any(|a| matches!(a, Action::Evidence(_))),
        Expect::Step(s) => node.step() == *s,
        Expect::Round(r) => node.round() == *r,
        Expect::Locked(r) => node.safety().locked.as_ref().map(|l| l.round) == *r,
        Expect::Valid(r) => node.safety().valid.as_ref().map(|l| l.round) == *r,
    }
}

fn check(line: &str, node: &Consensus, actions: &[Action], expect: &[Expect]) {
    for e in expect {
        let ok = holds(node, actions, e);
        assert!(
            ok,
            "{line}: expected {e:?}\nactions: {actions:#?}\nstep {:?} round {}",
            node.step(),
            node.round()
        );
    }
}

type Row = (&'static str, Vec<Input>, Vec<Expect>);

fn rows(fx: &Fixture, me: &SigningKey) -> Vec<Row> {
    let others = fx.others(me);
    let p0 = fx.proposer(0).clone();
    let p1 = fx.proposer(1).clone();
    let b = block(1, p0.public());
    let c = block(2, p1.public());
    let hb = b.hash();
    let hc = c.hash();
    let quorum_prevotes = |round: u32, value: Option<Hash>| -> Vec<Input> {
        others
            .iter()
            .take(3)
            .map(|k| vote(k, round, VoteKind::Prevote, value))
            .collect()
    };
    let quorum_precommits = |round: u32, value: Option<Hash>| -> Vec<Input> {
        others
            .iter()
            .take(3)
            .map(|k| vote(k, round, VoteKind::Precommit, value))
            .collect()
    };
    // Lock on b in round 0 (L36), then move to round 1 (L65).
    let locked_on_b_round1 = || -> Vec<Input> {
        let mut v = vec![proposal(&p0, 0, None, &b), valid(&b, true)];
        v.extend(quorum_prevotes(0, Some(hb)));
        v.extend(quorum_precommits(0, None));
        v.push(timeout(0, TimeoutKind::Precommit));
        v
    };
    let cat = |mut a: Vec<Input>, b: Vec<Input>| -> Vec<Input> {
        a.extend(b);
        a
    };
    vec![
        (
            "L21 non-proposer schedules timeoutPropose(0)",
            vec![timeout(0, TimeoutKind::Rebroadcast)],
            vec![Expect::Step(Step::Propose), Expect::Round(0)],
        ),
        (
            "L22-L24 valid proposal, not locked: prevote id(v)",
            vec![proposal(&p0, 0, None, &b), valid(&b, true)],
            vec![Expect::Prevote(Some(hb)), Expect::Step(Step::Prevote)],
        ),
        (
            "L22-L26 invalid proposal: prevote nil",
            vec![proposal(&p0, 0, None, &b), valid(&b, false)],
            vec![Expect::Prevote(None), Expect::Step(Step::Prevote)],
        ),
        (
            "L22 waits for valid(v): no vote before the host's verdict",
            vec![proposal(&p0, 0, None, &b)],
            vec![Expect::NoVote, Expect::Step(Step::Propose)],
        ),
        (
            "L23/L26 locked on another value: prevote nil",
            cat(
                locked_on_b_round1(),
                vec![proposal(&p1, 1, None, &c), valid(&c, true)],
            ),
            vec![
                Expect::Prevote(None),
                Expect::Locked(Some(0)),
                Expect::Round(1),
            ],
        ),
        (
            "L23/L24 locked on the same value: prevote it",
            cat(locked_on_b_round1(), vec![proposal(&p1, 1, None, &b)]),
            vec![Expect::Prevote(Some(hb)), Expect::Round(1)],
        ),
        (
            "L28-L30 proof of lock in vr >= lockedRound: prevote id(v) though locked on another",
            {
                // Locked on b in round 0; in round 1 c gets a quorum of
                // prevotes without us; in round 2 c is re-proposed with vr = 1.
                let p2 = fx.proposer(2).clone();
                let mut v = locked_on_b_round1();
                v.extend(quorum_prevotes(1, Some(hc)));
                v.extend(quorum_precommits(1, None));
                v.push(timeout(1, TimeoutKind::Precommit));
                v.push(proposal(&p2, 2, Some(1), &c));
                v.push(valid(&c, true));
                v
            },
            vec![
                Expect::Prevote(Some(hc)),
                Expect::Round(2),
                Expect::Locked(Some(0)),
            ],
        ),
        (
            "L34-L35 2f+1 prevotes of any value: schedule timeoutPrevote(0)",
            cat(
                vec![timeout(0, TimeoutKind::Propose)],
                vec![
                    vote(&others[0], 0, VoteKind::Prevote, Some(hb)),
                    vote(&others[1], 0, VoteKind::Prevote, None),
                ],
            ),
            vec![Expect::Timer(TimeoutKind::Prevote, 0, 1_000)],
        ),
        (
            "L36-L41 2f+1 prevotes for the proposal: lock and precommit id(v)",
            cat(
                vec![proposal(&p0, 0, None, &b), valid(&b, true)],
                quorum_prevotes(0, Some(hb)),
            ),
            vec![
                Expect::Step(Step::Precommit),
                Expect::Locked(Some(0)),
                Expect::Valid(Some(0)),
            ],
        ),
        (
            "L36 then L42-L43 in step precommit: only validValue is updated",
            cat(
                vec![
                    timeout(0, TimeoutKind::Propose),
                    timeout(0, TimeoutKind::Prevote),
                    proposal(&p0, 0, None, &b),
                    valid(&b, true),
                ],
                quorum_prevotes(0, Some(hb)),
            ),
            vec![
                Expect::Not(Box::new(Expect::Precommit(Some(hb)))),
                Expect::Locked(None),
                Expect::Valid(Some(0)),
            ],
        ),
        (
            "L44-L46 2f+1 nil prevotes: precommit nil",
            cat(
                vec![timeout(0, TimeoutKind::Propose)],
                quorum_prevotes(0, None),
            ),
            vec![Expect::Precommit(None), Expect::Step(Step::Precommit)],
        ),
        (
            "L47-L48 2f+1 precommits of any value: schedule timeoutPrecommit(0)",
            quorum_precommits(0, None),
            vec![Expect::Timer(TimeoutKind::Precommit, 0, 1_000)],
        ),
        (
            "L49-L51 2f+1 precommits for a valid proposed block: decide",
            cat(
                vec![proposal(&p0, 0, None, &b), valid(&b, true)],
                quorum_precommits(0, Some(hb)),
            ),
            vec![Expect::Decide(hb)],
        ),
        (
            "L50 no decision before valid(v)",
            cat(
                vec![proposal(&p0, 0, None, &b)],
                quorum_precommits(0, Some(hb)),
            ),
            vec![Expect::Step(Step::Propose)],
        ),
        (
            "L55-L56 f+1 messages of a later round: start that round",
            vec![
                vote(&others[0], 3, VoteKind::Prevote, None),
                vote(&others[1], 3, VoteKind::Precommit, None),
            ],
            vec![Expect::Round(3), Expect::Step(Step::Propose)],
        ),
        (
            "L55 one message of a later round is not enough",
            vec![vote(&others[0], 3, VoteKind::Prevote, None)],
            vec![Expect::Round(0)],
        ),
        (
            "L57-L60 timeoutPropose in step propose: prevote nil",
            vec![timeout(0, TimeoutKind::Propose)],
            vec![Expect::Prevote(None), Expect::Step(Step::Prevote)],
        ),
        (
            "L58 stale timeoutPropose (other round) does nothing",
            vec![timeout(5, TimeoutKind::Propose)],
            vec![Expect::NoVote, Expect::Step(Step::Propose)],
        ),
        (
            "L61-L64 timeoutPrevote in step prevote: precommit nil",
            vec![
                timeout(0, TimeoutKind::Propose),
                timeout(0, TimeoutKind::Prevote),
            ],
            vec![Expect::Precommit(None), Expect::Step(Step::Precommit)],
        ),
        (
            "L65-L67 timeoutPrecommit: next round, timeouts grow with the round",
            vec![timeout(0, TimeoutKind::Precommit)],
            vec![
                Expect::Round(1),
                Expect::Step(Step::Propose),
                Expect::Timer(TimeoutKind::Propose, 1, 3_500),
            ],
        ),
        (
            "equivocation: two prevotes of one validator in one round",
            vec![
                vote(&others[0], 0, VoteKind::Prevote, Some(hb)),
                vote(&others[0], 0, VoteKind::Prevote, None),
            ],
            vec![Expect::Evidence],
        ),
        (
            "equivocation: two proposals of one proposer in one round",
            vec![
                proposal(&p0, 0, None, &b),
                proposal(&p0, 0, None, &block(9, p0.public())),
            ],
            vec![Expect::Evidence],
        ),
    ]
}

#[test]
fn table_of_rules() {
    let fx = Fixture::new(4);
    let me = fx.me();
    for (line, inputs, expect) in rows(&fx, &me) {
        let mut node = fx.node(me.clone(), None);
        let mut last = Vec::new();
        for input in inputs {
            last.extend(node.handle(input));
        }
        check(line, &node, &last, &expect);
    }
}

#[test]
fn l14_l19_proposer_requests_then_proposes_after_persisting() {
    let fx = Fixture::new(4);
    let p0 = fx.proposer(0).clone();
    let mut c = Consensus::new(ConsensusConfig::new(CHAIN, p0.clone()), None);
    let actions = c.handle(Input::StartHeight {
        height: H,
        validators: fx.validators.clone(),
    });
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::RequestProposal {
            height: H,
            round: 0
        }
    )));
    let b = block(1, p0.public());
    let actions = c.handle(Input::ProposalPayload {
        height: H,
        round: 0,
        block: b.clone().into(),
    });
    let persist = actions
        .iter()
        .position(|a| matches!(a, Action::PersistSafety(s) if s.proposal.is_some()))
        .expect("persisted");
    let sent = actions
        .iter()
        .position(|a| matches!(a, Action::Broadcast(ConsensusMessage::Proposal { .. })))
        .expect("proposal sent");
    assert!(
        persist < sent,
        "L19 proposal must be persisted before it is sent"
    );
    // L22: the proposer prevotes its own (valid) proposal.
    assert!(own_votes(&actions, p0.public()).contains(&(VoteKind::Prevote, Some(b.hash()))));
}

#[test]
fn l15_l16_proposer_reproposes_valid_value_with_its_round() {
    let fx = Fixture::new(4);
    // The proposer of round 1 learns a valid value in round 0.
    let p1 = fx.proposer(1).clone();
    let p0 = fx.proposer(0).clone();
    let others = fx.others(&p1);
    let mut c = fx.node(p1.clone(), None);
    let b = block(1, p0.public());
    c.handle(proposal(&p0, 0, None, &b));
    c.handle(valid(&b, true));
    for k in others.iter().take(3) {
        c.handle(vote(k, 0, VoteKind::Prevote, Some(b.hash())));
    }
    for k in others.iter().take(3) {
        c.handle(vote(k, 0, VoteKind::Precommit, None));
    }
    let actions = c.handle(timeout(0, TimeoutKind::Precommit));
    assert!(actions.iter().any(|a| matches!(a,
        Action::Broadcast(ConsensusMessage::Proposal { signed, .. })
        if signed.proposal.block_hash == b.hash() && signed.proposal.pol_round == Some(0) && signed.proposal.round == 1)));
    assert!(!actions
        .iter()
        .any(|a| matches!(a, Action::RequestProposal { .. })));
}

#[test]
fn every_own_vote_is_persisted_before_it_is_sent() {
    let fx = Fixture::new(4);
    let me = fx.me();
    let mut node = fx.node(me.clone(), None);
    let p0 = fx.proposer(0).clone();
    let b = block(1, p0.public());
    let mut inputs = vec![proposal(&p0, 0, None, &b), valid(&b, true)];
    for k in fx.others(&me).iter().take(3) {
        inputs.push(vote(k, 0, VoteKind::Prevote, Some(b.hash())));
    }
    let mut sent = 0;
    for input in inputs {
        let actions = node.handle(input);
        for (i, a) in actions.iter().enumerate() {
            if let Action::Broadcast(ConsensusMessage::Vote(v)) = a {
                sent += 1;
                assert!(
                    actions[..i]
                        .iter()
                        .any(|p| matches!(p, Action::PersistSafety(s) if s.votes.contains(v))),
                    "vote {v:?} sent before the state recording it was persisted"
                );
            }
        }
    }
    assert_eq!(sent, 2, "one prevote and one precommit");
}

#[test]
fn restart_never_signs_a_conflicting_vote() {
    let fx = Fixture::new(4);
    let me = fx.me();
    let p0 = fx.proposer(0).clone();
    let b = block(1, p0.public());
    let mut node = fx.node(me.clone(), None);
    let mut persisted = None;
    for input in [proposal(&p0, 0, None, &b), valid(&b, true)] {
        for a in node.handle(input) {
            if let Action::PersistSafety(s) = a {
                persisted = Some(*s);
            }
        }
    }
    let persisted = persisted.expect("a persisted state");
    assert_eq!(persisted.step, Step::Prevote);
    // Crash, restart from the persisted state only; then the propose timer
    // fires (which, in step propose, would prevote nil).
    let mut node = fx.node(me.clone(), Some(persisted));
    assert_eq!(node.step(), Step::Prevote);
    let actions = node.handle(timeout(0, TimeoutKind::Propose));
    assert!(own_votes(&actions, me.public())
        .iter()
        .all(|v| *v != (VoteKind::Prevote, None)));
    // The persisted prevote is re-sent by the rebroadcast timer, unchanged.
    let actions = node.handle(timeout(0, TimeoutKind::Rebroadcast));
    assert_eq!(
        own_votes(&actions, me.public()),
        vec![(VoteKind::Prevote, Some(b.hash()))]
    );
}

#[test]
fn safety_state_round_trips() {
    let fx = Fixture::new(4);
    let me = fx.me();
    let node = fx.node(me, None);
    let bytes = node.safety().encode();
    assert_eq!(
        &SafetyState::decode(&bytes).expect("decodes"),
        node.safety()
    );
}
