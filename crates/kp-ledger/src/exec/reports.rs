//! Reports kept as filed: seizures, half-yearly production, equivocation evidence.

use super::{reject, text, Ctx, Exec, ZONE_BYTES_MAX};
use crate::keys;
use crate::records::{
    CertificateEventKind, CertificateStatus, EvidenceRecord, LedgerEvent, SeizureIndex,
    SeizureRecord, SEIZURE_INDEX_MAX,
};
use crate::rejection::Rejection;
use crate::state::meta;
use crate::store::StateStore;
use kp_types::{Date, Evidence, Period, ProductionReport, PublicKey, SeizureReport, TxHash};

impl<S: StateStore> Ctx<'_, S> {
    pub(super) fn seizure(
        &mut self,
        signer: &PublicKey,
        hash: TxHash,
        r: &SeizureReport,
    ) -> Exec<()> {
        let (_, owner) = self.authority_signer(&r.authority, signer)?;
        if !owner.participant.territories.contains(&r.territory) {
            return reject(Rejection::TerritoryNotOfParticipant {
                territory: r.territory.clone(),
                participant: owner.participant.code.clone(),
            });
        }
        text("location", &r.location, ZONE_BYTES_MAX)?;
        if r.carats.0 == 0 {
            return reject(Rejection::ZeroAmount {
                line: 0,
                field: "carats".into(),
            });
        }
        let block_date = self.date();
        if r.seized_on > block_date {
            return reject(Rejection::DateInFuture {
                field: "seized_on".into(),
                date: r.seized_on,
                block_date,
            });
        }
        let mut known = false;
        if let Some(number) = &r.certificate {
            // A forged certificate may name a number the ledger never saw:
            // the report is kept either way.
            if let Some(mut rec) = self.ov.certificate(number)? {
                known = true;
                if matches!(
                    rec.status,
                    CertificateStatus::Issued | CertificateStatus::AwaitingApproval
                ) {
                    self.transition(
                        &mut rec,
                        CertificateStatus::Seized,
                        CertificateEventKind::Seized,
                        Some(hash),
                    );
                    self.ov.put_certificate(&rec);
                }
            }
        }
        let sequence = self
            .ov
            .meta_get::<u64>(meta::SEIZURE_SEQUENCE)?
            .unwrap_or(0)
            .saturating_add(1);
        self.ov.meta_put(meta::SEIZURE_SEQUENCE, &sequence);
        let record = SeizureRecord {
            sequence,
            report: r.clone(),
            reporter: owner.participant.code.clone(),
            tx: hash,
            height: self.height,
            certificate_known: known,
        };
        self.ov.put_value(keys::seizure(sequence), &record);
        if let Some(number) = &r.certificate {
            let key = keys::seizures_by_certificate(number);
            let mut index: SeizureIndex = self.ov.get_value(&key)?.unwrap_or_default();
            index.count = index.count.saturating_add(1);
            if index.sequences.len() < SEIZURE_INDEX_MAX {
                index.sequences.push(sequence);
            }
            self.ov.put_value(key, &index);
        }
        self.emit(LedgerEvent::SeizureReported {
            sequence,
            reporter: owner.participant.code.clone(),
            territory: r.territory.clone(),
            certificate: r.certificate.clone(),
            reason: r.reason,
            carats: r.carats,
        });
        Ok(())
    }

    pub(super) fn production(&mut self, signer: &PublicKey, p: &ProductionReport) -> Exec<()> {
        let (_, owner) = self.authority_signer(&p.authority, signer)?;
        let (year, half) = match p.period {
            Period::Half(y, h) if p.period.is_valid() => (y, h),
            other => return reject(Rejection::NotAHalfYear { period: other }),
        };
        let block_date = self.date();
        let start = Date::from_ymd(year, u32::from(half) * 6 - 5, 1);
        if start.is_none_or(|s| s > block_date) {
            return reject(Rejection::PeriodInFuture {
                period: p.period,
                block_date,
            });
        }
        let code = owner.participant.code.clone();
        let key = keys::production(&code, p.period);
        if self.ov.contains(&key)? {
            return reject(Rejection::ProductionAlreadyReported {
                participant: code,
                period: p.period,
            });
        }
        self.ov.put_value(key, p);
        self.emit(LedgerEvent::ProductionReported {
            participant: code,
            period: p.period,
        });
        Ok(())
    }

    pub(super) fn evidence(&mut self, signer: &PublicKey, e: &Evidence) -> Exec<()> {
        let validators = self.active_governments()?;
        if !validators.iter().any(|(_, k)| k == signer) {
            return reject(Rejection::NotAValidator { signer: *signer });
        }
        if let Err(err) = e.verify(self.chain_id) {
            return reject(Rejection::InvalidEvidence {
                reason: err.to_string(),
            });
        }
        let id = e.id();
        if self.ov.contains(&keys::evidence(&id))? {
            return reject(Rejection::DuplicateEvidence { id });
        }
        let offender = e.offender();
        let record = EvidenceRecord {
            id,
            offender,
            offender_code: self.ov.participant_by_node_key(&offender)?,
            evidence_height: e.height(),
            recorded_height: self.height,
        };
        self.ov.put_value(keys::evidence(&id), &record);
        self.emit(LedgerEvent::EvidenceRecorded { id, offender });
        Ok(())
    }
}
