//! Property tests: replicas applying the same random blocks agree on every
//! receipt and state root; no accepted certificate ever involves a member
//! whose sanction or expulsion forbade it; canonical encoding round-trips;
//! decoding arbitrary bytes never panics.

use kp_ledger::testkit::*;
use kp_ledger::{Ledger, MembershipStatus, ParticipantRecord, WriteSet};
use kp_types::{
    Block, Carats, Certificate, CertificateApproval, CertificateLine, Date, HsCode,
    ImportConfirmation, Origin, Party, Payload, Period, ResolutionAction, ResolutionProposal,
    SanctionScope, SeizureReason, SeizureReport, SignedTransaction, Timestamp, Transaction,
    UsdCents, VoidCertificate,
};
use proptest::prelude::*;
use std::collections::BTreeMap;

const MEMBERS: [&str; 8] = ["BW", "EU", "AE", "IN", "CF", "CG", "TW", "WDC"];

fn prefix_of(m: &str) -> &str {
    match m {
        "EU" => "BE",
        "WDC" => "WD",
        other => other,
    }
}

#[derive(Clone, Debug)]
enum Op {
    Issue {
        from: usize,
        to: usize,
        zone: usize,
        hs: usize,
    },
    Confirm {
        cert: usize,
        short: bool,
    },
    Void {
        cert: usize,
    },
    Approve {
        cert: usize,
    },
    Seize {
        cert: usize,
    },
    Replay {
        tx: usize,
    },
}

#[derive(Clone, Debug)]
enum Governance {
    Sanction { who: usize, scope: usize },
    Lift { who: usize },
    Expel { who: usize },
    Readmit { who: usize },
}

#[derive(Clone, Debug)]
enum Step {
    Trade(Vec<Op>),
    Govern(Governance, Option<usize>),
    Wait(u64),
    /// The replica restarts from its committed store.
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..8usize, 0..8usize, 0..3usize, 0..4usize)
            .prop_map(|(from, to, zone, hs)| Op::Issue { from, to, zone, hs }),
        2 => (0..64usize, any::<bool>()).prop_map(|(cert, short)| Op::Confirm { cert, short }),
        1 => (0..64usize).prop_map(|cert| Op::Void { cert }),
        1 => (0..64usize).prop_map(|cert| Op::Approve { cert }),
        1 => (0..64usize).prop_map(|cert| Op::Seize { cert }),
        1 => (0..256usize).prop_map(|tx| Op::Replay { tx }),
    ]
}

fn governance() -> impl Strategy<Value = Governance> {
    prop_oneof![
        3 => (0..8usize, 0..6usize).prop_map(|(who, scope)| Governance::Sanction { who, scope }),
        2 => (0..8usize).prop_map(|who| Governance::Lift { who }),
        1 => (0..8usize).prop_map(|who| Governance::Expel { who }),
        1 => (0..8usize).prop_map(|who| Governance::Readmit { who }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => prop::collection::vec(op(), 1..8).prop_map(Step::Trade),
        2 => (governance(), prop::option::of(0..6usize)).prop_map(|(g, o)| Step::Govern(g, o)),
        1 => (1..1_500u64).prop_map(Step::Wait),
        1 => Just(Step::Restart),
    ]
}

fn scope(i: usize) -> SanctionScope {
    match i {
        0 => SanctionScope::FullSuspension,
        1 => SanctionScope::ExportBan,
        2 => SanctionScope::ImportBan,
        3 => SanctionScope::PartialExports {
            green_zones: vec!["Green".into()],
            monitor: Some(code("WDC")),
        },
        4 => SanctionScope::PartialExports {
            green_zones: vec!["Green".into()],
            monitor: None,
        },
        _ => SanctionScope::EnhancedVigilance,
    }
}

/// Turns steps into transactions against the harness's current state.
struct Driver {
    h: Harness,
    replica: Ledger<kp_ledger::MemStore>,
    numbers: Vec<(String, String, String)>,
    sent: Vec<SignedTransaction>,
    serial: u64,
}

impl Driver {
    fn trade_tx(&mut self, op: &Op) -> Option<SignedTransaction> {
        let today = self.h.today();
        let pick = |v: &Vec<(String, String, String)>, i: usize| {
            if v.is_empty() {
                None
            } else {
                Some(v[i % v.len()].clone())
            }
        };
        Some(match op {
            Op::Issue { from, to, zone, hs } => {
                let (from, to) = (MEMBERS[*from], MEMBERS[*to]);
                self.serial += 1;
                let n = format!("{}{:07}", prefix_of(from), self.serial);
                let mut c = certificate(&n, from, if to == "WDC" { "EU" } else { to }, today);
                c.importing = code(to);
                c.origin_zones = match zone {
                    0 => vec![],
                    1 => vec!["Green".into()],
                    _ => vec!["Red".into()],
                };
                c.lines[0].hs_code = HsCode::new(["7102.10", "7102.21", "7102.31", "7103.10"][*hs]);
                self.numbers.push((n, from.to_string(), to.to_string()));
                let signer = if from == "WDC" { "EU" } else { from };
                self.h.by_authority(signer, Payload::IssueCertificate(c))
            }
            Op::Confirm { cert, short } => {
                let (n, _, to) = pick(&self.numbers, *cert)?;
                let signer = if to == "WDC" { "EU" } else { to.as_str() };
                let k = ImportConfirmation {
                    number: number(&n),
                    authority: authority_id(signer),
                    carats: Carats(if *short { 9_000 } else { 10_000 }),
                    parcels: 2,
                    received_on: today,
                };
                self.h.by_authority(signer, Payload::ConfirmImport(k))
            }
            Op::Void { cert } => {
                let (n, from, _) = pick(&self.numbers, *cert)?;
                let signer = if from == "WDC" { "EU" } else { from.as_str() };
                self.h.by_authority(
                    signer,
                    Payload::VoidCertificate(VoidCertificate {
                        number: number(&n),
                        authority: authority_id(signer),
                        reason: "void".into(),
                    }),
                )
            }
            Op::Approve { cert } => {
                let (n, _, _) = pick(&self.numbers, *cert)?;
                self.h.by_node(
                    "WDC",
                    Payload::ApproveCertificate(CertificateApproval {
                        number: number(&n),
                        monitor: code("WDC"),
                    }),
                )
            }
            Op::Seize { cert } => {
                let (n, _, _) = pick(&self.numbers, *cert)?;
                self.h.by_authority(
                    "IN",
                    Payload::ReportSeizure(SeizureReport {
                        authority: authority_id("IN"),
                        territory: territory("IN"),
                        location: "Mumbai".into(),
                        carats: Carats(100),
                        value_usd: None,
                        reason: SeizureReason::ContentsMismatch,
                        certificate: Some(number(&n)),
                        seized_on: today,
                    }),
                )
            }
            Op::Replay { tx } => {
                if self.sent.is_empty() {
                    return None;
                }
                self.sent[tx % self.sent.len()].clone()
            }
        })
    }

    fn govern_txs(&mut self, g: &Governance, objector: Option<usize>) -> Vec<SignedTransaction> {
        let action = match g {
            Governance::Sanction { who, scope: s } => ResolutionAction::ImposeSanction {
                participant: code(MEMBERS[*who]),
                origin: Default::default(),
                scope: scope(*s),
            },
            Governance::Lift { who } => ResolutionAction::LiftSanction {
                participant: code(MEMBERS[*who]),
            },
            Governance::Expel { who } => ResolutionAction::Expel {
                participant: code(MEMBERS[*who]),
            },
            Governance::Readmit { who } => ResolutionAction::Readmit {
                participant: code(MEMBERS[*who]),
            },
        };
        let voters: Vec<String> = GOVERNMENTS.iter().map(|s| s.to_string()).collect();
        let propose = self.h.by_node(
            &voters[0],
            Payload::ProposeResolution(ResolutionProposal {
                title: "random".into(),
                action,
                deadline: None,
            }),
        );
        let id = propose.hash();
        let mut txs = vec![propose];
        for (i, v) in voters.iter().enumerate().skip(1) {
            let payload = if objector == Some(i) {
                Payload::ObjectResolution {
                    resolution: id,
                    reason: "no".into(),
                }
            } else {
                Payload::SignResolution { resolution: id }
            };
            txs.push(self.h.by_node(v, payload));
        }
        txs
    }

    /// Applies one block to both replicas and checks they agree.
    fn apply(&mut self, txs: Vec<SignedTransaction>) -> kp_ledger::BlockReceipt {
        let block = block_with(&self.h.ledger, self.h.time, txs.clone());
        let a = self
            .h
            .ledger
            .apply_block(&block, WriteSet::default())
            .unwrap();
        let b = self
            .replica
            .apply_block(&block, WriteSet::default())
            .unwrap();
        assert_eq!(a, b, "replicas disagree");
        assert_eq!(self.h.ledger.state_root(), self.replica.state_root());
        self.h.set_time(self.h.time.plus_ms(MINUTE_MS));
        self.sent.extend(txs);
        a
    }
}

fn forbids_export(r: &ParticipantRecord, c: &Certificate) -> bool {
    if r.status != MembershipStatus::Active {
        return true;
    }
    match r.sanction.as_ref().map(|s| &s.scope) {
        Some(SanctionScope::FullSuspension | SanctionScope::ExportBan) => true,
        Some(SanctionScope::PartialExports { green_zones, .. }) => {
            c.origin_zones.is_empty() || c.origin_zones.iter().any(|z| !green_zones.contains(z))
        }
        _ => false,
    }
}

fn forbids_import(r: &ParticipantRecord) -> bool {
    r.status != MembershipStatus::Active
        || matches!(
            r.sanction.as_ref().map(|s| &s.scope),
            Some(SanctionScope::FullSuspension | SanctionScope::ImportBan)
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn replicas_agree_and_sanctions_hold(steps in prop::collection::vec(step(), 1..14)) {
        let g = genesis();
        let replica = Ledger::open(&g, kp_ledger::MemStore::new()).unwrap();
        let mut d = Driver { h: Harness::with_genesis(g.clone()), replica, numbers: vec![], sent: vec![], serial: 0 };
        for step in &steps {
            match step {
                Step::Restart => {
                    let store = d.replica.store().clone();
                    d.replica = Ledger::open(&g, store).unwrap();
                    prop_assert_eq!(d.replica.state_root(), d.h.ledger.state_root());
                    prop_assert_eq!(d.replica.validators(), d.h.ledger.validators());
                }
                Step::Wait(hours) => {
                    let t = d.h.time.plus_ms(hours * 3_600_000);
                    d.h.set_time(t);
                    d.apply(vec![]);
                }
                Step::Govern(g, objector) => {
                    let txs = d.govern_txs(g, *objector);
                    d.apply(txs);
                }
                Step::Trade(ops) => {
                    let txs: Vec<_> = ops.iter().filter_map(|o| d.trade_tx(o)).collect();
                    let receipt = d.apply(txs.clone());
                    // Trade blocks do not change sanctions: the state after
                    // the block is the state each transaction ran in.
                    let members: BTreeMap<_, _> = d.h.ledger.participants().unwrap()
                        .into_iter().map(|r| (r.participant.code.clone(), r)).collect();
                    for (tx, r) in txs.iter().zip(&receipt.receipts) {
                        if let (Payload::IssueCertificate(c), Ok(())) = (&tx.tx.payload, &r.result) {
                            prop_assert!(!forbids_export(&members[&c.exporting], c), "{c:?}");
                            prop_assert!(!forbids_import(&members[&c.importing]), "{c:?}");
                        }
                    }
                }
            }
        }
        // The statistics counters equal a recount from the certificates.
        check_counters(&d)?;
        // A replica reopened from its committed store agrees too.
        let reopened = Ledger::open(&g, d.replica.store().snapshot()).unwrap();
        prop_assert_eq!(reopened.state_root(), d.h.ledger.state_root());
        prop_assert_eq!(reopened.height(), d.h.ledger.height());
    }
}

type Figures = (u64, u64);

/// Recounts exports (counted certificates, by issue quarter), imports
/// (confirmed, by receipt quarter, received carats) and expiries from the
/// certificate records and compares with the ledger's statistics.
fn check_counters(d: &Driver) -> Result<(), TestCaseError> {
    use kp_ledger::CertificateStatus;
    let mut exports: BTreeMap<(String, Period), Figures> = BTreeMap::new();
    let mut imports: BTreeMap<(String, Period), Figures> = BTreeMap::new();
    let mut expired: BTreeMap<(String, Period), u64> = BTreeMap::new();
    let mut quarters = std::collections::BTreeSet::new();
    for (n, _, _) in &d.numbers {
        let Some(rec) = d.h.ledger.certificate(&number(n)).unwrap() else {
            continue;
        };
        let c = &rec.certificate;
        let q = Period::quarter_of(c.issued_on);
        quarters.insert(q);
        if rec.counted {
            let e = exports.entry((c.exporting.to_string(), q)).or_default();
            e.0 += 1;
            e.1 += c.total_carats().0;
        }
        if let Some(r) = &rec.receipt {
            let rq = Period::quarter_of(r.received_on);
            quarters.insert(rq);
            let e = imports.entry((c.importing.to_string(), rq)).or_default();
            e.0 += 1;
            e.1 += r.carats.0;
        }
        if rec.status == CertificateStatus::Expired {
            *expired.entry((c.exporting.to_string(), q)).or_default() += 1;
        }
    }
    for m in MEMBERS {
        for q in &quarters {
            let s = d.h.ledger.statistics(&code(m), *q).unwrap();
            let key = (m.to_string(), *q);
            prop_assert_eq!(
                (s.exports.count, s.exports.carats.0),
                exports.get(&key).copied().unwrap_or_default(),
                "exports {:?}",
                key
            );
            prop_assert_eq!(
                (s.imports.count, s.imports.carats.0),
                imports.get(&key).copied().unwrap_or_default(),
                "imports {:?}",
                key
            );
            prop_assert_eq!(
                s.expired_unconfirmed.count,
                expired.get(&key).copied().unwrap_or_default(),
                "expired {:?}",
                key
            );
        }
    }
    Ok(())
}

fn text() -> impl Strategy<Value = String> {
    ".{0,40}"
}

fn certificate_strategy() -> impl Strategy<Value = Certificate> {
    (
        "[A-Z]{2}[A-Z0-9-]{1,30}",
        "[A-Z]{2,5}",
        "[A-Z]{2,5}",
        "[A-Z]{2}",
        (text(), text(), text(), text()),
        prop::collection::vec("[A-Z]{2}", 0..4),
        prop::collection::vec(text(), 0..3),
        prop::collection::vec((text(), any::<u64>(), any::<u64>(), any::<u32>()), 0..4),
        (any::<u16>(), any::<u16>()),
        any::<bool>(),
    )
        .prop_map(
            |(n, from, to, dest, parties, origin, zones, lines, (issued, expires), mixed)| {
                Certificate {
                    number: number(&n),
                    exporting: code(&from),
                    issuing_authority: authority_id(&from),
                    importing: code(&to),
                    destination: territory(&dest),
                    parties: kp_types::Parties::Plain(kp_types::SealedFields {
                        exporter: Party {
                            name: parties.0,
                            address: parties.1,
                        },
                        importer: Party {
                            name: parties.2,
                            address: parties.3,
                        },
                        details: String::new(),
                    }),
                    origin: if mixed {
                        Origin::Mixed
                    } else {
                        Origin::Countries(origin.iter().map(|t| territory(t)).collect())
                    },
                    origin_zones: zones,
                    lines: lines
                        .into_iter()
                        .map(|(hs, c, v, p)| CertificateLine {
                            hs_code: HsCode(hs),
                            carats: Carats(c),
                            value_usd: UsdCents(v),
                            parcels: p,
                        })
                        .collect(),
                    issued_on: Date(u32::from(issued)),
                    expires_on: Date(u32::from(expires)),
                }
            },
        )
}

fn signed(c: Certificate, nonce: u64, expires: u64) -> SignedTransaction {
    Transaction {
        chain_id: CHAIN_ID.into(),
        signer: authority_key("BW").public(),
        nonce,
        expires_at: Timestamp(expires),
        payload: Payload::IssueCertificate(c),
    }
    .sign(&authority_key("BW"))
}

proptest! {
    #[test]
    fn encoding_round_trips(c in certificate_strategy(), nonce in any::<u64>(), expires in any::<u64>(), height in 1..u64::MAX) {
        let bytes = kp_types::encode(&c);
        prop_assert_eq!(kp_types::decode::<Certificate>(&bytes, 1 << 20).unwrap(), c.clone());
        let json = serde_json::to_string(&c).unwrap();
        prop_assert_eq!(serde_json::from_str::<Certificate>(&json).unwrap(), c.clone());

        let tx = signed(c, nonce, expires);
        let bytes = kp_types::encode(&tx);
        let back = SignedTransaction::decode(&bytes).unwrap();
        prop_assert_eq!(back.hash(), tx.hash());
        prop_assert!(back.verify_signature().is_ok());
        prop_assert_eq!(&back, &tx);

        let txs = vec![tx.clone(), tx];
        let block = Block {
            header: kp_types::BlockHeader {
                chain_id: CHAIN_ID.into(),
                height,
                time: Timestamp(expires),
                proposer: node_key("BW").public(),
                prev_hash: kp_types::Hash([3; 32]),
                txs_root: kp_types::merkle::root(&txs.iter().map(SignedTransaction::leaf).collect::<Vec<_>>()),
                state_root: kp_types::Hash([4; 32]),
                validators_hash: kp_types::Hash([5; 32]),
                next_validators_hash: kp_types::Hash([6; 32]),
                results_root: kp_types::Hash([7; 32]),
                records_root: kp_types::Hash([8; 32]),
            },
            txs,
        };
        let bytes = kp_types::encode(&block);
        let back = Block::decode(&bytes).unwrap();
        prop_assert_eq!(back.hash(), block.hash());
        prop_assert_eq!(back, block);
    }

    #[test]
    fn decoding_random_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let _ = SignedTransaction::decode(&bytes);
        let _ = Block::decode(&bytes);
        let _ = kp_types::decode::<Certificate>(&bytes, 1 << 16);
    }

    #[test]
    fn decoding_mutated_encodings_never_panics(
        c in certificate_strategy(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = kp_types::encode(&signed(c, 1, 2));
        for (i, b) in &flips {
            let i = i.index(bytes.len());
            bytes[i] ^= b;
        }
        let _ = SignedTransaction::decode(&bytes);
        let _ = Block::decode(&bytes);
        let cut = cut.index(bytes.len());
        let _ = SignedTransaction::decode(&bytes[..cut]);
    }
}
