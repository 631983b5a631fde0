//! Certificate alerts (sanctions, membership, seizures, enhanced vigilance), indexed once per height.

use super::*;

/// What certificate alerts need from the ledger, as of one height. Members'
/// status and sanctions, and the seizure list, change only when a block is
/// applied, so one index serves every lookup until the next block.
#[derive(Debug, Default)]
pub struct AlertIndex {
    /// Last applied height when the index was read (its contents are of that
    /// height or a later one).
    pub(super) height: u64,
    /// Members under a sanction or not active (the others raise no alert);
    /// at most the membership.
    pub(super) participants: BTreeMap<ParticipantCode, ParticipantAlerts>,
    /// The seizures of the ledger's (bounded) seizure list by the
    /// certificate they name, in the list's order.
    pub(super) seizures: BTreeMap<CertificateNumber, Vec<SeizureRecord>>,
    /// Authorities revoked as compromised, with the time since when.
    pub(super) compromised: BTreeMap<AuthorityId, Timestamp>,
}

/// What a member contributes to a certificate's alerts.
#[derive(Debug)]
pub(super) struct ParticipantAlerts {
    pub(super) status: MembershipStatus,
    pub(super) sanction: Option<SanctionRecord>,
}

impl AlertIndex {
    /// Reads the index from `ledger` for `height` (the last applied height
    /// read before).
    pub(super) fn read<S: StateStore>(
        ledger: &kp_ledger::Ledger<S>,
        height: u64,
    ) -> Result<AlertIndex, ApiError> {
        let mut index = AlertIndex {
            height,
            ..AlertIndex::default()
        };
        for record in ledger.participants().map_err(internal)? {
            for a in &record.authorities {
                if let Some(since) = a.compromised_since {
                    index.compromised.insert(a.authority.id.clone(), since);
                }
            }
            if record.sanction.is_some() || !record.is_active() {
                index.participants.insert(
                    record.participant.code.clone(),
                    ParticipantAlerts {
                        status: record.status,
                        sanction: record.sanction,
                    },
                );
            }
        }
        for seizure in ledger
            .seizures(kp_ledger::SEIZURES_LIST_MAX)
            .map_err(internal)?
        {
            if let Some(number) = seizure.report.certificate.clone() {
                index.seizures.entry(number).or_default().push(seizure);
            }
        }
        Ok(index)
    }

    /// The alerts of `record`: sanctions and membership of both sides,
    /// seizures naming it, enhanced vigilance, a compromised issuing
    /// authority, a sanctioned declared origin, a late confirmation.
    pub(super) fn alerts(&self, record: &CertificateRecord) -> Vec<CertificateAlert> {
        let mut alerts = Vec::new();
        for side in [&record.certificate.exporting, &record.certificate.importing] {
            let Some(member) = self.participants.get(side) else {
                continue;
            };
            if let Some(s) = &member.sanction {
                alerts.push(CertificateAlert::Sanction {
                    participant: side.clone(),
                    scope: s.scope.clone(),
                    since_height: s.since_height,
                    resolution: s.resolution,
                });
            }
            if member.status != MembershipStatus::Active {
                alerts.push(CertificateAlert::Membership {
                    participant: side.clone(),
                    status: member.status.clone(),
                });
            }
        }
        if let Some(seizures) = self.seizures.get(&record.certificate.number) {
            alerts.extend(seizures.iter().map(|seizure| CertificateAlert::Seizure {
                seizure: seizure.clone(),
            }));
        }
        if record.enhanced_vigilance {
            alerts.push(CertificateAlert::EnhancedVigilance);
        }
        let issuer = &record.certificate.issuing_authority;
        if let Some(since) = self.compromised.get(issuer) {
            if record.issued_at >= *since {
                alerts.push(CertificateAlert::CompromisedAuthority {
                    authority: issuer.clone(),
                    since: *since,
                    issued_at: record.issued_at,
                });
            }
        }
        if !record.sanctioned_origin.is_empty() {
            alerts.push(CertificateAlert::SanctionedOrigin {
                participants: record.sanctioned_origin.clone(),
            });
        }
        if let Some(receipt) = record.receipt.as_ref().filter(|r| r.late) {
            alerts.push(CertificateAlert::LateConfirmation {
                received_on: receipt.received_on,
                expires_on: record.certificate.expires_on,
            });
        }
        alerts
    }
}
