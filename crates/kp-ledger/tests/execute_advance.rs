//! Executing a block, then advancing past it: the host's writes join the
//! block's one commit once the receipts exist; blocks applied ahead of the
//! store read as written, and the store ends up the same as block by block.

use kp_ledger::testkit::*;
use kp_ledger::{Ledger, LedgerError, MemStore, StateStore, WriteSet};
use kp_types::Payload;

fn host_entry(height: u64, receipts: &[u8]) -> WriteSet {
    let mut writes = WriteSet::default();
    writes.put(
        [&[0x90u8][..], &height.to_be_bytes()].concat(),
        receipts.to_vec(),
    );
    writes
}

fn everything(store: &MemStore) -> Vec<(Vec<u8>, Vec<u8>)> {
    store.scan_prefix(&[], None, usize::MAX).unwrap()
}

#[test]
fn receipts_written_in_the_blocks_own_commit() {
    let mut h = Harness::new();
    let store = MemStore::new();
    let mut ledger = Ledger::open(&genesis(), store.clone()).unwrap();
    let txs = h.bw_issues(1..=3);
    let block = block_with(&ledger, h.time, txs);
    let before = everything(&store);
    let mut pending = ledger.execute(&block).unwrap();
    // Executing changes nothing, in the store or the ledger.
    assert_eq!(everything(&store), before);
    assert_eq!(ledger.height(), 0);
    let receipts = kp_types::encode(&pending.receipt().receipts);
    pending.add_host_writes(host_entry(1, &receipts)).unwrap();
    let receipt = ledger.advance(pending).unwrap();
    assert_eq!(ledger.height(), 1);
    assert_eq!(receipt.receipts.len(), 3);
    assert!(receipt.receipts.iter().all(|r| r.result.is_ok()));
    assert_eq!(
        store
            .get(&[&[0x90u8][..], &1u64.to_be_bytes()].concat())
            .unwrap(),
        Some(receipts)
    );
    assert_eq!(ledger.state_root(), receipt.state_root);
}

#[test]
fn host_writes_in_the_ledgers_key_range_and_stale_blocks_are_refused() {
    let mut h = Harness::new();
    let mut ledger = Ledger::open(&genesis(), MemStore::new()).unwrap();
    let block = block_with(&ledger, h.time, h.bw_issues([1]));
    let mut pending = ledger.execute(&block).unwrap();
    let mut bad = WriteSet::default();
    bad.put(vec![0x01, 0x02], vec![]);
    assert!(matches!(
        pending.add_host_writes(bad),
        Err(LedgerError::HostKeyInLedgerRange { .. })
    ));
    let again = ledger.execute(&block).unwrap();
    ledger.advance(pending).unwrap();
    // The same block executed before the ledger moved on no longer follows.
    assert!(matches!(
        ledger.advance(again),
        Err(LedgerError::StalePending {
            height: 1,
            current: 1
        })
    ));
    assert_eq!(ledger.height(), 1);
}

/// Ten blocks applied one by one, and the same ten applied ahead of the
/// store and written in batches of three (each write taken while the next
/// blocks execute): same receipts, same roots, and the same store.
#[test]
fn blocks_applied_ahead_of_the_store_end_up_as_applied_one_by_one() {
    let mut h = Harness::new();
    let reference = MemStore::new();
    let mut one_by_one = Ledger::open(&genesis(), reference.clone()).unwrap();
    let store = MemStore::new();
    let mut ahead = Ledger::open(&genesis(), store.clone()).unwrap();
    let mut taken: Option<std::sync::Arc<WriteSet>> = None;
    for height in 1..=10u64 {
        h.time = h.time.plus_ms(MINUTE_MS);
        // Later blocks void earlier certificates: they read what the blocks
        // before them wrote, still only ahead of the store.
        let mut txs = h.bw_issues([height as u32 * 10, height as u32 * 10 + 1]);
        if height > 1 {
            let number = number(&format!("BW{}", (height - 1) * 10));
            txs.push(h.by_authority(
                "BW",
                Payload::VoidCertificate(kp_types::VoidCertificate {
                    number,
                    authority: authority_id("BW"),
                    reason: "wrong weight".into(),
                }),
            ));
        }
        let block = block_with(&one_by_one, h.time, txs);
        let mut reference_pending = one_by_one.execute(&block).unwrap();
        let mut pending = ahead.execute(&block).unwrap();
        assert_eq!(pending.receipt(), reference_pending.receipt());
        let receipts = kp_types::encode(&pending.receipt().receipts);
        pending
            .add_host_writes(host_entry(height, &receipts))
            .unwrap();
        reference_pending
            .add_host_writes(host_entry(height, &receipts))
            .unwrap();
        let expected = one_by_one.advance(reference_pending).unwrap();
        let got = ahead.advance_behind(pending).unwrap();
        assert_eq!(got, expected);
        // The void found the certificate a block before it, still ahead.
        assert!(
            got.receipts.iter().all(|r| r.result.is_ok()),
            "{:?}",
            got.receipts
        );
        assert_eq!(ahead.state_root(), one_by_one.state_root());
        assert!(ahead.is_behind());
        // A direct commit would overtake the writes held ahead.
        let late = ahead.execute(&block_with(&ahead, h.time.plus_ms(1), Vec::new()));
        assert!(matches!(
            ahead.advance(late.unwrap()),
            Err(LedgerError::Store(_))
        ));
        if height % 3 == 0 {
            if let Some(previous) = taken.take() {
                store.commit(&previous).unwrap();
                assert!(ahead.behind_written());
            }
            taken = ahead.take_behind().unwrap();
            assert!(matches!(
                ahead.take_behind(),
                Err(LedgerError::WriteBehindInFlight)
            ));
        }
    }
    if let Some(previous) = taken.take() {
        store.commit(&previous).unwrap();
        assert!(ahead.behind_written());
    }
    ahead.flush_behind().unwrap();
    assert!(!ahead.is_behind());
    assert_eq!(everything(&store), everything(&reference));
    // The store alone reopens where the ledger was.
    let reopened = Ledger::open(&genesis(), store.clone()).unwrap();
    assert_eq!(reopened.height(), 10);
    assert_eq!(reopened.state_root(), one_by_one.state_root());
    reopened.verify_state().unwrap();
}
