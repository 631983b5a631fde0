//! Table-driven tests of the core, one row per rule of Algorithm 1 of "The
//! latest gossip on BFT consensus"; each row names the paper lines it covers.
//! Every row starts a fresh node at height 1 of a 4-validator chain (f = 1,
//! quorum 3), feeds the row's inputs, and checks the actions they produced
//! and the resulting state.

use kp_consensus::{
    proposer, Action, Consensus, ConsensusConfig, ConsensusMessage, Input, SafetyState, Step,
    Timeout, TimeoutKind,
};
use kp_types::{
    Block, BlockHeader, Hash, Proposal, PublicKey, SigningKey, Timestamp, Vote, VoteKind,
};

const CHAIN: &str = "kp-test";
const H: u64 = 1;

struct Fixture {
    keys: Vec<SigningKey>,
    validators: Vec<PublicKey>,
}

impl Fixture {
    fn new(n: u8) -> Fixture {
        let mut keys: Vec<SigningKey> =
            (0..n).map(|i| SigningKey::from_seed([i + 1; 32])).collect();
        keys.sort_by_key(|k| k.public());
        let validators = keys.iter().map(|k| k.public()).collect();
        Fixture { keys, validators }
    }

    fn key_of(&self, pk: PublicKey) -> &SigningKey {
        self.keys
            .iter()
            .find(|k| k.public() == pk)
            .expect("known key")
    }

    /// The proposer's key of `round` at height `H`.
    fn proposer(&self, round: u32) -> &SigningKey {
        self.key_of(proposer(&self.validators, H, round).expect("non-empty"))
    }

    /// A key that is not the proposer of rounds 0..=2 if possible (the node
    /// under test), else the first key.
    fn me(&self) -> SigningKey {
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
    fn others(&self, me: &SigningKey) -> Vec<SigningKey> {
        self.keys
            .iter()
            .filter(|k| k.public() != me.public())
            .cloned()
            .collect()
    }

    fn node(&self, me: SigningKey, restored: Option<SafetyState>) -> Consensus {
        let mut c = Consensus::new(ConsensusConfig::new(CHAIN, me), restored);
        let _ = c.handle(Input::StartHeight {
            height: H,
            validators: self.validators.clone(),
        });
        c
    }
}

fn block(tag: u64, proposer: PublicKey) -> Block {
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

fn vote(key: &SigningKey, round: u32, kind: VoteKind, block: Option<Hash>) -> Input {
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

fn proposal(key: &SigningKey, round: u32, pol_round: Option<u32>, block: &Block) -> Input {
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

fn valid(block: &Block, ok: bool) -> Input {
    Input::BlockValidity {
        height: H,
        block_hash: block.hash(),
        valid: ok,
    }
}

fn timeout(round: u32, kind: TimeoutKind) -> Input {
    Input::TimeoutElapsed(Timeout {
        height: H,
        round,
        kind,
    })
}

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

fn own_votes(actions: &[Action], me: PublicKey) -> Vec<(VoteKind, Option<Hash>)> {
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
