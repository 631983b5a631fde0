//! Crash tests with real processes: a child process (this test binary,
//! re-run on one test with an environment variable naming its job) commits
//! in a loop and prints each number after `commit` returns; the parent kills
//! it with SIGKILL at random moments, reopens the store and checks that
//!
//! * every batch is all-or-nothing: all keys of the last visible batch carry
//!   its number, none carries a later one;
//! * nothing acknowledged is lost, and the visible counter never goes
//!   backwards across kills;
//! * the consensus safety state saved and acknowledged survives;
//! * a node killed mid-block resumes at a consistent height
//!   ([`check_consistency`] passes and the ledger and block store agree).
//!
//! The seed of the kill schedule is printed; set `KP_CRASH_SEED` to replay it.
//! The same kill loop drives the real ledger in `tests/ledger.rs`.

mod common;

use common::process::{acknowledge, exclusive_round, kill_schedule_seed, run_and_kill, writer_job};
use common::*;
use kp_chain::{check_consistency, check_consistency_with, BlockStore, CheckDepth};
use kp_ledger::{StateStore, WriteSet};
use kp_storage::SledStore;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;
use std::time::Duration;

/// The test that, when `WRITER_ENV` is set, becomes the writer.
const WRITER_TEST: &str = "crash_writer_child";
/// Keys per batch besides the counter.
const BATCH_KEYS: u8 = 32;
/// Bytes of padding per value, so that a batch spans several sled log writes.
const VALUE_PADDING_BYTES: usize = 512;
/// A child that is never killed stops by itself after this many commits.
const CHILD_COMMITS_MAX: u64 = 100_000;
/// Kills per test.
const KILLS: usize = 20;

const COUNTER_KEY: &[u8] = b"\x11counter";

fn batch_key(index: u8) -> Vec<u8> {
    vec![0x10, index]
}

fn batch_value(number: u64) -> Vec<u8> {
    let mut value = number.to_be_bytes().to_vec();
    value.resize(8 + VALUE_PADDING_BYTES, (number % 251) as u8);
    value
}

fn number_of(value: &[u8]) -> u64 {
    u64::from_be_bytes(value[..8].try_into().unwrap())
}

/// The child's entry point. Without `WRITER_ENV` (a normal test run) it does
/// nothing.
#[test]
fn crash_writer_child() {
    let Some((mode, dir)) = writer_job() else {
        return;
    };
    let store = SledStore::open(dir).expect("child opens the store");
    match mode.as_str() {
        "batches" => write_batches(&store),
        "blocks" => write_blocks(&store),
        other => panic!("unknown writer mode {other}"),
    }
}

/// Commits batch after batch: `BATCH_KEYS` keys and the counter, all with
/// the batch's number; then saves the number as the safety state; then
/// acknowledges it on stdout.
fn write_batches(store: &SledStore) {
    let safety = store.safety_store().unwrap();
    let start = store.get(COUNTER_KEY).unwrap().map_or(0, |v| number_of(&v));
    for number in start + 1..=start + CHILD_COMMITS_MAX {
        let mut writes = WriteSet::default();
        for index in 0..BATCH_KEYS {
            writes.put(batch_key(index), batch_value(number));
        }
        writes.put(COUNTER_KEY.to_vec(), batch_value(number));
        store.commit(&writes).unwrap();
        safety.save(&number.to_be_bytes()).unwrap();
        acknowledge(number);
    }
}

/// Plays a node: resumes where the store says, then stores block after block
/// the way `kp-node` does with the ledger: the ledger's state changes and
/// applied height (`Ledger::execute`), the block's entries and its receipts,
/// known once the block has executed, go to the store in one atomic write
/// (`Ledger::advance`).
fn write_blocks(store: &SledStore) {
    let ledger_height = ledger_height(store);
    let resume = check_consistency_with(store, ledger_height, CheckDepth::Recent(2)).unwrap();
    let mut prev = resume.block_hash;
    for height in resume.height + 1..=resume.height + CHILD_COMMITS_MAX {
        let block = chain_block(height, prev);
        prev = block.hash();
        // What `Ledger::advance` commits.
        let mut writes = BlockStore::block_writes(&block, &certificate(&block), &receipts(height));
        writes.put(LEDGER_HEIGHT_KEY.to_vec(), height.to_be_bytes().to_vec());
        for index in 0..BATCH_KEYS {
            writes.put(vec![0x03, index], batch_value(height));
        }
        store.commit(&writes).unwrap();
        acknowledge(height);
    }
}

fn ledger_height(store: &SledStore) -> u64 {
    store
        .get(LEDGER_HEIGHT_KEY)
        .unwrap()
        .map_or(0, |v| u64::from_be_bytes(v.try_into().unwrap()))
}

fn seeded_rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(kill_schedule_seed())
}

#[test]
fn kill_minus_nine_keeps_batches_whole_and_acknowledged() {
    let mut rng = seeded_rng();
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("db");
    let mut acked_max = 0u64;
    let mut counter_before = 0u64;
    for kill in 0..KILLS {
        // Dropped last, after this round's store.
        let _round = exclusive_round();
        let acks = rng.gen_range(0..40);
        let delay = Duration::from_micros(rng.gen_range(0..3_000));
        let acked = run_and_kill(WRITER_TEST, "batches", &path, acks, delay);
        acked_max = acked.iter().copied().max().unwrap_or(0).max(acked_max);

        let store = SledStore::open(&path).unwrap();
        let counter = store.get(COUNTER_KEY).unwrap().map_or(0, |v| number_of(&v));
        for index in 0..BATCH_KEYS {
            let value = store.get(&batch_key(index)).unwrap();
            let number = value.map_or(0, |v| number_of(&v));
            // All keys of the visible batch, none of a later or earlier one.
            assert_eq!(
                number, counter,
                "kill {kill}: key {index} torn from the counter"
            );
        }
        assert!(
            counter >= acked_max,
            "kill {kill}: acknowledged batch {acked_max} lost (visible {counter})"
        );
        assert!(
            counter >= counter_before,
            "kill {kill}: counter went backwards"
        );
        let safety = store.safety_store().unwrap().load().unwrap();
        let saved = safety.map_or(0, |v| u64::from_be_bytes(v.try_into().unwrap()));
        // Saved after the commit and before the acknowledgement.
        assert!(
            saved >= acked_max,
            "kill {kill}: safety state {saved} < acked {acked_max}"
        );
        assert!(
            saved <= counter,
            "kill {kill}: safety state ahead of its commit"
        );
        assert!(
            counter - saved <= 1,
            "kill {kill}: safety state {saved} lags {counter}"
        );
        counter_before = counter;
        println!(
            "kill {kill}: acked {} up to {acked_max}, visible {counter}",
            acked.len()
        );
    }
    assert!(counter_before > 0, "no batch was ever committed");
}

#[test]
fn kill_minus_nine_mid_block_resumes_at_a_consistent_height() {
    let mut rng = seeded_rng();
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("db");
    let mut acked_max = 0u64;
    let mut height_before = 0u64;
    for kill in 0..KILLS {
        // Dropped last, after this round's store.
        let _round = exclusive_round();
        let acks = rng.gen_range(0..25);
        let delay = Duration::from_micros(rng.gen_range(0..3_000));
        let acked = run_and_kill(WRITER_TEST, "blocks", &path, acks, delay);
        acked_max = acked.iter().copied().max().unwrap_or(0).max(acked_max);

        let store = SledStore::open(&path).unwrap();
        let ledger = ledger_height(&store);
        let resume = check_consistency(&store, ledger)
            .unwrap_or_else(|e| panic!("kill {kill}: inconsistent after crash: {e}"));
        assert_eq!(resume.height, ledger);
        assert!(
            resume.height >= acked_max,
            "kill {kill}: acknowledged block lost"
        );
        assert!(
            resume.height >= height_before,
            "kill {kill}: height went backwards"
        );
        for index in 0..BATCH_KEYS {
            let state = store
                .get(&[0x03, index])
                .unwrap()
                .map_or(0, |v| number_of(&v));
            assert_eq!(state, ledger, "kill {kill}: state of another height");
        }
        if resume.height > 0 {
            let block = BlockStore::block(&store, resume.height).unwrap().unwrap();
            assert_eq!(block.hash(), resume.block_hash);
            let set = validator_set();
            BlockStore::commit_certificate(&store, resume.height)
                .unwrap()
                .unwrap()
                .verify(CHAIN, &set)
                .unwrap();
        }
        // Receipts landed with their blocks: never the placeholder.
        for height in 1..=resume.height {
            assert_eq!(
                BlockStore::receipts(&store, height).unwrap(),
                Some(receipts(height)),
                "kill {kill}: receipts of block {height}"
            );
        }
        height_before = resume.height;
        println!(
            "kill {kill}: acked up to {acked_max}, resumed at {}",
            resume.height
        );
    }
    assert!(height_before > 0, "no block was ever stored");
}
