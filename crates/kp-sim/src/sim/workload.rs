//! The workload (client transactions handed to random honest replicas) and
//! the governance scenario that changes the validator set mid-run.

use super::network::NetMessage;
use super::{Sim, JUNK_TXS_MAX};
use crate::check::Violation;
use kp_ledger::records::ResolutionOutcome;
use kp_ledger::testkit;
use kp_replica::SubmitError;
use kp_types::{
    consensus::faults_tolerated, Payload, ResolutionAction, ResolutionProposal, SignedTransaction,
    Timestamp,
};
use rand::Rng;

/// The governance scenario: expel a validator, then readmit it.
#[derive(Clone, Debug)]
pub(super) enum Governance {
    Idle,
    Pending {
        readmit: bool,
        target: String,
        propose: Box<SignedTransaction>,
        signs: Vec<SignedTransaction>,
        since_ms: u64,
    },
    Expelled {
        target: String,
        since_ms: u64,
    },
    Done,
}

/// Workload transactions timed at once for `SimReport::finality_ms`.
const SUBMISSIONS_TIMED_MAX: usize = 100_000;

impl Sim {
    pub(super) fn workload_tick(&mut self) -> Result<(), Violation> {
        let now = self.block_clock();
        let active: Vec<String> = self
            .reference()
            .ledger()
            .validator_codes()
            .into_iter()
            .map(|(c, _)| c.as_str().to_string())
            .collect();
        if let Some(tx) = self.workload.next(&mut self.rng, &active, now) {
            self.submit(tx)?;
        }
        if self.cfg.governance {
            self.governance_tick()?;
        }
        Ok(())
    }

    /// A client hands `tx` to a random live honest replica, which checks it
    /// and gossips it.
    fn submit(&mut self, tx: SignedTransaction) -> Result<(), Violation> {
        let live: Vec<usize> = (0..self.replicas.len())
            .filter(|i| self.replicas[*i].alive && self.honest(*i))
            .collect();
        if live.is_empty() {
            return Ok(());
        }
        let entry = live[self.rng.gen_range(0..live.len())];
        match self.submit_to(entry, tx.clone())? {
            // Taken, or the ledger accepts it and the pool is full or holds it.
            Ok(()) | Err(SubmitError::Pool(_)) => {
                // Timed until its block is decided. Bounded: past the
                // bound, the timed one of lowest hash is dropped.
                if self.submitted_at.len() >= SUBMISSIONS_TIMED_MAX {
                    self.submitted_at.pop_first();
                }
                self.submitted_at.insert(tx.hash(), self.now);
                self.send_all(entry, NetMessage::Tx(Box::new(tx)));
            }
            Err(SubmitError::Refused(_)) if tx.verify_signature().is_ok() => {
                // Well signed but rule-breaking: byzantine proposers stuff
                // such transactions into their blocks, which stay valid blocks.
                self.junk.push_back(tx);
                if self.junk.len() > JUNK_TXS_MAX {
                    self.junk.pop_front();
                }
                self.hand_out_junk();
            }
            Err(SubmitError::Refused(_)) | Err(SubmitError::AlreadyDecided { .. }) => {}
        }
        Ok(())
    }

    fn governance_tick(&mut self) -> Result<(), Violation> {
        let now_ms = self.now;
        let clock = self.block_clock();
        let state = std::mem::replace(&mut self.governance, Governance::Done);
        self.governance = match state {
            Governance::Idle if now_ms >= self.cfg.fault_phase_ms / 5 => {
                match self.expel_target() {
                    Some(target) => self.resolution(false, target, clock)?,
                    None => Governance::Done,
                }
            }
            Governance::Pending {
                readmit,
                target,
                propose,
                signs,
                since_ms,
            } => {
                let id = propose.hash();
                let record = self.reference().ledger().resolution(&id).ok().flatten();
                match record.map(|r| r.outcome) {
                    Some(ResolutionOutcome::Adopted { .. }) if readmit => Governance::Done,
                    Some(ResolutionOutcome::Adopted { .. }) => Governance::Expelled {
                        target,
                        since_ms: now_ms,
                    },
                    Some(ResolutionOutcome::Pending) => {
                        if now_ms.saturating_sub(since_ms) % 2_000 < self.cfg.tx_interval_ms {
                            for tx in &signs {
                                self.submit(tx.clone())?;
                            }
                        }
                        Governance::Pending {
                            readmit,
                            target,
                            propose,
                            signs,
                            since_ms,
                        }
                    }
                    Some(_) => Governance::Done,
                    None => {
                        self.submit((*propose).clone())?;
                        Governance::Pending {
                            readmit,
                            target,
                            propose,
                            signs,
                            since_ms,
                        }
                    }
                }
            }
            Governance::Expelled { target, since_ms }
                if now_ms >= since_ms + self.cfg.fault_phase_ms / 4 =>
            {
                self.resolution(true, target, clock)?
            }
            other => other,
        };
        Ok(())
    }

    /// Whom to expel without ever letting byzantine validators exceed `f`:
    /// a byzantine validator if there is one, else an honest one if the
    /// smaller set still tolerates the byzantine count (zero here).
    fn expel_target(&self) -> Option<String> {
        let validators = self.reference().ledger().validator_codes();
        let byzantine: Vec<String> = self
            .replicas
            .iter()
            .filter(|r| r.byzantine.is_some())
            .map(|r| r.code.clone())
            .collect();
        if let Some(b) = validators
            .iter()
            .find(|(c, _)| byzantine.contains(&c.as_str().to_string()))
        {
            let remaining_byzantine = byzantine.len() - 1;
            return (remaining_byzantine <= faults_tolerated(validators.len() - 1))
                .then(|| b.0.as_str().to_string());
        }
        if validators.len() < 2 || byzantine.len() > faults_tolerated(validators.len() - 1) {
            return None;
        }
        validators.last().map(|(c, _)| c.as_str().to_string())
    }

    fn resolution(
        &mut self,
        readmit: bool,
        target: String,
        clock: Timestamp,
    ) -> Result<Governance, Violation> {
        let governments: Vec<String> = self
            .reference()
            .ledger()
            .validator_codes()
            .into_iter()
            .map(|(c, _)| c.as_str().to_string())
            .collect();
        let Some(proposer) = governments.iter().find(|c| **c != target).cloned() else {
            return Ok(Governance::Done);
        };
        let participant = testkit::code(&target);
        let action = if readmit {
            ResolutionAction::Readmit { participant }
        } else {
            ResolutionAction::Expel { participant }
        };
        let expires = clock.plus_ms(50 * 60_000);
        let nonce = self.now;
        let propose = testkit::sign(
            &testkit::node_key(&proposer),
            nonce,
            expires,
            Payload::ProposeResolution(ResolutionProposal {
                title: format!("{} {target}", if readmit { "readmit" } else { "expel" }),
                action,
                deadline: None,
            }),
        );
        let id = propose.hash();
        let signs = governments
            .iter()
            .filter(|c| **c != proposer)
            .map(|c| {
                testkit::sign(
                    &testkit::node_key(c),
                    nonce,
                    expires,
                    Payload::SignResolution { resolution: id },
                )
            })
            .collect();
        self.submit(propose.clone())?;
        Ok(Governance::Pending {
            readmit,
            target,
            propose: Box::new(propose),
            signs,
            since_ms: self.now,
        })
    }
}
