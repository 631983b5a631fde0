//! What a decided block of 1,000 certificate issuances costs a node's store,
//! end to end and on real files: `Ledger<SledStore>` in a temporary
//! directory, the node's commit protocol (`execute`, the block-store writes
//! with the receipts, `advance`: one sled batch and one fsync), on a ledger that already holds `KP_BENCH_BASE_BLOCKS`
//! blocks of 1,000 certificates (30 by default: 30,000 certificates, with
//! the executed-transaction memory in steady state).
//!
//! The block's signatures are verified outside the timed part, as a node's
//! consensus does when it validates the proposal (`apply_block` then finds
//! them in its cache): the figure is storage and rule execution only.
//!
//! Before measuring, it prints once how many store entries one block writes
//! per certificate, by kind (ledger state, state-root machinery, host).
//! A second group times the admission check of a block's worth of new
//! certificates on the same database.
//!
//! Run: `cargo bench -p kp-storage --bench apply_sled`. "elem/s" is
//! certificates per second.

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use kp_chain::BlockStore;
use kp_ledger::testkit::{self, MINUTE_MS};
use kp_ledger::{Ledger, StateStore, StoreError, WriteSet};
use kp_storage::SledStore;
use kp_types::Block;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CERTS: usize = 1000;

/// Entries of the last commit: ledger state, root machinery, host.
type Counts = Arc<Mutex<[usize; 3]>>;

/// A pass-through store that remembers what the last commit wrote.
#[derive(Clone, Debug)]
struct Counting<S> {
    inner: S,
    last: Counts,
}

impl<S: StateStore> StateStore for Counting<S> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(key)
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        self.inner.scan_prefix(prefix, start_after, limit)
    }

    fn commit(&self, writes: &WriteSet) -> Result<(), StoreError> {
        let mut counts = [0usize; 3];
        for key in writes.entries.keys() {
            let kind = match key.first() {
                Some(&t) if t < 0x7D => 0,
                Some(&t) if t < 0x80 => 1,
                _ => 2,
            };
            counts[kind] += 1;
        }
        *self.last.lock().expect("counts lock") = counts;
        self.inner.commit(writes)
    }
}

type Store = Counting<SledStore>;

fn block_of_certificates(ledger: &Ledger<Store>) -> Block {
    testkit::block_of_issues(ledger, CERTS)
}

/// The node's commit of one decided block (`kp-node`'s `run/commit.rs`).
fn apply(ledger: &mut Ledger<Store>, block: &Block) {
    let certificate = common::certificate(block);
    let mut pending = ledger.execute(block).expect("block executes");
    assert!(pending.receipt().receipts.iter().all(|r| r.result.is_ok()));
    let bytes = kp_types::encode(&pending.receipt().receipts);
    let writes = BlockStore::try_block_writes(block, &certificate, &bytes).expect("block writes");
    pending.add_host_writes(writes).expect("host keys");
    ledger.advance(pending).expect("block commits");
}

/// CPU time of the whole process (every thread: sled's included) so far,
/// from `/proc/self/stat` (Linux; zero elsewhere), in clock ticks of 10 ms.
fn process_cpu_ticks() -> u64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0;
    };
    // Fields after the parenthesised command name: utime and stime are the
    // 12th and 13th of them.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    field(11).unwrap_or(0) + field(12).unwrap_or(0)
}

fn base_blocks() -> usize {
    std::env::var("KP_BENCH_BASE_BLOCKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let sled = SledStore::open(dir.path().join("db")).expect("open");
    let last: Counts = Arc::default();
    let store = Counting {
        inner: sled.clone(),
        last: last.clone(),
    };
    let mut ledger = Ledger::open(&testkit::genesis(), store).expect("genesis");
    let base = base_blocks();
    let started = Instant::now();
    for _ in 0..base {
        let block = block_of_certificates(&ledger);
        apply(&mut ledger, &block);
    }
    let [state, root, host] = *last.lock().expect("counts lock");
    let per_cert = |n: usize| n as f64 / CERTS as f64;
    println!(
        "base: {} certificates in {:.1} s; last block wrote {} entries = {:.2} per certificate \
         (ledger state {:.2}, state-root machinery {:.2}, host {:.2}); sled on disk {} MB",
        base * CERTS,
        started.elapsed().as_secs_f64(),
        state + root + host,
        per_cert(state + root + host),
        per_cert(state),
        per_cert(root),
        per_cert(host),
        sled.size_on_disk().expect("size") / 1_000_000,
    );

    let mut measured_blocks = 0u64;
    let mut cpu_ticks = 0u64;
    let mut group = c.benchmark_group("apply_sled");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(CERTS as u64));
    group.bench_function(format!("1000 certificates on {}k, one commit", base), |b| {
        b.iter_custom(|iters| {
            measured_blocks += iters;
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let block = block_of_certificates(&ledger);
                // As consensus does before voting: the signatures are
                // verified once and cached by the ledger.
                ledger.validate_block(&block).expect("valid block");
                let start = Instant::now();
                let cpu_start = process_cpu_ticks();
                apply(&mut ledger, &block);
                timed += start.elapsed();
                cpu_ticks += process_cpu_ticks() - cpu_start;
            }
            timed
        })
    });
    group.finish();
    println!(
        "process CPU (user + system, all threads) per timed block: {:.0} ms over {} blocks",
        cpu_ticks as f64 * 10.0 / measured_blocks.max(1) as f64,
        measured_blocks
    );
    admission(c, &ledger, &sled);
    let height = ledger.height();
    let root = ledger.state_root();
    drop(ledger);
    // What a restart costs the ledger: open over the same database (the
    // state root is rebuilt and checked against the stored one).
    let start = Instant::now();
    let reopened = Ledger::open(&testkit::genesis(), sled.clone()).expect("reopens");
    let open_ms = start.elapsed().as_secs_f64() * 1000.0;
    assert_eq!((reopened.height(), reopened.state_root()), (height, root));
    println!(
        "after: {} certificates; sled on disk {} MB; Ledger::open {:.0} ms",
        height as usize * CERTS,
        sled.size_on_disk().expect("size") / 1_000_000,
        open_ms
    );
}

/// The admission check a validator runs on every transaction it pools (a
/// full execution against the state, signature aside), by the ledger that
/// applies the blocks, which keeps the small tables' store reads between
/// checks, and by a read-only ledger over the same database, which reads
/// the store at every check (the node's query ledger).
fn admission(c: &mut Criterion, ledger: &Ledger<Store>, sled: &SledStore) {
    let reader = Ledger::open(&testkit::genesis(), sled.clone()).expect("read-only ledger");
    let candidates = block_of_certificates(ledger).txs;
    let now = ledger.last_block_time().plus_ms(MINUTE_MS);
    let mut group = c.benchmark_group("admission");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(candidates.len() as u64));
    group.bench_function("check_tx_rules, the ledger that applies blocks", |b| {
        b.iter(|| {
            for tx in &candidates {
                assert!(ledger.check_tx_rules(tx, now).is_ok());
            }
        })
    });
    group.bench_function("check_tx_rules, a read-only ledger", |b| {
        b.iter(|| {
            for tx in &candidates {
                assert!(reader.check_tx_rules(tx, now).is_ok());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
