//! Answers of the test backend, built from the real types (kp-api,
//! kp-types) as the node builds them, so that the tests that check them
//! against the OpenAPI document's schemas check what a node sends.

use crate::tests::signed_tx;
use kp_api::proof::{ActProof, CertificateProof, LightBlock, RecordProof, RecordsProof};
use kp_api::records::{
    Anomaly, Approval, AuthorityRecord, CertificateEventKind, CertificateHistoryEntry,
    CertificateRecord, CertificateStatus, MembershipStatus, ParticipantRecord, Receipt,
    ResolutionOutcome, ResolutionRecord, SanctionRecord, SeizureRecord, TradeStatistics, TxReceipt,
};
use kp_api::{
    AnomaliesAnswer, BlockAnswer, CertificateAlert, CertificateAnswer, Genesis, Params,
    StatisticsAnswer, TransactionAnswer,
};
use kp_types::merkle::{MerkleProof, ProofStep};
use kp_types::{
    Authority, Block, BlockHeader, Carats, Certificate, CommitCertificate, CommitSignature, Date,
    Hash, Participant, ParticipantCode, ParticipantKind, Period, PublicKey, ResolutionAction,
    ResolutionProposal, SanctionScope, SeizureReason, SeizureReport, Signature, Timestamp,
    UsdCents,
};
use std::borrow::Cow;

/// BW exports BW0001 to EU.
const CERTIFICATE: &str = r#"{
    "number": "BW0001", "exporting": "BW", "issuing_authority": "BW-KPA",
    "importing": "EU", "destination": "BE",
    "parties": {"plain": {
        "exporter": {"name": "Debswana", "address": "Gaborone"},
        "importer": {"name": "Antwerp Rough Traders BV", "address": "Antwerp"}}},
    "origin": {"countries": ["BW"]}, "origin_zones": [],
    "lines": [{"hs_code": "7102.31", "carats": "100.00",
               "value_usd": "2500000.00", "parcels": 3}],
    "issued_on": "2026-01-05", "expires_on": "2026-02-04"
}"#;

pub(crate) fn code(text: &str) -> ParticipantCode {
    text.parse().expect("a participant code")
}

fn header(height: u64) -> BlockHeader {
    BlockHeader {
        chain_id: "kp-test".into(),
        height,
        time: Timestamp(1_796_540_400_000),
        proposer: PublicKey([1; 32]),
        prev_hash: Hash([2; 32]),
        txs_root: Hash([3; 32]),
        state_root: Hash([4; 32]),
        validators_hash: Hash([5; 32]),
        next_validators_hash: Hash([5; 32]),
        results_root: Hash([6; 32]),
        records_root: Hash([7; 32]),
    }
}

fn commit(height: u64) -> CommitCertificate {
    CommitCertificate {
        chain_id: "kp-test".into(),
        height,
        round: 0,
        block_hash: header(height).hash(),
        signatures: vec![CommitSignature {
            validator: PublicKey([1; 32]),
            signature: Signature([9; 64]),
        }],
    }
}

fn light_block(height: u64) -> LightBlock {
    LightBlock {
        header: header(height),
        commit: commit(height),
        validators: vec![(code("BW"), PublicKey([1; 32]))],
    }
}

fn record_proof(present: bool) -> RecordProof {
    RecordProof {
        key: b"certificate/BW0001".to_vec(),
        value: present.then(|| vec![1, 2, 3]),
        proof: kp_types::smt::RecordProof {
            siblings: vec![Hash([8; 32])],
            leaf: Some((Hash([1; 32]), Hash([2; 32]))),
        },
    }
}

pub(crate) fn genesis() -> Genesis {
    Genesis {
        chain_id: "kp-test".into(),
        genesis_time: Timestamp(1_796_000_000_000),
        chair: code("BW"),
        vice_chair: None,
        params: Params::default(),
        participants: vec![participant()],
        authorities: vec![authority()],
    }
}

fn participant() -> Participant {
    Participant {
        code: code("BW"),
        kind: ParticipantKind::Government,
        name: "Botswana".into(),
        territories: vec!["BW".parse().expect("a territory")],
        node_key: PublicKey([7; 32]),
        government_key: PublicKey([6; 32]),
        recovery_key: None,
    }
}

fn authority() -> Authority {
    Authority {
        id: "BW-KPA".parse().expect("an authority id"),
        participant: code("BW"),
        name: "Botswana KP Authority".into(),
        key: PublicKey([9; 32]),
        encryption_key: None,
    }
}

pub(crate) fn block(height: u64) -> BlockAnswer {
    let block = Block {
        header: header(height),
        txs: vec![signed_tx(5)],
    };
    BlockAnswer {
        hash: block.hash(),
        block,
        commit_certificate: Some(commit(height)),
    }
}

pub(crate) fn transaction() -> TransactionAnswer<'static> {
    let tx = signed_tx(5);
    TransactionAnswer {
        hash: tx.hash(),
        height: 1,
        position: 0,
        accepted: Some(true),
        rejection: None,
        receipt: Some(Cow::Owned(TxReceipt {
            tx_hash: tx.hash(),
            result: Ok(()),
        })),
        tx: Some(Cow::Owned(tx)),
    }
}

fn record() -> CertificateRecord {
    CertificateRecord {
        certificate: serde_json::from_str::<Certificate>(CERTIFICATE).expect("a certificate"),
        status: CertificateStatus::Issued,
        history: vec![CertificateHistoryEntry {
            event: CertificateEventKind::Issued,
            tx: Some(Hash([1; 32])),
            height: 3,
        }],
        receipt: None::<Receipt>,
        discrepancy: None,
        enhanced_vigilance: false,
        approval: None::<Approval>,
        void_reason: None,
        counted: true,
        issued_at: Timestamp(1_796_540_400_000),
        sanctioned_origin: vec![],
    }
}

pub(crate) fn certificate() -> CertificateAnswer {
    CertificateAnswer {
        record: record(),
        alerts: vec![CertificateAlert::Seizure { seizure: seizure() }],
    }
}

pub(crate) fn certificate_page() -> kp_api::CertificatePage {
    kp_api::CertificatePage {
        items: vec![record()],
        next: None,
        scanned: 1,
    }
}

pub(crate) fn certificate_proof() -> CertificateProof {
    let tx = signed_tx(5);
    let path = MerkleProof {
        index: 0,
        leaf_count: 2,
        path: vec![ProofStep {
            sibling: Hash([4; 32]),
            sibling_is_left: false,
        }],
    };
    CertificateProof {
        number: "BW0001".parse().expect("a number"),
        anchor: light_block(9),
        records: vec![record_proof(true), record_proof(false)],
        acts: vec![ActProof {
            tx,
            height: 3,
            header: header(3),
            inclusion: path.clone(),
            result_header: header(4),
            result: path,
        }],
    }
}

pub(crate) fn records_proof() -> RecordsProof {
    RecordsProof {
        anchor: light_block(9),
        records: vec![record_proof(true)],
    }
}

pub(crate) fn light(height: u64) -> LightBlock {
    light_block(height)
}

pub(crate) fn participant_record() -> ParticipantRecord {
    ParticipantRecord {
        participant: participant(),
        status: MembershipStatus::Active,
        sanction: Some(SanctionRecord {
            scope: SanctionScope::ExportBan,
            resolution: Hash([8; 32]),
            since_height: 2,
            origin: kp_types::OriginRule::Refuse,
        }),
        authorities: vec![AuthorityRecord {
            authority: authority(),
            registered_height: 1,
            revoked_height: None,
            compromised_since: None,
            previous_keys: vec![],
        }],
        pending_key_change: None,
        node_key_rotated_at: None,
    }
}

fn seizure() -> SeizureRecord {
    SeizureRecord {
        sequence: 4,
        report: SeizureReport {
            authority: "EU-DE".parse().expect("an authority id"),
            territory: "DE".parse().expect("a territory"),
            location: "Frankfurt".into(),
            carats: Carats(5_000),
            value_usd: Some(UsdCents(99)),
            reason: SeizureReason::ContentsMismatch,
            certificate: Some("BW0001".parse().expect("a number")),
            seized_on: Date(20_001),
        },
        reporter: code("EU"),
        tx: Hash([2; 32]),
        height: 12,
        certificate_known: true,
    }
}

pub(crate) fn seizures() -> kp_api::SeizureList {
    kp_api::SeizureList {
        items: vec![seizure()],
    }
}

pub(crate) fn resolution() -> ResolutionRecord {
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
        outcome: ResolutionOutcome::Pending,
    }
}

pub(crate) fn resolutions() -> kp_api::ResolutionPage {
    kp_api::ResolutionPage {
        items: vec![resolution()],
        next: None,
    }
}

/// BW's statistics: 1 carat exported (to EU), 2 imported.
pub(crate) fn statistics(participant: ParticipantCode, period: Period) -> StatisticsAnswer {
    let mut statistics = TradeStatistics::default();
    statistics.exports.add(1, Carats(100), UsdCents(400));
    statistics.imports.add(1, Carats(200), UsdCents(500));
    statistics
        .exports_by_partner
        .insert(code("EU"), statistics.exports);
    StatisticsAnswer {
        participant,
        period,
        statistics,
    }
}

/// Two mirror mismatches: BW and EU, AE and IN.
pub(crate) fn anomalies(period: Period) -> AnomaliesAnswer {
    let mismatch = |exporter: &str, importer: &str| Anomaly::MirrorMismatch {
        period,
        exporter: code(exporter),
        importer: code(importer),
        exported_carats: Carats(100_000),
        imported_carats: Carats(89_100),
        difference_pct: 10,
    };
    AnomaliesAnswer {
        period,
        items: vec![mismatch("BW", "EU"), mismatch("AE", "IN")],
    }
}
