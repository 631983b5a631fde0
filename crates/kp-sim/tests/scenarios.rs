//! Named scenarios: one per byzantine behaviour, crash and partition runs,
//! a mid-run validator-set change, determinism, and the broken-rule tests
//! that prove the checker reports a disagreement.

use kp_sim::{run, BrokenRule, Byzantine, Faults, SimConfig, SimReport, Violation};

fn lossy() -> Faults {
    Faults {
        latency_ms: 10,
        jitter_ms: 30,
        loss_permille: 50,
        duplicate_permille: 50,
        partitions: false,
        crashes: false,
    }
}

fn must_pass(cfg: SimConfig) -> SimReport {
    match run(cfg) {
        Ok(report) => report,
        Err(failure) => panic!("{failure}\n{}", failure.replicas),
    }
}

fn with_byzantine(seed: u64, validators: usize, behaviour: Byzantine) -> SimReport {
    let mut cfg = SimConfig::calm(seed, validators);
    cfg.byzantine = vec![behaviour];
    cfg.faults = lossy();
    cfg.fault_phase_ms = 6_000;
    must_pass(cfg)
}

#[test]
fn calm_network_decides_and_agrees() {
    let report = must_pass(SimConfig::calm(1, 4));
    assert!(report.min_height >= 10, "{report:?}");
    assert!(report.txs_accepted_in_blocks > 0, "{report:?}");
}

#[test]
fn byzantine_equivocating_proposer_is_caught() {
    let report = with_byzantine(11, 4, Byzantine::EquivocatingProposer);
    assert!(report.equivocations_injected > 0, "{report:?}");
    assert!(report.equivocations_observed > 0, "{report:?}");
    assert!(report.evidence_recorded > 0, "{report:?}");
}

#[test]
fn byzantine_double_voter_is_caught() {
    let report = with_byzantine(12, 4, Byzantine::DoubleVoter);
    assert!(report.equivocations_observed > 0, "{report:?}");
    assert!(report.evidence_recorded > 0, "{report:?}");
}

#[test]
fn byzantine_silent_validator_is_tolerated() {
    let report = with_byzantine(13, 4, Byzantine::Silent);
    assert!(report.min_height >= 5, "{report:?}");
    assert_eq!(report.evidence_recorded, 0);
}

#[test]
fn byzantine_garbage_sender_is_tolerated() {
    let report = with_byzantine(14, 4, Byzantine::GarbageSender);
    assert!(report.min_height >= 5, "{report:?}");
}

#[test]
fn byzantine_stale_replayer_is_tolerated() {
    let report = with_byzantine(15, 4, Byzantine::StaleReplayer);
    assert!(report.min_height >= 5, "{report:?}");
    // Its proposals carry rule-breaking transactions: valid blocks whose
    // transactions get rejection receipts.
    assert!(report.txs_rejected_in_blocks > 0, "{report:?}");
}

#[test]
fn byzantine_echo_within_f_is_caught_and_tolerated() {
    let report = with_byzantine(16, 7, Byzantine::Echo);
    assert!(report.min_height >= 5, "{report:?}");
    assert!(report.evidence_recorded > 0, "{report:?}");
}

#[test]
fn two_byzantine_of_seven_with_crashes_and_partitions() {
    let mut cfg = SimConfig::calm(17, 7);
    cfg.byzantine = vec![Byzantine::DoubleVoter, Byzantine::EquivocatingProposer];
    cfg.faults = Faults {
        partitions: true,
        crashes: true,
        ..lossy()
    };
    cfg.fault_phase_ms = 8_000;
    let report = must_pass(cfg);
    assert!(report.evidence_recorded > 0, "{report:?}");
}

#[test]
fn crashed_replicas_restart_from_persisted_state() {
    for seed in 20..24 {
        let mut cfg = SimConfig::calm(seed, 4);
        cfg.faults = Faults {
            crashes: true,
            ..lossy()
        };
        cfg.fault_phase_ms = 8_000;
        let report = must_pass(cfg);
        assert!(report.crashes > 0, "{report:?}");
    }
}

#[test]
fn partitions_heal_and_the_network_catches_up() {
    for seed in 30..34 {
        let mut cfg = SimConfig::calm(seed, 7);
        cfg.faults = Faults {
            partitions: true,
            ..lossy()
        };
        cfg.fault_phase_ms = 8_000;
        must_pass(cfg);
    }
}

#[test]
fn resolutions_change_the_validator_set_mid_run() {
    let mut cfg = SimConfig::calm(40, 4);
    cfg.governance = true;
    cfg.fault_phase_ms = 10_000;
    let report = must_pass(cfg);
    assert_eq!(
        report.validator_set_changes, 2,
        "expelled then readmitted: {report:?}"
    );
}

#[test]
fn expelling_a_byzantine_validator_mid_run() {
    let mut cfg = SimConfig::calm(41, 4);
    cfg.byzantine = vec![Byzantine::DoubleVoter];
    cfg.governance = true;
    cfg.fault_phase_ms = 10_000;
    let report = must_pass(cfg);
    assert_eq!(report.validator_set_changes, 2, "{report:?}");
}

#[test]
fn same_seed_same_trace() {
    let a = run(SimConfig::from_seed(7)).map(|r| r.trace_hash);
    let b = run(SimConfig::from_seed(7)).map(|r| r.trace_hash);
    assert_eq!(a, b);
    let c = run(SimConfig::from_seed(8)).map(|r| r.trace_hash);
    assert_ne!(a, c, "different seeds should give different traces");
}

/// Broken rule: one replica's host applies a block of its own instead of the
/// decided one. The checker must report the disagreement, with a replay line.
#[test]
fn broken_rule_tampered_decision_is_reported() {
    let mut cfg = SimConfig::calm(50, 4);
    cfg.broken = Some(BrokenRule::TamperDecision { height: 3 });
    let failure = run(cfg).expect_err("the checker must notice");
    assert!(
        matches!(failure.violation, Violation::Agreement { height: 3, .. }),
        "{failure}"
    );
    assert!(failure.replay.contains("calm(50, 4)"), "{failure}");
    assert!(failure.to_string().contains("seed=50"), "{failure}");
}

/// Deliberately unsafe configuration: two byzantine validators of four
/// (more than f = 1) that propose different blocks to different halves and
/// echo every vote. Agreement must break, and the checker must say so.
#[test]
fn broken_rule_too_many_byzantine_split_the_network() {
    let mut found = None;
    for seed in 60..80 {
        let mut cfg = SimConfig::calm(seed, 4);
        cfg.observers = 0;
        cfg.byzantine = vec![Byzantine::Echo, Byzantine::Echo];
        cfg.fault_phase_ms = 4_000;
        if let Err(failure) = run(cfg) {
            if matches!(
                failure.violation,
                Violation::Agreement { .. } | Violation::StateRoot { .. }
            ) {
                found = Some(failure);
                break;
            }
        }
    }
    let failure =
        found.expect("more than f byzantine validators must be able to split the network");
    eprintln!("checker reported: {failure}");
}

/// Broken rule: replicas that forget their safety state when they restart.
/// The double-sign check must catch one of them signing a second vote.
#[test]
fn broken_rule_amnesia_after_restart_is_reported() {
    let mut found = None;
    for seed in 90..130 {
        let mut cfg = SimConfig::calm(seed, 4);
        cfg.faults = Faults {
            crashes: true,
            ..lossy()
        };
        cfg.broken = Some(BrokenRule::ForgetSafetyOnRestart);
        if let Err(failure) = run(cfg) {
            if matches!(failure.violation, Violation::DoubleSign { .. }) {
                found = Some(failure);
                break;
            }
        }
    }
    let failure = found.expect("a validator without its safety state must eventually double-sign");
    eprintln!("checker reported: {failure}");
}

/// A validator that answers block sync (and announces its blocks) with
/// tampered blocks or certificates short of a quorum: every replica must
/// refuse what it serves, and the network must still catch up after crashes
/// and partitions from the honest peers.
#[test]
fn byzantine_lying_sync_peer_is_refused() {
    let mut cfg = SimConfig::calm(18, 4);
    cfg.byzantine = vec![Byzantine::LyingSyncPeer];
    cfg.observers = 2;
    cfg.faults = Faults {
        partitions: true,
        crashes: true,
        ..lossy()
    };
    cfg.fault_phase_ms = 8_000;
    let report = must_pass(cfg);
    assert!(report.sync_refused > 0, "{report:?}");
    assert!(report.min_height >= 5, "{report:?}");
}

/// A lagging observer: down from the start, it comes back with the whole
/// chain to fetch and catches up by block sync while a partition cuts it
/// from half its peers, one of which lies about blocks.
#[test]
fn a_lagging_observer_catches_up_through_a_partition_and_a_lying_peer() {
    let mut cfg = SimConfig::calm(21, 4);
    cfg.byzantine = vec![Byzantine::LyingSyncPeer];
    cfg.observers = 1;
    cfg.laggard = true;
    cfg.faults = lossy();
    cfg.fault_phase_ms = 12_000;
    let report = must_pass(cfg);
    // It had most of the chain to fetch, and every honest replica (the
    // observer included) reached the goal after healing.
    assert!(report.min_height >= 10, "{report:?}");
    assert!(report.crashes >= 1, "{report:?}");
}
