//! The event queue: what can happen next, ordered by simulated time and
//! sequence number, and what each event does when its time comes.

use super::network::NetMessage;
use super::Sim;
use crate::check::Violation;
use kp_replica::{Event as ReplicaEvent, Timer};
use std::collections::BTreeSet;

#[derive(Clone, Debug)]
pub(super) enum Event {
    Deliver {
        to: usize,
        from: usize,
        message: NetMessage,
    },
    /// A timer a node's replica asked for (dropped if the node restarted since).
    Timer {
        node: usize,
        incarnation: u64,
        timer: Timer,
    },
    Crash {
        node: usize,
    },
    Restart {
        node: usize,
    },
    Partition {
        id: u64,
        blocked: BTreeSet<(usize, usize)>,
    },
    PartitionEnd {
        id: u64,
    },
    Heal,
    Workload,
}

impl Event {
    pub(super) fn tag(&self) -> (u8, usize) {
        match self {
            Event::Deliver { to, .. } => (0, *to),
            Event::Timer { node, .. } => (1, *node),
            Event::Crash { node } => (3, *node),
            Event::Restart { node } => (4, *node),
            Event::Partition { .. } => (5, 0),
            Event::PartitionEnd { .. } => (6, 0),
            Event::Heal => (7, 0),
            Event::Workload => (8, 0),
        }
    }
}

impl Sim {
    pub(super) fn push(&mut self, delay_ms: u64, event: Event) {
        self.seq += 1;
        self.queue.insert((self.now + delay_ms, self.seq), event);
    }

    pub(super) fn step(&mut self, event: Event) -> Result<(), Violation> {
        match event {
            Event::Deliver { to, from, message } => self.deliver(to, from, message),
            Event::Timer {
                node,
                incarnation,
                timer,
            } => {
                if self.replicas[node].incarnation == incarnation {
                    self.handle(node, ReplicaEvent::Timer(timer))?;
                }
                Ok(())
            }
            Event::Crash { node } => {
                if !self.healed && self.replicas[node].alive {
                    self.crash(node);
                }
                Ok(())
            }
            Event::Restart { node } => self.restart(node),
            Event::Partition { id, blocked } => {
                if !self.healed {
                    self.partition_id = id;
                    self.blocked = blocked;
                }
                Ok(())
            }
            Event::PartitionEnd { id } => {
                if self.partition_id == id {
                    self.blocked.clear();
                }
                Ok(())
            }
            Event::Heal => {
                self.healed = true;
                self.blocked.clear();
                for node in 0..self.replicas.len() {
                    if !self.replicas[node].alive {
                        self.restart(node)?;
                    }
                }
                let highest = self.honest_heights().map(|(_, h)| h).max().unwrap_or(0);
                self.heal_target = highest + self.cfg.liveness_heights;
                self.observed_at_heal = self.observed.clone();
                Ok(())
            }
            Event::Workload => {
                self.workload_tick()?;
                let interval = if self.healed {
                    self.cfg.tx_interval_ms * 4
                } else {
                    self.cfg.tx_interval_ms
                };
                self.push(interval, Event::Workload);
                Ok(())
            }
        }
    }
}
