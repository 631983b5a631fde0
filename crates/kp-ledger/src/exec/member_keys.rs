//! A member's keys: rotation of each role, recovery of the government key
//! by the recovery key after a delay, and its cancellation
//! (`docs/adr/0008-government-keys-and-recovery.md`).
//!
//! A new consensus or government key takes effect at once. A recovery
//! (begun by the recovery key) and the replacement of a registered recovery
//! key (begun by the government key) wait `params.recovery_delay_ms`. Until
//! then the recovery key cancels either at once, the government key cancels
//! a recovery-key rotation at once, and a recovery is cancelled by the
//! government key and the node key together (two transactions, one half
//! each), so that a stolen government key alone cannot block a recovery.
//! One change waits per member at most, so the schedule holds at most one
//! entry per member.

use super::{reject, Ctx, Exec};
use crate::keys;
use crate::records::{LedgerEvent, ParticipantRecord, PendingKeyChange};
use crate::rejection::Rejection;
use crate::state::PARTICIPANTS_MAX;
use crate::store::{StateStore, StoreError};
use kp_types::{KeyRole, ParticipantCode, PublicKey, Timestamp};
use std::sync::Arc;

impl<S: StateStore> Ctx<'_, S> {
    /// A key a member is to hold: a curve point of large order, nobody's key yet.
    fn fresh_key(&self, key: &PublicKey) -> Exec<()> {
        if key.is_weak() {
            return reject(Rejection::WeakKey { key: *key });
        }
        if self.ov.key_in_use(key)? {
            return reject(Rejection::KeyInUse { key: *key });
        }
        Ok(())
    }

    /// The keys of a member to be admitted: its government key may be its
    /// node key; every other key is fresh and its own.
    pub(super) fn check_new_member_keys(&self, p: &kp_types::Participant) -> Exec<()> {
        self.fresh_key(&p.node_key)?;
        if p.government_key != p.node_key {
            self.fresh_key(&p.government_key)?;
        }
        if let Some(recovery) = &p.recovery_key {
            if *recovery == p.node_key || *recovery == p.government_key {
                return reject(Rejection::KeyInUse { key: *recovery });
            }
            self.fresh_key(recovery)?;
        }
        Ok(())
    }

    pub(super) fn rotate_key(
        &mut self,
        signer: &PublicKey,
        participant: &ParticipantCode,
        role: KeyRole,
        new_key: &PublicKey,
    ) -> Exec<()> {
        let mut p = Arc::unwrap_or_clone(self.government_key_of(participant, signer)?);
        self.fresh_key(new_key)?;
        match role {
            KeyRole::Consensus => {
                self.ov.delete(keys::node_key(&p.participant.node_key));
                p.participant.node_key = *new_key;
                // A node key the government key installed counts toward
                // cancelling a recovery only once it has stood a full delay.
                p.node_key_rotated_at = Some(self.time);
            }
            KeyRole::Government => {
                self.ov
                    .delete(keys::government_key(&p.participant.government_key));
                p.participant.government_key = *new_key;
            }
            KeyRole::Recovery => {
                if let Some(pending) = &p.pending_key_change {
                    return reject(Rejection::RecoveryPending {
                        participant: participant.clone(),
                        effective_at: pending.effective_at,
                    });
                }
                if p.participant.recovery_key.is_some() {
                    // Replacing a registered recovery key waits, so that a
                    // stolen government key cannot lock the recovery out.
                    return self.schedule(p, KeyRole::Government, None, Some(*new_key));
                }
                p.participant.recovery_key = Some(*new_key);
            }
        }
        self.ov.index_member_keys(&p.participant);
        self.write_member(&p);
        self.emit(LedgerEvent::KeyRotated {
            participant: participant.clone(),
            role,
            key: *new_key,
        });
        Ok(())
    }

    /// Records `p`'s pending key change and its place in the schedule.
    fn schedule(
        &mut self,
        mut p: ParticipantRecord,
        begun_by: KeyRole,
        new_government_key: Option<PublicKey>,
        new_recovery_key: Option<PublicKey>,
    ) -> Exec<()> {
        let effective_at = self.time.plus_ms(self.params.recovery_delay_ms);
        let code = p.participant.code.clone();
        self.ov
            .put(keys::key_change_schedule(effective_at, &code), Vec::new());
        p.pending_key_change = Some(PendingKeyChange {
            begun_by,
            new_government_key,
            new_recovery_key,
            begun_height: self.height,
            effective_at,
            cancel_signed_by: Vec::new(),
        });
        self.write_member(&p);
        self.emit(LedgerEvent::KeyChangePending {
            participant: code,
            begun_by,
            effective_at,
        });
        Ok(())
    }

    pub(super) fn begin_recovery(
        &mut self,
        signer: &PublicKey,
        participant: &ParticipantCode,
        new_government_key: &PublicKey,
        new_recovery_key: Option<&PublicKey>,
    ) -> Exec<()> {
        let mut p = Arc::unwrap_or_clone(self.existing(participant)?);
        match p.participant.recovery_key {
            None => {
                return reject(Rejection::NoRecoveryKey {
                    participant: participant.clone(),
                })
            }
            Some(key) if key != *signer => {
                return reject(Rejection::SignerNotRecoveryKey {
                    participant: participant.clone(),
                })
            }
            Some(_) => {}
        }
        self.fresh_key(new_government_key)?;
        if let Some(recovery) = new_recovery_key {
            if recovery == new_government_key {
                return reject(Rejection::KeyInUse { key: *recovery });
            }
            self.fresh_key(recovery)?;
        }
        match &p.pending_key_change {
            Some(pending) if pending.begun_by == KeyRole::Recovery => {
                return reject(Rejection::RecoveryPending {
                    participant: participant.clone(),
                    effective_at: pending.effective_at,
                });
            }
            // A rotation of the recovery key begun by the government key
            // gives way: the recovery key outranks it.
            Some(pending) => {
                let due = pending.effective_at;
                self.ov.delete(keys::key_change_schedule(due, participant));
                p.pending_key_change = None;
                self.emit(LedgerEvent::KeyChangeCancelled {
                    participant: participant.clone(),
                    by: KeyRole::Recovery,
                });
            }
            None => {}
        }
        self.schedule(
            p,
            KeyRole::Recovery,
            Some(*new_government_key),
            new_recovery_key.copied(),
        )
    }

    /// `CancelRecovery`. The recovery key withdraws either kind of pending
    /// change at once; the government key cancels a recovery-key rotation at
    /// once. A recovery needs the government key and the node key: each
    /// signs a half, and the second half cancels it. A key that is both (a
    /// member whose government key is still its node key) signs both halves.
    pub(super) fn cancel_recovery(
        &mut self,
        signer: &PublicKey,
        participant: &ParticipantCode,
    ) -> Exec<()> {
        let mut p = Arc::unwrap_or_clone(self.existing(participant)?);
        let is_recovery = p.participant.recovery_key == Some(*signer);
        let is_government = p.participant.government_key == *signer;
        let is_node = p.participant.node_key == *signer;
        if !(is_recovery || is_government || is_node) {
            return reject(Rejection::SignerNotGovernmentKey {
                participant: participant.clone(),
            });
        }
        // A change whose time has come is no longer pending, even if this
        // block's housekeeping has not applied it yet (admission checks run
        // without housekeeping and must agree with execution).
        let Some(mut pending) = p
            .pending_key_change
            .take()
            .filter(|pending| pending.effective_at > self.time)
        else {
            return reject(Rejection::NoPendingRecovery {
                participant: participant.clone(),
            });
        };
        let by = if is_recovery {
            KeyRole::Recovery
        } else if pending.begun_by != KeyRole::Recovery {
            // A rotation of the recovery key: the government key began it
            // and may withdraw it; the node key has no say.
            if !is_government {
                return reject(Rejection::SignerNotGovernmentKey {
                    participant: participant.clone(),
                });
            }
            KeyRole::Government
        } else {
            let halves = self.cancel_halves(&p, &pending, is_government, is_node)?;
            let fresh: Vec<KeyRole> = halves
                .iter()
                .copied()
                .filter(|role| !pending.cancel_signed_by.contains(role))
                .collect();
            let Some(&first) = fresh.first() else {
                let role = halves.first().copied().unwrap_or(KeyRole::Government);
                return reject(Rejection::CancelAlreadySigned {
                    participant: participant.clone(),
                    role,
                    awaiting: other_half(role),
                });
            };
            pending.cancel_signed_by.extend(fresh.iter().copied());
            pending.cancel_signed_by.sort();
            pending.cancel_signed_by.dedup();
            if pending.cancel_signed_by.len() < 2 {
                p.pending_key_change = Some(pending);
                self.write_member(&p);
                self.emit(LedgerEvent::KeyChangeCancelSigned {
                    participant: participant.clone(),
                    by: first,
                    awaiting: other_half(first),
                });
                return Ok(());
            }
            KeyRole::Government
        };
        self.ov
            .delete(keys::key_change_schedule(pending.effective_at, participant));
        self.write_member(&p);
        self.emit(LedgerEvent::KeyChangeCancelled {
            participant: participant.clone(),
            by,
        });
        Ok(())
    }

    /// The halves of a recovery's cancellation this signer holds: the
    /// government half if it is the government key, the node half if it is
    /// the node key and that key stood a full recovery delay before the
    /// recovery began (or was never rotated by the government key).
    fn cancel_halves(
        &self,
        p: &ParticipantRecord,
        pending: &PendingKeyChange,
        is_government: bool,
        is_node: bool,
    ) -> Exec<Vec<KeyRole>> {
        let mut halves = Vec::with_capacity(2);
        if is_node {
            let begun_at = Timestamp(
                pending
                    .effective_at
                    .0
                    .saturating_sub(self.params.recovery_delay_ms),
            );
            match p.node_key_rotated_at {
                Some(rotated_at)
                    if rotated_at.plus_ms(self.params.recovery_delay_ms) > begun_at =>
                {
                    // A node key the government key installed lately might
                    // be a thief's: it does not count, alone or as a half
                    // of a key that is both.
                    return reject(Rejection::NodeKeyTooRecent {
                        participant: p.participant.code.clone(),
                        rotated_at,
                    });
                }
                _ => halves.push(KeyRole::Consensus),
            }
        }
        if is_government {
            halves.push(KeyRole::Government);
        }
        Ok(halves)
    }

    /// Housekeeping: applies every pending key change whose time has come.
    /// The schedule holds one entry per member at most, so this takes all
    /// that are due (bounded by the member cap, not the housekeeping limit).
    pub(super) fn complete_key_changes(&mut self) -> Result<(), StoreError> {
        let prefix = keys::prefix(keys::table::KEY_CHANGE_SCHEDULE);
        let bound = [
            prefix.as_slice(),
            &self.time.0.saturating_add(1).to_be_bytes(),
        ]
        .concat();
        for (k, _) in self
            .ov
            .scan_while(&prefix, PARTICIPANTS_MAX, |k| k < bound.as_slice())?
        {
            let (effective_at, code) = schedule_entry(&k, prefix.len())?;
            self.ov.delete(k.clone());
            let Some(mut p) = self.ov.participant(&code)?.map(Arc::unwrap_or_clone) else {
                continue;
            };
            let Some(pending) = p.pending_key_change.take() else {
                continue;
            };
            if pending.effective_at != effective_at {
                continue;
            }
            self.apply_key_change(&mut p, &pending)?;
        }
        Ok(())
    }

    fn apply_key_change(
        &mut self,
        p: &mut ParticipantRecord,
        pending: &PendingKeyChange,
    ) -> Result<(), StoreError> {
        let code = p.participant.code.clone();
        let new_keys = pending
            .new_government_key
            .iter()
            .chain(pending.new_recovery_key.iter());
        for key in new_keys {
            if self.ov.key_in_use(key)? {
                // Registered to someone meanwhile: nothing changes but the
                // pending change is gone (the record is written without it).
                self.write_member(p);
                self.emit(LedgerEvent::KeyChangeFailed {
                    participant: code,
                    key: *key,
                });
                return Ok(());
            }
        }
        self.emit(LedgerEvent::KeyChangeCompleted {
            participant: code.clone(),
            begun_by: pending.begun_by,
        });
        if let Some(key) = pending.new_government_key {
            self.ov
                .delete(keys::government_key(&p.participant.government_key));
            p.participant.government_key = key;
            self.emit(LedgerEvent::KeyRotated {
                participant: code.clone(),
                role: KeyRole::Government,
                key,
            });
        }
        if let Some(key) = pending.new_recovery_key {
            if let Some(old) = p.participant.recovery_key {
                self.ov.delete(keys::recovery_key(&old));
            }
            p.participant.recovery_key = Some(key);
            self.emit(LedgerEvent::KeyRotated {
                participant: code,
                role: KeyRole::Recovery,
                key,
            });
        }
        self.ov.index_member_keys(&p.participant);
        self.write_member(p);
        Ok(())
    }
}

/// The other half of a recovery's cancellation.
fn other_half(role: KeyRole) -> KeyRole {
    match role {
        KeyRole::Consensus => KeyRole::Government,
        _ => KeyRole::Consensus,
    }
}

/// The time and member of a key-change schedule entry.
fn schedule_entry(
    key: &[u8],
    prefix_len: usize,
) -> Result<(Timestamp, ParticipantCode), StoreError> {
    let rest = key.get(prefix_len..).unwrap_or_default();
    let time = rest
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes);
    let code = rest
        .get(8..)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|t| ParticipantCode::new(t).ok());
    match (time, code) {
        (Some(time), Some(code)) => Ok((Timestamp(time), code)),
        _ => Err(StoreError::Corrupt {
            key_hex: key.iter().map(|b| format!("{b:02x}")).collect(),
            detail: "key-change schedule key".to_string(),
        }),
    }
}
