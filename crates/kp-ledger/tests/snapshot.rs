//! State snapshots (ADR 0016): a restored state is the replayed state, to
//! the root, and goes on under the same rules; a snapshot that is not the
//! trusted state is refused, however its chunks were forged.

use kp_ledger::snapshot::{self, Manifest, Restore, SnapshotError, Trusted};
use kp_ledger::testkit::*;
use kp_ledger::{Ledger, MemStore, StateStore};

/// A chain with certificates issued and one confirmed, over three blocks.
fn chain() -> Harness {
    let mut h = Harness::new();
    let txs = h.bw_issues(1..=40);
    h.apply(txs).unwrap();
    h.confirm_received("BW1", 100);
    let txs = h.bw_issues(41..=60);
    h.apply(txs).unwrap();
    h
}

fn trusted(ledger: &Ledger<MemStore>) -> Trusted {
    Trusted {
        height: ledger.height(),
        block_hash: ledger.last_block_hash(),
        state_root: ledger.state_root(),
        records_root: ledger.records_root(),
    }
}

fn take(ledger: &Ledger<MemStore>, chunk_bytes: usize) -> (Manifest, Vec<Vec<u8>>) {
    let mut chunks = Vec::new();
    let manifest = snapshot::take(ledger, chunk_bytes, |i, bytes| {
        assert_eq!(i, chunks.len());
        chunks.push(bytes.to_vec());
        Ok(())
    })
    .unwrap();
    (manifest, chunks)
}

fn restore(
    manifest: &Manifest,
    chunks: &[Vec<u8>],
    trusted: Trusted,
) -> Result<Ledger<MemStore>, SnapshotError> {
    let genesis = genesis();
    let mut restore = Restore::new(&genesis, MemStore::new(), manifest.clone(), trusted)?;
    for (i, bytes) in chunks.iter().enumerate() {
        restore.apply(i, bytes)?;
    }
    restore.finish()
}

#[test]
fn a_restored_state_is_the_replayed_state_and_goes_on_under_the_same_rules() {
    let mut h = chain();
    let (manifest, chunks) = take(&h.ledger, 2048);
    assert!(chunks.len() > 5, "small chunks: {}", chunks.len());
    assert_eq!(manifest.height, h.ledger.height());
    let decoded = Manifest::decode(&kp_types::encode(&manifest)).unwrap();
    assert_eq!(decoded, manifest);

    let restored = restore(&manifest, &chunks, trusted(&h.ledger)).unwrap();
    assert_eq!(restored.height(), h.ledger.height());
    assert_eq!(restored.state_root(), h.ledger.state_root());
    assert_eq!(restored.records_root(), h.ledger.records_root());
    assert_eq!(restored.last_block_hash(), h.ledger.last_block_hash());
    restored.verify_state().unwrap();
    // What the state root leaves out is rebuilt: the territories each
    // authority issued under, through which its certificates are found.
    let by_bw = restored
        .certificates_issued_by(&authority_id("BW"), None, 100)
        .unwrap();
    assert_eq!(
        by_bw,
        h.ledger
            .certificates_issued_by(&authority_id("BW"), None, 100)
            .unwrap()
    );
    assert_eq!(by_bw.len(), 60);

    // The next block, on the replayed and on the restored ledger: the same
    // verdicts and the same roots (a second issue of a number already
    // issued is refused by both, from the records in the state).
    let mut restored = restored;
    let mut txs = h.bw_issues(61..=70);
    let replayed = h.bw_issues(1..=1);
    txs.extend(replayed);
    let block = block_with(&h.ledger, h.time, txs);
    let a = h.ledger.apply_block(&block, Default::default()).unwrap();
    let b = restored.apply_block(&block, Default::default()).unwrap();
    assert_eq!(a.state_root, b.state_root);
    assert_eq!(
        a.receipts
            .iter()
            .map(|r| r.result.clone())
            .collect::<Vec<_>>(),
        b.receipts
            .iter()
            .map(|r| r.result.clone())
            .collect::<Vec<_>>()
    );
    assert!(a.receipts.last().unwrap().result.is_err());
}

#[test]
fn a_tampered_chunk_is_refused_and_the_right_one_still_goes_in() {
    let h = chain();
    let (manifest, mut chunks) = take(&h.ledger, 2048);
    let genesis = genesis();
    let mut r = Restore::new(
        &genesis,
        MemStore::new(),
        manifest.clone(),
        trusted(&h.ledger),
    )
    .unwrap();
    let good = chunks[0].clone();
    chunks[0][20] ^= 1;
    assert!(matches!(
        r.apply(0, &chunks[0]),
        Err(SnapshotError::ChunkHash { index: 0, .. })
    ));
    assert!(matches!(
        r.apply(1, &chunks[1]),
        Err(SnapshotError::OutOfOrder {
            expected: 0,
            found: 1
        })
    ));
    r.apply(0, &good).unwrap();
    chunks[0] = good;
    for (i, bytes) in chunks.iter().enumerate().skip(1) {
        r.apply(i, bytes).unwrap();
    }
    assert_eq!(r.finish().unwrap().state_root(), h.ledger.state_root());
}

/// A lying server recomputes the chunk hashes over the state it invents:
/// every chunk matches its manifest, and the root does not.
#[test]
fn a_forged_snapshot_with_matching_chunk_hashes_does_not_reach_the_trusted_root() {
    let h = chain();
    let (mut manifest, mut chunks) = take(&h.ledger, 2048);
    // Change one record's value, keep everything well formed.
    let mut entries: Vec<(Vec<u8>, Vec<u8>)> = kp_types::decode(&chunks[3], 1 << 20).unwrap();
    let last = entries.len() - 1;
    entries[last].1.push(0);
    chunks[3] = kp_types::encode(&entries);
    manifest.chunks[3].hash = snapshot::chunk_hash(&chunks[3]);
    manifest.chunks[3].bytes = chunks[3].len() as u64;
    match restore(&manifest, &chunks, trusted(&h.ledger)) {
        Err(SnapshotError::RootMismatch { trusted, .. }) => {
            assert_eq!(trusted, h.ledger.state_root())
        }
        other => panic!("forged state restored: {other:?}"),
    }

    // Leaving an entry out, or adding one outside the committed state.
    let (manifest, mut chunks) = take(&h.ledger, 2048);
    let mut entries: Vec<(Vec<u8>, Vec<u8>)> = kp_types::decode(&chunks[0], 1 << 20).unwrap();
    entries.insert(0, (vec![0x7D, 1, b'x'], vec![1]));
    chunks[0] = kp_types::encode(&entries);
    let mut forged = manifest.clone();
    forged.chunks[0].hash = snapshot::chunk_hash(&chunks[0]);
    forged.chunks[0].bytes = chunks[0].len() as u64;
    forged.chunks[0].entries += 1;
    assert!(matches!(
        restore(&forged, &chunks, trusted(&h.ledger)),
        Err(SnapshotError::Malformed(_))
    ));
}

#[test]
fn a_snapshot_of_another_state_or_chain_is_refused_before_any_chunk() {
    let mut h = chain();
    let (manifest, chunks) = take(&h.ledger, 1 << 20);
    assert_eq!(chunks.len(), 1);
    let old = trusted(&h.ledger);
    h.confirm_received("BW2", 50);
    // A header the joiner verified names a later state than the snapshot.
    assert!(matches!(
        restore(&manifest, &chunks, trusted(&h.ledger)),
        Err(SnapshotError::Untrusted(_))
    ));
    let mut other = manifest.clone();
    other.chain_id = "another".into();
    assert!(matches!(
        restore(&other, &chunks, old),
        Err(SnapshotError::Untrusted(_))
    ));
    // The store must be empty.
    let genesis = genesis();
    let used = MemStore::new();
    let mut ws = kp_ledger::WriteSet::default();
    ws.put(vec![1], vec![1]);
    used.commit(&ws).unwrap();
    assert!(matches!(
        Restore::new(&genesis, used, manifest.clone(), old),
        Err(SnapshotError::NotEmpty)
    ));
    // A restore that ends early does not open.
    let r = Restore::new(&genesis, MemStore::new(), manifest, old).unwrap();
    assert_eq!(r.next_chunk(), Some(0));
    assert!(matches!(r.finish(), Err(SnapshotError::Malformed(_))));
    // Garbage for a manifest.
    assert!(Manifest::decode(&[0xff; 40]).is_err());
}
