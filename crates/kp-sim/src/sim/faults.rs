//! Faults: scheduled partitions and crashes, restarts from persisted state
//! only, and the crash between persisting a vote and sending it.

use super::queue::Event;
use super::{consensus_config, replica_config, Sim, CRASH_BEFORE_SEND_PERMILLE};
use crate::check::Violation;
use crate::config::BrokenRule;
use kp_consensus::{Consensus, ConsensusMessage, SafetyState};
use kp_ledger::Ledger;
use kp_replica::Replica;
use rand::Rng;
use std::collections::BTreeSet;

impl Sim {
    pub(super) fn schedule_faults(&mut self) {
        let phase = self.cfg.fault_phase_ms;
        self.push(self.cfg.tx_interval_ms, Event::Workload);
        if self.cfg.faults.partitions {
            let episodes = self.rng.gen_range(1..=3u64);
            for _ in 0..episodes {
                let start = self.rng.gen_range(0..phase.max(1));
                let length = self.rng.gen_range(300..=3_000);
                let blocked = self.random_partition();
                self.partition_id += 1;
                let id = self.partition_id;
                self.push(start, Event::Partition { id, blocked });
                self.push((start + length).min(phase), Event::PartitionEnd { id });
            }
        }
        if self.cfg.faults.crashes {
            let honest: Vec<usize> = (0..self.replicas.len())
                .filter(|i| self.replicas[*i].byzantine.is_none())
                .collect();
            let episodes = self.rng.gen_range(1..=3u64);
            for _ in 0..episodes {
                let node = honest[self.rng.gen_range(0..honest.len())];
                let start = self.rng.gen_range(0..phase.max(1));
                let down = self.rng.gen_range(100..=3_000);
                self.push(start, Event::Crash { node });
                self.push((start + down).min(phase), Event::Restart { node });
            }
        }
        if self.cfg.laggard {
            self.schedule_laggard();
        }
        self.push(phase, Event::Heal);
    }

    /// The lagging observer (if there is one): down from the start, back at
    /// three quarters of the fault phase with the whole chain to fetch, and
    /// cut from half its peers (both ways) for the first second and a half
    /// of its catch-up.
    fn schedule_laggard(&mut self) {
        let Some(node) = (self.cfg.validators..self.replicas.len()).next() else {
            return;
        };
        let phase = self.cfg.fault_phase_ms;
        let back = phase * 3 / 4;
        self.push(0, Event::Crash { node });
        self.push(back, Event::Restart { node });
        let mut blocked = std::collections::BTreeSet::new();
        for peer in (0..self.replicas.len()).filter(|p| *p != node && p % 2 == 0) {
            blocked.insert((node, peer));
            blocked.insert((peer, node));
        }
        self.partition_id += 1;
        let id = self.partition_id;
        self.push(back, Event::Partition { id, blocked });
        self.push((back + 1_500).min(phase), Event::PartitionEnd { id });
    }

    /// A random split of the replicas: symmetric, or one-way.
    fn random_partition(&mut self) -> BTreeSet<(usize, usize)> {
        let n = self.replicas.len();
        let side: Vec<bool> = (0..n).map(|_| self.rng.gen_bool(0.5)).collect();
        let one_way = self.rng.gen_bool(0.3);
        let mut blocked = BTreeSet::new();
        for a in 0..n {
            for b in 0..n {
                if side[a] && !side[b] {
                    blocked.insert((a, b));
                    if !one_way {
                        blocked.insert((b, a));
                    }
                }
            }
        }
        blocked
    }

    pub(super) fn crash(&mut self, node: usize) {
        // Halves received before the crash are forgotten with the core's votes.
        self.received_halves
            .retain(|(_, replica), _| *replica != node);
        // So is the evidence it signed and had not yet seen decided: it sat
        // in the pool, which a crash loses (as a node's does). An
        // equivocation this replica alone saw is no longer owed to the
        // ledger; one that another honest validator saw still is. (Seed
        // 2037 of the 2000-2999 sweep: the only witness crashed while a
        // partition kept its evidence from every block.)
        let recorded = &self.recorded_evidence;
        for (id, by) in self.observed.iter_mut() {
            if !recorded.contains(id) {
                by.remove(&node);
            }
        }
        self.observed.retain(|_, by| !by.is_empty());
        // The replica (core, pool, pending timers) is dead with it; only
        // its store and safety state are read again.
        let r = &mut self.replicas[node];
        r.alive = false;
        r.incarnation += 1;
        r.seen.clear();
        r.seen_order.clear();
        self.crashes += 1;
    }

    /// Restarts a crashed replica from what it persisted: its store and its
    /// safety state; a new replica is built on them (its pool starts empty,
    /// as a restarted node's does: pending evidence is lost).
    pub(super) fn restart(&mut self, node: usize) -> Result<(), Violation> {
        if self.replicas[node].alive {
            return Ok(());
        }
        let amnesia = self.cfg.broken == Some(BrokenRule::ForgetSafetyOnRestart);
        let config = replica_config(&self.cfg);
        let r = &mut self.replicas[node];
        let store = r.replica.ledger().store().snapshot();
        let ledger =
            Ledger::open(&self.genesis, store.clone()).map_err(|e| Violation::Validity {
                height: 0,
                replica: node,
                error: format!("reopen: {e}"),
            })?;
        // What the node checks when it starts: blocks and state agree.
        kp_chain::check_consistency_with(&store, ledger.height(), kp_chain::CheckDepth::Recent(16))
            .map_err(|e| Violation::Validity {
                height: ledger.height(),
                replica: node,
                error: format!("store inconsistent after a restart: {e}"),
            })?;
        let restored = r
            .safety
            .as_deref()
            .filter(|_| !amnesia)
            .and_then(|b| SafetyState::decode(b).ok());
        let consensus = Consensus::new(consensus_config(&r.key, self.cfg.timeouts_ms), restored);
        r.replica = Replica::new(config, r.key.clone(), consensus, ledger).map_err(|e| {
            Violation::Validity {
                height: 0,
                replica: node,
                error: format!("reopen: {e}"),
            }
        })?;
        r.alive = true;
        r.incarnation += 1;
        if r.byzantine.is_some() {
            r.replica
                .stuff_proposals(self.junk.iter().cloned().collect());
        }
        self.start(node)
    }

    /// The crash fault at its worst moment: an honest validator dies after
    /// persisting a vote and before sending it (rarely, during the fault
    /// phase, when crashes are on). It restarts a little later.
    pub(super) fn crash_before_send(&mut self, node: usize, message: &ConsensusMessage) -> bool {
        let own_vote = matches!(message, ConsensusMessage::Vote(v) if v.vote.validator == self.replicas[node].public);
        if self.healed || !self.cfg.faults.crashes || !own_vote || !self.honest(node) {
            return false;
        }
        if self.rng.gen_range(0..1000) >= CRASH_BEFORE_SEND_PERMILLE {
            return false;
        }
        self.crash(node);
        let down = self.rng.gen_range(50..=1_000);
        self.push(down, Event::Restart { node });
        true
    }
}
