//! A government's keys on a running network, through the `kpledger` CLI:
//! separating the government key from the node key (signed offline:
//! `--generate-only`, `tx sign`, `tx submit`), a recovery begun and
//! cancelled by the government key and the node key, then rotating the
//! consensus key: the node switches to it by itself (`node.key.next`) and
//! keeps it across a `kill -9` and restart
//! (`docs/adr/0008-government-keys-and-recovery.md`, README "Rotating a
//! government key"); and rotating an authority's signing key: what the old
//! key issued before stays AUTHENTIC, the old key is refused after.

use kp_e2e::*;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use kp_e2e::{kpledger_at as cli, path_str as path};

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok(node: &str, args: &[&str]) -> String {
    let out = cli(node, args);
    assert!(
        out.status.success(),
        "kpledger {args:?} failed: {}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// `kpledger keys generate --out FILE`: a local command, which takes no
/// `--node`.
fn generate(file: &Path) {
    let out = Command::new(kpledger_bin())
        .args(["keys", "generate", "--out", path(file)])
        .output()
        .expect("run kpledger");
    assert!(out.status.success(), "{}", stderr(&out));
}

fn public_hex(file: &Path) -> String {
    read_key(file).public().to_hex()
}

#[test]
fn government_key_apart_then_consensus_key_rotated_across_a_restart() {
    let mut cluster = Cluster::generate(4, 0);
    cluster.start_all();
    cluster.wait_for_height(&[0, 1, 2, 3], 2, Duration::from_secs(60));
    let rpc = cluster.nodes[0].rpc.clone();
    let node0 = cluster.nodes[0].dir.clone();
    let work = cluster.dir.path().to_path_buf();

    // A testnet genesis names no separate government key: it is the node key.
    let shown = ok(&rpc, &["participant", "show", "BW"]);
    assert!(
        shown.contains(&format!(
            "government key: {}",
            public_hex(&node0.join("node.key"))
        )),
        "{shown}"
    );
    assert!(shown.contains("(the node key"), "{shown}");
    assert!(
        shown.contains(&format!(
            "recovery key: {}",
            public_hex(&node0.join("recovery.key"))
        )),
        "{shown}"
    );

    // Separate the government key (generated where it will be kept), with
    // the rotation signed offline: written unsigned on the node's machine
    // (naming the signer by its public key), signed where the key is, sent.
    let gov = work.join("bw-government.key");
    generate(&gov);
    let unsigned = work.join("rotate.unsigned.json");
    let signed = work.join("rotate.signed.json");
    ok(
        &rpc,
        &[
            "keys",
            "rotate",
            "government",
            "--key",
            &public_hex(&node0.join("node.key")),
            "--generate-only",
            path(&unsigned),
            "--participant",
            "BW",
            "--new-key",
            &public_hex(&gov),
        ],
    );
    // Nothing was submitted.
    let shown = ok(&rpc, &["participant", "show", "BW"]);
    assert!(!shown.contains(&public_hex(&gov)), "{shown}");
    // The wrong key refuses to sign; the right one signs without a node.
    let wrong = cli(
        "http://127.0.0.1:1",
        &[
            "tx",
            "sign",
            "--key",
            path(&gov),
            path(&unsigned),
            path(&signed),
        ],
    );
    assert!(!wrong.status.success());
    let printed = ok(
        "http://127.0.0.1:1",
        &[
            "tx",
            "sign",
            "--key",
            path(&node0.join("node.key")),
            path(&unsigned),
            path(&signed),
        ],
    );
    assert!(printed.contains("rotate-key"), "{printed}");
    let sent = ok(&rpc, &["tx", "submit", path(&signed)]);
    assert!(sent.contains("accepted"), "{sent}");
    let shown = ok(&rpc, &["participant", "show", "BW"]);
    assert!(
        shown.contains(&format!("government key: {}", public_hex(&gov))),
        "{shown}"
    );
    // The node key no longer acts for the government.
    let refused = cli(
        &rpc,
        &[
            "keys",
            "rotate",
            "government",
            "--key",
            path(&node0.join("node.key")),
            "--participant",
            "BW",
            "--new-key",
            path(&node0.join("recovery.key")),
        ],
    );
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("signer-not-government-key"),
        "{}",
        stderr(&refused)
    );

    // The recovery key begins a recovery: visible at once, with its time;
    // the government key and the node key cancel it, one half each.
    let recovered = work.join("bw-government-recovered.key");
    generate(&recovered);
    ok(
        &rpc,
        &[
            "keys",
            "recover",
            "--key",
            path(&node0.join("recovery.key")),
            "--participant",
            "BW",
            "--new-government-key",
            path(&recovered),
        ],
    );
    let shown = ok(&rpc, &["participant", "show", "BW"]);
    assert!(shown.contains("PENDING: RECOVERY"), "{shown}");
    assert!(shown.contains(&public_hex(&recovered)), "{shown}");
    ok(
        &rpc,
        &[
            "keys",
            "cancel-recovery",
            "--key",
            path(&gov),
            "--participant",
            "BW",
        ],
    );
    // Half a cancellation: recorded, the recovery still pending; the same
    // key again is refused.
    let shown = ok(&rpc, &["participant", "show", "BW"]);
    assert!(shown.contains("PENDING: RECOVERY"), "{shown}");
    assert!(shown.contains("cancel signed by: government"), "{shown}");
    let again = cli(
        &rpc,
        &[
            "keys",
            "cancel-recovery",
            "--key",
            path(&gov),
            "--participant",
            "BW",
        ],
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("cancel-already-signed"),
        "{}",
        stderr(&again)
    );
    ok(
        &rpc,
        &[
            "keys",
            "cancel-recovery",
            "--key",
            path(&node0.join("node.key")),
            "--participant",
            "BW",
        ],
    );
    let shown = ok(&rpc, &["participant", "show", "BW"]);
    assert!(!shown.contains("PENDING"), "{shown}");
    assert!(
        shown.contains(&format!("government key: {}", public_hex(&gov))),
        "{shown}"
    );

    // Rotate the consensus key; the government key signs it. The operator
    // puts the new key beside the node key, as `node.key.next`.
    let new_node_key = node0.join("node.key.next");
    generate(&new_node_key);
    let new_public = public_hex(&new_node_key);
    ok(
        &rpc,
        &[
            "keys",
            "rotate",
            "consensus",
            "--key",
            path(&gov),
            "--participant",
            "BW",
            "--new-key",
            path(&new_node_key),
        ],
    );
    // Node 0 switches to the next key by itself at the height whose
    // validator set lists it: key file, signer and network identity.
    let switched = wait_until(Duration::from_secs(60), || {
        !new_node_key.exists() && public_hex(&node0.join("node.key")) == new_public
    });
    assert!(switched, "{}", cluster.logs_tail(40));
    assert!(node0.join("node.key.retired").exists());
    let h = cluster.height(1);
    cluster.wait_for_height(&[0, 1, 2, 3], h + 3, Duration::from_secs(90));
    let status = cluster.status(0).expect("node 0 answers");
    assert_eq!(status["node"], "BW", "{status}");
    // Killed without warning after the switch, it restarts with the new key.
    cluster.kill(0);
    cluster.start(0);
    let h = cluster.height(1);
    cluster.wait_for_height(&[0, 1, 2, 3], h + 2, Duration::from_secs(90));
    assert_eq!(cluster.status(0).expect("node 0 answers")["node"], "BW");
    let top = cluster.height(1).min(cluster.height(0));
    assert_same_chain(&cluster, &[0, 1, 2, 3], top);
    // With node 1 stopped the chain needs node 0's vote under its new key.
    cluster.kill(1);
    let h = cluster.height(0);
    cluster.wait_for_height(&[0, 2, 3], h + 2, Duration::from_secs(90));
}

/// `kpledger cert issue` of the README's certificate `number` (BW to the
/// EU) signed with `key`; the command's output.
fn issue_with(cluster: &Cluster, key: &Path, number: &str) -> Output {
    let file = cluster.dir.path().join(format!("{number}.toml"));
    std::fs::write(&file, CertificateFile::new(number, "BW", "EU").toml())
        .expect("write certificate file");
    cli(
        &cluster.nodes[0].rpc,
        &["cert", "issue", "--key", path(key), "--file", path(&file)],
    )
}

#[test]
fn authority_key_rotated_old_certificates_stay_authentic() {
    let mut cluster = Cluster::generate(4, 0);
    cluster.start_all();
    cluster.wait_for_height(&[0, 1, 2, 3], 2, Duration::from_secs(60));
    let rpc = cluster.nodes[0].rpc.clone();
    let node0 = cluster.nodes[0].dir.clone();
    let work = cluster.dir.path().to_path_buf();
    let old = node0.join("authority.key");

    let out = issue_with(&cluster, &old, "BW2026000001");
    assert!(out.status.success(), "{}", all_output(&out));

    // The rotation, signed offline by the government key (the node key of
    // a testnet genesis): written unsigned, signed, sent.
    let new = work.join("bw-kpa-2.key");
    generate(&new);
    let unsigned = work.join("rotate-authority.unsigned.json");
    let signed = work.join("rotate-authority.signed.json");
    ok(
        &rpc,
        &[
            "keys",
            "rotate",
            "authority",
            "--authority",
            "BW-KPA",
            "--new-key",
            path(&new),
            "--key",
            &public_hex(&node0.join("node.key")),
            "--generate-only",
            path(&unsigned),
        ],
    );
    let printed = ok(
        "http://127.0.0.1:1",
        &[
            "tx",
            "sign",
            "--key",
            path(&node0.join("node.key")),
            path(&unsigned),
            path(&signed),
        ],
    );
    assert!(printed.contains("rotate-authority-key"), "{printed}");
    let sent = ok(&rpc, &["tx", "submit", path(&signed)]);
    assert!(sent.contains("accepted"), "{sent}");

    // The key history, in `participant show` and the RPC record.
    let shown = ok(&rpc, &["participant", "show", "BW"]);
    assert!(
        shown.contains(&format!("key {}", public_hex(&new))),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("previous key {}", public_hex(&old))),
        "{shown}"
    );
    let record = get_json(&rpc, "/v1/participants/BW").expect("participant record");
    let authority = &record["authorities"][0];
    assert_eq!(authority["authority"]["key"], public_hex(&new), "{record}");
    assert_eq!(
        authority["previous_keys"][0]["key"],
        public_hex(&old),
        "{record}"
    );

    // The new key issues; the old one is refused, by name.
    let out = issue_with(&cluster, &new, "BW2026000002");
    assert!(out.status.success(), "{}", all_output(&out));
    let out = issue_with(&cluster, &old, "BW2026000003");
    assert!(!out.status.success(), "{}", all_output(&out));
    assert!(
        all_output(&out).contains("authority-key-retired"),
        "{}",
        all_output(&out)
    );

    // cert verify proves the old certificate against the authority's key
    // history: AUTHENTIC, as is the new one.
    let after = cluster.height(0);
    cluster.wait_for_height(&[0], after + 1, Duration::from_secs(60));
    let genesis = work.join("net/genesis.toml");
    let light = work.join("light");
    for n in ["BW2026000001", "BW2026000002"] {
        let out = ok(
            &rpc,
            &[
                "--json",
                "cert",
                "verify",
                n,
                "--genesis",
                path(&genesis),
                "--light-dir",
                path(&light),
            ],
        );
        let v: serde_json::Value = serde_json::from_str(&out).expect("JSON verdict");
        assert_eq!(v["verdict"]["verdict"], "authentic", "{n}: {v}");
    }
    let shown = ok(
        &rpc,
        &[
            "cert",
            "verify",
            "BW2026000001",
            "--genesis",
            path(&genesis),
            "--light-dir",
            path(&light),
        ],
    );
    assert!(shown.contains("AUTHENTIC"), "{shown}");
}
