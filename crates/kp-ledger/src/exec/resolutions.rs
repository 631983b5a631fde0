//! Resolutions: proposal, signatures, objection, and the acts they adopt.

use super::{
    count, reject, text, Ctx, Exec, Fail, LIST_MAX, NAME_BYTES_MAX, REASON_BYTES_MAX,
    ZONE_BYTES_MAX,
};
use crate::keys;
use crate::records::{
    LedgerEvent, MembershipStatus, ParticipantRecord, ResolutionOutcome, ResolutionRecord,
    SanctionRecord,
};
use crate::rejection::Rejection;
use crate::state::{meta, PARTICIPANTS_MAX};
use crate::store::{StateStore, StoreError};
use kp_types::{
    Hash, OriginRule, Participant, ParticipantCode, ParticipantKind, PublicKey, ResolutionAction,
    ResolutionProposal, SanctionScope, TxHash,
};
use std::sync::Arc;

impl<S: StateStore> Ctx<'_, S> {
    pub(super) fn propose(
        &mut self,
        signer: &PublicKey,
        hash: TxHash,
        p: &ResolutionProposal,
    ) -> Exec<()> {
        let gov = self.government_signer(signer)?;
        text("title", &p.title, REASON_BYTES_MAX)?;
        let latest = self.time.plus_ms(self.params.resolution_deadline_max_ms);
        let deadline = match p.deadline {
            Some(d) if d <= self.time || d > latest => {
                return reject(Rejection::BadDeadline {
                    deadline: d,
                    block_time: self.time,
                    latest,
                })
            }
            Some(d) => d,
            None => self
                .time
                .plus_ms(self.params.resolution_deadline_default_ms),
        };
        self.check_action(&p.action)?;
        let code = gov.participant.code.clone();
        self.refuse_past_pending_limit(&code)?;
        self.emit(LedgerEvent::ResolutionProposed {
            id: hash,
            kind: p.action.kind().to_string(),
            proposer: code.clone(),
        });
        let record = ResolutionRecord {
            id: hash,
            proposal: p.clone(),
            proposer: code.clone(),
            proposed_height: self.height,
            deadline,
            // The proposer's proposal counts as its signature.
            signed_by: vec![code],
            missing: Vec::new(),
            outcome: ResolutionOutcome::Pending,
        };
        self.after_signature(record)
    }

    /// Refuses a proposal by `proposer` if it has the most pending
    /// resolutions allowed. Reads the pending index (bounded: at most this
    /// limit per government) and the records it names.
    fn refuse_past_pending_limit(&mut self, proposer: &ParticipantCode) -> Exec<()> {
        let max = self.params.pending_resolutions_per_proposer_max;
        let prefix = keys::prefix(keys::table::RESOLUTION_DEADLINE);
        let mut mine = 0u32;
        for (k, _) in self.ov.scan(&prefix, usize::MAX)? {
            let (_, id) = super::housekeeping::resolution_deadline_entry(&k, prefix.len())?;
            let pending_by_proposer = self.ov.resolution(&id)?.is_some_and(|rec| {
                rec.outcome == ResolutionOutcome::Pending && rec.proposer == *proposer
            });
            if pending_by_proposer {
                mine += 1;
                if mine >= max {
                    return reject(Rejection::TooManyPendingResolutions {
                        proposer: proposer.clone(),
                        max,
                    });
                }
            }
        }
        Ok(())
    }

    /// Every government Participant of the current membership in good
    /// standing must have signed; the block that brings the last signature
    /// adopts it.
    fn after_signature(&mut self, mut rec: ResolutionRecord) -> Exec<()> {
        rec.missing = self.missing_signers(&rec)?;
        let index = keys::resolution_deadline(rec.deadline, &rec.id);
        if rec.missing.is_empty() {
            self.ov.delete(index);
            match self.apply_action(&rec.proposal.action, rec.id) {
                Ok(()) => {
                    rec.outcome = ResolutionOutcome::Adopted {
                        height: self.height,
                    };
                    self.emit(LedgerEvent::ResolutionAdopted {
                        id: rec.id,
                        kind: rec.proposal.action.kind().to_string(),
                    });
                }
                Err(Fail::Store(e)) => return Err(Fail::Store(e)),
                Err(Fail::Rejected(reason)) => {
                    rec.outcome = ResolutionOutcome::Failed {
                        height: self.height,
                        reason: Box::new(reason.clone()),
                    };
                    self.emit(LedgerEvent::ResolutionFailed { id: rec.id, reason });
                }
            }
        } else {
            self.ov.put(index, Vec::new());
        }
        self.ov.put_resolution(&rec);
        Ok(())
    }

    /// Required signers (governments in good standing now) that have not signed.
    fn missing_signers(
        &mut self,
        rec: &ResolutionRecord,
    ) -> Result<Vec<ParticipantCode>, StoreError> {
        Ok(self
            .active_governments()?
            .into_iter()
            .map(|(code, _)| code)
            .filter(|code| !rec.signed_by.contains(code))
            .collect())
    }

    fn pending_resolution(&self, id: &Hash) -> Exec<ResolutionRecord> {
        let Some(rec) = self.ov.resolution(id)? else {
            return reject(Rejection::UnknownResolution { resolution: *id });
        };
        // A lapse is reported the same way before and after the housekeeping
        // of a block has recorded it.
        if let ResolutionOutcome::Lapsed { .. } = rec.outcome {
            return reject(Rejection::ResolutionLapsed {
                resolution: *id,
                deadline: rec.deadline,
            });
        }
        if rec.outcome != ResolutionOutcome::Pending {
            return reject(Rejection::ResolutionClosed {
                resolution: *id,
                outcome: rec.outcome,
            });
        }
        if self.time >= rec.deadline {
            return reject(Rejection::ResolutionLapsed {
                resolution: *id,
                deadline: rec.deadline,
            });
        }
        Ok(rec)
    }

    pub(super) fn sign_resolution(&mut self, signer: &PublicKey, id: &Hash) -> Exec<()> {
        let gov = self.government_signer(signer)?;
        let mut rec = self.pending_resolution(id)?;
        let code = gov.participant.code.clone();
        if rec.signed_by.contains(&code) {
            // An expulsion can remove the last missing signer after everyone
            // else signed; a repeated signature then completes it, so such a
            // resolution does not wait for its deadline.
            if self.missing_signers(&rec)?.is_empty() {
                return self.after_signature(rec);
            }
            return reject(Rejection::AlreadySigned {
                resolution: *id,
                participant: code,
            });
        }
        rec.signed_by.push(code);
        rec.signed_by.sort();
        self.after_signature(rec)
    }

    pub(super) fn object_resolution(
        &mut self,
        signer: &PublicKey,
        id: &Hash,
        reason: &str,
    ) -> Exec<()> {
        let gov = self.government_signer(signer)?;
        let mut rec = self.pending_resolution(id)?;
        let code = gov.participant.code.clone();
        if rec.signed_by.contains(&code) {
            return reject(Rejection::AlreadySigned {
                resolution: *id,
                participant: code,
            });
        }
        text("reason", reason, REASON_BYTES_MAX)?;
        self.ov
            .delete(keys::resolution_deadline(rec.deadline, &rec.id));
        rec.outcome = ResolutionOutcome::Rejected {
            height: self.height,
            by: code.clone(),
            reason: reason.to_string(),
        };
        self.ov.put_resolution(&rec);
        self.emit(LedgerEvent::ResolutionRejected { id: *id, by: code });
        Ok(())
    }

    fn check_new_member(&self, p: &Participant) -> Exec<()> {
        // Every scan of the member table reads at most this many entries.
        let members = self
            .ov
            .scan(&keys::prefix(keys::table::PARTICIPANT), PARTICIPANTS_MAX)?
            .len();
        if members >= PARTICIPANTS_MAX {
            return reject(Rejection::TooManyItems {
                field: "participants".into(),
                count: members + 1,
                max: PARTICIPANTS_MAX,
            });
        }
        if self.ov.participant(&p.code)?.is_some() {
            return reject(Rejection::ParticipantExists {
                participant: p.code.clone(),
            });
        }
        self.check_new_member_keys(p)?;
        text("name", &p.name, NAME_BYTES_MAX)?;
        count("territories", p.territories.len(), LIST_MAX)?;
        Ok(())
    }

    fn check_scope(&self, scope: &SanctionScope) -> Exec<()> {
        if let SanctionScope::PartialExports {
            green_zones,
            monitor,
        } = scope
        {
            if green_zones.is_empty() {
                return reject(Rejection::NoGreenZones);
            }
            count("green_zones", green_zones.len(), LIST_MAX)?;
            for z in green_zones {
                text("green_zones", z, ZONE_BYTES_MAX)?;
            }
            if let Some(m) = monitor {
                let r = self.existing(m)?;
                if !r.is_active() {
                    return reject(Rejection::ParticipantExpelled {
                        participant: m.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    fn wrong_kind<T>(r: &ParticipantRecord, expected: &str) -> Exec<T> {
        reject(Rejection::WrongKind {
            participant: r.participant.code.clone(),
            found: r.participant.kind,
            expected: expected.to_string(),
        })
    }

    /// An existing member of the kind `is_kind` accepts, in good standing.
    fn active_of_kind(
        &self,
        code: &ParticipantCode,
        is_kind: fn(ParticipantKind) -> bool,
        expected: &str,
    ) -> Exec<Arc<ParticipantRecord>> {
        let r = self.existing(code)?;
        if !is_kind(r.participant.kind) {
            return Self::wrong_kind(&r, expected);
        }
        if !r.is_active() {
            return reject(Rejection::ParticipantExpelled {
                participant: code.clone(),
            });
        }
        Ok(r)
    }

    fn check_admission(&self, p: &Participant, observer: bool) -> Exec<()> {
        let expected = if observer {
            "observer"
        } else {
            "government or trading entity"
        };
        if (p.kind == ParticipantKind::Observer) != observer {
            return reject(Rejection::WrongKind {
                participant: p.code.clone(),
                found: p.kind,
                expected: expected.into(),
            });
        }
        self.check_new_member(p)?;
        if observer {
            return count("territories", p.territories.len(), 0);
        }
        if p.territories.is_empty() {
            return reject(Rejection::NoTerritories {
                participant: p.code.clone(),
            });
        }
        for t in &p.territories {
            if let Some(owner) = self.ov.territory_owner(t)? {
                return reject(Rejection::TerritoryTaken {
                    territory: t.clone(),
                    owner,
                });
            }
        }
        Ok(())
    }

    /// Impose needs no sanction in force; amend and lift need one.
    fn check_sanction_change(
        &self,
        participant: &ParticipantCode,
        scope: Option<&SanctionScope>,
        imposing: bool,
    ) -> Exec<()> {
        let r = self.existing(participant)?;
        if imposing && !r.participant.kind.trades() {
            return Self::wrong_kind(&r, "government or trading entity");
        }
        match (imposing, r.sanction.is_some()) {
            (true, true) => {
                return reject(Rejection::SanctionInForce {
                    participant: participant.clone(),
                })
            }
            (false, false) => {
                return reject(Rejection::NoSanction {
                    participant: participant.clone(),
                })
            }
            _ => {}
        }
        match scope {
            Some(scope) => self.check_scope(scope),
            None => Ok(()),
        }
    }

    /// Whether the act applies to the current state (at proposal, and again
    /// at adoption since the state may have changed meanwhile).
    fn check_action(&self, action: &ResolutionAction) -> Exec<()> {
        use ResolutionAction as A;
        let trades: fn(ParticipantKind) -> bool = ParticipantKind::trades;
        match action {
            A::Admit { participant } => self.check_admission(participant, false),
            A::AddObserver { observer } => self.check_admission(observer, true),
            A::Expel { participant } => self
                .active_of_kind(participant, trades, "government or trading entity")
                .map(|_| ()),
            A::Readmit { participant } => {
                let r = self.existing(participant)?;
                if !matches!(r.status, MembershipStatus::Expelled { .. }) {
                    return reject(Rejection::NotExpelled {
                        participant: participant.clone(),
                    });
                }
                Ok(())
            }
            A::ImposeSanction {
                participant, scope, ..
            } => self.check_sanction_change(participant, Some(scope), true),
            A::AmendSanction {
                participant, scope, ..
            } => self.check_sanction_change(participant, Some(scope), false),
            A::LiftSanction { participant } => self.check_sanction_change(participant, None, false),
            A::RemoveObserver { observer } => self
                .active_of_kind(observer, |k| k == ParticipantKind::Observer, "observer")
                .map(|_| ()),
            A::ElectViceChair { participant } => self
                .active_of_kind(
                    participant,
                    |k| k == ParticipantKind::Government,
                    "government",
                )
                .map(|_| ()),
            A::AdministrativeDecision { title, .. } => text("title", title, REASON_BYTES_MAX),
        }
    }

    fn changed(&mut self, participant: &ParticipantCode, change: &str) {
        self.emit(LedgerEvent::ParticipantChanged {
            participant: participant.clone(),
            change: change.to_string(),
        });
    }

    fn add_member(&mut self, p: &Participant, change: &str) {
        self.ov.index_member_keys(p);
        for t in &p.territories {
            self.ov.put_value(keys::territory(t), &p.code);
        }
        self.write_member(&ParticipantRecord {
            participant: p.clone(),
            status: MembershipStatus::Active,
            sanction: None,
            authorities: Vec::new(),
            pending_key_change: None,
            node_key_rotated_at: None,
        });
        self.changed(&p.code, change);
    }

    fn set_member(
        &mut self,
        code: &ParticipantCode,
        change: &str,
        edit: impl FnOnce(&mut ParticipantRecord),
    ) -> Exec<()> {
        let mut r = Arc::unwrap_or_clone(self.existing(code)?);
        edit(&mut r);
        self.write_member(&r);
        self.changed(code, change);
        Ok(())
    }

    /// Performs an adopted act (after checking it still applies).
    fn apply_action(&mut self, action: &ResolutionAction, id: Hash) -> Exec<()> {
        use ResolutionAction as A;
        self.check_action(action)?;
        let height = self.height;
        let sanction = |scope: &SanctionScope, origin: OriginRule| SanctionRecord {
            scope: scope.clone(),
            resolution: id,
            since_height: height,
            origin,
        };
        match action {
            A::Admit { participant } => self.add_member(participant, "admitted"),
            A::AddObserver { observer } => self.add_member(observer, "observer-added"),
            A::Expel { participant } => self.set_member(participant, "expelled", |r| {
                r.status = MembershipStatus::Expelled { height }
            })?,
            A::Readmit { participant } => self.set_member(participant, "readmitted", |r| {
                r.status = MembershipStatus::Active
            })?,
            A::RemoveObserver { observer } => {
                self.set_member(observer, "observer-removed", |r| {
                    r.status = MembershipStatus::Removed { height }
                })?
            }
            A::ImposeSanction {
                participant,
                scope,
                origin,
            } => {
                let s = sanction(scope, *origin);
                self.set_member(participant, "sanction-imposed", |r| r.sanction = Some(s))?
            }
            A::AmendSanction {
                participant,
                scope,
                origin,
            } => {
                let s = sanction(scope, *origin);
                self.set_member(participant, "sanction-amended", |r| r.sanction = Some(s))?
            }
            A::LiftSanction { participant } => {
                self.set_member(participant, "sanction-lifted", |r| r.sanction = None)?
            }
            A::ElectViceChair { participant } => {
                self.ov
                    .meta_put(meta::VICE_CHAIR, &Some(participant.clone()));
                self.emit(LedgerEvent::ViceChairElected {
                    vice_chair: participant.clone(),
                });
            }
            A::AdministrativeDecision { .. } => {}
        }
        Ok(())
    }
}
