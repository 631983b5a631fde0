//! `apply_block` over 1000 certificate issuances, sealed (ADR 0011) against
//! plain: what the envelope checks (shape, two authority reads, key
//! comparisons) and the larger transactions (hashing, state entries) cost
//! every node. Sealing happens in the client and is not timed here (see the
//! `kp-types` bench `sealing`).
//!
//! Run: `cargo bench -p kp-ledger --bench sealed_block`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kp_ledger::testkit::{
    authority_key, block_with, certificate, encryption_key, genesis, seal_certificate, sign,
    MINUTE_MS,
};
use kp_ledger::Genesis;
use kp_ledger::{Ledger, MemStore, WriteSet};
use kp_types::{Block, Payload, SignedTransaction};

const CERTS: usize = 1000;

/// Exporter, number prefix, importer.
const ROUTES: [(&str, &str, &str); 4] = [
    ("BW", "BW", "EU"),
    ("EU", "BE", "IN"),
    ("IN", "IN", "AE"),
    ("AE", "AE", "IN"),
];

/// The fixture genesis, with every authority's fixture encryption key if `sealed`.
fn genesis_for(sealed: bool) -> Genesis {
    let mut g = genesis();
    if sealed {
        for a in &mut g.authorities {
            a.encryption_key = Some(encryption_key(a.participant.as_str()).public());
        }
    }
    g
}

fn block(ledger: &Ledger<MemStore>, sealed: bool) -> Block {
    let time = ledger.last_block_time().plus_ms(MINUTE_MS);
    let txs: Vec<SignedTransaction> = (0..CERTS)
        .map(|i| {
            let (from, prefix, to) = ROUTES[i % ROUTES.len()];
            let mut c = certificate(&format!("{prefix}{i:08}"), from, to, time.date());
            if sealed {
                seal_certificate(&mut c, to);
            }
            sign(
                &authority_key(from),
                i as u64,
                time.plus_ms(10 * MINUTE_MS),
                Payload::IssueCertificate(c),
            )
        })
        .collect();
    block_with(ledger, time, txs)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("apply_block sealed vs plain");
    group.sample_size(10);
    group.throughput(Throughput::Elements(CERTS as u64));
    for sealed in [false, true] {
        let g = genesis_for(sealed);
        let fresh = || Ledger::open(&g, MemStore::new()).expect("genesis opens");
        let b = block(&fresh(), sealed);
        let receipt = fresh()
            .apply_block(&b, WriteSet::default())
            .expect("block applies");
        assert!(receipt.receipts.iter().all(|r| r.result.is_ok()));
        let bytes: usize = b.txs.iter().map(|t| kp_types::encode(t).len()).sum();
        println!(
            "{}: {} bytes per issue transaction",
            if sealed { "sealed" } else { "plain" },
            bytes / CERTS
        );
        let name = if sealed {
            "1000 sealed certificates"
        } else {
            "1000 plain certificates"
        };
        group.bench_function(name, |bench| {
            bench.iter_batched(
                fresh,
                |mut l| l.apply_block(&b, WriteSet::default()).expect("applies"),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
