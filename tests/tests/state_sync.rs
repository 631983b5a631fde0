//! State sync through the real binary (issue 20, ADR 0016): a late
//! observer restores the state of a recent height from a snapshot that the
//! validators took, verified against the header above it by its light
//! client, and then follows blocks exactly as an observer that replayed
//! every block from genesis; a server that lies about that header stops the
//! start, and leaves the data directory empty.

use kp_e2e::proxy::LyingProxy;
use kp_e2e::*;
use std::time::Duration;

const PROGRESS: Duration = Duration::from_secs(90);

fn snapshot_heights(cluster: &Cluster, i: usize) -> Vec<u64> {
    get_json(&cluster.nodes[i].rpc, "/v1/snapshots")
        .map(|v| {
            v["snapshots"]
                .as_array()
                .map(|a| a.iter().filter_map(|s| s["height"].as_u64()).collect())
                .unwrap_or_default()
        })
        .unwrap_or_default()
}

fn log(cluster: &Cluster, i: usize) -> String {
    std::fs::read_to_string(cluster.nodes[i].dir.join("node.log")).unwrap_or_default()
}

/// Validators 0-3 take a snapshot every 5 blocks; 4 certificates are
/// issued before the observers start.
fn network_with_snapshots() -> (Cluster, u64) {
    let mut cluster = Cluster::generate(4, 2);
    for i in 0..4 {
        cluster.start_with_env(i, &[("KPLEDGER_STATE_SYNC_SNAPSHOT_INTERVAL", "5")]);
    }
    cluster.wait_for_height(&[0, 1, 2, 3], 1, PROGRESS);
    for n in 0..4 {
        let tx = bw_certificate_tx(&cluster, &format!("20260001{n:02}"));
        let (status, answer) = submit(&cluster, 0, &tx, true);
        assert_eq!(status, 200, "{answer}");
    }
    let issued_at = cluster.height(0);
    assert!(
        wait_until(PROGRESS, || snapshot_heights(&cluster, 0)
            .first()
            .is_some_and(|h| *h >= issued_at)),
        "no snapshot above height {issued_at}: {:?}\n{}",
        snapshot_heights(&cluster, 0),
        cluster.logs_tail(20)
    );
    (cluster, issued_at)
}

#[test]
fn a_late_observer_restores_a_verified_snapshot_and_follows_as_a_replaying_one() {
    let (mut cluster, issued_at) = network_with_snapshots();
    let servers = format!(
        "[\"http://{}\",\"http://{}\"]",
        cluster.nodes[0].rpc, cluster.nodes[1].rpc
    );
    // Node 5 starts from a snapshot, node 4 replays from genesis.
    cluster.start_with_env(
        5,
        &[
            ("KPLEDGER_STATE_SYNC_ENABLE", "true"),
            ("KPLEDGER_STATE_SYNC_RPC_SERVERS", &servers),
        ],
    );
    cluster.start(4);
    let target = cluster.height(0) + 3;
    cluster.wait_for_height(&[4, 5], target, PROGRESS);

    let said = log(&cluster, 5);
    let restored: u64 = said
        .split("restored the state of height ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no restore in the log:\n{said}"));
    assert!(restored >= issued_at, "{restored} < {issued_at}");
    // It holds no block up to the snapshot: it did not replay them.
    assert!(block_hash(&cluster, 5, 1).is_none());
    assert!(block_hash(&cluster, 5, restored).is_none());
    assert!(block_hash(&cluster, 4, 1).is_some());
    // Above it, the same blocks as the validators and the replaying
    // observer: each one applied to the restored state met the state root
    // its successor's header commits to.
    for h in restored + 1..=target {
        let expected = block_hash(&cluster, 0, h);
        assert!(expected.is_some());
        assert_eq!(block_hash(&cluster, 5, h), expected, "height {h}");
        assert_eq!(block_hash(&cluster, 4, h), expected, "height {h}");
    }
    // The certificates issued before the snapshot are in its state.
    let answer = get_json(&cluster.nodes[5].rpc, "/v1/certificates/BW2026000100")
        .expect("the restored observer knows a certificate issued before its snapshot");
    assert_eq!(answer["status"], "issued", "{answer}");
    // One issued now reaches it by blocks.
    let tx = bw_certificate_tx(&cluster, "2026000199");
    let (status, answer) = submit(&cluster, 0, &tx, true);
    assert_eq!(status, 200, "{answer}");
    assert!(
        wait_until(PROGRESS, || get_json(
            &cluster.nodes[5].rpc,
            "/v1/certificates/BW2026000199"
        )
        .is_some()),
        "{}",
        cluster.logs_tail(20)
    );
    // A restart goes on from its own store (no second restore).
    assert!(cluster.terminate(5, Duration::from_secs(20)));
    cluster.start_with_env(
        5,
        &[
            ("KPLEDGER_STATE_SYNC_ENABLE", "true"),
            ("KPLEDGER_STATE_SYNC_RPC_SERVERS", &servers),
        ],
    );
    let again = cluster.height(0) + 2;
    cluster.wait_for_height(&[5], again, PROGRESS);
    assert!(log(&cluster, 5).contains("holds a chain already"));
}

#[test]
fn a_server_that_lies_about_the_header_above_the_snapshot_stops_the_start() {
    let (cluster, _) = network_with_snapshots();
    // The liar changes the state root in the headers it serves.
    let tamper = |path: &str, value: &mut serde_json::Value| {
        if path.starts_with("/v1/light/blocks/") {
            value["header"]["state_root"] = serde_json::json!("11".repeat(32));
        }
    };
    let liar = LyingProxy::start(&cluster.nodes[1].rpc, Box::new(tamper));
    let data = cluster.nodes[5].dir.join("data");

    // The start with these servers must fail, saying `expected`, and leave
    // the data directory empty.
    let refused = |servers: &[&str], expected: &str| {
        let list: Vec<String> = servers.iter().map(|s| format!("\"http://{s}\"")).collect();
        let out = std::process::Command::new(kpledger_bin())
            .args(["node", "--config"])
            .arg(cluster.nodes[5].dir.join("node.toml"))
            .env("KPLEDGER_STATE_SYNC_ENABLE", "true")
            .env(
                "KPLEDGER_STATE_SYNC_RPC_SERVERS",
                format!("[{}]", list.join(",")),
            )
            .output()
            .expect("run kpledger node");
        let said = all_output(&out);
        assert!(!out.status.success(), "{said}");
        assert!(said.contains(expected), "{said}");
        assert!(!data.exists() || std::fs::read_dir(&data).unwrap().next().is_none());
    };
    // Alone, its header is not proven by the commit certificate.
    refused(&[&liar.addr], "is not proven");
    // Beside an honest server, the two headers differ: refused, not settled.
    refused(&[&cluster.nodes[0].rpc, &liar.addr], "FORK or lying server");
    drop(liar);
}

/// The case: a government admitted by resolution after the network
/// has run starts its node from a snapshot, and validates.
#[test]
fn a_government_admitted_late_starts_from_a_snapshot_and_signs_blocks() {
    let (mut cluster, _) = network_with_snapshots();
    let url = format!("http://{}", cluster.nodes[0].rpc);
    // Observer 5's files become the new government's node, with its own key.
    let dir = cluster.nodes[5].dir.clone();
    let key = kp_types::SigningKey::from_seed([0x55; 32]);
    std::fs::write(dir.join("node.key"), hex::encode(key.seed())).unwrap();
    let uzbekistan = kp_types::Participant {
        code: kp_types::ParticipantCode::new("UZ").unwrap(),
        kind: kp_types::ParticipantKind::Government,
        name: "Uzbekistan".into(),
        territories: vec![kp_types::Territory::new("UZ").unwrap()],
        node_key: key.public(),
        government_key: key.public(),
        recovery_key: None,
    };
    let action = serde_json::to_string(&kp_types::ResolutionAction::Admit {
        participant: uzbekistan,
    })
    .unwrap();
    let node_key = |i: usize| path_str(&cluster.nodes[i].dir.join("node.key")).to_string();
    let proposed = run_ok(&[
        "--node",
        &url,
        "resolution",
        "propose",
        "--key",
        &node_key(0),
        "--title",
        "Admit Uzbekistan",
        "json",
        &action,
    ]);
    let id = proposed
        .lines()
        .find_map(|l| l.strip_prefix("resolution id "))
        .unwrap_or_else(|| panic!("{proposed}"))
        .trim()
        .to_string();
    for i in 1..4 {
        run_ok(&[
            "--node",
            &url,
            "resolution",
            "sign",
            &id,
            "--key",
            &node_key(i),
        ]);
    }
    let admitted = cluster.height(0);
    assert!(
        wait_until(PROGRESS, || {
            get_json(&cluster.nodes[0].rpc, "/v1/status").is_some_and(|s| s["validators"] == 5)
        }),
        "UZ is not a validator:\n{}",
        cluster.logs_tail(20)
    );
    assert!(
        wait_until(PROGRESS, || snapshot_heights(&cluster, 0)
            .first()
            .is_some_and(|h| *h > admitted)),
        "no snapshot after the admission"
    );

    let servers = format!(
        "[\"http://{}\",\"http://{}\"]",
        cluster.nodes[0].rpc, cluster.nodes[2].rpc
    );
    cluster.start_with_env(
        5,
        &[
            ("KPLEDGER_STATE_SYNC_ENABLE", "true"),
            ("KPLEDGER_STATE_SYNC_RPC_SERVERS", &servers),
        ],
    );
    let target = cluster.height(0) + 3;
    cluster.wait_for_height(&[5], target, PROGRESS);
    let said = log(&cluster, 5);
    assert!(said.contains("restored the state of height"), "{said}");
    let status = cluster.status(5).unwrap();
    assert_eq!(status["node"], "UZ", "{status}");
    assert_eq!(status["role"], "validator", "{status}");
    // Its precommits reach the commit certificates the others apply.
    let signed = |s: &serde_json::Value| {
        s["validators_seen"]
            .as_array()
            .and_then(|a| a.iter().find(|v| v["participant"] == "UZ"))
            .and_then(|v| v["last_signed_height"].as_u64())
    };
    assert!(
        wait_until(PROGRESS, || cluster
            .status(0)
            .and_then(|s| signed(&s))
            .is_some_and(|h| h > target)),
        "UZ signs no commit: {:?}\n{}",
        cluster.status(0),
        cluster.logs_tail(20)
    );
}
