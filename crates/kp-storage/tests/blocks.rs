//! Block store round trips and the startup consistency check, on sled and on
//! the in-memory store the simulator uses.

mod common;

use common::*;
use kp_chain::keys::{
    block_hash_key, encode_value, height_key, last_block_key, tx_key, TABLE_BLOCK, TABLE_COMMIT,
    TABLE_RECEIPTS, VALUE_V2_LOCATION_IN_KEY,
};
use kp_chain::{
    check_consistency, check_consistency_with, BlockStore, CheckDepth, ConsistentHeight,
    Inconsistency, StoreError,
};
use kp_ledger::{MemStore, StateStore, WriteSet, HOST_KEY_PREFIX_MIN};
use kp_storage::SledStore;
use kp_types::{Block, CommitCertificate, Hash};

/// Commits `block` the way a node does: block-store entries as host writes,
/// plus the ledger's state changes and applied height, in one commit.
fn apply<S: StateStore>(store: &S, block: &Block, certificate: &CommitCertificate) {
    let height = block.header.height;
    let mut writes = BlockStore::block_writes(block, certificate, &receipts(height));
    writes.put(LEDGER_HEIGHT_KEY.to_vec(), height.to_be_bytes().to_vec());
    writes.put(b"\x02state".to_vec(), height.to_be_bytes().to_vec());
    store.commit(&writes).unwrap();
}

fn stored_chain<S: StateStore>(store: &S, n: u64) -> Vec<(Block, CommitCertificate)> {
    let chain = chain(n);
    for (block, certificate) in &chain {
        apply(store, block, certificate);
    }
    chain
}

fn temp_sled() -> (tempfile::TempDir, SledStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path().join("db")).unwrap();
    (dir, store)
}

fn assert_reads_back<S: StateStore>(store: &S, chain: &[(Block, CommitCertificate)]) {
    let set = validator_set();
    for (block, certificate) in chain {
        let height = block.header.height;
        assert_eq!(
            BlockStore::block(store, height).unwrap().as_ref(),
            Some(block)
        );
        assert_eq!(
            BlockStore::block_by_hash(store, &block.hash())
                .unwrap()
                .as_ref(),
            Some(block)
        );
        assert_eq!(
            BlockStore::height_of(store, &block.hash()).unwrap(),
            Some(height)
        );
        let stored = BlockStore::commit_certificate(store, height)
            .unwrap()
            .unwrap();
        assert_eq!(&stored, certificate);
        // What comes back still proves the block.
        stored.verify(CHAIN, &set).unwrap();
        assert_eq!(stored.block_hash, block.hash());
        for (position, tx) in block.txs.iter().enumerate() {
            assert_eq!(
                BlockStore::tx_location(store, &tx.hash()).unwrap(),
                Some((height, position as u32))
            );
        }
        assert_eq!(
            BlockStore::receipts(store, height).unwrap(),
            Some(receipts(height))
        );
    }
    let last = chain.len() as u64;
    assert_eq!(BlockStore::last_block_height(store).unwrap(), last);
    assert_eq!(BlockStore::block(store, last + 1).unwrap(), None);
    assert_eq!(
        BlockStore::commit_certificate(store, last + 1).unwrap(),
        None
    );
    assert_eq!(BlockStore::receipts(store, last + 1).unwrap(), None);
    assert_eq!(
        BlockStore::block_by_hash(store, &Hash([9; 32])).unwrap(),
        None
    );
    assert_eq!(
        BlockStore::tx_location(store, &Hash([9; 32])).unwrap(),
        None
    );
}

#[test]
fn blocks_certificates_and_indexes_round_trip_on_sled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let chain = {
        let store = SledStore::open(&path).unwrap();
        let chain = stored_chain(&store, 5);
        assert_reads_back(&store, &chain);
        chain
    };
    // And after a reopen: what commit returned for is on disk.
    let store = SledStore::open(&path).unwrap();
    assert_reads_back(&store, &chain);
    assert_eq!(
        check_consistency(&store, 5).unwrap(),
        ConsistentHeight {
            height: 5,
            block_hash: chain[4].0.hash()
        }
    );
}

#[test]
fn blocks_round_trip_on_mem_store() {
    let store = MemStore::new();
    let chain = stored_chain(&store, 3);
    assert_reads_back(&store, &chain);
}

#[test]
fn empty_store_is_at_genesis() {
    let (_dir, store) = temp_sled();
    assert_eq!(BlockStore::last_block_height(&store).unwrap(), 0);
    assert_eq!(
        check_consistency(&store, 0).unwrap(),
        ConsistentHeight {
            height: 0,
            block_hash: Hash::ZERO
        }
    );
    assert_eq!(
        check_consistency(&store, 1).unwrap_err(),
        StoreError::Inconsistent(Inconsistency::HeightMismatch {
            last_block_height: 0,
            ledger_height: 1
        })
    );
}

#[test]
fn block_writes_stay_in_the_host_range() {
    let (block, certificate) = chain(1).remove(0);
    let writes = BlockStore::block_writes(&block, &certificate, b"r");
    // block, hash index, certificate, 2 tx entries, receipts, last height.
    assert_eq!(writes.len(), 7);
    for key in writes.entries.keys() {
        assert!(key[0] >= HOST_KEY_PREFIX_MIN, "{key:?}");
        // Every block-store key carries its key version.
        assert_eq!(key[1], kp_chain::keys::KEY_V1);
    }
    assert!(writes.entries.values().all(Option::is_some));
}

#[test]
fn mismatched_certificate_and_genesis_block_are_refused() {
    let chain = chain(2);
    let (block, _) = &chain[0];
    let (_, other_certificate) = &chain[1];
    assert!(matches!(
        BlockStore::try_block_writes(block, other_certificate, b""),
        Err(StoreError::Inconsistent(
            Inconsistency::CertificateMismatch { height: 1, .. }
        ))
    ));
    let genesis = common::block(0, Hash::ZERO, vec![]);
    assert_eq!(
        BlockStore::try_block_writes(&genesis, &certificate(&genesis), b"").unwrap_err(),
        StoreError::Inconsistent(Inconsistency::BlockAtGenesis)
    );
}

#[test]
fn block_writes_with_the_receipts_hashes_are_the_same_and_need_one_per_transaction() {
    let (block, certificate) = chain(1).remove(0);
    let hashes: Vec<_> = block.txs.iter().map(|tx| tx.hash()).collect();
    assert_eq!(
        BlockStore::try_block_writes_hashed(&block, &certificate, b"r", &hashes).unwrap(),
        BlockStore::block_writes(&block, &certificate, b"r")
    );
    assert_eq!(
        BlockStore::try_block_writes_hashed(&block, &certificate, b"r", &hashes[..1]).unwrap_err(),
        StoreError::Inconsistent(Inconsistency::TxHashesMismatch {
            height: 1,
            txs: 2,
            hashes: 1
        })
    );
}

#[test]
#[should_panic(expected = "refusing to store block")]
fn block_writes_asserts_the_pair() {
    let chain = chain(2);
    let _ = BlockStore::block_writes(&chain[0].0, &chain[1].1, b"");
}

#[test]
fn replayed_transaction_keeps_its_first_location() {
    let (_dir, store) = temp_sled();
    let keys = validators();
    let replayed = tx(&keys[2], 77);
    let first = common::block(1, Hash::ZERO, vec![tx(&keys[0], 1), replayed.clone()]);
    let second = common::block(2, first.hash(), vec![replayed.clone()]);
    apply(&store, &first, &certificate(&first));
    apply(&store, &second, &certificate(&second));
    assert_eq!(
        BlockStore::tx_location(&store, &replayed.hash()).unwrap(),
        Some((1, 1))
    );
    assert_eq!(
        BlockStore::tx_locations(&store, &replayed.hash(), 10).unwrap(),
        vec![(1, 1), (2, 0)]
    );
    assert_eq!(
        BlockStore::tx_locations(&store, &replayed.hash(), 1).unwrap(),
        vec![(1, 1)]
    );
}

#[test]
fn blocks_from_pages_through_the_chain() {
    let (_dir, store) = temp_sled();
    let chain = stored_chain(&store, 6);
    let page = BlockStore::blocks_from(&store, 2, 3).unwrap();
    let heights: Vec<u64> = page.iter().map(|(b, _)| b.header.height).collect();
    assert_eq!(heights, vec![2, 3, 4]);
    assert_eq!(page[0], chain[1]);
    let tail = BlockStore::blocks_from(&store, 5, 100).unwrap();
    assert_eq!(tail.len(), 2);
    assert!(BlockStore::blocks_from(&store, 7, 100).unwrap().is_empty());
    assert!(BlockStore::blocks_from(&store, 1, 0).unwrap().is_empty());
}

#[test]
fn encoded_blocks_from_is_the_encoding_of_blocks_from_cut_to_fit() {
    let (_dir, store) = temp_sled();
    stored_chain(&store, 6);
    let whole = kp_types::encode(&BlockStore::blocks_from(&store, 2, 100).unwrap());
    let (bytes, count) = BlockStore::encoded_blocks_from(&store, 2, 100, usize::MAX).unwrap();
    assert_eq!((bytes.clone(), count), (whole.clone(), 5));
    let decoded: Vec<(Block, CommitCertificate)> = kp_types::decode(&bytes, bytes.len()).unwrap();
    assert_eq!(decoded, BlockStore::blocks_from(&store, 2, 100).unwrap());
    // The limit on blocks, and every byte limit: the longest prefix that fits.
    let (three, count) = BlockStore::encoded_blocks_from(&store, 2, 3, usize::MAX).unwrap();
    assert_eq!(count, 3);
    assert_eq!(
        three,
        kp_types::encode(&BlockStore::blocks_from(&store, 2, 3).unwrap())
    );
    for bytes_max in [0, 7, 8, 9, whole.len() / 2, whole.len() - 1, whole.len()] {
        let (cut, count) = BlockStore::encoded_blocks_from(&store, 2, 100, bytes_max).unwrap();
        let prefix = BlockStore::blocks_from(&store, 2, count).unwrap();
        assert_eq!(cut, kp_types::encode(&prefix), "bytes_max {bytes_max}");
        assert!(cut.len() <= bytes_max.max(8), "bytes_max {bytes_max}");
        let next = BlockStore::blocks_from(&store, 2, count + 1).unwrap();
        if next.len() > count {
            assert!(kp_types::encode(&next).len() > bytes_max, "not the longest");
        }
    }
    let (empty, count) = BlockStore::encoded_blocks_from(&store, 7, 100, usize::MAX).unwrap();
    assert_eq!(
        (empty, count),
        (
            kp_types::encode(&Vec::<(Block, CommitCertificate)>::new()),
            0
        )
    );
}

fn remove(store: &SledStore, key: Vec<u8>) {
    let mut writes = WriteSet::default();
    writes.delete(key);
    store.commit(&writes).unwrap();
}

fn put(store: &SledStore, key: Vec<u8>, value: Vec<u8>) {
    let mut writes = WriteSet::default();
    writes.put(key, value);
    store.commit(&writes).unwrap();
}

fn inconsistency(result: Result<ConsistentHeight, StoreError>) -> Inconsistency {
    match result {
        Err(StoreError::Inconsistent(problem)) => problem,
        other => panic!("expected an inconsistency, got {other:?}"),
    }
}

#[test]
fn consistency_check_reports_each_kind_of_damage() {
    // Each case damages a fresh 4-block store in one way.
    type Damage = fn(&SledStore, &[(Block, CommitCertificate)]);
    let cases: Vec<(&str, Damage, Inconsistency)> = vec![
        (
            "missing block",
            |s, _| remove(s, height_key(TABLE_BLOCK, 2)),
            Inconsistency::MissingBlock { height: 2 },
        ),
        (
            "missing certificate",
            |s, _| remove(s, height_key(TABLE_COMMIT, 3)),
            Inconsistency::MissingCommitCertificate { height: 3 },
        ),
        (
            "missing receipts",
            |s, _| remove(s, height_key(TABLE_RECEIPTS, 1)),
            Inconsistency::MissingReceipts { height: 1 },
        ),
        (
            "missing tx index",
            |s, c| remove(s, tx_key(&c[3].0.txs[1].hash(), 4, 1)),
            Inconsistency::MissingTxIndex {
                height: 4,
                position: 1,
            },
        ),
        (
            "certificate of another block",
            |s, c| {
                let value = s.get(&height_key(TABLE_COMMIT, 2)).unwrap().unwrap();
                let mut certificate: CommitCertificate =
                    kp_types::decode(&value[1..], 1 << 20).unwrap();
                certificate.block_hash = c[0].0.hash();
                let mut bytes = vec![1u8];
                bytes.extend(kp_types::encode(&certificate));
                put(s, height_key(TABLE_COMMIT, 2), bytes);
            },
            Inconsistency::CertificateMismatch {
                height: 2,
                certified_height: 2,
                certified_hash: Hash::ZERO, // patched below
                block_hash: Hash::ZERO,
            },
        ),
        (
            "hash index lost",
            |s, c| remove(s, block_hash_key(&c[1].0.hash())),
            Inconsistency::HashIndexMismatch {
                height: 2,
                block_hash: Hash::ZERO, // patched below
                indexed_height: None,
            },
        ),
    ];
    for (name, damage, expected) in cases {
        let (_dir, store) = temp_sled();
        let chain = stored_chain(&store, 4);
        assert!(
            check_consistency(&store, 4).is_ok(),
            "{name}: before damage"
        );
        damage(&store, &chain);
        let expected = match expected {
            Inconsistency::CertificateMismatch {
                height,
                certified_height,
                ..
            } => Inconsistency::CertificateMismatch {
                height,
                certified_height,
                certified_hash: chain[0].0.hash(),
                block_hash: chain[1].0.hash(),
            },
            Inconsistency::HashIndexMismatch {
                height,
                indexed_height,
                ..
            } => Inconsistency::HashIndexMismatch {
                height,
                block_hash: chain[1].0.hash(),
                indexed_height,
            },
            other => other,
        };
        assert_eq!(
            inconsistency(check_consistency(&store, 4)),
            expected,
            "{name}"
        );
    }
}

#[test]
fn consistency_check_sees_a_broken_chain_and_strays() {
    let (_dir, store) = temp_sled();
    let chain = stored_chain(&store, 3);
    // A block 4 stored without moving the last height.
    let stray = chain_block(4, chain[2].0.hash());
    let mut writes = BlockStore::block_writes(&stray, &certificate(&stray), b"");
    writes.entries.remove(&last_block_key());
    store.commit(&writes).unwrap();
    assert_eq!(
        inconsistency(check_consistency(&store, 3)),
        Inconsistency::BlockAboveLast {
            height: 4,
            last_block_height: 3
        }
    );
    remove(&store, height_key(TABLE_BLOCK, 4));
    assert!(check_consistency(&store, 3).is_ok());

    // Replace block 2 by one that does not extend block 1.
    let fork = chain_block(2, Hash([5; 32]));
    store
        .commit(&BlockStore::block_writes(&fork, &certificate(&fork), b""))
        .unwrap();
    put(&store, last_block_key(), {
        let mut v = vec![1u8];
        v.extend(3u64.to_be_bytes());
        v
    });
    assert_eq!(
        inconsistency(check_consistency(&store, 3)),
        Inconsistency::BrokenChain {
            height: 2,
            prev_hash: Hash([5; 32]),
            expected: chain[0].0.hash()
        }
    );
    // Block 3 names the original block 2, not the fork.
    assert_eq!(
        inconsistency(check_consistency_with(&store, 3, CheckDepth::Recent(1))),
        Inconsistency::BrokenChain {
            height: 3,
            prev_hash: chain[1].0.hash(),
            expected: fork.hash()
        }
    );
}

#[test]
fn recent_depth_reads_only_the_tail() {
    let (_dir, store) = temp_sled();
    let chain = stored_chain(&store, 6);
    // An old hole is invisible to a recent check and caught by a full one.
    remove(&store, height_key(TABLE_COMMIT, 2));
    let resume = check_consistency_with(&store, 6, CheckDepth::Recent(3)).unwrap();
    assert_eq!(resume.height, 6);
    assert_eq!(resume.block_hash, chain[5].0.hash());
    assert_eq!(
        inconsistency(check_consistency(&store, 6)),
        Inconsistency::MissingCommitCertificate { height: 2 }
    );
    // Recent(0) still checks the last block.
    remove(&store, height_key(TABLE_RECEIPTS, 6));
    assert_eq!(
        inconsistency(check_consistency_with(&store, 6, CheckDepth::Recent(0))),
        Inconsistency::MissingReceipts { height: 6 }
    );
}

#[test]
fn garbage_values_are_corrupt_not_panics() {
    let (_dir, store) = temp_sled();
    let chain = stored_chain(&store, 2);
    let hash = chain[1].0.hash();
    let tx_hash = chain[1].0.txs[0].hash();
    let garbage: Vec<Vec<u8>> = vec![
        vec![],
        vec![1],
        vec![2, 0, 0, 0],
        vec![1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        vec![1; 40],
        [vec![1u8], u64::MAX.to_be_bytes().to_vec(), vec![0; 16]].concat(),
    ];
    for bytes in garbage {
        let keys = [
            height_key(TABLE_BLOCK, 2),
            height_key(TABLE_COMMIT, 2),
            height_key(TABLE_RECEIPTS, 2),
            block_hash_key(&hash),
            tx_key(&tx_hash, 2, 0),
            last_block_key(),
        ];
        for key in keys {
            let original = store.get(&key).unwrap().unwrap();
            put(&store, key.clone(), bytes.clone());
            let results = [
                BlockStore::block(&store, 2).map(|_| ()),
                BlockStore::commit_certificate(&store, 2).map(|_| ()),
                BlockStore::receipts(&store, 2).map(|_| ()),
                BlockStore::block_by_hash(&store, &hash).map(|_| ()),
                BlockStore::tx_location(&store, &tx_hash).map(|_| ()),
                BlockStore::last_block_height(&store).map(|_| ()),
                check_consistency(&store, 2).map(|_| ()),
            ];
            // Receipts are opaque: any body behind a valid version byte is fine.
            let receipts_ok = key == height_key(TABLE_RECEIPTS, 2) && bytes.first() == Some(&1);
            let failures = results.iter().filter(|r| r.is_err()).count();
            if receipts_ok {
                assert_eq!(failures, 0, "{key:?} {bytes:?}");
            } else {
                assert!(failures >= 1, "{key:?} {bytes:?}");
                for result in &results {
                    if let Err(error) = result {
                        assert!(
                            matches!(
                                error,
                                StoreError::Corrupt { .. } | StoreError::Inconsistent(_)
                            ),
                            "{error:?}"
                        );
                    }
                }
            }
            put(&store, key, original);
        }
    }
    assert!(check_consistency(&store, 2).is_ok());
}

#[test]
fn block_stored_under_the_wrong_height_is_corrupt() {
    let (_dir, store) = temp_sled();
    let chain = stored_chain(&store, 2);
    let value = store.get(&height_key(TABLE_BLOCK, 1)).unwrap().unwrap();
    put(&store, height_key(TABLE_BLOCK, 2), value);
    assert!(matches!(
        BlockStore::block(&store, 2),
        Err(StoreError::Corrupt { .. })
    ));
    // The hash index of block 2 now leads to a block that is not block 2.
    assert!(BlockStore::block_by_hash(&store, &chain[1].0.hash()).is_err());
}

#[test]
fn transaction_index_entries_are_their_key_and_schema_1_entries_still_read() {
    let (_dir, store) = temp_sled();
    let chain = stored_chain(&store, 3);
    let tx = chain[1].0.txs[1].hash();
    let key = tx_key(&tx, 2, 1);
    // Schema 2: the value is the version byte alone (the key holds the location).
    assert_eq!(
        store.get(&key).unwrap(),
        Some(vec![VALUE_V2_LOCATION_IN_KEY])
    );
    // A schema-1 entry (the location again, behind version 1) reads the same.
    put(&store, key.clone(), encode_value(&(2u64, 1u32)));
    assert_eq!(BlockStore::tx_location(&store, &tx).unwrap(), Some((2, 1)));
    check_consistency(&store, 3).unwrap();
    // ... and must agree with its key.
    put(&store, key.clone(), encode_value(&(2u64, 0u32)));
    assert!(matches!(
        BlockStore::tx_location(&store, &tx),
        Err(StoreError::Corrupt { .. })
    ));
    // Version 2 with a body is not a schema-2 entry.
    put(&store, key, vec![VALUE_V2_LOCATION_IN_KEY, 0]);
    assert!(matches!(
        BlockStore::tx_location(&store, &tx),
        Err(StoreError::Corrupt { .. })
    ));
}

/// A store restored from a state snapshot (ADR 0016) holds no block up to
/// its base: the check resumes at the base, the next block must extend the
/// base's hash, and block sync finds nothing to serve below it.
#[test]
fn a_store_restored_at_a_base_resumes_there_and_extends_it() {
    let full = chain(6);
    let (base_block, _) = &full[3];
    let base = (base_block.header.height, base_block.hash());
    let (_dir, store) = temp_sled();
    store
        .commit(&BlockStore::base_writes(base.0, base.1))
        .unwrap();
    assert_eq!(BlockStore::base(&store).unwrap(), Some(base));
    assert_eq!(
        check_consistency(&store, base.0).unwrap(),
        ConsistentHeight {
            height: base.0,
            block_hash: base.1
        }
    );
    assert!(BlockStore::blocks_from(&store, 1, 10).unwrap().is_empty());
    // The next block extends the base; both depths check it.
    let (next, certificate) = &full[4];
    apply(&store, next, certificate);
    for depth in [CheckDepth::Full, CheckDepth::Recent(16)] {
        assert_eq!(
            check_consistency_with(&store, next.header.height, depth).unwrap(),
            ConsistentHeight {
                height: next.header.height,
                block_hash: next.hash()
            }
        );
    }
    // A base whose hash is not the next block's parent is a broken chain.
    let (_dir2, other) = temp_sled();
    other
        .commit(&BlockStore::base_writes(base.0, Hash([9; 32])))
        .unwrap();
    apply(&other, next, certificate);
    assert!(matches!(
        inconsistency(check_consistency(&other, next.header.height)),
        Inconsistency::BrokenChain { .. }
    ));
    // A last stored block below the base (the base written, the chain's end
    // damaged) is refused, not read as genesis.
    let (_dir3, below) = temp_sled();
    below
        .commit(&BlockStore::base_writes(base.0, base.1))
        .unwrap();
    put(&below, last_block_key(), encode_value(&(base.0 - 1)));
    assert!(matches!(
        inconsistency(check_consistency(&below, base.0 - 1)),
        Inconsistency::HeightMismatch {
            last_block_height,
            ledger_height
        } if last_block_height == base.0 - 1 && ledger_height == base.0
    ));
}
