//! The answers of the node's HTTP API (`/v1`), typed: the node builds and
//! serializes these, the client decodes them, so that a field renamed on one
//! side fails to compile (or to decode, naming the endpoint) instead of
//! silently reading as missing.
//!
//! Their JSON is the wire format the OpenAPI document (`/v1/openapi.json`)
//! and `docs/rpc.md` describe. Answers that are a ledger record as it is
//! (`GET /v1/participants/{code}`, `GET /v1/resolutions/{id}`) are served as
//! that record ([`ParticipantRecord`], [`ResolutionRecord`]).

use crate::records::{
    Anomaly, CertificateRecord, MembershipStatus, ParticipantRecord, ResolutionRecord,
    SeizureRecord, TradeStatistics, TxReceipt,
};
use kp_types::{
    AuthorityId, CertificateNumber, Date, Hash, ParticipantCode, Period, SanctionScope, Timestamp,
    TxHash,
};
use serde::{Deserialize, Serialize};

/// `GET /v1/certificates/{number}`: the record's fields (flattened, as if
/// the record itself) and the alerts that touch it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct CertificateAnswer {
    /// The certificate's record.
    #[serde(flatten)]
    pub record: CertificateRecord,
    /// Sanctions and membership of both sides, seizures naming it, enhanced
    /// vigilance; empty when nothing touches it.
    pub alerts: Vec<CertificateAlert>,
}

/// One alert of a [`CertificateAnswer`], as JSON `{"kind": ..., ...}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum CertificateAlert {
    /// One side of the certificate is under a sanction.
    Sanction {
        /// The sanctioned side.
        participant: ParticipantCode,
        /// What the sanction covers.
        scope: SanctionScope,
        /// Height from which it applies.
        since_height: u64,
        /// The resolution that imposed it.
        resolution: Hash,
    },
    /// One side of the certificate is not an active member.
    Membership {
        /// The side.
        participant: ParticipantCode,
        /// Its membership.
        status: MembershipStatus,
    },
    /// A seizure report names the certificate.
    Seizure {
        /// The report.
        seizure: SeizureRecord,
    },
    /// The certificate was issued under enhanced vigilance.
    EnhancedVigilance,
    /// Its issuing authority was revoked as compromised since a time at or
    /// before the block that issued it: the certificate may be forged.
    CompromisedAuthority {
        /// The issuing authority.
        authority: AuthorityId,
        /// Compromised since.
        since: Timestamp,
        /// Time of the block that issued the certificate.
        issued_at: Timestamp,
    },
    /// Its declared origin includes sanctioned Participants whose sanctions
    /// ask importers for enhanced vigilance on such certificates.
    SanctionedOrigin {
        /// The sanctioned Participants.
        participants: Vec<ParticipantCode>,
    },
    /// The import was confirmed after the certificate's expiry, for goods
    /// received on or before it.
    LateConfirmation {
        /// Date of receipt.
        received_on: Date,
        /// The certificate's expiry date.
        expires_on: Date,
    },
}

/// `GET /v1/certificates`: one page of a bounded scan of the certificate
/// table in number order.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct CertificatePage {
    /// The records that match the filter (no alerts).
    pub items: Vec<CertificateRecord>,
    /// The cursor to continue after (`after=`); `null` at the end of the
    /// table.
    pub next: Option<CertificateNumber>,
    /// How many records the scan looked at.
    pub scanned: u64,
}

/// `GET /v1/resolutions`: one page of resolutions in id order.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ResolutionPage {
    /// The resolutions (pending ones with `missing` as of now).
    pub items: Vec<ResolutionRecord>,
    /// The cursor to continue after (`after=`); `null` at the end.
    pub next: Option<Hash>,
}

/// `GET /v1/participants`: every member.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ParticipantList {
    /// The members with their authorities, in code order.
    pub items: Vec<ParticipantRecord>,
}

/// `GET /v1/seizures`: seizure alerts, newest first.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SeizureList {
    /// The reports.
    pub items: Vec<SeizureRecord>,
}

/// `GET /v1/statistics/{code}`: one member's trade statistics for a period.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct StatisticsAnswer {
    /// The member.
    pub participant: ParticipantCode,
    /// The period.
    pub period: Period,
    /// Its figures.
    pub statistics: TradeStatistics,
}

/// `GET /v1/anomalies`: the anomalies of a period.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct AnomaliesAnswer {
    /// The period.
    pub period: Period,
    /// Each anomaly with the figures behind it.
    pub items: Vec<Anomaly>,
}

/// `GET /v1/status`: where the node is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct NodeStatus {
    /// The chain.
    pub chain_id: String,
    /// This node's Participant code.
    pub node: String,
    /// `validator` or `observer` (or `member`: a listed non-voting node).
    pub role: String,
    /// Last applied height.
    pub height: u64,
    /// Hash of the last applied block.
    pub block_hash: Hash,
    /// State root after the last applied block.
    pub state_root: Hash,
    /// Time of the last applied block (RFC 3339).
    pub block_time: String,
    /// Connected peers.
    pub peers: usize,
    /// Validators of the next height.
    pub validators: usize,
    /// Transactions pending in this node's pool.
    pub mempool: usize,
    /// Current consensus round.
    pub round: u32,
    /// Time of the last applied block, milliseconds since 1970.
    #[serde(default)]
    pub block_time_ms: u64,
    /// Whether the node is replaying decided blocks it fetched from peers
    /// and is still far behind the network (see `/v1/health`).
    #[serde(default)]
    pub catching_up: bool,
    /// Each validator of the next height with the last height whose commit
    /// certificate this node applied carries its precommit (`null`: none
    /// since this node started). The dashboard's "last seen" of validators.
    #[serde(default)]
    pub validators_seen: Vec<ValidatorSeen>,
}

/// A validator and the last height it was seen signing a commit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ValidatorSeen {
    /// Its Participant code.
    pub participant: String,
    /// The last height whose commit certificate holds its signature, as
    /// this node applied it since it started.
    pub last_signed_height: Option<u64>,
}

/// Every API error's body (HTTP 4xx and 5xx):
/// `{"error": {"code": ..., "message": ...}}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ErrorAnswer {
    /// The error.
    pub error: ErrorDetail,
}

/// The error of an [`ErrorAnswer`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ErrorDetail {
    /// Stable machine-readable code (kebab-case), e.g. `not-found`.
    pub code: String,
    /// What went wrong and what to do.
    pub message: String,
}

/// `POST /v1/txs`: the accepted transaction's hash and, when the client
/// asked to wait, where it was decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Submitted {
    /// The transaction's hash.
    pub hash: TxHash,
    /// Where it was decided, when the client asked to wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided: Option<Decided>,
}

/// Where a transaction was decided: its block, its place in the block and
/// what the ledger did with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Decided {
    /// The block's height.
    pub height: u64,
    /// Its position in the block's transactions, from 0.
    pub position: u64,
    /// Executed, or refused with the reason.
    pub receipt: TxReceipt,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{
        Approval, AuthorityRecord, CertificateEventKind, CertificateHistoryEntry,
        CertificateStatus, Discrepancy, PendingKeyChange, Receipt, ResolutionOutcome,
        SanctionRecord, Totals,
    };
    use kp_types::{
        Authority, Carats, Certificate, Date, HsCode, KeyRole, Participant, ParticipantKind,
        PublicKey, ResolutionAction, ResolutionProposal, SeizureReason, SeizureReport, Timestamp,
        UsdCents,
    };
    use serde::de::DeserializeOwned;
    use std::fmt::Debug;

    const CERTIFICATE: &str = r#"{
        "number": "BW2026000001", "exporting": "BW", "issuing_authority": "BW-KPA",
        "importing": "EU", "destination": "BE",
        "parties": {"plain": {
            "exporter": {"name": "Debswana", "address": "Gaborone"},
            "importer": {"name": "Antwerp Rough Traders BV", "address": "Antwerp"}}},
        "origin": {"countries": ["BW"]}, "origin_zones": [],
        "lines": [{"hs_code": "7102.31", "carats": "1250.50",
                   "value_usd": "2500000.00", "parcels": 3}],
        "issued_on": "2026-12-05", "expires_on": "2027-01-04"
    }"#;

    /// `value` → JSON → back is `value`, and its JSON reads the same again.
    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
        let json = serde_json::to_value(value).unwrap();
        let back: T = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(&back, value);
        assert_eq!(serde_json::to_value(&back).unwrap(), json);
        let text = serde_json::to_string(value).unwrap();
        assert_eq!(&serde_json::from_str::<T>(&text).unwrap(), value);
    }

    fn code(text: &str) -> ParticipantCode {
        text.parse().unwrap()
    }

    fn certificate() -> Certificate {
        serde_json::from_str(CERTIFICATE).unwrap()
    }

    fn record() -> CertificateRecord {
        CertificateRecord {
            certificate: certificate(),
            status: CertificateStatus::Confirmed,
            history: vec![
                CertificateHistoryEntry {
                    event: CertificateEventKind::Issued,
                    tx: Some(Hash([1; 32])),
                    height: 3,
                },
                CertificateHistoryEntry {
                    event: CertificateEventKind::Confirmed,
                    tx: None,
                    height: 9,
                },
            ],
            receipt: Some(Receipt {
                authority: "EU-BE".parse().unwrap(),
                carats: Carats(125_000),
                parcels: 2,
                received_on: Date(20_000),
                late: true,
            }),
            discrepancy: Some(Discrepancy {
                certified_carats: Carats(125_050),
                received_carats: Carats(125_000),
                certified_parcels: 3,
                received_parcels: 2,
            }),
            enhanced_vigilance: true,
            approval: Some(Approval {
                monitor: code("EU"),
                approved_height: None,
            }),
            void_reason: None,
            counted: true,
            issued_at: Timestamp(1_800_000_000_000),
            sanctioned_origin: vec![code("CF")],
        }
    }

    fn seizure() -> SeizureRecord {
        SeizureRecord {
            sequence: 4,
            report: SeizureReport {
                authority: "EU-DE".parse().unwrap(),
                territory: "DE".parse().unwrap(),
                location: "Frankfurt".into(),
                carats: Carats(10_000),
                value_usd: Some(UsdCents(99)),
                reason: SeizureReason::ContentsMismatch,
                certificate: Some("BW2026000001".parse().unwrap()),
                seized_on: Date(20_001),
            },
            reporter: code("EU"),
            tx: Hash([2; 32]),
            height: 12,
            certificate_known: true,
        }
    }

    fn resolution() -> ResolutionRecord {
        ResolutionRecord {
            id: Hash([3; 32]),
            proposal: ResolutionProposal {
                title: "Expel CF".into(),
                action: ResolutionAction::Expel {
                    participant: code("CF"),
                },
                deadline: None,
            },
            proposer: code("EU"),
            proposed_height: 5,
            deadline: Timestamp(1_800_000_000_000),
            signed_by: vec![code("EU")],
            missing: vec![code("IN"), code("BW")],
            outcome: ResolutionOutcome::Rejected {
                height: 7,
                by: code("IN"),
                reason: "no".into(),
            },
        }
    }

    #[test]
    fn a_certificate_answer_round_trips_with_every_alert_kind() {
        round_trip(&CertificateAnswer {
            record: record(),
            alerts: vec![
                CertificateAlert::Sanction {
                    participant: code("BW"),
                    scope: SanctionScope::PartialExports {
                        green_zones: vec!["Zone-A".into()],
                        monitor: Some(code("EU")),
                    },
                    since_height: 8,
                    resolution: Hash([5; 32]),
                },
                CertificateAlert::Membership {
                    participant: code("EU"),
                    status: MembershipStatus::Active,
                },
                CertificateAlert::Seizure { seizure: seizure() },
                CertificateAlert::EnhancedVigilance,
                CertificateAlert::CompromisedAuthority {
                    authority: "BW-KPA".parse().unwrap(),
                    since: Timestamp(1_790_000_000_000),
                    issued_at: Timestamp(1_800_000_000_000),
                },
                CertificateAlert::SanctionedOrigin {
                    participants: vec![code("CF")],
                },
                CertificateAlert::LateConfirmation {
                    received_on: Date(20_000),
                    expires_on: Date(19_999),
                },
            ],
        });
    }

    #[test]
    fn a_certificate_answer_is_the_record_flattened_with_its_alerts() {
        let answer = CertificateAnswer {
            record: record(),
            alerts: vec![CertificateAlert::EnhancedVigilance],
        };
        let json = serde_json::to_value(&answer).unwrap();
        let mut expected = serde_json::to_value(record()).unwrap();
        expected.as_object_mut().unwrap().insert(
            "alerts".into(),
            serde_json::json!([{ "kind": "enhanced-vigilance" }]),
        );
        assert_eq!(json, expected);
    }

    #[test]
    fn a_certificate_answer_without_alerts_is_malformed() {
        let json = serde_json::to_value(record()).unwrap();
        let error = serde_json::from_value::<CertificateAnswer>(json).unwrap_err();
        assert!(error.to_string().contains("alerts"), "{error}");
    }

    #[test]
    fn a_certificate_page_round_trips_with_and_without_a_cursor() {
        round_trip(&CertificatePage {
            items: vec![record()],
            next: Some("BW2026000001".parse().unwrap()),
            scanned: 17,
        });
        let last = CertificatePage {
            items: vec![],
            next: None,
            scanned: 0,
        };
        round_trip(&last);
        assert_eq!(
            serde_json::to_value(&last).unwrap(),
            serde_json::json!({ "items": [], "next": null, "scanned": 0 })
        );
    }

    #[test]
    fn a_resolution_page_round_trips() {
        round_trip(&ResolutionPage {
            items: vec![resolution()],
            next: Some(Hash([3; 32])),
        });
        round_trip(&ResolutionPage {
            items: vec![],
            next: None,
        });
    }

    #[test]
    fn a_participant_list_round_trips() {
        let participant = Participant {
            code: code("BW"),
            kind: ParticipantKind::Government,
            name: "Botswana".into(),
            territories: vec!["BW".parse().unwrap()],
            node_key: PublicKey([7; 32]),
            government_key: PublicKey([6; 32]),
            recovery_key: Some(PublicKey([5; 32])),
        };
        round_trip(&ParticipantList {
            items: vec![ParticipantRecord {
                participant,
                status: MembershipStatus::Expelled { height: 3 },
                sanction: Some(SanctionRecord {
                    scope: SanctionScope::ExportBan,
                    resolution: Hash([8; 32]),
                    since_height: 2,
                    origin: kp_types::OriginRule::Refuse,
                }),
                authorities: vec![AuthorityRecord {
                    authority: Authority {
                        id: "BW-KPA".parse().unwrap(),
                        participant: code("BW"),
                        name: "Botswana KP Authority".into(),
                        key: PublicKey([9; 32]),
                        encryption_key: None,
                    },
                    registered_height: 1,
                    revoked_height: Some(4),
                    compromised_since: Some(Timestamp(1_790_000_000_000)),
                    previous_keys: vec![crate::PreviousAuthorityKey {
                        key: PublicKey([10; 32]),
                        until_height: 3,
                    }],
                }],
                pending_key_change: Some(PendingKeyChange {
                    begun_by: KeyRole::Recovery,
                    new_government_key: Some(PublicKey([4; 32])),
                    new_recovery_key: None,
                    begun_height: 5,
                    effective_at: Timestamp(6),
                    cancel_signed_by: vec![KeyRole::Government],
                }),
                node_key_rotated_at: Some(Timestamp(2)),
            }],
        });
    }

    #[test]
    fn a_seizure_list_round_trips() {
        round_trip(&SeizureList {
            items: vec![seizure()],
        });
    }

    #[test]
    fn a_statistics_answer_round_trips() {
        let mut statistics = TradeStatistics::default();
        statistics.exports.add(2, Carats(300), UsdCents(400));
        statistics
            .exports_by_hs
            .insert(HsCode("7102.31".into()), statistics.exports);
        statistics
            .imports_by_partner
            .insert(code("EU"), statistics.exports);
        statistics.expired_numbers = vec!["BW2026000001".parse().unwrap()];
        round_trip(&StatisticsAnswer {
            participant: code("BW"),
            period: Period::Half(2026, 2),
            statistics,
        });
    }

    #[test]
    fn a_status_round_trips_and_older_nodes_may_omit_its_later_fields() {
        let status = NodeStatus {
            chain_id: "kp-devnet".into(),
            node: "BW".into(),
            role: "validator".into(),
            height: 12,
            block_hash: Hash([1; 32]),
            state_root: Hash([2; 32]),
            block_time: "2026-12-06T07:00:00Z".into(),
            peers: 3,
            validators: 4,
            mempool: 0,
            round: 1,
            block_time_ms: 1_796_540_400_000,
            catching_up: true,
            validators_seen: vec![
                ValidatorSeen {
                    participant: "BW".into(),
                    last_signed_height: Some(12),
                },
                ValidatorSeen {
                    participant: "EU".into(),
                    last_signed_height: None,
                },
            ],
        };
        round_trip(&status);
        let mut json = serde_json::to_value(&status).unwrap();
        assert_eq!(
            json["validators_seen"][1]["last_signed_height"],
            serde_json::Value::Null
        );
        let map = json.as_object_mut().unwrap();
        map.remove("block_time_ms");
        map.remove("catching_up");
        map.remove("validators_seen");
        let older: NodeStatus = serde_json::from_value(json).unwrap();
        assert_eq!((older.block_time_ms, older.catching_up), (0, false));
        assert!(older.validators_seen.is_empty());
    }

    #[test]
    fn an_error_answer_round_trips() {
        let answer = ErrorAnswer {
            error: ErrorDetail {
                code: "not-found".into(),
                message: "no certificate numbered BW1 is on the ledger".into(),
            },
        };
        round_trip(&answer);
        assert_eq!(
            serde_json::to_value(&answer).unwrap(),
            serde_json::json!({ "error": {
                "code": "not-found",
                "message": "no certificate numbered BW1 is on the ledger"
            } })
        );
    }

    #[test]
    fn an_anomalies_answer_round_trips() {
        let period = Period::Quarter(2026, 4);
        round_trip(&AnomaliesAnswer {
            period,
            items: vec![
                Anomaly::MirrorMismatch {
                    period,
                    exporter: code("IN"),
                    importer: code("BW"),
                    exported_carats: Carats(100_000),
                    imported_carats: Carats(89_100),
                    difference_pct: 10,
                },
                Anomaly::ExpiredUnconfirmed {
                    period,
                    participant: code("BW"),
                    totals: Totals::default(),
                    numbers: vec![],
                },
                Anomaly::SharpChange {
                    period,
                    participant: code("BW"),
                    previous_carats: Carats(1),
                    current_carats: Carats(100),
                    change_pct: -50,
                },
            ],
        });
    }

    #[test]
    fn a_submission_answer_round_trips_waiting_or_not() {
        let hash = Hash([7; 32]);
        let pooled = Submitted {
            hash,
            decided: None,
        };
        round_trip(&pooled);
        assert_eq!(
            serde_json::to_value(&pooled).unwrap(),
            serde_json::json!({ "hash": hash.to_hex() })
        );
        let refused = Submitted {
            hash,
            decided: Some(Decided {
                height: 12,
                position: 3,
                receipt: TxReceipt {
                    tx_hash: hash,
                    result: Err(crate::Rejection::WeakKey {
                        key: kp_types::PublicKey([0; 32]),
                    }),
                },
            }),
        };
        round_trip(&refused);
        let value = serde_json::to_value(&refused).unwrap();
        assert_eq!(value["decided"]["height"], 12);
        assert_eq!(value["decided"]["position"], 3);
    }
}
