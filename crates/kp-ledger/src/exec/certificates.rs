//! Certificates: issue, import confirmation, void and monitor approval, under sanctions.

use super::{
    count, reject, scope_name, text, Ctx, Exec, LINES_MAX, ORIGINS_MAX, REASON_BYTES_MAX,
    ZONE_BYTES_MAX,
};
use crate::keys;
use crate::records::{
    Approval, CertificateEventKind, CertificateHistoryEntry, CertificateRecord, CertificateStatus,
    Discrepancy, LedgerEvent, ParticipantRecord, Receipt,
};
use crate::rejection::Rejection;
use crate::store::StateStore;
use kp_types::{
    Certificate, CertificateApproval, CertificateNumber, ImportConfirmation, Origin, OriginRule,
    ParticipantCode, PublicKey, SanctionScope, TxHash, VoidCertificate,
};
use std::sync::Arc;

impl<S: StateStore> Ctx<'_, S> {
    fn check_certificate_shape(&self, c: &Certificate) -> Exec<()> {
        if let kp_types::Parties::Plain(fields) = &c.parties {
            super::sealing::check_plain_fields(fields)?;
        }
        count("origin_zones", c.origin_zones.len(), ORIGINS_MAX)?;
        for z in &c.origin_zones {
            text("origin_zones", z, ZONE_BYTES_MAX)?;
        }
        if let Origin::Countries(list) = &c.origin {
            count("origin", list.len(), ORIGINS_MAX)?;
        }
        let block_date = self.date();
        if c.issued_on > block_date {
            return reject(Rejection::DateInFuture {
                field: "issued_on".into(),
                date: c.issued_on,
                block_date,
            });
        }
        if c.expires_on <= c.issued_on {
            return reject(Rejection::ExpiryNotAfterIssue {
                issued_on: c.issued_on,
                expires_on: c.expires_on,
            });
        }
        let days = c.expires_on.days_since(c.issued_on);
        if days > i64::from(self.params.certificate_validity_days_max) {
            return reject(Rejection::ValidityTooLong {
                days,
                max: self.params.certificate_validity_days_max,
            });
        }
        if c.lines.is_empty() {
            return reject(Rejection::NoLines);
        }
        count("lines", c.lines.len(), LINES_MAX)?;
        for (i, line) in c.lines.iter().enumerate() {
            if !line.hs_code.is_rough() {
                return reject(Rejection::HsCodeNotRough {
                    line: i,
                    hs_code: line.hs_code.0.chars().take(32).collect(),
                });
            }
            for (field, zero) in [
                ("carats", line.carats.0 == 0),
                ("value_usd", line.value_usd.0 == 0),
                ("parcels", line.parcels == 0),
            ] {
                if zero {
                    return reject(Rejection::ZeroAmount {
                        line: i,
                        field: field.into(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Both sides may trade with each other, the number is new and belongs
    /// to the exporter, the destination to the importer, origins are known.
    fn check_parties(
        &self,
        c: &Certificate,
    ) -> Exec<(Arc<ParticipantRecord>, Arc<ParticipantRecord>)> {
        let exporter = self.trading_member(&c.exporting)?;
        let importer = self.trading_member(&c.importing)?;
        if c.exporting == c.importing {
            return reject(Rejection::SameParticipant {
                participant: c.exporting.clone(),
            });
        }
        if self.holds(&keys::certificate(&c.number))? {
            return reject(Rejection::NumberTaken {
                number: c.number.clone(),
            });
        }
        let prefix = c.number.territory_prefix();
        if !exporter.participant.territories.contains(&prefix) {
            return reject(Rejection::NumberPrefixNotExporter {
                prefix,
                participant: c.exporting.clone(),
            });
        }
        if !importer.participant.territories.contains(&c.destination) {
            return reject(Rejection::DestinationNotImporter {
                destination: c.destination.clone(),
                participant: c.importing.clone(),
            });
        }
        if let Origin::Countries(list) = &c.origin {
            if list.is_empty() {
                return reject(Rejection::NoOrigin);
            }
            for t in list {
                if self.ov.territory_owner(t)?.is_none() {
                    return reject(Rejection::UnknownOrigin {
                        territory: t.clone(),
                    });
                }
            }
        }
        Ok((exporter, importer))
    }

    pub(super) fn issue(&mut self, signer: &PublicKey, hash: TxHash, c: &Certificate) -> Exec<()> {
        self.check_certificate_shape(c)?;
        let (auth, _) = self.authority_signer(&c.issuing_authority, signer)?;
        Self::require_owner(&auth, &c.exporting)?;
        let (exporter, importer) = self.check_parties(c)?;
        self.check_sealing(c, &auth)?;
        let (vigilance, approval) = Self::sanction_checks(c, &exporter, &importer)?;
        let sanctioned_origin = self.origin_checks(c)?;
        let vigilance = vigilance || !sanctioned_origin.is_empty();
        let status = if approval.is_some() {
            CertificateStatus::AwaitingApproval
        } else {
            CertificateStatus::Issued
        };
        let counted = status == CertificateStatus::Issued;
        if counted {
            self.count_export(c, true)?;
        }
        let record = CertificateRecord {
            certificate: c.clone(),
            status,
            history: vec![CertificateHistoryEntry {
                event: CertificateEventKind::Issued,
                tx: Some(hash),
                height: self.height,
            }],
            receipt: None,
            discrepancy: None,
            enhanced_vigilance: vigilance,
            approval,
            void_reason: None,
            counted,
            issued_at: self.time,
            sanctioned_origin,
        };
        self.tx_issued.push((c.expires_on, c.number.clone()));
        // The territory the number carries, under its authority: one entry
        // per pair, written the first time only (a read costs far less than
        // a store insert, and blocks of one certificate are the usual ones).
        // A search aid no rule reads, so a check leaves it alone.
        if !self.checking {
            let territory = keys::authority_territory(
                c.issuing_authority.as_str(),
                &c.number.territory_prefix(),
            );
            if !self.holds(&territory)? {
                self.ov.put(territory, Vec::new());
            }
        }
        self.ov.put_certificate(&record);
        self.emit(LedgerEvent::CertificateStatusChanged {
            number: c.number.clone(),
            from: None,
            to: status,
            tx: Some(hash),
        });
        Ok(())
    }

    /// Sanctions on either side: forbidden trade is refused; partial exports
    /// need green origin zones and possibly a monitor's approval; enhanced
    /// vigilance flags the certificate.
    fn sanction_checks(
        c: &Certificate,
        exporter: &ParticipantRecord,
        importer: &ParticipantRecord,
    ) -> Exec<(bool, Option<Approval>)> {
        let mut vigilance = false;
        let mut approval = None;
        if let Some(s) = &exporter.sanction {
            match &s.scope {
                SanctionScope::FullSuspension | SanctionScope::ExportBan => {
                    return reject(Rejection::ExportForbidden {
                        participant: c.exporting.clone(),
                        scope: scope_name(&s.scope).into(),
                    })
                }
                SanctionScope::ImportBan => {}
                SanctionScope::PartialExports {
                    green_zones,
                    monitor,
                } => {
                    if c.origin_zones.is_empty() {
                        return reject(Rejection::OriginZonesMissing {
                            participant: c.exporting.clone(),
                        });
                    }
                    for zone in &c.origin_zones {
                        if !green_zones.contains(zone) {
                            return reject(Rejection::OriginZoneNotGreen {
                                participant: c.exporting.clone(),
                                zone: zone.clone(),
                            });
                        }
                    }
                    approval = monitor.as_ref().map(|m| Approval {
                        monitor: m.clone(),
                        approved_height: None,
                    });
                }
                SanctionScope::EnhancedVigilance => vigilance = true,
            }
        }
        if let Some(s) = &importer.sanction {
            match &s.scope {
                SanctionScope::FullSuspension | SanctionScope::ImportBan => {
                    return reject(Rejection::ImportForbidden {
                        participant: c.importing.clone(),
                        scope: scope_name(&s.scope).into(),
                    })
                }
                SanctionScope::EnhancedVigilance => vigilance = true,
                SanctionScope::ExportBan | SanctionScope::PartialExports { .. } => {}
            }
        }
        Ok((vigilance, approval))
    }

    /// The declared origin against the sanctions of the Participants it
    /// names (other than the exporter, whose own sanction
    /// [`Ctx::sanction_checks`] applies): an origin whose exports the
    /// sanction forbids (full suspension, export ban, or partial exports
    /// with an origin zone missing or not on the list) is refused or
    /// flagged as that sanction's resolution set. Returns the Participants
    /// flagged, in the order of the declared origins. A `mixed` origin
    /// names no country and is not checked.
    fn origin_checks(&self, c: &Certificate) -> Exec<Vec<ParticipantCode>> {
        let Origin::Countries(list) = &c.origin else {
            return Ok(Vec::new());
        };
        let mut seen: Vec<ParticipantCode> = Vec::new();
        let mut flagged = Vec::new();
        for origin in list {
            let Some(owner) = self.ov.territory_owner(origin)? else {
                continue;
            };
            if owner == c.exporting || seen.contains(&owner) {
                continue;
            }
            seen.push(owner.clone());
            let Some(sanction) = self
                .ov
                .participant(&owner)?
                .and_then(|r| r.sanction.clone())
            else {
                continue;
            };
            let zone = match &sanction.scope {
                SanctionScope::FullSuspension | SanctionScope::ExportBan => None,
                SanctionScope::PartialExports { green_zones, .. } => {
                    match c.origin_zones.iter().find(|z| !green_zones.contains(z)) {
                        Some(z) => Some(z.clone()),
                        None if c.origin_zones.is_empty() => None,
                        None => continue,
                    }
                }
                SanctionScope::ImportBan | SanctionScope::EnhancedVigilance => continue,
            };
            match sanction.origin {
                OriginRule::Refuse => {
                    return reject(Rejection::SanctionedOrigin {
                        origin: origin.clone(),
                        participant: owner,
                        scope: scope_name(&sanction.scope).into(),
                        zone,
                    })
                }
                OriginRule::Flag => flagged.push(owner),
            }
        }
        Ok(flagged)
    }

    fn certificate_record(&self, number: &CertificateNumber) -> Exec<CertificateRecord> {
        match self.ov.certificate(number)? {
            Some(r) => Ok(r),
            None => reject(Rejection::UnknownCertificate {
                number: number.clone(),
            }),
        }
    }

    fn wrong_status<T>(rec: &CertificateRecord) -> Exec<T> {
        reject(Rejection::WrongCertificateStatus {
            number: rec.certificate.number.clone(),
            status: rec.status,
        })
    }

    /// An open certificate past its expiry date (whether or not this block's
    /// housekeeping has marked it yet) takes no more acts: the same verdict
    /// at admission and in the block.
    fn refuse_if_expired(&self, rec: &CertificateRecord) -> Exec<()> {
        let block_date = self.date();
        let open_or_expired = matches!(
            rec.status,
            CertificateStatus::Issued
                | CertificateStatus::AwaitingApproval
                | CertificateStatus::Expired
        );
        if open_or_expired && block_date > rec.certificate.expires_on {
            return reject(Rejection::CertificateExpired {
                number: rec.certificate.number.clone(),
                expires_on: rec.certificate.expires_on,
                block_date,
            });
        }
        Ok(())
    }

    pub(super) fn transition(
        &mut self,
        rec: &mut CertificateRecord,
        to: CertificateStatus,
        event: CertificateEventKind,
        tx: Option<TxHash>,
    ) {
        let from = rec.status;
        rec.status = to;
        rec.history.push(CertificateHistoryEntry {
            event,
            tx,
            height: self.height,
        });
        if from != to {
            self.emit(LedgerEvent::CertificateStatusChanged {
                number: rec.certificate.number.clone(),
                from: Some(from),
                to,
                tx,
            });
        }
    }

    pub(super) fn confirm(
        &mut self,
        signer: &PublicKey,
        hash: TxHash,
        k: &ImportConfirmation,
    ) -> Exec<()> {
        let mut rec = self.certificate_record(&k.number)?;
        let (auth, _) = self.authority_signer(&k.authority, signer)?;
        Self::require_owner(&auth, &rec.certificate.importing)?;
        let block_date = self.date();
        let past_expiry = block_date > rec.certificate.expires_on;
        match (&rec.status, &rec.approval) {
            (CertificateStatus::Issued, _) => {}
            // Expired unconfirmed, having been valid for trade (not left
            // awaiting approval): a late confirmation may still come.
            (CertificateStatus::Expired, _) if rec.counted => {}
            // Never valid for trade, and past its expiry: the same verdict
            // whether or not housekeeping has marked it expired yet.
            (CertificateStatus::Expired | CertificateStatus::AwaitingApproval, _)
                if past_expiry =>
            {
                return reject(Rejection::CertificateExpired {
                    number: k.number.clone(),
                    expires_on: rec.certificate.expires_on,
                    block_date,
                })
            }
            (CertificateStatus::AwaitingApproval, Some(a)) => {
                return reject(Rejection::AwaitingApproval {
                    number: k.number.clone(),
                    monitor: a.monitor.clone(),
                })
            }
            _ => return Self::wrong_status(&rec),
        }
        let c = &rec.certificate;
        // After the expiry date only goods received on or before it may be
        // confirmed, and the confirmation is marked late. The same verdict
        // whether or not the start-of-block housekeeping has already marked
        // the certificate expired (admission checks skip housekeeping).
        let late = past_expiry;
        if late && k.received_on > c.expires_on {
            return reject(Rejection::CertificateExpired {
                number: k.number.clone(),
                expires_on: c.expires_on,
                block_date,
            });
        }
        if k.received_on > block_date {
            return reject(Rejection::DateInFuture {
                field: "received_on".into(),
                date: k.received_on,
                block_date,
            });
        }
        if k.received_on < c.issued_on {
            return reject(Rejection::ReceivedBeforeIssue {
                received_on: k.received_on,
                issued_on: c.issued_on,
            });
        }
        let (carats, parcels) = (c.total_carats(), c.total_parcels());
        let discrepancy = (carats != k.carats || parcels != k.parcels).then_some(Discrepancy {
            certified_carats: carats,
            received_carats: k.carats,
            certified_parcels: parcels,
            received_parcels: k.parcels,
        });
        let receipt = Receipt {
            authority: k.authority.clone(),
            carats: k.carats,
            parcels: k.parcels,
            received_on: k.received_on,
            late,
        };
        if rec.status == CertificateStatus::Expired {
            // It was counted as expired unconfirmed; it no longer is.
            self.uncount_expired(&rec.certificate)?;
        }
        self.count_import(&rec.certificate, &receipt, discrepancy.is_some())?;
        if let Some(d) = &discrepancy {
            self.emit(LedgerEvent::DiscrepancyRecorded {
                number: k.number.clone(),
                discrepancy: d.clone(),
            });
        }
        rec.receipt = Some(receipt);
        rec.discrepancy = discrepancy;
        self.transition(
            &mut rec,
            CertificateStatus::Confirmed,
            CertificateEventKind::Confirmed,
            Some(hash),
        );
        self.ov.put_certificate(&rec);
        Ok(())
    }

    pub(super) fn void(
        &mut self,
        signer: &PublicKey,
        hash: TxHash,
        v: &VoidCertificate,
    ) -> Exec<()> {
        let mut rec = self.certificate_record(&v.number)?;
        let (auth, _) = self.authority_signer(&v.authority, signer)?;
        Self::require_owner(&auth, &rec.certificate.exporting)?;
        text("reason", &v.reason, REASON_BYTES_MAX)?;
        self.refuse_if_expired(&rec)?;
        if !matches!(
            rec.status,
            CertificateStatus::Issued | CertificateStatus::AwaitingApproval
        ) {
            return Self::wrong_status(&rec);
        }
        if rec.counted {
            // A cancelled certificate never shipped: take it out of the figures.
            self.count_export(&rec.certificate, false)?;
            rec.counted = false;
        }
        rec.void_reason = Some(v.reason.clone());
        self.transition(
            &mut rec,
            CertificateStatus::Voided,
            CertificateEventKind::Voided,
            Some(hash),
        );
        self.ov.put_certificate(&rec);
        Ok(())
    }

    pub(super) fn approve(
        &mut self,
        signer: &PublicKey,
        hash: TxHash,
        a: &CertificateApproval,
    ) -> Exec<()> {
        let monitor = self.government_key_of(&a.monitor, signer)?;
        if !monitor.is_active() {
            return reject(Rejection::ParticipantExpelled {
                participant: a.monitor.clone(),
            });
        }
        let mut rec = self.certificate_record(&a.number)?;
        self.refuse_if_expired(&rec)?;
        if rec.status != CertificateStatus::AwaitingApproval {
            return Self::wrong_status(&rec);
        }
        let mut approval = match &rec.approval {
            Some(ap) if ap.monitor == a.monitor => ap.clone(),
            other => {
                return reject(Rejection::NotTheMonitor {
                    number: a.number.clone(),
                    expected: other.as_ref().map(|ap| ap.monitor.clone()),
                    found: a.monitor.clone(),
                })
            }
        };
        approval.approved_height = Some(self.height);
        rec.approval = Some(approval);
        rec.counted = true;
        self.count_export(&rec.certificate, true)?;
        self.emit(LedgerEvent::CertificateApproved {
            number: a.number.clone(),
            monitor: a.monitor.clone(),
        });
        self.transition(
            &mut rec,
            CertificateStatus::Issued,
            CertificateEventKind::Approved,
            Some(hash),
        );
        self.ov.put_certificate(&rec);
        Ok(())
    }
}
