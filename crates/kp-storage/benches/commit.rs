//! What one decided block costs the store: `block_writes` plus one durable
//! `commit` (one sled batch and one fsync) for blocks of 1 and 500
//! transactions, the safety-state save that precedes every vote, and the
//! startup check over the last 16 blocks.
//!
//! Run: `cargo bench -p kp-storage --bench commit`. For commits, "elem/s" is
//! blocks per second; the fsync dominates, so the figure is mostly the disk's.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{block, certificate, tx, validators};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kp_chain::{check_consistency_with, BlockStore, CheckDepth};
use kp_ledger::StateStore;
use kp_storage::SledStore;
use kp_types::Hash;

fn commits(c: &mut Criterion) {
    let mut group = c.benchmark_group("block commit");
    group.sample_size(20);
    let signer = &validators()[0];
    for txs in [1u64, 500] {
        // Signed once: signing is not what is measured.
        let signed: Vec<_> = (0..txs).map(|nonce| tx(signer, nonce)).collect();
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SledStore::open(dir.path().join("db")).expect("open");
        let mut height = 0u64;
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("{txs} txs"), |b| {
            b.iter_batched(
                || {
                    height += 1;
                    let block = block(height, Hash::ZERO, signed.clone());
                    let certificate = certificate(&block);
                    (block, certificate)
                },
                |(block, certificate)| {
                    let mut writes = BlockStore::block_writes(&block, &certificate, &[0; 64]);
                    let applied = block.header.height.to_be_bytes().to_vec();
                    writes.put(b"\x01height".to_vec(), applied);
                    store.commit(&writes).expect("commit");
                },
                BatchSize::SmallInput,
            )
        });
        // Blocks here do not chain by hash; measure the read path, which
        // reads everything a real check reads before it compares hashes.
        group.bench_function(format!("read last 16 of {txs}-tx blocks"), |b| {
            b.iter(|| {
                let result = check_consistency_with(&store, height, CheckDepth::Recent(16));
                assert!(result.is_err() || height <= 1);
                for h in height.saturating_sub(15).max(1)..=height {
                    BlockStore::block(&store, h).expect("read");
                    BlockStore::commit_certificate(&store, h).expect("read");
                }
            })
        });
    }
    group.finish();
}

fn safety(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SledStore::open(dir.path().join("db")).expect("open");
    let safety = store.safety_store().expect("safety");
    let mut state = vec![7u8; 200];
    let mut group = c.benchmark_group("safety");
    group.sample_size(20);
    group.throughput(Throughput::Elements(1));
    let mut round = 0u64;
    group.bench_function("save (flushed)", |b| {
        b.iter(|| {
            // A new value each time: sled skips writing an unchanged one.
            round += 1;
            state[..8].copy_from_slice(&round.to_be_bytes());
            safety.save(&state).expect("save")
        })
    });
    group.finish();
}

criterion_group!(benches, commits, safety);
criterion_main!(benches);
