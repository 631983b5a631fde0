//! The replica driven by a small in-test host: six validators and an
//! observer of the fixture genesis, every message delivered to everyone,
//! timers in simulated time.

use super::*;
use crate::Note;
use kp_consensus::{Consensus, ConsensusConfig};
use kp_ledger::testkit::{self, GOVERNMENTS};
use kp_ledger::{Ledger, MemStore};
use kp_types::tx::Payload;
use kp_types::{CommitCertificate, PublicKey, SignedTransaction, Timestamp};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

struct Host {
    replicas: Vec<Replica<MemStore>>,
    /// (time, seq) -> (replica, timer)
    timers: BTreeMap<(u64, u64), (usize, Timer)>,
    /// Messages in flight: (to, from, message).
    inbox: VecDeque<(usize, PublicKey, kp_consensus::ConsensusMessage)>,
    now: u64,
    seq: u64,
    /// Decided (height, block hash) per replica, in order.
    decided: Vec<Vec<(u64, kp_types::Hash)>>,
    /// Order of what each Ready held, to check the contract.
    log: Vec<&'static str>,
    /// Refused transactions in applied blocks: (replica, hash).
    rejected: Vec<(usize, kp_types::TxHash)>,
    /// Notes the replicas made: (replica, note).
    notes: Vec<(usize, Note)>,
    /// Block requests the replicas made: (replica, request).
    requests: Vec<(usize, SyncRequest)>,
    /// A replica that first gets, of each proposal carrying transactions, a
    /// copy with one signature bit flipped (a peer that alters what it relays).
    tampered_for: Option<usize>,
    /// A replica's next consensus key: it switches to it once its ledger
    /// lists it (`key_switch.rs`).
    next_key: Option<(usize, kp_types::SigningKey)>,
    /// Every (signer, height) of a proposal or vote sent.
    signed: Vec<(PublicKey, u64)>,
}

#[path = "tests_key_switch.rs"]
mod key_switch;

fn clock(ms: u64) -> Timestamp {
    testkit::at(2026, 1, 1).plus_ms(ms)
}

fn replica(code: &str, genesis: &kp_ledger::Genesis) -> Replica<MemStore> {
    replica_with_heartbeat(code, genesis, 200)
}

fn replica_with_heartbeat(
    code: &str,
    genesis: &kp_ledger::Genesis,
    heartbeat_ms: u64,
) -> Replica<MemStore> {
    let key = testkit::node_key(code);
    let mut config = ConsensusConfig::new(testkit::CHAIN_ID, key.clone());
    config.timeout_propose_ms = 400;
    config.timeout_prevote_ms = 200;
    config.timeout_precommit_ms = 200;
    config.timeout_delta_ms = 100;
    let ledger = Ledger::open(genesis, MemStore::new()).expect("fixture genesis");
    let replica_config = ReplicaConfig {
        block_interval_ms: 50,
        empty_block_interval_ms: heartbeat_ms,
        ..ReplicaConfig::default()
    };
    Replica::new(replica_config, key, Consensus::new(config, None), ledger).expect("empty store")
}

impl Host {
    fn new(observer: bool) -> Host {
        Host::with_heartbeat(observer, 200)
    }

    fn with_heartbeat(observer: bool, heartbeat_ms: u64) -> Host {
        let genesis = testkit::genesis();
        let mut replicas: Vec<_> = GOVERNMENTS
            .iter()
            .map(|c| replica_with_heartbeat(c, &genesis, heartbeat_ms))
            .collect();
        if observer {
            replicas.push(replica("WDC", &genesis));
        }
        let n = replicas.len();
        let mut host = Host {
            replicas,
            timers: BTreeMap::new(),
            inbox: VecDeque::new(),
            now: 0,
            seq: 0,
            decided: vec![Vec::new(); n],
            log: Vec::new(),
            rejected: Vec::new(),
            notes: Vec::new(),
            requests: Vec::new(),
            tampered_for: None,
            next_key: None,
            signed: Vec::new(),
        };
        for i in 0..n {
            host.replicas[i].handle(Event::Start, clock(0));
            host.drain(i);
        }
        host
    }

    fn drain(&mut self, i: usize) {
        let mut guard = 0;
        while let Some(ready) = self.replicas[i].ready() {
            guard += 1;
            assert!(guard < 10_000, "replica {i} never runs out of work");
            self.carry_out(i, ready);
        }
    }

    fn carry_out(&mut self, i: usize, ready: Ready) {
        if ready.safety.is_some() {
            self.log.push("safety");
        }
        if let Some((block, certificate)) = ready.decided {
            self.log.push("decided");
            assert!(
                ready.messages.is_empty(),
                "messages never share a batch with a decision"
            );
            assert!(self.replicas[i].is_awaiting_apply());
            assert!(self.replicas[i].ready().is_none(), "no work before apply");
            let receipt = self.replicas[i]
                .store_decided(&block, &certificate)
                .expect("a decided block applies");
            self.decided[i].push((block.header.height, receipt.block_hash));
            self.switch_if_listed(i);
            for r in &receipt.receipts {
                if r.result.is_err() {
                    self.rejected.push((i, r.tx_hash));
                }
            }
        }
        if !ready.messages.is_empty() {
            self.log.push("messages");
        }
        self.notes.extend(ready.notes.into_iter().map(|n| (i, n)));
        self.requests.extend(ready.sync_request.map(|r| (i, r)));
        let me = self.replicas[i].public();
        for message in &ready.messages {
            let (Outgoing::Broadcast(m) | Outgoing::To(_, m)) = message;
            match m {
                kp_consensus::ConsensusMessage::Proposal { signed, .. } => self
                    .signed
                    .push((signed.proposal.proposer, signed.proposal.height)),
                kp_consensus::ConsensusMessage::Vote(v) => {
                    self.signed.push((v.vote.validator, v.vote.height))
                }
            }
        }
        for message in ready.messages {
            match message {
                Outgoing::Broadcast(m) => {
                    for to in 0..self.replicas.len() {
                        if to == i {
                            continue;
                        }
                        if self.tampered_for == Some(to) {
                            if let Some(altered) = altered_copy(&m) {
                                self.inbox.push_back((to, me, altered));
                            }
                        }
                        self.inbox.push_back((to, me, m.clone()));
                    }
                }
                Outgoing::To(peer, m) => {
                    if let Some(to) = self.replicas.iter().position(|r| r.public() == peer) {
                        self.inbox.push_back((to, me, m));
                    }
                }
            }
        }
        for (after, timer) in ready.timers {
            self.seq += 1;
            self.timers.insert((self.now + after, self.seq), (i, timer));
        }
    }

    /// Delivers every message, then fires the next timer; until `until`
    /// holds or `ms` of simulated time have passed.
    fn run(&mut self, ms: u64, until: impl Fn(&Host) -> bool) -> bool {
        let end = self.now + ms;
        loop {
            if until(self) {
                return true;
            }
            if let Some((to, from, message)) = self.inbox.pop_front() {
                self.replicas[to].handle(Event::Message { from, message }, clock(self.now));
                self.drain(to);
                continue;
            }
            let Some(((at, seq), (i, timer))) = self.timers.pop_first() else {
                return false;
            };
            if at > end {
                // Not due in this run: it stays for the next.
                self.timers.insert((at, seq), (i, timer));
                self.now = end;
                return false;
            }
            self.now = at;
            self.replicas[i].handle(Event::Timer(timer), clock(at));
            self.drain(i);
        }
    }
}

/// A proposal carrying transactions, with one bit of its first
/// transaction's signature flipped: the same signed header, another body.
fn altered_copy(
    message: &kp_consensus::ConsensusMessage,
) -> Option<kp_consensus::ConsensusMessage> {
    let kp_consensus::ConsensusMessage::Proposal { signed, block, pol } = message else {
        return None;
    };
    let mut body = (**block).clone();
    let first = body.txs.first_mut()?;
    first.signature.0[7] ^= 0x10;
    Some(kp_consensus::ConsensusMessage::Proposal {
        signed: signed.clone(),
        block: std::sync::Arc::new(body),
        pol: pol.clone(),
    })
}

fn issue(number: &str) -> SignedTransaction {
    let certificate = testkit::certificate(number, "BW", "EU", testkit::date(2026, 1, 1));
    testkit::sign(
        &testkit::authority_key("BW"),
        1,
        clock(3_600_000),
        Payload::IssueCertificate(certificate),
    )
}

#[test]
fn six_validators_decide_the_same_blocks_and_a_submitted_certificate_lands() {
    let mut host = Host::new(false);
    let tx = issue("BW-2026-0001");
    let hash = tx.hash();
    host.replicas[2]
        .submit(tx.clone(), hash, false, clock(0))
        .expect("a valid issue enters the pool");
    host.drain(2);
    let landed = host.run(60_000, |h| {
        h.replicas
            .iter()
            .all(|r| r.ledger().height() >= 3 && r.mempool().is_empty())
    });
    assert!(landed, "heights: {:?}", host.decided);
    let first = &host.decided[0][..3];
    for (i, decided) in host.decided.iter().enumerate() {
        assert_eq!(&decided[..3], first, "replica {i} decided other blocks");
    }
    let certificate = host.replicas[5]
        .ledger()
        .certificate(&testkit::number("BW-2026-0001"))
        .expect("store");
    assert!(certificate.is_some(), "the certificate is on every ledger");
    // Submitted again, anywhere, it is found in the block index.
    for r in host.replicas.iter_mut() {
        let again = r.submit(tx.clone(), hash, false, clock(host.now));
        assert_eq!(again, Err(SubmitError::AlreadyDecided { hash }));
    }
    // The contract: safety before messages, no messages with a decision.
    assert!(host.log.contains(&"safety") && host.log.contains(&"decided"));
}

/// A quiet idle network: with a heartbeat of ten minutes, no empty block
/// is made while nothing happens, a transaction still lands at once, and a
/// resolution's deadline still lapses it on time (the pause ends at the
/// ledger's next time-driven work).
#[test]
fn a_quiet_network_makes_no_empty_blocks_but_keeps_its_deadlines() {
    const HEARTBEAT_MS: u64 = 10 * 60_000;
    let mut host = Host::with_heartbeat(false, HEARTBEAT_MS);
    // Every replica knows every other as a peer it could ask for blocks.
    let keys: Vec<PublicKey> = host.replicas.iter().map(|r| r.public()).collect();
    for (i, r) in host.replicas.iter_mut().enumerate() {
        for (j, k) in keys.iter().enumerate() {
            if i != j {
                r.handle(Event::PeerConnected(*k), clock(0));
            }
        }
    }
    assert!(host.run(60_000, |h| h.replicas[0].ledger().height() >= 1));
    let idle_from = host.replicas[0].ledger().height();
    let asked_before = host.requests.len();
    host.run(5 * 60_000, |_| false);
    assert_eq!(
        host.replicas[0].ledger().height(),
        idle_from,
        "no empty block within the heartbeat"
    );
    // Nor does any replica ask its peers for blocks as a stalled one would
    // (here, where no answer comes, 60 requests in five minutes if they did).
    let asked = host.requests.len() - asked_before;
    assert!(asked <= 6, "{asked} sync requests while rightly idle");

    // A proposal with a deadline two minutes ahead wakes the network.
    let deadline = clock(host.now + 2 * 60_000);
    let proposal = kp_types::ResolutionProposal {
        title: "expel CF".into(),
        action: kp_types::ResolutionAction::Expel {
            participant: testkit::code("CF"),
        },
        deadline: Some(deadline),
    };
    let tx = testkit::sign(
        &testkit::node_key("BW"),
        7,
        clock(host.now + 3_600_000),
        Payload::ProposeResolution(proposal),
    );
    let id = tx.hash();
    let woken_at = host.now;
    host.replicas[0]
        .submit(tx, id, false, clock(host.now))
        .expect("a valid proposal");
    host.drain(0);
    let resolution = |h: &Host| {
        h.replicas[0]
            .ledger()
            .resolution(&id)
            .expect("store")
            .map(|r| r.outcome)
    };
    assert!(host.run(60_000, |h| resolution(h).is_some()));
    assert!(
        host.now - woken_at < 5_000,
        "the transaction landed within a few rounds, not at the heartbeat"
    );
    assert_eq!(
        resolution(&host),
        Some(kp_ledger::ResolutionOutcome::Pending)
    );

    // Idle again until the deadline, then a block lapses it.
    let lapsed = host.run(HEARTBEAT_MS, |h| {
        matches!(
            resolution(h),
            Some(kp_ledger::ResolutionOutcome::Lapsed { .. })
        )
    });
    assert!(lapsed, "the deadline lapses the resolution");
    let late_by = host.now.saturating_sub(deadline.0 - clock(0).0);
    assert!(
        late_by < 5_000,
        "lapsed {late_by} ms after its deadline, not at the heartbeat"
    );
    // And quiet again: the next block waits for the heartbeat.
    let height = host.replicas[0].ledger().height();
    host.run(HEARTBEAT_MS / 2, |_| false);
    assert_eq!(host.replicas[0].ledger().height(), height);
}

#[test]
fn an_idle_network_waits_and_a_transaction_wakes_it() {
    let mut host = Host::new(false);
    assert!(host.run(60_000, |h| h.replicas[0].ledger().height() >= 1));
    // Empty blocks: the next height waits the empty-block interval.
    let h1 = host.replicas[0].ledger().height();
    let before = host.now;
    assert!(host.run(60_000, |h| h.replicas[0].ledger().height() > h1));
    assert!(
        host.now - before >= 200,
        "an empty block is followed by a pause"
    );
    let tx = issue("BW-2026-0002");
    let hash = tx.hash();
    host.replicas[0]
        .submit(tx, hash, false, clock(host.now))
        .expect("valid");
    host.drain(0);
    assert!(host.run(60_000, |h| h
        .replicas
        .iter()
        .all(|r| r.mempool().is_empty() && r.ledger().height() > h1 + 1)));
}

#[test]
fn submit_refuses_a_bad_signature_and_takes_a_pending_one_again() {
    let mut host = Host::new(false);
    let mut forged = issue("BW-2026-0003");
    forged.signature = issue("BW-2026-0009").signature;
    let hash = forged.hash();
    let refused = host.replicas[0].submit(forged.clone(), hash, false, clock(0));
    assert!(
        matches!(refused, Err(SubmitError::Refused(_))),
        "{refused:?}"
    );
    assert!(host.replicas[0].mempool().is_empty());
    let tx = issue("BW-2026-0003");
    let hash = tx.hash();
    host.replicas[0]
        .submit(tx.clone(), hash, false, clock(0))
        .expect("valid");
    host.replicas[0]
        .submit(tx, hash, false, clock(0))
        .expect("already pending: accepted again");
    assert_eq!(host.replicas[0].mempool().len(), 1);
}

#[test]
fn an_observer_takes_a_synced_block_and_refuses_a_forged_certificate() {
    let mut host = Host::new(true);
    let observer = host.replicas.len() - 1;
    assert!(host.run(60_000, |h| h.replicas[0].ledger().height() >= 1));
    // The observer runs no consensus: it gets nothing from the messages.
    assert_eq!(host.replicas[observer].ledger().height(), 0);
    let (block, certificate) = host.decided_block(0, 1);

    let mut forged = certificate.clone();
    forged.signatures.truncate(1);
    let refused = host.replicas[observer].synced(
        block.clone(),
        forged,
        &VerifiedSignatures::new(),
        clock(host.now),
    );
    assert!(
        matches!(refused, Err(SyncRefusal::Certificate { height: 1, .. })),
        "{refused:?}"
    );
    let mut other = block.clone();
    other.header.time = other.header.time.plus_ms(1);
    let refused = host.replicas[observer].synced(
        other,
        certificate.clone(),
        &VerifiedSignatures::new(),
        clock(host.now),
    );
    assert!(
        matches!(refused, Err(SyncRefusal::CertificateMismatch { height: 1 })),
        "{refused:?}"
    );
    assert!(host.replicas[observer].ready().is_none());

    let taken = host.replicas[observer].synced(
        block.clone(),
        certificate.clone(),
        &VerifiedSignatures::new(),
        clock(host.now),
    );
    assert_eq!(taken, Ok(Synced::Decided));
    // Until the host applies that decision, no other block is taken.
    let busy = host.replicas[observer].synced(
        block,
        certificate,
        &VerifiedSignatures::new(),
        clock(host.now),
    );
    assert!(
        matches!(busy, Err(SyncRefusal::NotNext { expected: 1, .. })),
        "{busy:?}"
    );
    host.drain(observer);
    assert_eq!(host.replicas[observer].ledger().height(), 1);
    assert_eq!(
        host.replicas[observer].ledger().last_block_hash(),
        host.replicas[0].ledger().last_block_hash()
    );
}

#[test]
fn a_byzantine_proposers_junk_lands_refused_and_changes_nothing() {
    let mut host = Host::new(false);
    // A well-signed issue by a key the ledger does not know.
    let stranger = testkit::extra_key("stranger");
    let mut tx = issue("BW-2026-0004").tx;
    tx.signer = stranger.public();
    let junk = tx.sign(&stranger);
    // Admission refuses it...
    let refused = host.replicas[1].submit(junk.clone(), junk.hash(), false, clock(0));
    assert!(
        matches!(refused, Err(SubmitError::Refused(_))),
        "{refused:?}"
    );
    // ...so a byzantine proposer stuffs it into its proposals unchecked.
    host.replicas[0].stuff_proposals(vec![junk.clone()]);
    let landed = host.run(120_000, |h| {
        let refusals = h.rejected.iter().filter(|(_, hash)| *hash == junk.hash());
        refusals.count() == h.replicas.len()
    });
    assert!(landed, "the junk never reached a decided block");
    // Every replica recorded the same refusal, and no certificate exists.
    for r in &host.replicas {
        let certificate = r
            .ledger()
            .certificate(&testkit::number("BW-2026-0004"))
            .expect("store");
        assert!(certificate.is_none(), "a refused act changed the state");
    }
    let refused_by: Vec<usize> = host
        .rejected
        .iter()
        .filter(|(_, hash)| *hash == junk.hash())
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(refused_by.len(), host.replicas.len(), "{refused_by:?}");
}

impl Host {
    fn decided_block(&self, replica: usize, height: u64) -> (kp_types::Block, CommitCertificate) {
        let store = self.replicas[replica].ledger().store();
        let block = kp_chain::BlockStore::block(store, height)
            .expect("store")
            .expect("decided block stored");
        let certificate = kp_chain::BlockStore::commit_certificate(store, height)
            .expect("store")
            .expect("its certificate stored");
        (block, certificate)
    }
}

/// A peer that alters the proposals it relays (one flipped signature bit)
/// must not make a replica judge the genuine block invalid: the altered
/// copy does not match the header, which commits to the signatures, so it
/// is dropped, and the genuine copy is validated and decided.
#[test]
fn an_altered_copy_of_a_proposal_is_dropped_and_the_genuine_block_decided() {
    let mut host = Host::new(false);
    host.tampered_for = Some(3);
    let tx = issue("BW-2026-0005");
    let hash = tx.hash();
    for i in 0..host.replicas.len() {
        host.replicas[i]
            .submit(tx.clone(), hash, false, clock(0))
            .expect("valid");
        host.drain(i);
    }
    let landed = host.run(60_000, |h| {
        h.replicas
            .iter()
            .all(|r| r.mempool().is_empty() && r.ledger().height() >= 1)
    });
    assert!(landed, "{:?}", host.notes);
    let invalid: Vec<_> = host
        .notes
        .iter()
        .filter(|(_, n)| matches!(n, Note::InvalidProposal { .. }))
        .collect();
    assert!(
        invalid.is_empty(),
        "a genuine block was judged invalid: {invalid:?}"
    );
    let certificate = host.replicas[3]
        .ledger()
        .certificate(&testkit::number("BW-2026-0005"))
        .expect("store");
    assert!(certificate.is_some());
}

/// The asking side of block sync: a replica that gets no block asks a
/// connected peer once it stalls, keeps one request in flight, takes only
/// blocks that follow on, pipelines the next range to the same peer, and
/// gives up on a request that is never answered.
#[test]
fn a_replica_behind_asks_a_peer_it_meets_pipelines_and_forgets_an_unanswered_request() {
    let mut host = Host::new(true);
    let observer = host.replicas.len() - 1;
    assert!(host.run(60_000, |h| h.replicas[0].ledger().height() >= 4));
    let chain: Vec<_> = (1..=4).map(|h| host.decided_block(0, h)).collect();
    // No peer connected: the stall check has nobody to ask.
    assert!(host.requests.iter().all(|(i, _)| *i != observer));
    let peer = host.replicas[2].public();
    host.replicas[observer].handle(Event::PeerConnected(peer), clock(host.now));
    host.drain(observer);
    // The peer just met is asked at once, not at the next stall check.
    assert!(host.requests.iter().any(|(i, _)| *i == observer));
    let (_, first) = host
        .requests
        .iter()
        .find(|(i, _)| *i == observer)
        .copied()
        .unwrap();
    assert_eq!((first.peer, first.from_height), (peer, 1));
    assert_eq!(host.replicas[observer].sync_in_flight(), Some(first));

    // An answer that skips a height gives nothing, and asks nothing more.
    let asked = host.requests.len();
    let gap = vec![chain[0].clone(), chain[2].clone()];
    let taken = host.replicas[observer].sync_answered(peer, Some(gap), clock(host.now));
    host.drain(observer);
    assert!(taken.is_empty());
    assert_eq!(host.replicas[observer].sync_in_flight(), None);
    assert_eq!(host.requests.len(), asked);

    // Blocks that follow on are handed back, and the next range is asked
    // of the same peer at once.
    host.replicas[observer].handle(Event::PeerAhead(peer), clock(host.now));
    host.drain(observer);
    let taken =
        host.replicas[observer].sync_answered(peer, Some(chain[..2].to_vec()), clock(host.now));
    assert_eq!(taken.len(), 2);
    let next = host.replicas[observer].sync_in_flight().expect("pipelined");
    assert_eq!((next.peer, next.from_height), (peer, 3));
    host.drain(observer);
    for (block, certificate) in taken {
        host.replicas[observer]
            .synced(
                block,
                certificate,
                &VerifiedSignatures::new(),
                clock(host.now),
            )
            .expect("a genuine block");
        host.drain(observer);
    }
    assert_eq!(host.replicas[observer].ledger().height(), 2);

    // The pipelined request is never answered: forgotten after the timeout,
    // and the stall check asks again from where the ledger is.
    let before = host.requests.len();
    let timeout = host.replicas[observer].config().sync.timeout_ms;
    let mut now = host.now;
    while now <= host.now + timeout + 5_000 {
        now += 1_000;
        host.replicas[observer].handle(Event::Timer(Timer::SyncCheck), clock(now));
        host.drain(observer);
    }
    let retried: Vec<_> = host.requests[before..]
        .iter()
        .filter(|(i, _)| *i == observer)
        .collect();
    assert_eq!(retried.len(), 1, "{retried:?}");
    assert_eq!(retried[0].1.from_height, 3);
}

/// A replica far behind applies a sync answer in a catch-up: ahead of the
/// store until its stage is written (a crash before that loses only the
/// stage), one stage at a time, nothing forged taken, and the next height
/// started at the end.
#[test]
fn a_catch_up_applies_ahead_of_the_store_and_writes_in_stages() {
    let mut host = Host::new(true);
    let observer = host.replicas.len() - 1;
    for number in ["BW-2026-0101", "BW-2026-0102"] {
        let tx = issue(number);
        host.replicas[0]
            .submit(tx.clone(), tx.hash(), false, clock(host.now))
            .expect("admitted");
        host.drain(0);
    }
    assert!(host.run(120_000, |h| h.replicas[0].ledger().height() >= 4));
    let blocks: Vec<_> = (1..=4).map(|h| host.decided_block(0, h)).collect();
    let r = &mut host.replicas[observer];
    let store = r.ledger().store().clone();
    let none = VerifiedSignatures::new();
    // The first block with a transaction slipped in under its genuine header
    // and certificate: the block is refused (validation and execution are
    // one pass), not a ledger failure, and nothing changes.
    let (mut tampered, certificate) = blocks[0].clone();
    tampered.txs.push(issue("BW-2026-0199"));
    let refused = r.catch_up_execute(&tampered, &certificate, &none);
    assert!(
        matches!(
            refused,
            Err(CatchUpError::Refused(SyncRefusal::Block { height: 1, .. }))
        ),
        "{refused:?}"
    );
    assert_eq!(r.ledger().height(), 0);
    for (block, certificate) in &blocks[..3] {
        let pending = r
            .catch_up_execute(block, certificate, &none)
            .expect("a decided block is taken");
        let full = r
            .catch_up_advance(Arc::new(block.clone()), certificate.clone(), pending)
            .expect("applied ahead");
        assert!(!full, "three blocks stay under the stage size");
    }
    // Ahead of the store: the replica is at 3, the disk still at 0.
    assert_eq!(r.ledger().height(), 3);
    let reopened = Ledger::open(&testkit::genesis(), store.snapshot()).expect("reopen");
    assert_eq!(
        reopened.height(),
        0,
        "nothing durable before the stage is written"
    );

    let stage = r.take_stage().expect("take").expect("a stage");
    assert_eq!(stage.blocks(), 3);
    let txs: usize = blocks[..3].iter().map(|(b, _)| b.txs.len()).sum();
    assert_eq!(stage.txs(), txs);
    // The fourth block applies meanwhile; its stage waits for this one.
    let (block, certificate) = &blocks[3];
    let pending = r
        .catch_up_execute(block, certificate, &none)
        .expect("taken");
    r.catch_up_advance(Arc::new(block.clone()), certificate.clone(), pending)
        .expect("applied ahead");
    assert!(r.take_stage().is_err(), "one stage in flight at a time");
    kp_ledger::StateStore::commit(&store, &stage.writes).expect("written");
    let applied = r.stage_written(stage);
    assert_eq!(
        applied.iter().map(|a| a.receipt.height).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let reopened = Ledger::open(&testkit::genesis(), store.snapshot()).expect("reopen");
    assert_eq!(reopened.height(), 3);

    // A fifth block with a forged certificate is refused and changes nothing.
    let (mut block5, mut forged) = blocks[3].clone();
    block5.header.height = 5;
    forged.height = 5;
    forged.block_hash = block5.hash();
    let refused = r.catch_up_execute(&block5, &forged, &none);
    assert!(
        matches!(refused, Err(CatchUpError::Refused(_))),
        "{refused:?}"
    );
    assert_eq!(r.ledger().height(), 4);

    let last = r.take_stage().expect("take").expect("the last stage");
    kp_ledger::StateStore::commit(&store, &last.writes).expect("written");
    assert_eq!(r.stage_written(last).len(), 1);
    r.catch_up_done();
    let ready = r.ready().expect("the next height is scheduled");
    // At once after a block with transactions; after an empty tip, when an
    // idle block would (so a node that caught up wakes no idle network).
    assert!(ready
        .timers
        .iter()
        .any(|(_, t)| *t == Timer::StartHeight(5)));
    let reopened = Ledger::open(&testkit::genesis(), store.snapshot()).expect("reopen");
    assert_eq!(reopened.height(), 4);
    assert_eq!(
        reopened.last_block_hash(),
        host.replicas[0].ledger().last_block_hash()
    );
}
