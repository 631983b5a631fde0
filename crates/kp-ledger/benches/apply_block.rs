//! `apply_block` over blocks of 1000 signed certificate issuances, with batch
//! and with one-by-one signature verification, next to the raw ed25519
//! single-verify and batch-verify rates measured in the same run.
//!
//! Run: `cargo bench -p kp-ledger --bench apply_block`. Criterion reports
//! "elem/s": certificates (or signatures) per second.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kp_ledger::testkit::{block_of_issues, block_with, genesis, MINUTE_MS};
use kp_ledger::{Ledger, MemStore, SignatureVerification, WriteSet};
use kp_types::{verify_batch, Block};

const CERTS: usize = 1000;

fn block_of_certificates(ledger: &Ledger<MemStore>) -> Block {
    block_of_issues(ledger, CERTS)
}

fn fresh() -> Ledger<MemStore> {
    Ledger::open(&genesis(), MemStore::new()).expect("genesis opens")
}

fn bench(c: &mut Criterion) {
    let block = block_of_certificates(&fresh());
    // Sanity: every certificate is accepted.
    let receipt = fresh()
        .apply_block(&block, WriteSet::default())
        .expect("block applies");
    assert!(receipt.receipts.iter().all(|r| r.result.is_ok()));

    let mut group = c.benchmark_group("apply_block");
    group.sample_size(10);
    group.throughput(Throughput::Elements(CERTS as u64));
    for (name, mode) in [
        (
            "1000 certificates, batch verification",
            SignatureVerification::Batch,
        ),
        (
            "1000 certificates, single verification",
            SignatureVerification::Individual,
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let mut l = fresh();
                    l.set_signature_verification(mode);
                    l
                },
                |mut l| l.apply_block(&block, WriteSet::default()).expect("applies"),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();

    // The same on a ledger that already holds 20 blocks of 1000 certificates:
    // the per-block cost should not grow with the state (the state hash is
    // updated from the changed entries only).
    let base = fresh();
    let mut base_ledger = base;
    for _ in 0..20 {
        let b = block_of_certificates(&base_ledger);
        base_ledger
            .apply_block(&b, WriteSet::default())
            .expect("base block applies");
    }
    // An hour later, two empty blocks prune the base's executed-transaction
    // memory (at most `housekeeping_per_block_max` entries per block), so the
    // measured block does steady-state work only.
    for minutes in [60, 61] {
        let time = base_ledger.last_block_time().plus_ms(minutes * MINUTE_MS);
        let empty = block_with(&base_ledger, time, vec![]);
        base_ledger
            .apply_block(&empty, WriteSet::default())
            .expect("empty block applies");
    }
    let base_store = base_ledger.store().clone();
    let next = block_of_certificates(&base_ledger);
    let mut group = c.benchmark_group("apply_block on 20,000 certificates");
    group.sample_size(10);
    group.throughput(Throughput::Elements(CERTS as u64));
    group.bench_function("1000 certificates, batch verification", |b| {
        b.iter_batched(
            || Ledger::open(&genesis(), base_store.snapshot()).expect("reopens"),
            |mut l| l.apply_block(&next, WriteSet::default()).expect("applies"),
            BatchSize::PerIteration,
        )
    });
    group.finish();

    let items: Vec<_> = block
        .txs
        .iter()
        .map(|t| (t.tx.signer, t.hash(), t.signature))
        .collect();
    let mut group = c.benchmark_group("ed25519");
    group.sample_size(10);
    group.throughput(Throughput::Elements(CERTS as u64));
    group.bench_function("1000 single verifications", |b| {
        b.iter(|| {
            for (k, m, s) in &items {
                k.verify(m, s).expect("valid");
            }
        })
    });
    group.bench_function("one batch of 1000", |b| {
        b.iter(|| verify_batch(&items).expect("valid"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
