//! Genesis, opening and resuming, block validity, atomic commits with host
//! writes, replay memory, block building and the state root. Statistics and
//! anomalies are in `statistics.rs`.

use kp_ledger::testkit::*;
use kp_ledger::{
    keys, BlockError, Genesis, GenesisError, Ledger, LedgerError, MemStore, StateStore, WriteSet,
};
use kp_types::{
    Carats, ImportConfirmation, Payload, Period, ProductionReport, ResolutionAction, SanctionScope,
    Timestamp, UsdCents,
};

#[test]
fn genesis_toml_round_trips_and_validates() {
    let g = genesis();
    let text = g.to_toml();
    assert!(text.contains("chain_id = \"kp-test\""), "{text}");
    let back = Genesis::from_toml(&text).unwrap();
    assert_eq!(back, g);
    assert_eq!(back.hash(), g.hash());

    let mut bad = g.clone();
    bad.participants.push(bad.participants[0].clone());
    assert!(matches!(
        bad.validate(),
        Err(GenesisError::DuplicateParticipant { .. })
    ));
    let mut bad = g.clone();
    bad.chair = code("TW");
    assert!(matches!(bad.validate(), Err(GenesisError::Chair { .. })));
    let mut bad = g.clone();
    bad.authorities[0].participant = code("WDC");
    assert!(matches!(
        bad.validate(),
        Err(GenesisError::AuthorityOwner { .. })
    ));
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut bad = g.clone();
    bad.participants[1].node_key = kp_types::PublicKey(identity);
    assert!(matches!(bad.validate(), Err(GenesisError::WeakKey { .. })));
    let mut bad = g.clone();
    bad.authorities[0].key = kp_types::PublicKey(identity);
    assert!(matches!(bad.validate(), Err(GenesisError::WeakKey { .. })));
    let mut bad = g.clone();
    let first = bad.authorities[0].clone();
    for i in 0..kp_api::genesis::AUTHORITIES_PER_PARTICIPANT_MAX {
        let mut a = first.clone();
        a.id = kp_types::AuthorityId::new(&format!("{}-{i}", first.participant)).unwrap();
        let mut seed = [7u8; 32];
        seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
        a.key = kp_types::SigningKey::from_seed(seed).public();
        bad.authorities.push(a);
    }
    assert!(matches!(
        bad.validate(),
        Err(GenesisError::TooMany {
            what: "authorities of one member",
            ..
        })
    ));
    let mut bad = g.clone();
    bad.params.block_txs_max = 0;
    assert!(matches!(bad.validate(), Err(GenesisError::Params { .. })));
    assert!(matches!(
        Genesis::from_toml("chain_id = 3"),
        Err(GenesisError::Parse { .. })
    ));
}

#[test]
fn genesis_toml_written_by_hand_parses() {
    let g = genesis();
    let bw = g.participants[0].node_key.to_hex();
    let eu = g.participants[1].node_key.to_hex();
    let text = format!(
        r#"
chain_id = "kp-hand"
genesis_time = "2026-01-01T00:00:00Z"
chair = "BW"

[params]
certificate_validity_days_max = 90

[[participants]]
code = "BW"
kind = "government"
name = "Botswana"
territories = ["BW"]
node_key = "{bw}"

[[participants]]
code = "EU"
kind = "government"
name = "European Union"
territories = ["BE", "DE"]
node_key = "{eu}"
"#
    );
    let parsed = Genesis::from_toml(&text).unwrap();
    assert_eq!(parsed.params.certificate_validity_days_max, 90);
    assert_eq!(
        parsed.params.block_txs_max,
        kp_ledger::Params::default().block_txs_max
    );
    assert_eq!(parsed.participants.len(), 2);
}

#[test]
fn reopening_resumes_and_refuses_another_chain() {
    let g = genesis();
    let store = MemStore::new();
    let mut h = Harness::with_genesis(g.clone());
    // Use the harness's store for the reopen test.
    let c = certificate("BW0000001", "BW", "EU", h.today());
    assert_eq!(h.issue(c), Ok(()));
    let snapshot = h.ledger.store().snapshot();
    let reopened = Ledger::open(&g, snapshot.clone()).unwrap();
    assert_eq!(reopened.height(), h.ledger.height());
    assert_eq!(reopened.state_root(), h.ledger.state_root());
    assert_eq!(reopened.last_block_hash(), h.ledger.last_block_hash());
    assert_eq!(reopened.last_block_time(), h.ledger.last_block_time());
    assert_eq!(reopened.validators(), h.ledger.validators());

    let mut other = g.clone();
    other.chain_id = "kp-other".into();
    assert!(matches!(
        Ledger::open(&other, snapshot),
        Err(LedgerError::WrongGenesis { .. })
    ));
    // A fresh store gets the genesis state, with a non-zero root.
    let fresh = Ledger::open(&g, store).unwrap();
    assert_eq!(fresh.height(), 0);
    assert_eq!(fresh.last_block_hash(), kp_types::Hash::ZERO);
    assert_eq!(fresh.last_block_time(), g.genesis_time);
    assert_ne!(fresh.state_root(), kp_types::Hash::ZERO);
}

#[test]
fn tampered_root_machinery_is_detected_on_open() {
    let g = genesis();
    let h = Harness::with_genesis(g.clone());
    let store = h.ledger.store().snapshot();
    // The stored state hash, whose root must be the stored root.
    let stored = store.get(&keys::state_hash_meta()).unwrap().unwrap();
    let mut tampered = stored.clone();
    tampered[0] ^= 1;
    let mut ws = WriteSet::default();
    ws.put(keys::state_hash_meta(), tampered);
    store.commit(&ws).unwrap();
    assert!(matches!(
        Ledger::open(&g, store.clone()),
        Err(LedgerError::RootMismatch { .. })
    ));
    // A state hash of the wrong size is corruption, not a panic.
    let mut ws = WriteSet::default();
    ws.put(keys::state_hash_meta(), vec![9; 5]);
    store.commit(&ws).unwrap();
    assert!(matches!(
        Ledger::open(&g, store.clone()),
        Err(LedgerError::Store(kp_ledger::StoreError::Corrupt { .. }))
    ));
    // A store of the earlier bucket-tree scheme (an index, no state hash)
    // is refused with its own error.
    let mut ws = WriteSet::default();
    ws.delete(keys::state_hash_meta());
    let mut index_entry = keys::prefix(keys::table::BUCKET_INDEX);
    index_entry.extend_from_slice(&[0, 1, b'k']);
    ws.put(index_entry, vec![0; 32]);
    store.commit(&ws).unwrap();
    assert!(matches!(
        Ledger::open(&g, store),
        Err(LedgerError::OldRootScheme)
    ));
}

/// A committed entry changed behind the ledger's back is not read on open,
/// but the full check finds it.
#[test]
fn full_state_check_finds_a_changed_entry() {
    let g = genesis();
    let mut h = Harness::with_genesis(g.clone());
    let c = certificate("BW0000001", "BW", "EU", h.today());
    assert_eq!(h.issue(c), Ok(()));
    assert_eq!(h.ledger.verify_state(), Ok(()));
    let store = h.ledger.store().snapshot();
    let committed = store
        .scan_prefix(&keys::prefix(keys::table::CERTIFICATE), None, 1)
        .unwrap();
    let mut ws = WriteSet::default();
    ws.put(committed[0].0.clone(), b"forged".to_vec());
    store.commit(&ws).unwrap();
    let reopened = Ledger::open(&g, store).unwrap();
    assert!(matches!(
        reopened.verify_state(),
        Err(LedgerError::RootMismatch { .. })
    ));
}

#[test]
fn block_validity_errors() {
    let mut h = Harness::new();
    let c = certificate("BW0000001", "BW", "EU", h.today());
    let tx = h.by_authority("BW", Payload::IssueCertificate(c));
    let good = block_with(&h.ledger, h.time, vec![tx.clone()]);
    assert_eq!(h.ledger.validate_block(&good), Ok(()));
    let check = |f: &dyn Fn(&mut kp_types::Block), expected: &str| {
        let mut b = good.clone();
        f(&mut b);
        let err = h.ledger.validate_block(&b).unwrap_err();
        assert!(format!("{err:?}").starts_with(expected), "{err:?}");
    };
    check(&|b| b.header.chain_id = "x".into(), "WrongChain");
    check(&|b| b.header.height = 2, "WrongHeight");
    check(
        &|b| b.header.prev_hash = kp_types::Hash([1; 32]),
        "WrongPrevHash",
    );
    check(
        &|b| b.header.state_root = kp_types::Hash([1; 32]),
        "WrongStateRoot",
    );
    check(&|b| b.header.time = Timestamp(0), "TimeNotAfter");
    check(
        &|b| b.header.txs_root = kp_types::Hash([1; 32]),
        "TxsRootMismatch",
    );
    check(
        &|b| b.header.proposer = node_key("TW").public(),
        "ProposerNotValidator",
    );
    // The header commits to the signatures: another one under the same
    // header is another body, not this block.
    check(&|b| b.txs[0].signature.0[5] ^= 1, "TxsRootMismatch");
    // A bad signature with a matching root: the culprit is named.
    let mut bad = tx.clone();
    bad.signature.0[5] ^= 1;
    let b = block_with(&h.ledger, h.time, vec![tx.clone(), bad]);
    assert_eq!(
        h.ledger.validate_block(&b),
        Err(BlockError::BadTxSignature {
            index: 1,
            tx_hash: tx.hash()
        })
    );
    // Nothing is written for an invalid block.
    let root = h.ledger.state_root();
    assert!(h.ledger.apply_block(&b, WriteSet::default()).is_err());
    assert_eq!(h.ledger.state_root(), root);
    assert_eq!(h.ledger.height(), 0);
}

#[test]
fn block_limits_are_enforced() {
    let mut g = genesis();
    g.params.block_txs_max = 1;
    let mut h = Harness::with_genesis(g);
    let a = h.by_authority(
        "BW",
        Payload::IssueCertificate(certificate("BW1", "BW", "EU", h.today())),
    );
    let b = h.by_authority(
        "BW",
        Payload::IssueCertificate(certificate("BW2", "BW", "EU", h.today())),
    );
    let block = block_with(&h.ledger, h.time, vec![a.clone(), b.clone()]);
    assert!(matches!(
        h.ledger.validate_block(&block),
        Err(BlockError::TooManyTxs { count: 2, max: 1 })
    ));
    // The builder stops at the limit.
    let built = h
        .ledger
        .build_block(h.ledger.validators()[0], h.time, &[a, b]);
    assert_eq!(built.txs.len(), 1);
    assert_eq!(h.ledger.validate_block(&built), Ok(()));
}

#[test]
fn host_writes_commit_atomically_with_the_block() {
    let mut h = Harness::new();
    let block = block_with(&h.ledger, h.time, vec![]);
    let mut host = WriteSet::default();
    host.put(vec![0x90, 1, 2], b"block bytes".to_vec());
    h.ledger.apply_block(&block, host).unwrap();
    assert_eq!(
        h.ledger.store().get(&[0x90, 1, 2]).unwrap(),
        Some(b"block bytes".to_vec())
    );
    let block = block_with(&h.ledger, h.time.plus_ms(1), vec![]);
    let mut host = WriteSet::default();
    host.put(vec![0x10, 1], vec![]);
    assert!(matches!(
        h.ledger.apply_block(&block, host),
        Err(LedgerError::HostKeyInLedgerRange { .. })
    ));
    assert_eq!(h.ledger.height(), 1);
}

#[test]
fn executed_hashes_are_pruned_after_expiry() {
    let mut h = Harness::new();
    let tx = h.by_authority(
        "BW",
        Payload::IssueCertificate(certificate("BW1", "BW", "EU", h.today())),
    );
    let hash = tx.hash();
    assert_eq!(h.run(tx.clone()), Ok(()));
    let key = keys::executed(&hash);
    assert!(h.ledger.store().get(&key).unwrap().is_some());
    // Still remembered (and refused) while it could be included.
    assert_eq!(
        h.ledger.check_tx(&tx, h.time).unwrap_err().code(),
        "already-executed"
    );
    h.set_time(tx.tx.expires_at.plus_ms(1));
    h.apply(vec![]).unwrap();
    assert!(h.ledger.store().get(&key).unwrap().is_none());
    // Now it is refused for its expiry instead.
    assert_eq!(
        h.ledger.check_tx(&tx, h.time).unwrap_err().code(),
        "tx-expired"
    );
}

/// The replay check skips the store for hashes the ledger's filter has
/// never seen; that holds only for the ledger that wrote the store. A
/// second ledger over the same store (the node's read-only one, for
/// queries), a reopened one, and the writer itself all refuse a replay and
/// a taken number, in a block and on admission.
#[test]
fn replays_and_taken_numbers_are_refused_by_every_ledger_over_the_store() {
    let mut h = Harness::new();
    let reader = Ledger::open(&genesis(), h.ledger.store().clone()).unwrap();
    let batch = h.bw_issues(0..3000);
    let receipt = h.apply(batch.clone()).unwrap();
    assert!(receipt.receipts.iter().all(|r| r.result.is_ok()));
    let tx = h.by_authority(
        "BW",
        Payload::IssueCertificate(certificate("BW99999", "BW", "EU", h.today())),
    );
    assert_eq!(h.run(tx.clone()), Ok(()));
    let reopened = Ledger::open(&genesis(), h.ledger.store().clone()).unwrap();
    let now = h.time;
    for replay in [&batch[0], &batch[2999], &tx] {
        for ledger in [&h.ledger, &reader, &reopened] {
            assert_eq!(
                ledger.check_tx(replay, now).unwrap_err().code(),
                "already-executed"
            );
        }
    }
    let taken = h.bw_issues([0, 2999, 99999]);
    for new_tx in &taken {
        for ledger in [&h.ledger, &reader, &reopened] {
            assert_eq!(
                ledger.check_tx(new_tx, now).unwrap_err().code(),
                "number-taken"
            );
        }
    }
    let again = h
        .apply(vec![batch[1234].clone(), tx, taken[1].clone()])
        .unwrap();
    let codes: Vec<_> = again
        .receipts
        .iter()
        .map(|r| r.result.as_ref().unwrap_err().code())
        .collect();
    assert_eq!(
        codes,
        ["already-executed", "already-executed", "number-taken"]
    );
}

/// The ledger remembers the member and authority records its admission
/// checks read; a block that changes one (a sanction, a revoked authority,
/// a lifted sanction) is seen by the very next check, of this ledger and of
/// a read-only one over the same store.
#[test]
fn admission_sees_at_once_the_records_a_block_changed() {
    let mut h = Harness::new();
    let reader = Ledger::open(&genesis(), h.ledger.store().clone()).unwrap();
    // A first block: from now on this ledger keeps what its checks read.
    h.apply(Vec::new()).unwrap();
    let verdicts = |h: &mut Harness, n: u32| {
        let tx = h.bw_issues([n]).remove(0);
        let now = h.time;
        [&h.ledger, &reader].map(|l| l.check_tx(&tx, now).map_err(|r| r.code()))
    };
    assert_eq!(verdicts(&mut h, 1), [Ok(()), Ok(())]);
    h.adopt(ResolutionAction::ImposeSanction {
        participant: code("BW"),
        origin: Default::default(),
        scope: SanctionScope::ExportBan,
    });
    assert_eq!(
        verdicts(&mut h, 2),
        [Err("export-forbidden"), Err("export-forbidden")]
    );
    h.adopt(ResolutionAction::LiftSanction {
        participant: code("BW"),
    });
    assert_eq!(verdicts(&mut h, 3), [Ok(()), Ok(())]);
    let revoke = h.by_node(
        "BW",
        Payload::RevokeAuthority {
            participant: code("BW"),
            authority: authority_id("BW"),
            compromised_since: None,
        },
    );
    assert_eq!(h.run(revoke), Ok(()));
    assert_eq!(
        verdicts(&mut h, 4),
        [Err("authority-revoked"), Err("authority-revoked")]
    );
}

/// What a ledger keeps in memory between blocks (the key filter, its
/// validators) never changes a result: a ledger that keeps it and one
/// reopened before every block agree on every receipt and root through
/// issues, confirmations, refusals, the pruning of the replay memory and the
/// expiry of certificates.
#[test]
fn remembering_the_store_between_blocks_changes_no_result() {
    let mut kept = Harness::new();
    let store = MemStore::new();
    let mut fresh = Ledger::open(&genesis(), store.clone()).unwrap();
    let mut blocks = Vec::new();
    let mut expired = 0;
    for round in 0..6u32 {
        let mut txs = kept.bw_issues(round * 100..round * 100 + 50);
        // A taken number and a replay, refused.
        txs.push(kept.by_authority(
            "BW",
            Payload::IssueCertificate(certificate("BW0", "BW", "IN", kept.today())),
        ));
        if let Some(first) = blocks.first().and_then(|b: &kp_types::Block| b.txs.first()) {
            txs.push(first.clone());
        }
        for i in 0..round.min(3) {
            let k = ImportConfirmation {
                number: number(&format!("BW{}", (round - 1) * 100 + i)),
                authority: authority_id("EU"),
                carats: Carats(10_000),
                parcels: 2,
                received_on: kept.today(),
            };
            txs.push(kept.by_authority("EU", Payload::ConfirmImport(k)));
        }
        let block = block_with(&kept.ledger, kept.time, txs);
        let a = kept
            .ledger
            .apply_block(&block, WriteSet::default())
            .unwrap();
        fresh = Ledger::open(&genesis(), store.clone()).unwrap();
        let b = fresh.apply_block(&block, WriteSet::default()).unwrap();
        assert_eq!(a, b, "round {round}");
        expired += a
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    kp_ledger::LedgerEvent::CertificateStatusChanged {
                        to: kp_ledger::CertificateStatus::Expired,
                        ..
                    }
                )
            })
            .count();
        blocks.push(block);
        // Every other block far ahead: transactions and certificates expire.
        let step = if round % 2 == 1 {
            40 * 86_400_000
        } else {
            MINUTE_MS
        };
        kept.set_time(kept.time.plus_ms(step));
    }
    assert!(expired > 0, "no certificate expired");
    assert_eq!(kept.ledger.state_root(), fresh.state_root());
    fresh.verify_state().unwrap();
}

/// One block's hashes share one expiry-index entry per expiry window; the
/// group goes once its latest expiry passed, and entries an earlier build
/// left in the version-1 index (one per hash) are pruned as well.
#[test]
fn executed_hashes_are_grouped_per_block_and_window() {
    let mut h = Harness::new();
    let txs = h.bw_issues(0..3);
    let latest = txs.iter().map(|t| t.tx.expires_at).max().unwrap();
    let receipt = h.apply(txs.clone()).unwrap();
    assert!(receipt.receipts.iter().all(|r| r.result.is_ok()));
    let groups = h
        .ledger
        .store()
        .scan_prefix(&keys::executed_by_expiry_prefix(), None, 10)
        .unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(
        groups[0].0,
        keys::executed_by_expiry(latest, receipt.height)
    );
    assert_eq!(groups[0].1.len(), 3 * 32);
    // A leftover of the version-1 layout.
    let old = kp_types::Hash([7; 32]);
    let mut ws = WriteSet::default();
    ws.put(keys::executed(&old), kp_types::encode(&h.time));
    ws.put(keys::executed_expiry(h.time, &old), Vec::new());
    h.ledger.store().commit(&ws).unwrap();
    // This build finds such leftovers when it opens the store.
    h.ledger = Ledger::open(&genesis(), h.ledger.store().clone()).unwrap();
    h.set_time(latest.plus_ms(1));
    h.apply(vec![]).unwrap();
    let store = h.ledger.store();
    for t in &txs {
        assert_eq!(store.get(&keys::executed(&t.hash())).unwrap(), None);
    }
    assert_eq!(store.get(&keys::executed(&old)).unwrap(), None);
    assert!(store
        .scan_prefix(&[keys::table::EXECUTED_EXPIRY], None, 10)
        .unwrap()
        .is_empty());
}

/// A block's certificates share one expiry-index entry per expiry date; at
/// expiry the open ones expire, the confirmed ones stay confirmed, and the
/// entry goes. A version-1 entry left by an earlier build is honoured.
#[test]
fn certificates_are_grouped_per_block_for_expiry() {
    let mut h = Harness::new();
    let txs: Vec<_> = ["BW1", "BW2"]
        .iter()
        .map(|n| {
            h.by_authority(
                "BW",
                Payload::IssueCertificate(certificate(n, "BW", "EU", h.today())),
            )
        })
        .collect();
    let receipt = h.apply(txs).unwrap();
    assert!(receipt.receipts.iter().all(|r| r.result.is_ok()));
    let expires_on = h.today().plus_days(30);
    let groups = h
        .ledger
        .store()
        .scan_prefix(&keys::certificates_by_expiry_prefix(), None, 10)
        .unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(
        groups[0].0,
        keys::certificates_by_expiry(expires_on, receipt.height)
    );
    h.confirm_received("BW1", 10_000);
    // A leftover of the version-1 layout for a third, open certificate.
    assert_eq!(h.issue(certificate("BW3", "BW", "EU", h.today())), Ok(()));
    let mut ws = WriteSet::default();
    ws.put(
        keys::certificate_expiry(expires_on, &number("BW3")),
        Vec::new(),
    );
    h.ledger.store().commit(&ws).unwrap();
    // This build finds such leftovers when it opens the store.
    h.ledger = Ledger::open(&genesis(), h.ledger.store().clone()).unwrap();
    h.set_time(h.time.plus_ms(31 * 86_400_000));
    h.apply(vec![]).unwrap();
    let status = |n: &str| h.ledger.certificate(&number(n)).unwrap().unwrap().status;
    assert_eq!(status("BW1"), kp_ledger::CertificateStatus::Confirmed);
    assert_eq!(status("BW2"), kp_ledger::CertificateStatus::Expired);
    assert_eq!(status("BW3"), kp_ledger::CertificateStatus::Expired);
    assert!(h
        .ledger
        .store()
        .scan_prefix(&[keys::table::CERTIFICATE_EXPIRY], None, 10)
        .unwrap()
        .is_empty());
}

#[test]
fn build_block_skips_what_would_be_rejected() {
    let mut h = Harness::new();
    let ok = h.by_authority(
        "BW",
        Payload::IssueCertificate(certificate("BW1", "BW", "EU", h.today())),
    );
    let dup_number = h.by_authority(
        "BW",
        Payload::IssueCertificate(certificate("BW1", "BW", "IN", h.today())),
    );
    let mut forged = h.by_authority(
        "BW",
        Payload::IssueCertificate(certificate("BW2", "BW", "EU", h.today())),
    );
    forged.signature.0[0] ^= 1;
    let block = h.ledger.build_block(
        h.ledger.validators()[0],
        h.time,
        &[ok.clone(), dup_number, forged, ok.clone()],
    );
    assert_eq!(block.txs, vec![ok]);
    let receipt = h.ledger.apply_block(&block, WriteSet::default()).unwrap();
    assert!(receipt.receipts.iter().all(|r| r.result.is_ok()));
}

#[test]
fn replicas_agree_and_the_root_moves_with_state() {
    let mut a = Harness::new();
    let mut b = Harness::new();
    assert_eq!(a.ledger.state_root(), b.ledger.state_root());
    let tx = a.by_authority(
        "BW",
        Payload::IssueCertificate(certificate("BW1", "BW", "EU", a.today())),
    );
    let ra = a.apply(vec![tx.clone()]).unwrap();
    let rb = b.apply(vec![tx]).unwrap();
    assert_eq!(ra, rb);
    assert_eq!(a.ledger.state_root(), b.ledger.state_root());
    assert_eq!(ra.state_root, a.ledger.state_root());
    // The next header commits to it.
    let next = block_with(&a.ledger, a.time, vec![]);
    assert_eq!(next.header.state_root, ra.state_root);
}

/// The incrementally maintained root equals a root computed from scratch
/// over every committed entry of the store, in another order.
#[test]
fn incremental_root_equals_full_recomputation() {
    use kp_ledger::root::StateHash;
    let mut h = Harness::new();
    for i in 0..30 {
        let n = format!("BW{i}");
        assert_eq!(h.issue(certificate(&n, "BW", "EU", h.today())), Ok(()));
        if i % 3 == 0 {
            h.confirm_received(&n, 10_000);
        }
    }
    h.set_time(h.time.plus_ms(40 * 86_400_000));
    h.apply(vec![]).unwrap();
    let all = h.ledger.store().scan_prefix(&[], None, usize::MAX).unwrap();
    let mut full = StateHash::empty();
    for (k, v) in all.iter().rev() {
        if keys::is_committed(k) {
            full.insert(k, v);
        }
    }
    assert_eq!(full.root(), h.ledger.state_root());
    assert_eq!(kp_ledger::root::recompute(h.ledger.store()).unwrap(), full);
    assert_eq!(h.ledger.verify_state(), Ok(()));
}

#[test]
fn small_queries() {
    let mut h = Harness::new_at(at(2026, 7, 1));
    let tx = h.by_authority(
        "BW",
        Payload::ReportProduction(ProductionReport {
            authority: authority_id("BW"),
            period: Period::Half(2026, 1),
            carats: Carats(12_345),
            value_usd: UsdCents(99),
        }),
    );
    assert_eq!(h.run(tx), Ok(()));
    let p = h
        .ledger
        .production(&code("BW"), Period::Half(2026, 1))
        .unwrap()
        .unwrap();
    assert_eq!(p.carats, Carats(12_345));
    let s = h
        .ledger
        .statistics(&code("BW"), Period::Year(2026))
        .unwrap();
    assert_eq!(s.production.carats, Carats(12_345));
    assert!(h
        .ledger
        .production(&code("BW"), Period::Half(2026, 2))
        .unwrap()
        .is_none());
    let a = h.ledger.authority(&authority_id("EU")).unwrap().unwrap();
    assert_eq!(a.authority.participant, code("EU"));
    let before = h.ledger.validator_set_hash();
    h.adopt(kp_types::ResolutionAction::Expel {
        participant: code("CG"),
    });
    // The expulsion fixes the validators of the height after next: the
    // next height's set was fixed one block before.
    assert_eq!(h.ledger.validator_set_hash(), before);
    assert_ne!(h.ledger.next_validator_set_hash(), before);
    h.apply(vec![]).unwrap();
    assert_ne!(h.ledger.validator_set_hash(), before);
    // Seizures, newest first.
    for carats in [100, 200] {
        let tx = h.by_authority(
            "EU",
            Payload::ReportSeizure(kp_types::SeizureReport {
                authority: authority_id("EU"),
                territory: territory("DE"),
                location: "Frankfurt".into(),
                carats: Carats(carats),
                value_usd: None,
                reason: kp_types::SeizureReason::NoCertificate,
                certificate: None,
                seized_on: h.today(),
            }),
        );
        assert_eq!(h.run(tx), Ok(()));
    }
    let seizures = h.ledger.seizures(10).unwrap();
    assert_eq!(seizures.len(), 2);
    assert_eq!(seizures[0].report.carats, Carats(200));
    assert_eq!(seizures[0].sequence, 2);
    assert_eq!(h.ledger.seizures(1).unwrap().len(), 1);
    assert!(!h.ledger.resolutions().unwrap().is_empty());
    assert_eq!(h.ledger.participants().unwrap().len(), 8);
}

/// Receipts, events and records serve as JSON (RPC) and store as bincode.
#[test]
fn receipts_and_records_round_trip_as_json_and_binary() {
    let mut h = Harness::new();
    let c = certificate("BW1", "BW", "EU", h.today());
    let ok = h.by_authority("BW", Payload::IssueCertificate(c.clone()));
    let dup = h.by_authority("BW", Payload::IssueCertificate(c));
    let block = block_with(&h.ledger, h.time, vec![ok, dup]);
    let receipt = h.ledger.apply_block(&block, WriteSet::default()).unwrap();
    assert!(receipt.receipts[1].result.is_err());
    assert!(!receipt.events.is_empty());
    let json = serde_json::to_string(&receipt).unwrap();
    assert_eq!(
        serde_json::from_str::<kp_ledger::BlockReceipt>(&json).unwrap(),
        receipt
    );
    let bin = kp_types::encode(&receipt);
    assert_eq!(
        kp_types::decode::<kp_ledger::BlockReceipt>(&bin, 1 << 20).unwrap(),
        receipt
    );
    let rec = h.ledger.certificate(&number("BW1")).unwrap().unwrap();
    let json = serde_json::to_string(&rec).unwrap();
    assert_eq!(
        serde_json::from_str::<kp_ledger::CertificateRecord>(&json).unwrap(),
        rec
    );
    let p = h.ledger.participant(&code("BW")).unwrap().unwrap();
    let json = serde_json::to_string(&p).unwrap();
    assert_eq!(
        serde_json::from_str::<kp_ledger::ParticipantRecord>(&json).unwrap(),
        p
    );
    let stats = h
        .ledger
        .statistics(&code("BW"), Period::Year(2026))
        .unwrap();
    let json = serde_json::to_string(&stats).unwrap();
    assert_eq!(
        serde_json::from_str::<kp_ledger::TradeStatistics>(&json).unwrap(),
        stats
    );
}

/// `apply_block` after `validate_block` reuses the signature verdict only
/// for the very same signatures.
#[test]
fn verified_signatures_are_reused_only_for_the_same_block() {
    let mut h = Harness::new();
    let c = certificate("BW1", "BW", "EU", h.today());
    let tx = h.by_authority("BW", Payload::IssueCertificate(c));
    let good = block_with(&h.ledger, h.time, vec![tx]);
    assert_eq!(h.ledger.validate_block(&good), Ok(()));
    // A forged signature under the same header does not match the header,
    // which commits to the signatures.
    let mut forged = good.clone();
    forged.txs[0].signature.0[7] ^= 1;
    assert_eq!(forged.hash(), good.hash());
    assert!(matches!(
        h.ledger.apply_block(&forged, WriteSet::default()),
        Err(LedgerError::InvalidBlock(
            BlockError::TxsRootMismatch { .. }
        ))
    ));
    // With a header that names it, it is another block: verified again,
    // and refused.
    forged.header.txs_root = forged.compute_txs_root();
    assert!(matches!(
        h.ledger.apply_block(&forged, WriteSet::default()),
        Err(LedgerError::InvalidBlock(BlockError::BadTxSignature {
            index: 0,
            ..
        }))
    ));
    assert_eq!(h.ledger.height(), 0);
    let receipt = h.ledger.apply_block(&good, WriteSet::default()).unwrap();
    assert_eq!(receipt.receipts[0].result, Ok(()));
}

/// `validate_block_with` verifies only what the host does not vouch for, and
/// still refuses a forged signature it was not told about.
#[test]
fn validate_block_with_verifies_only_signatures_not_vouched_for() {
    let mut h = Harness::new();
    let a = h.by_authority(
        "BW",
        Payload::IssueCertificate(certificate("BW1", "BW", "EU", h.today())),
    );
    let b = h.by_authority(
        "BW",
        Payload::IssueCertificate(certificate("BW2", "BW", "EU", h.today())),
    );
    let good = block_with(&h.ledger, h.time, vec![a.clone(), b.clone()]);
    let a_only = |hash: &kp_types::TxHash, sig: &kp_types::Signature| {
        *hash == a.hash() && *sig == a.signature
    };
    assert_eq!(h.ledger.validate_block_with(&good, &a_only), Ok(()));
    // The second signature is forged: the host vouched only for the first.
    let mut forged = good.clone();
    forged.txs[1].signature.0[3] ^= 1;
    forged.header.txs_root = forged.compute_txs_root();
    assert!(matches!(
        h.ledger.validate_block_with(&forged, &a_only),
        Err(BlockError::BadTxSignature { index: 1, .. })
    ));
    // The first is forged: the host's voucher names the genuine signature,
    // not this one, so it is verified and refused.
    let mut forged = good.clone();
    forged.txs[0].signature.0[3] ^= 1;
    forged.header.txs_root = forged.compute_txs_root();
    assert!(matches!(
        h.ledger.validate_block_with(&forged, &a_only),
        Err(BlockError::BadTxSignature { index: 0, .. })
    ));
}

/// Building from verified candidates gives the same block as `build_block`.
#[test]
fn build_block_from_verified_matches_build_block() {
    let mut h = Harness::new();
    let txs = h.bw_issues(1..=5);
    let proposer = h.ledger.validators()[0];
    let checked = h.ledger.build_block(proposer, h.time, &txs);
    let (trusted, refused) = h
        .ledger
        .build_block_from_verified(proposer, h.time, txs.iter());
    assert!(refused.is_empty());
    assert_eq!(checked, trusted);
    assert_eq!(trusted.txs.len(), 5);
    assert_eq!(h.ledger.validate_block(&trusted), Ok(()));
    // A second issue of a number already in the block is refused and named.
    let mut again = txs.clone();
    let duplicate = h.by_authority(
        "BW",
        Payload::IssueCertificate(certificate("BW1", "BW", "EU", h.today())),
    );
    again.push(duplicate.clone());
    let (block, refused) = h
        .ledger
        .build_block_from_verified(proposer, h.time, again.iter());
    assert_eq!(block.txs.len(), 5);
    assert_eq!(refused, vec![duplicate.hash()]);
}
