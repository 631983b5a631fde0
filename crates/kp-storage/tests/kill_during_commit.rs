//! A process killed with SIGKILL in the middle of large commits (the redo
//! file's path, ADR 0017) leaves a store that holds, for every commit, all
//! of it or none of it, and every commit that returned. Each commit also
//! replaces a value stored in pieces (ADR 0019), which must be whole and of
//! the same commit.
//!
//! The test runs itself as the child: with `KP_REDO_CHILD` set, the child
//! test commits write sets in a loop and prints each one that returned.

use kp_ledger::{StateStore, WriteSet};
use kp_storage::redo::REDO_ENTRIES_MIN;
use kp_storage::SledStore;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Keys per commit: above the redo threshold.
const KEYS: u32 = REDO_ENTRIES_MIN as u32 * 3;

fn write_set(round: u64) -> WriteSet {
    let mut ws = WriteSet::default();
    for k in 0..KEYS {
        // A value of some size, stamped with the round.
        let mut value = round.to_be_bytes().to_vec();
        value.resize(64, k as u8);
        ws.put([&[0x07, 1][..], &k.to_be_bytes()].concat(), value);
    }
    ws.put(kp_ledger::keys::meta("round"), round.to_be_bytes().to_vec());
    ws.put(LARGE_KEY.to_vec(), large_value(round));
    ws
}

/// A key whose value is stored in pieces, replaced by every commit.
const LARGE_KEY: &[u8] = &[0x07, 2];

fn large_value(round: u64) -> Vec<u8> {
    let mut value = round.to_be_bytes().to_vec();
    // A length that changes with the round, so the number of pieces does.
    let len = 200_000 + (round as usize % 7) * 10_000;
    value.extend((0..len).map(|i| (i % 251) as u8 ^ round as u8));
    value
}

fn round_of(value: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&value[..8]);
    u64::from_be_bytes(bytes)
}

/// The child: commits rounds from the one after the store's until killed.
#[test]
fn child_commits_until_killed() {
    let Ok(path) = std::env::var("KP_REDO_CHILD") else {
        return;
    };
    let store = SledStore::open(&path).expect("child opens the store");
    let mut round = store
        .get(&kp_ledger::keys::meta("round"))
        .expect("read")
        .map_or(0, |v| round_of(&v));
    loop {
        round += 1;
        store.commit(&write_set(round)).expect("commit");
        println!("committed {round}");
    }
}

#[test]
fn a_process_killed_during_large_commits_keeps_each_whole_or_not_at_all() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("db");
    let exe = std::env::current_exe().expect("test binary");
    // Kill after a different number of commits, at a different moment
    // within a commit, each time.
    for (attempt, extra_us) in [
        0u64, 700, 2_300, 4_100, 300, 5_900, 1_100, 3_300, 150, 8_000, 2_700, 500, 6_100, 90,
        1_900, 4_700,
    ]
    .into_iter()
    .enumerate()
    {
        let mut child = Command::new(&exe)
            .args(["--exact", "child_commits_until_killed", "--nocapture"])
            .env("KP_REDO_CHILD", &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the child");
        let stdout = child.stdout.take().expect("child stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut acknowledged = 0u64;
        let started = Instant::now();
        // Two acknowledged commits, then a little more time.
        while let Some(Ok(line)) = lines.next() {
            if let Some(n) = line.strip_prefix("committed ") {
                acknowledged = n.trim().parse().expect("round number");
                if acknowledged >= 2 + attempt as u64 {
                    break;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "child too slow"
            );
        }
        std::thread::sleep(Duration::from_micros(extra_us));
        child.kill().expect("SIGKILL the child");
        // What it printed before dying also counts as acknowledged.
        for line in lines.map_while(Result::ok) {
            if let Some(n) = line.strip_prefix("committed ") {
                acknowledged = n.trim().parse().expect("round number");
            }
        }
        let _ = child.wait();

        let store = SledStore::open(&path).expect("the store opens after the kill");
        let round = round_of(
            &store
                .get(&kp_ledger::keys::meta("round"))
                .expect("read")
                .expect("a round is stored"),
        );
        assert!(
            round >= acknowledged,
            "attempt {attempt}: round {round} stored, {acknowledged} acknowledged"
        );
        for k in 0..KEYS {
            let key = [&[0x07, 1][..], &k.to_be_bytes()].concat();
            let value = store.get(&key).expect("read").expect("key present");
            assert_eq!(
                round_of(&value),
                round,
                "attempt {attempt}: key {k} is of another commit than the round"
            );
        }
        assert_eq!(
            store.get(LARGE_KEY).expect("read the large value"),
            Some(large_value(round)),
            "attempt {attempt}: the large value is not the round's"
        );
        assert!(!path.join("kp-redo").exists(), "redo file left after open");
        drop(store);
    }
}
