//! Backup and restore with the real binary: a validator that lost its disk
//! is rebuilt from a snapshot of its chain (every block verified again),
//! rejoins and serves what it held; a damaged or forged snapshot, or a
//! data directory that already holds a chain, is refused and changes
//! nothing.

use kp_e2e::*;

use std::process::Command;
use std::time::Duration;

const PROGRESS: Duration = Duration::from_secs(60);

fn kpledger(args: &[&str]) -> std::process::Output {
    Command::new(kpledger_bin())
        .args(args)
        .output()
        .expect("run kpledger")
}

/// The frames of a snapshot file: (offset of the frame's body, its length).
fn frames(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 8;
    while at + 4 <= bytes.len() - 32 {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push((at + 4, len));
        at += 4 + len;
    }
    out
}

/// Rewrites the blake3 trailer so that only the cryptographic checks can
/// catch a change.
fn reseal(bytes: &mut [u8]) {
    let end = bytes.len() - 32;
    let digest = blake3::hash(&bytes[..end]);
    bytes[end..].copy_from_slice(digest.as_bytes());
}

#[test]
fn a_validator_that_lost_its_disk_is_restored_from_a_snapshot_and_rejoins() {
    let mut cluster = Cluster::generate(4, 0);
    cluster.start_all();
    cluster.wait_for_height(&[0, 1, 2, 3], 1, PROGRESS);
    for i in 0..5 {
        let tx = bw_certificate_tx(&cluster, &format!("70000{i}"));
        let (status, answer) = submit(&cluster, 0, &tx, true);
        assert_eq!(status, 200, "{answer}");
    }
    let node3 = cluster.nodes[3].dir.clone();
    let config = node3.join("node.toml");
    let c = path_str(&config);
    let backup = cluster.dir.path().join("node3.kpsnap");
    let b = path_str(&backup);

    // A running node's store is locked: export says to stop it.
    let busy = kpledger(&["snapshot", "export", "--config", c, "--out", b]);
    assert!(!busy.status.success());
    assert!(
        all_output(&busy).contains("stop it first"),
        "{}",
        all_output(&busy)
    );
    assert!(!backup.exists());

    assert!(cluster.terminate(3, Duration::from_secs(20)));
    let exported = run_ok(&["snapshot", "export", "--config", c, "--out", b]);
    assert!(exported.contains("5 transactions"), "{exported}");
    let height: u64 = exported
        .split("height ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap();

    // A data directory that holds a chain is never overwritten.
    let full = kpledger(&["snapshot", "import", "--config", c, "--in", b]);
    assert!(
        all_output(&full).contains("already holds a chain"),
        "{}",
        all_output(&full)
    );

    // The disk is lost.
    let data = node3.join("data");
    std::fs::remove_dir_all(&data).unwrap();
    let good = std::fs::read(&backup).unwrap();

    // Damaged: one byte flipped, checksum not mended.
    let damaged = cluster.dir.path().join("damaged.kpsnap");
    let mut bytes = good.clone();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&damaged, &bytes).unwrap();
    let said = all_output(&kpledger(&[
        "snapshot",
        "import",
        "--config",
        c,
        "--in",
        path_str(&damaged),
    ]));
    assert!(said.contains("checksum does not match"), "{said}");
    assert!(!data.exists(), "a refused import leaves nothing");

    // Forged: a block changed and the checksum mended; its commit
    // certificate no longer holds.
    let forged = cluster.dir.path().join("forged.kpsnap");
    let mut bytes = good.clone();
    let (at, len) = *frames(&bytes)
        .iter()
        .skip(1)
        .max_by_key(|(_, len)| *len)
        .unwrap();
    bytes[at + len / 2] ^= 0x01;
    reseal(&mut bytes);
    std::fs::write(&forged, &bytes).unwrap();
    let out = kpledger(&[
        "snapshot",
        "import",
        "--config",
        c,
        "--in",
        path_str(&forged),
    ]);
    let said = all_output(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("of the snapshot is refused"), "{said}");
    assert!(!data.exists(), "a refused import leaves nothing");

    // The genuine backup restores the node.
    let restored = run_ok(&["snapshot", "import", "--config", c, "--in", b]);
    assert!(restored.contains("every block verified"), "{restored}");
    assert!(restored.contains(&format!("height {height}")), "{restored}");
    cluster.start(3);
    cluster.wait_for_height(&[3], height + 2, PROGRESS);
    let network = cluster.height(0);
    cluster.wait_for_height(&[3], network, PROGRESS);
    assert_same_chain(&cluster, &[0, 3], height);
    for i in 0..5 {
        let cert = get_json(
            &cluster.nodes[3].rpc,
            &format!("/v1/certificates/BW70000{i}"),
        );
        assert!(cert.is_some(), "the restored node serves BW70000{i}");
    }
}
