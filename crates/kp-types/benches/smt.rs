//! What the sparse Merkle tree costs at ledger scale: a tree of 1,000,000
//! records, then one batch `update` of 1,000 new records, one `prove` and one
//! `verify`. Also prints, once, the serialized size of a proof and the tree's
//! heap bytes per record (counted by a wrapping allocator, so without the
//! allocator's own overhead; the process's resident growth is printed too).
//!
//! Run: `cargo bench -p kp-types --bench smt`.
// The one place in the workspace with unsafe code: a GlobalAlloc wrapper,
// which Rust allows only as `unsafe impl`. Bench-only; kp-types denies
// unsafe code everywhere else (its Cargo.toml).
#![allow(unsafe_code)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use kp_types::smt::Tree;
use kp_types::Hash;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting live heap bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const LEAVES: u64 = 1_000_000;
const BATCH: u64 = 1_000;

fn key(i: u64) -> Hash {
    Tree::key_hash(&i.to_be_bytes())
}

fn value(i: u64) -> Hash {
    Tree::value_hash(&i.to_le_bytes())
}

/// Resident set size in bytes, where /proc tells it.
fn resident_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn smt(c: &mut Criterion) {
    let (heap_before, rss_before) = (LIVE.load(Ordering::Relaxed), resident_bytes());
    let started = std::time::Instant::now();
    let tree = Tree::from_entries((0..LEAVES).map(|i| (key(i), value(i))).collect());
    let built_in = started.elapsed();
    let (heap_after, rss_after) = (LIVE.load(Ordering::Relaxed), resident_bytes());
    assert_eq!(tree.len(), LEAVES as usize);

    let probe = key(LEAVES / 2);
    let proof = tree.prove(&probe);
    let root = tree.root();
    proof
        .verify(&root, &probe, Some(&value(LEAVES / 2)))
        .expect("honest proof verifies");
    println!(
        "smt: built {LEAVES} leaves in {built_in:.2?}; heap {:.1} bytes/leaf{}; \
         proof of one key: {} siblings, {} bytes (bincode)",
        (heap_after - heap_before) as f64 / LEAVES as f64,
        match (rss_before, rss_after) {
            (Some(before), Some(after)) => format!(
                " (resident growth {:.1} bytes/leaf)",
                after.saturating_sub(before) as f64 / LEAVES as f64
            ),
            _ => String::new(),
        },
        proof.siblings.len(),
        kp_types::encode(&proof).len(),
    );

    let batch: Vec<(Hash, Option<Hash>)> = (LEAVES..LEAVES + BATCH)
        .map(|i| (key(i), Some(value(i))))
        .collect();

    let mut group = c.benchmark_group("smt 1M leaves");
    group.sample_size(10);
    group.bench_function("update 1000 new keys", |b| {
        // The new version is dropped outside the timing.
        b.iter_with_large_drop(|| tree.update(black_box(&batch)))
    });
    group.bench_function("prove one key", |b| {
        b.iter(|| tree.prove(black_box(&probe)))
    });
    group.bench_function("verify one proof", |b| {
        b.iter(|| {
            black_box(&proof)
                .verify(&root, black_box(&probe), Some(&value(LEAVES / 2)))
                .is_ok()
        })
    });
    group.finish();
}

criterion_group!(benches, smt);
criterion_main!(benches);
