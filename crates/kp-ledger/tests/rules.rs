//! Table-driven tests: one row per rejection reason, each starting from a
//! valid transaction (checked to pass in a fresh ledger) and breaking exactly
//! one thing, asserting the specific `Rejection` code. The certificate
//! lifecycle's transitions are in `lifecycle.rs`.

mod common;
use common::*;
use kp_ledger::testkit::*;
use kp_ledger::Rejection;
use kp_types::{
    Authority, Carats, Certificate, CertificateApproval, Evidence, HsCode, Origin, ParticipantKind,
    Payload, Period, ProductionReport, ResolutionAction, SanctionScope, SignedTransaction,
    SigningKey, Vote, VoteKind,
};
use std::collections::BTreeSet;

#[path = "rules/codes.rs"]
mod codes;
use codes::ALL_CODES;
#[path = "rules/authority_keys.rs"]
mod authority_keys;
#[path = "rules/sealing.rs"]
mod sealing;

/// What a row's setup leaves for its transaction builder.
#[derive(Default, Clone)]
struct Memo {
    resolution: kp_types::Hash,
    tx: Option<SignedTransaction>,
}

type Setup = Box<dyn Fn(&mut Harness) -> Memo>;
type Build = Box<dyn Fn(&mut Harness, &Memo) -> SignedTransaction>;

/// A row: prepare the ledger, then build the transaction to judge.
struct Row {
    code: &'static str,
    name: &'static str,
    setup: Setup,
    tx: Build,
}

fn nothing(_: &mut Harness) {}

fn cert_with_fn(
    f: impl Fn(&mut Certificate) + 'static,
) -> impl Fn(&mut Harness, &Memo) -> SignedTransaction {
    move |h, _| {
        let mut c = base_cert(h);
        f(&mut c);
        issue_tx(h, c)
    }
}

fn production() -> ProductionReport {
    ProductionReport {
        authority: authority_id("BW"),
        period: Period::Half(2026, 1),
        carats: Carats(1_000_000),
        value_usd: kp_types::UsdCents(100_000_000),
    }
}

fn new_authority() -> Authority {
    Authority {
        id: kp_types::AuthorityId::new("BW-GABORONE").unwrap(),
        participant: code("BW"),
        name: "Gaborone office".into(),
        key: extra_key("bw2").public(),
        encryption_key: None,
    }
}

fn vote(key: &SigningKey, block: u8) -> kp_types::SignedVote {
    Vote {
        chain_id: CHAIN_ID.into(),
        height: 1,
        round: 0,
        kind: VoteKind::Prevote,
        block: Some(kp_types::Hash([block; 32])),
        validator: key.public(),
    }
    .sign(key)
}

fn evidence() -> Evidence {
    let k = node_key("IN");
    Evidence::DuplicateVote {
        first: vote(&k, 1),
        second: vote(&k, 2),
    }
}

/// Every member's government and recovery keys apart from its node key.
fn key_roles(h: &mut Harness) {
    *h = Harness::with_genesis(genesis_with_key_roles());
}

fn begin_recovery(member: &str) -> Payload {
    Payload::BeginRecovery {
        participant: code(member),
        new_government_key: extra_key(&format!("{member}-recovered")).public(),
        new_recovery_key: None,
    }
}

fn cancel_recovery(member: &str) -> Payload {
    Payload::CancelRecovery {
        participant: code(member),
    }
}

fn propose_tx(h: &mut Harness, by: &str, action: ResolutionAction) -> SignedTransaction {
    h.by_node(
        by,
        Payload::ProposeResolution(kp_types::ResolutionProposal {
            title: "t".into(),
            action,
            deadline: None,
        }),
    )
}

fn admit(code_text: &str, territories: &[&str]) -> ResolutionAction {
    ResolutionAction::Admit {
        participant: member(code_text, ParticipantKind::Government, territories),
    }
}

/// A pending resolution proposed by BW (others have not signed).
fn pending(h: &mut Harness) -> kp_types::Hash {
    let (id, r) = h.propose(
        "BW",
        ResolutionAction::AdministrativeDecision {
            title: "budget".into(),
            text_hash: kp_types::Hash::ZERO,
        },
        None,
    );
    assert_eq!(r, Ok(()));
    id
}

fn rows() -> Vec<Row> {
    fn plain(f: impl Fn(&mut Harness) + 'static) -> Setup {
        Box::new(move |h| {
            f(h);
            Memo::default()
        })
    }
    fn with_pending(f: impl Fn(&mut Harness, kp_types::Hash) + 'static) -> Setup {
        Box::new(move |h| {
            let resolution = pending(h);
            f(h, resolution);
            Memo {
                resolution,
                tx: None,
            }
        })
    }
    macro_rules! row {
        ($code:literal, $name:literal, memo $setup:expr, $tx:expr) => {
            Row {
                code: $code,
                name: $name,
                setup: $setup,
                tx: Box::new($tx),
            }
        };
        ($code:literal, $name:literal, $setup:expr, $tx:expr) => {
            Row {
                code: $code,
                name: $name,
                setup: plain($setup),
                tx: Box::new($tx),
            }
        };
    }
    vec![
        // ---- envelope ----
        row!(
            "wrong-chain",
            "tx for another chain",
            nothing,
            |h, _m: &Memo| {
                let mut t = issue_tx(h, base_cert(h)).tx;
                t.chain_id = "other".into();
                t.sign(&authority_key("BW"))
            }
        ),
        row!(
            "tx-expired",
            "expiry before block time",
            nothing,
            |h, _m: &Memo| {
                let mut t = issue_tx(h, base_cert(h)).tx;
                t.expires_at = kp_types::Timestamp(h.time.0 - 1);
                t.sign(&authority_key("BW"))
            }
        ),
        row!(
            "tx-lifetime-too-long",
            "expiry too far ahead",
            nothing,
            |h, _m: &Memo| {
                let mut t = issue_tx(h, base_cert(h)).tx;
                t.expires_at = h.time.plus_ms(h.ledger.params().tx_lifetime_max_ms + 1);
                t.sign(&authority_key("BW"))
            }
        ),
        row!("already-executed", "replayed tx", memo Box::new(|h: &mut Harness| {
            let tx = issue_tx(h, base_cert(h));
            assert_eq!(h.run(tx.clone()), Ok(()));
            Memo { tx: Some(tx), ..Memo::default() }
        }), |_h: &mut Harness, m: &Memo| m.tx.clone().unwrap()),
        row!(
            "bad-text",
            "empty exporter name",
            nothing,
            cert_with_fn(|c: &mut Certificate| {
                if let kp_types::Parties::Plain(f) = &mut c.parties {
                    f.exporter.name.clear()
                }
            })
        ),
        row!(
            "too-many-items",
            "101 lines",
            nothing,
            cert_with_fn(|c: &mut Certificate| {
                let line = c.lines[0].clone();
                c.lines = vec![line; 101];
            })
        ),
        // ---- signers ----
        row!(
            "unknown-authority",
            "authority not registered",
            nothing,
            cert_with_fn(|c: &mut Certificate| {
                c.issuing_authority = kp_types::AuthorityId::new("BW-NONE").unwrap()
            })
        ),
        row!(
            "signer-not-authority",
            "signed by another key",
            nothing,
            |h, _m: &Memo| {
                let c = base_cert(h);
                h.tx(&authority_key("IN"), Payload::IssueCertificate(c))
            }
        ),
        row!(
            "authority-revoked",
            "revoked authority",
            |h| {
                let tx = h.by_node(
                    "BW",
                    Payload::RevokeAuthority {
                        participant: code("BW"),
                        authority: authority_id("BW"),
                        compromised_since: None,
                    },
                );
                assert_eq!(h.run(tx), Ok(()));
            },
            cert_with_fn(|_: &mut Certificate| {})
        ),
        row!(
            "authority-not-of-participant",
            "EU authority issues for BW",
            nothing,
            |h, _m: &Memo| {
                let mut c = base_cert(h);
                c.issuing_authority = authority_id("EU");
                h.tx(&authority_key("EU"), Payload::IssueCertificate(c))
            }
        ),
        row!(
            "signer-not-government-key",
            "register authority with authority key",
            nothing,
            |h, _m: &Memo| { h.by_authority("BW", Payload::RegisterAuthority(new_authority())) }
        ),
        row!(
            "unknown-signer",
            "proposal by a stranger",
            nothing,
            |h, _m: &Memo| {
                let p = kp_types::ResolutionProposal {
                    title: "t".into(),
                    action: admit("ZA", &["ZA"]),
                    deadline: None,
                };
                h.tx(&extra_key("stranger"), Payload::ProposeResolution(p))
            }
        ),
        row!(
            "not-a-government",
            "trading entity proposes",
            nothing,
            |h, _m: &Memo| { propose_tx(h, "TW", admit("ZA", &["ZA"])) }
        ),
        // ---- members ----
        row!(
            "unknown-participant",
            "importer unknown",
            nothing,
            cert_with_fn(|c: &mut Certificate| c.importing = code("ZZ"))
        ),
        row!(
            "not-trading",
            "observer imports",
            nothing,
            cert_with_fn(|c: &mut Certificate| c.importing = code("WDC"))
        ),
        row!(
            "participant-expelled",
            "importer expelled",
            |h| {
                h.adopt(ResolutionAction::Expel {
                    participant: code("EU"),
                });
            },
            cert_with_fn(|_: &mut Certificate| {})
        ),
        // ---- issue ----
        row!(
            "same-participant",
            "exports to itself",
            nothing,
            cert_with_fn(|c: &mut Certificate| {
                c.importing = code("BW");
                c.destination = territory("BW");
            })
        ),
        row!(
            "export-forbidden",
            "exporter under export ban",
            |h| {
                h.adopt(ResolutionAction::ImposeSanction {
                    participant: code("BW"),
                    origin: Default::default(),
                    scope: SanctionScope::ExportBan,
                });
            },
            cert_with_fn(|_: &mut Certificate| {})
        ),
        row!(
            "import-forbidden",
            "importer under import ban",
            |h| {
                h.adopt(ResolutionAction::ImposeSanction {
                    participant: code("EU"),
                    origin: Default::default(),
                    scope: SanctionScope::ImportBan,
                });
            },
            cert_with_fn(|_: &mut Certificate| {})
        ),
        row!(
            "origin-zones-missing",
            "partial exports without zones",
            partial_exports_bw,
            cert_with_fn(|_: &mut Certificate| {})
        ),
        row!(
            "origin-zone-not-green",
            "zone not listed",
            partial_exports_bw,
            cert_with_fn(|c: &mut Certificate| { c.origin_zones = vec!["Jwaneng".into()] })
        ),
        row!(
            "number-taken",
            "number reused",
            issued,
            cert_with_fn(|_: &mut Certificate| {})
        ),
        row!(
            "number-prefix-not-exporter",
            "prefix of another member",
            nothing,
            cert_with_fn(|c: &mut Certificate| { c.number = number("IN0000001") })
        ),
        row!(
            "destination-not-importer",
            "destination elsewhere",
            nothing,
            cert_with_fn(|c: &mut Certificate| { c.destination = territory("IN") })
        ),
        row!(
            "date-in-future",
            "issued tomorrow",
            nothing,
            cert_with_fn(|c: &mut Certificate| {
                c.issued_on = c.issued_on.plus_days(1);
                c.expires_on = c.issued_on.plus_days(30);
            })
        ),
        row!(
            "expiry-not-after-issue",
            "expires on issue",
            nothing,
            cert_with_fn(|c: &mut Certificate| c.expires_on = c.issued_on)
        ),
        row!(
            "validity-too-long",
            "61 days",
            nothing,
            cert_with_fn(|c: &mut Certificate| c.expires_on = c.issued_on.plus_days(61))
        ),
        row!(
            "no-lines",
            "no line",
            nothing,
            cert_with_fn(|c: &mut Certificate| c.lines.clear())
        ),
        row!(
            "hs-code-not-rough",
            "polished",
            nothing,
            cert_with_fn(|c: &mut Certificate| c.lines[0].hs_code = HsCode::new("7103.10"))
        ),
        row!(
            "zero-amount",
            "zero carats",
            nothing,
            cert_with_fn(|c: &mut Certificate| c.lines[0].carats = Carats(0))
        ),
        row!(
            "unknown-origin",
            "origin unknown",
            nothing,
            cert_with_fn(|c: &mut Certificate| {
                c.origin = Origin::Countries(vec![territory("ZZ")])
            })
        ),
        row!(
            "no-origin",
            "no origin country",
            nothing,
            cert_with_fn(|c: &mut Certificate| c.origin = Origin::Countries(vec![]))
        ),
        // ---- life ----
        row!(
            "unknown-certificate",
            "confirm unknown",
            nothing,
            |h, _m: &Memo| {
                let k = confirm(h);
                h.by_authority("EU", Payload::ConfirmImport(k))
            }
        ),
        row!(
            "wrong-certificate-status",
            "confirm twice",
            |h| {
                issued(h);
                let k = confirm(h);
                let tx = h.by_authority("EU", Payload::ConfirmImport(k));
                assert_eq!(h.run(tx), Ok(()));
            },
            |h, _m: &Memo| {
                let k = confirm(h);
                h.by_authority("EU", Payload::ConfirmImport(k))
            }
        ),
        row!(
            "awaiting-approval",
            "confirm before approval",
            awaiting,
            |h, _m: &Memo| {
                let k = confirm(h);
                h.by_authority("EU", Payload::ConfirmImport(k))
            }
        ),
        row!(
            "certificate-expired",
            "confirm after expiry",
            |h| {
                issued(h);
                let t = h.time.plus_ms(31 * 86_400_000);
                h.set_time(t);
            },
            |h, _m: &Memo| {
                let mut k = confirm(h);
                k.received_on = k.received_on.plus_days(0);
                h.by_authority("EU", Payload::ConfirmImport(k))
            }
        ),
        row!(
            "received-before-issue",
            "received before issue",
            |h| {
                issued(h);
                let t = h.time.plus_ms(2 * 86_400_000);
                h.set_time(t);
            },
            |h, _m: &Memo| {
                let mut k = confirm(h);
                k.received_on = date(2025, 12, 31);
                h.by_authority("EU", Payload::ConfirmImport(k))
            }
        ),
        row!(
            "not-the-monitor",
            "another member approves",
            awaiting,
            |h, _m: &Memo| {
                h.by_node(
                    "AE",
                    Payload::ApproveCertificate(CertificateApproval {
                        number: number("BW0000001"),
                        monitor: code("AE"),
                    }),
                )
            }
        ),
        // ---- seizures, production ----
        row!(
            "territory-not-of-participant",
            "seizure abroad",
            nothing,
            |h, _m: &Memo| {
                let mut s = seizure(h);
                s.territory = territory("IN");
                h.by_authority("EU", Payload::ReportSeizure(s))
            }
        ),
        row!(
            "not-a-half-year",
            "quarterly production",
            nothing,
            |h, _m: &Memo| {
                let mut p = production();
                p.period = Period::Quarter(2026, 1);
                h.by_authority("BW", Payload::ReportProduction(p))
            }
        ),
        row!(
            "period-in-future",
            "second half in January",
            nothing,
            |h, _m: &Memo| {
                let mut p = production();
                p.period = Period::Half(2026, 2);
                h.by_authority("BW", Payload::ReportProduction(p))
            }
        ),
        row!(
            "production-already-reported",
            "reported twice",
            |h| {
                let tx = h.by_authority("BW", Payload::ReportProduction(production()));
                assert_eq!(h.run(tx), Ok(()));
            },
            |h, _m: &Memo| h.by_authority("BW", Payload::ReportProduction(production()))
        ),
        // ---- registry ----
        row!("authority-exists", "id taken", nothing, |h, _m: &Memo| {
            let mut a = new_authority();
            a.id = authority_id("BW");
            h.by_node("BW", Payload::RegisterAuthority(a))
        }),
        row!(
            "key-in-use",
            "authority key is a node key",
            nothing,
            |h, _m: &Memo| {
                let mut a = new_authority();
                a.key = node_key("IN").public();
                h.by_node("BW", Payload::RegisterAuthority(a))
            }
        ),
        row!(
            "weak-key",
            "authority key of small order (the identity point)",
            nothing,
            |h, _m: &Memo| {
                let mut a = new_authority();
                let mut identity = [0u8; 32];
                identity[0] = 1;
                a.key = kp_types::PublicKey(identity);
                h.by_node("BW", Payload::RegisterAuthority(a))
            }
        ),
        // ---- resolutions ----
        row!(
            "unknown-resolution",
            "sign unknown",
            nothing,
            |h, _m: &Memo| {
                h.by_node(
                    "EU",
                    Payload::SignResolution {
                        resolution: kp_types::Hash([7; 32]),
                    },
                )
            }
        ),
        row!("resolution-closed", "sign after objection", memo with_pending(|h, id| {
            assert_eq!(h.object("IN", id), Ok(()));
        }), |h: &mut Harness, m: &Memo| h.by_node("EU", Payload::SignResolution { resolution: m.resolution })),
        row!("resolution-lapsed", "sign at the deadline", memo with_pending(|h, _| {
            // The proposal landed one minute before the current block time.
            let t = h.time.plus_ms(h.ledger.params().resolution_deadline_default_ms - MINUTE_MS);
            h.set_time(t);
        }), |h: &mut Harness, m: &Memo| h.by_node("EU", Payload::SignResolution { resolution: m.resolution })),
        row!("already-signed", "proposer signs again", memo with_pending(|_, _| {}), |h: &mut Harness, m: &Memo| {
            h.by_node("BW", Payload::SignResolution { resolution: m.resolution })
        }),
        row!(
            "bad-deadline",
            "deadline in the past",
            nothing,
            |h, _m: &Memo| {
                let p = kp_types::ResolutionProposal {
                    title: "t".into(),
                    action: admit("ZA", &["ZA"]),
                    deadline: Some(kp_types::Timestamp(h.time.0 - 1)),
                };
                h.by_node("BW", Payload::ProposeResolution(p))
            }
        ),
        row!(
            "participant-exists",
            "admit an existing code",
            nothing,
            |h, _m: &Memo| { propose_tx(h, "BW", admit("IN", &["ZA"])) }
        ),
        row!(
            "wrong-kind",
            "expel an observer",
            nothing,
            |h, _m: &Memo| {
                propose_tx(
                    h,
                    "BW",
                    ResolutionAction::Expel {
                        participant: code("WDC"),
                    },
                )
            }
        ),
        row!(
            "not-expelled",
            "readmit an active member",
            nothing,
            |h, _m: &Memo| {
                propose_tx(
                    h,
                    "BW",
                    ResolutionAction::Readmit {
                        participant: code("IN"),
                    },
                )
            }
        ),
        row!("no-sanction", "lift nothing", nothing, |h, _m: &Memo| {
            propose_tx(
                h,
                "BW",
                ResolutionAction::LiftSanction {
                    participant: code("IN"),
                },
            )
        }),
        row!(
            "sanction-in-force",
            "impose twice",
            |h| {
                h.adopt(ResolutionAction::ImposeSanction {
                    participant: code("IN"),
                    origin: Default::default(),
                    scope: SanctionScope::EnhancedVigilance,
                });
            },
            |h, _m: &Memo| propose_tx(
                h,
                "BW",
                ResolutionAction::ImposeSanction {
                    participant: code("IN"),
                    origin: Default::default(),
                    scope: SanctionScope::ExportBan,
                }
            )
        ),
        row!(
            "territory-taken",
            "admit with a taken territory",
            nothing,
            |h, _m: &Memo| { propose_tx(h, "BW", admit("ZA", &["IN"])) }
        ),
        row!(
            "no-territories",
            "admit without territory",
            nothing,
            |h, _m: &Memo| { propose_tx(h, "BW", admit("ZA", &[])) }
        ),
        row!(
            "no-green-zones",
            "partial exports without zones",
            nothing,
            |h, _m: &Memo| {
                propose_tx(
                    h,
                    "BW",
                    ResolutionAction::ImposeSanction {
                        participant: code("CF"),
                        origin: Default::default(),
                        scope: SanctionScope::PartialExports {
                            green_zones: vec![],
                            monitor: None,
                        },
                    },
                )
            }
        ),
        // ---- evidence ----
        row!(
            "not-a-validator",
            "observer submits evidence",
            nothing,
            |h, _m: &Memo| { h.by_node("WDC", Payload::SubmitEvidence(evidence())) }
        ),
        row!(
            "invalid-evidence",
            "identical votes",
            nothing,
            |h, _m: &Memo| {
                let k = node_key("IN");
                h.by_node(
                    "BW",
                    Payload::SubmitEvidence(Evidence::DuplicateVote {
                        first: vote(&k, 1),
                        second: vote(&k, 1),
                    }),
                )
            }
        ),
        row!(
            "duplicate-evidence",
            "same evidence twice",
            |h| {
                let tx = h.by_node("BW", Payload::SubmitEvidence(evidence()));
                assert_eq!(h.run(tx), Ok(()));
            },
            |h, _m: &Memo| h.by_node("EU", Payload::SubmitEvidence(evidence()))
        ),
        // ---- keys and recovery (ADR 0008) ----
        row!(
            "no-recovery-key",
            "recovery for a member without a recovery key",
            nothing,
            |h, _m: &Memo| { h.tx(&recovery_key("BW"), begin_recovery("BW")) }
        ),
        row!(
            "signer-not-recovery-key",
            "recovery signed by the government key",
            key_roles,
            |h, _m: &Memo| { h.tx(&government_key("BW"), begin_recovery("BW")) }
        ),
        row!(
            "recovery-pending",
            "second recovery while one waits",
            |h| {
                key_roles(h);
                let tx = h.tx(&recovery_key("BW"), begin_recovery("BW"));
                assert_eq!(h.run(tx), Ok(()));
            },
            |h, _m: &Memo| {
                let again = Payload::BeginRecovery {
                    participant: code("BW"),
                    new_government_key: extra_key("bw-second").public(),
                    new_recovery_key: None,
                };
                h.tx(&recovery_key("BW"), again)
            }
        ),
        row!(
            "no-pending-recovery",
            "cancel with nothing pending",
            key_roles,
            |h, _m: &Memo| {
                let cancel = Payload::CancelRecovery {
                    participant: code("BW"),
                };
                h.tx(&government_key("BW"), cancel)
            }
        ),
        row!(
            "cancel-already-signed",
            "the government key signs the same half of a cancel twice",
            |h| {
                key_roles(h);
                let tx = h.tx(&recovery_key("BW"), begin_recovery("BW"));
                assert_eq!(h.run(tx), Ok(()));
                let tx = h.tx(&government_key("BW"), cancel_recovery("BW"));
                assert_eq!(h.run(tx), Ok(()));
            },
            |h, _m: &Memo| h.tx(&government_key("BW"), cancel_recovery("BW"))
        ),
        row!(
            "node-key-too-recent",
            "a cancel by a node key the government key set just now",
            |h| {
                key_roles(h);
                let rotate = Payload::RotateKey {
                    participant: code("BW"),
                    role: kp_types::KeyRole::Consensus,
                    new_key: extra_key("bw-node-new").public(),
                };
                let tx = h.tx(&government_key("BW"), rotate);
                assert_eq!(h.run(tx), Ok(()));
                let tx = h.tx(&recovery_key("BW"), begin_recovery("BW"));
                assert_eq!(h.run(tx), Ok(()));
            },
            |h, _m: &Memo| h.tx(&extra_key("bw-node-new"), cancel_recovery("BW"))
        ),
        // ---- compromise and laundering ----
        row!(
            "compromise-in-future",
            "compromised since after the block time",
            nothing,
            |h, _m: &Memo| {
                let since = h.time.plus_ms(1);
                h.by_node(
                    "BW",
                    Payload::RevokeAuthority {
                        participant: code("BW"),
                        authority: authority_id("BW"),
                        compromised_since: Some(since),
                    },
                )
            }
        ),
        row!(
            "sanctioned-origin",
            "a neighbour declaring a suspended member's origin",
            |h| {
                h.adopt(ResolutionAction::ImposeSanction {
                    participant: code("CF"),
                    origin: kp_types::OriginRule::Refuse,
                    scope: SanctionScope::FullSuspension,
                });
            },
            |h, _m: &Memo| {
                let mut c = certificate("CG0000001", "CG", "AE", h.today());
                c.origin = Origin::Countries(vec![territory("CF")]);
                h.by_authority("CG", Payload::IssueCertificate(c))
            }
        ),
        // ---- governance limits ----
        row!(
            "too-many-pending-resolutions",
            "a proposal past the per-proposer cap",
            |h| {
                for i in 0..h.ledger.params().pending_resolutions_per_proposer_max {
                    let member = format!("Z{}", (b'A' + i as u8) as char);
                    let action = admit(&member, &[member.as_str()]);
                    let tx = propose_tx(h, "BW", action);
                    assert_eq!(h.run(tx), Ok(()));
                }
            },
            |h, _m: &Memo| propose_tx(h, "BW", admit("YZ", &["YZ"]))
        ),
    ]
    .into_iter()
    .chain(sealing::rows())
    .chain(authority_keys::rows())
    .collect()
}

#[test]
fn every_rejection_reason_has_a_failing_row() {
    let mut covered = BTreeSet::new();
    for row in rows() {
        let mut h = Harness::new();
        let memo = (row.setup)(&mut h);
        let tx = (row.tx)(&mut h, &memo);
        let verdict = if row.code == "bad-signature" {
            h.ledger.check_tx(&tx, h.time)
        } else {
            // Admission and execution agree.
            let admitted = h.ledger.check_tx(&tx, h.time);
            let executed = h.run(tx);
            assert_eq!(admitted, executed, "row {}", row.name);
            executed
        };
        match verdict {
            Err(r) => {
                assert_eq!(r.code(), row.code, "row {}: {r:?}", row.name);
                // The JSON form names the code; JSON and binary round-trip.
                let json = serde_json::to_string(&r).unwrap();
                assert!(json.contains(&format!("\"{}\"", row.code)), "{json}");
                assert_eq!(serde_json::from_str::<Rejection>(&json).unwrap(), r);
                let bin = kp_types::encode(&r);
                assert_eq!(kp_types::decode::<Rejection>(&bin, 1 << 16).unwrap(), r);
            }
            Ok(()) => panic!("row {} ({}) was accepted", row.name, row.code),
        }
        covered.insert(row.code);
    }
    covered.insert("bad-signature");
    let missing: Vec<_> = ALL_CODES.iter().filter(|c| !covered.contains(*c)).collect();
    assert!(missing.is_empty(), "codes without a row: {missing:?}");
}

/// The list above names every code `Rejection::code` returns (read from its
/// source), so a new rejection cannot go without a row.
#[test]
fn the_code_list_is_every_rejection_code() {
    let source = include_str!("../../kp-api/src/rejection.rs");
    let body = &source[source.find("pub fn code(&self)").expect("Rejection::code")..];
    let body = &body[..body.find("\n    }\n").expect("end of code()")];
    let mut codes: BTreeSet<&str> = body
        .split("=> \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    codes.remove("state-unavailable");
    let listed: BTreeSet<&str> = ALL_CODES.iter().copied().collect();
    assert_eq!(codes, listed, "ALL_CODES differs from Rejection::code");
}

#[test]
fn bad_signature_is_refused_at_admission() {
    let mut h = Harness::new();
    let c = base_cert(&h);
    let mut tx = issue_tx(&mut h, c);
    tx.signature.0[0] ^= 1;
    assert_eq!(h.ledger.check_tx(&tx, h.time), Err(Rejection::BadSignature));
}

/// The unbroken versions of the rows' transactions are accepted: each row
/// breaks exactly one thing of a valid transaction.
#[test]
fn baselines_are_valid() {
    let mut h = Harness::new();
    let c = base_cert(&h);
    assert_eq!(h.issue(c), Ok(()));
    let k = confirm(&h);
    let tx = h.by_authority("EU", Payload::ConfirmImport(k));
    assert_eq!(h.run(tx), Ok(()));
    let s = seizure(&h);
    let tx = h.by_authority("EU", Payload::ReportSeizure(s));
    assert_eq!(h.run(tx), Ok(()));
    let tx = h.by_authority("BW", Payload::ReportProduction(production()));
    assert_eq!(h.run(tx), Ok(()));
    let tx = h.by_node("BW", Payload::RegisterAuthority(new_authority()));
    assert_eq!(h.run(tx), Ok(()));
    let tx = h.by_node("BW", Payload::SubmitEvidence(evidence()));
    assert_eq!(h.run(tx), Ok(()));
    let tx = propose_tx(&mut h, "BW", admit("ZA", &["ZA"]));
    assert_eq!(h.run(tx), Ok(()));
    let id = pending(&mut h);
    let tx = h.by_node("EU", Payload::SignResolution { resolution: id });
    assert_eq!(h.run(tx), Ok(()));
    // Approval by the named monitor, and the valid green-zone certificate.
    let mut h = Harness::new();
    awaiting(&mut h);
    let tx = h.by_node(
        "WDC",
        Payload::ApproveCertificate(CertificateApproval {
            number: number("BW0000001"),
            monitor: code("WDC"),
        }),
    );
    assert_eq!(h.run(tx), Ok(()));
}
