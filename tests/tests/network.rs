//! Real `kpledger node` processes on loopback: a 4-validator + 1-observer
//! network from `kpledger testnet`, crashes with SIGKILL, late observers,
//! strangers, and transactions decided exactly once.

use kp_e2e::*;
use std::time::Duration;

const PROGRESS: Duration = Duration::from_secs(60);

#[test]
fn four_validators_and_an_observer_agree() {
    let mut cluster = Cluster::generate(4, 1);
    cluster.start_all();
    let all: Vec<usize> = (0..5).collect();
    cluster.wait_for_height(&all, 4, PROGRESS);
    assert_same_chain(&cluster, &all, 4);
    // The state root after height h is what block h+1 commits to; equal block
    // hashes therefore mean equal state roots. Check the status as well.
    let status = cluster.status(4).expect("observer answers");
    assert_eq!(status["role"], "observer");
    assert_eq!(cluster.status(0).unwrap()["role"], "validator");
    assert_eq!(status["chain_id"], TESTNET_CHAIN_ID);
    assert_eq!(status["node"], "WDC");
    let ok = wait_until(PROGRESS, || {
        let s: Vec<_> = all.iter().filter_map(|&i| cluster.status(i)).collect();
        s.len() == 5
            && s.iter().all(|x| x["height"] == s[0]["height"])
            && s.iter().all(|x| x["state_root"] == s[0]["state_root"])
    });
    assert!(ok, "state roots never agreed at one height");
    assert!(
        cluster.terminate(0, Duration::from_secs(10)),
        "SIGTERM stops a node cleanly"
    );
}

/// Also: the restarted validator still knows what was decided, both before
/// its crash (read back from its store on start) and while it was down
/// (learnt by block sync): resubmitting either is refused as already decided.
#[test]
fn a_killed_validator_restarts_and_catches_up() {
    let mut cluster = Cluster::generate(4, 0);
    cluster.start_all();
    cluster.wait_for_height(&[0, 1, 2, 3], 2, PROGRESS);
    let before = bw_certificate_tx(&cluster, "0000101");
    let (status, body) = submit(&cluster, 0, &before, true);
    assert_eq!(status, 200, "decided before the crash: {body}");
    let decided = cluster.height(0);
    cluster.wait_for_height(&[3], decided, PROGRESS);
    cluster.kill(3);
    let h = cluster.height(0);
    // Three of four validators are a quorum: the chain goes on.
    let during = bw_certificate_tx(&cluster, "0000102");
    let (status, body) = submit(&cluster, 1, &during, true);
    assert_eq!(status, 200, "decided while node 3 is down: {body}");
    cluster.wait_for_height(&[0, 1, 2], h + 3, PROGRESS);
    cluster.start(3);
    let target = cluster.height(0);
    cluster.wait_for_height(&[3], target, PROGRESS);
    assert_same_chain(&cluster, &[0, 1, 2, 3], target);
    for tx in [&before, &during] {
        let (status, body) = submit(&cluster, 3, tx, false);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("already-decided")),
            "{body}"
        );
    }
}

#[test]
fn a_node_killed_repeatedly_while_committing_restarts_consistent() {
    let mut cluster = Cluster::generate(4, 0);
    cluster.start_all();
    cluster.wait_for_height(&[0, 1, 2, 3], 2, PROGRESS);
    for round in 0..5u64 {
        // Kill at varying moments within block production.
        std::thread::sleep(Duration::from_millis(200 + 370 * round));
        let before = cluster.height(1);
        cluster.kill(1);
        cluster.start(1);
        let answered = wait_until(PROGRESS, || cluster.status(1).is_some());
        assert!(
            answered,
            "node 1 did not come back after kill {round}\n{}",
            cluster.logs_tail(30)
        );
        // What it had committed is still there.
        assert!(cluster.height(1) >= before, "height went back after kill");
    }
    let target = cluster.height(0);
    cluster.wait_for_height(&[1], target, PROGRESS);
    assert_same_chain(&cluster, &[0, 1, 2, 3], target);
}

#[test]
fn a_late_observer_syncs_and_verifies_the_chain() {
    let mut cluster = Cluster::generate(4, 1);
    for i in 0..4 {
        cluster.start(i);
    }
    cluster.wait_for_height(&[0, 1, 2, 3], 6, PROGRESS);
    cluster.start(4);
    let target = cluster.height(0);
    cluster.wait_for_height(&[4], target, PROGRESS);
    assert_same_chain(&cluster, &[0, 4], target);
    let log = std::fs::read_to_string(cluster.nodes[4].dir.join("node.log")).unwrap_or_default();
    assert!(
        !log.contains("commit certificate refused"),
        "observer refused an honest certificate"
    );
}

#[test]
fn a_peer_not_on_the_ledger_cannot_stay_connected() {
    let mut cluster = Cluster::generate(4, 0);
    cluster.start_all();
    cluster.wait_for_height(&[0, 1, 2, 3], 1, PROGRESS);
    // A stranger: a fresh key, the network's genesis and peers, its own ports.
    let dir = cluster.dir.path().join("stranger");
    std::fs::create_dir_all(&dir).unwrap();
    run_ok(&[
        "keys",
        "generate",
        "--out",
        dir.join("node.key").to_str().unwrap(),
    ]);
    let base = free_port_range(2);
    let node0 = std::fs::read_to_string(cluster.nodes[0].dir.join("node.toml")).unwrap();
    let mut config: toml::Value = toml::from_str(&node0).unwrap();
    config["node"]["genesis"] = toml::Value::String(
        cluster.nodes[0]
            .dir
            .join("../genesis.toml")
            .to_string_lossy()
            .into(),
    );
    config["network"]["listen"] = toml::Value::String(format!("/ip4/127.0.0.1/tcp/{base}"));
    let mut peers = config["network"]["peers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    peers.push(toml::Value::String(
        toml::from_str::<toml::Value>(&node0).unwrap()["network"]["listen"]
            .as_str()
            .unwrap()
            .into(),
    ));
    config["network"]["peers"] = toml::Value::Array(peers);
    config["rpc"]["listen"] = toml::Value::String(format!("127.0.0.1:{}", base + 1));
    std::fs::write(dir.join("node.toml"), toml::to_string(&config).unwrap()).unwrap();
    cluster.nodes.push(NodeHandle {
        dir: dir.clone(),
        rpc: format!("127.0.0.1:{}", base + 1),
        child: None,
    });
    cluster.start(4);
    assert!(
        wait_until(PROGRESS, || cluster.status(4).is_some()),
        "stranger did not start"
    );
    // Give it time to dial everyone, then watch: it never holds a connection
    // for long, never learns a block, and the members never count it.
    std::thread::sleep(Duration::from_secs(3));
    let mut connected_samples = 0;
    for _ in 0..20 {
        let s = cluster.status(4).unwrap();
        if s["peers"].as_u64().unwrap_or(0) > 0 {
            connected_samples += 1;
        }
        for i in 0..4 {
            let peers = cluster.status(i).unwrap()["peers"].as_u64().unwrap();
            assert!(
                peers <= 3,
                "member {i} counts {peers} peers: the stranger got in"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        connected_samples <= 2,
        "stranger stayed connected in {connected_samples}/20 samples"
    );
    assert_eq!(cluster.height(4), 0, "stranger received blocks");
    assert!(cluster.height(0) > 1, "the network kept going");
}

#[test]
fn a_transaction_submitted_to_every_node_is_decided_exactly_once() {
    let mut cluster = Cluster::generate(4, 1);
    cluster.start_all();
    cluster.wait_for_height(&[0, 1, 2, 3, 4], 1, PROGRESS);
    let tx = bw_certificate_tx(&cluster, "0000001");
    let hash = tx.hash().to_hex();
    for i in 0..5 {
        let (status, body) = submit(&cluster, i, &tx, false);
        assert!(
            status == 202 || status == 409,
            "node {i} answered {status}: {body}"
        );
    }
    let decided = wait_until(PROGRESS, || {
        (0..5).all(|i| {
            get_json(&cluster.nodes[i].rpc, &format!("/v1/txs/{hash}"))
                .is_some_and(|t| t["height"].is_u64())
        })
    });
    assert!(decided, "not decided everywhere\n{}", cluster.logs_tail(30));
    let where_: Vec<_> = (0..5)
        .map(|i| {
            let t = get_json(&cluster.nodes[i].rpc, &format!("/v1/txs/{hash}")).unwrap();
            (
                t["height"].as_u64().unwrap(),
                t["position"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        where_.iter().all(|w| *w == where_[0]),
        "nodes disagree on where: {where_:?}"
    );
    let t = get_json(&cluster.nodes[0].rpc, &format!("/v1/txs/{hash}")).unwrap();
    let accepted = t["receipt"]["result"]
        .as_object()
        .is_some_and(|r| r.contains_key("Ok"));
    assert!(accepted, "the certificate was refused: {}", t["receipt"]);
    // Exactly once in the whole chain, even after more blocks.
    let top = cluster.height(0) + 2;
    cluster.wait_for_height(&[0], top, PROGRESS);
    let mut count = 0;
    for h in 1..=top {
        let block = get_json(&cluster.nodes[0].rpc, &format!("/v1/blocks/{h}")).unwrap();
        for t in block["block"]["txs"].as_array().unwrap() {
            let decoded: kp_types::SignedTransaction = serde_json::from_value(t.clone()).unwrap();
            if decoded.hash().to_hex() == hash {
                count += 1;
            }
        }
    }
    assert_eq!(count, 1, "transaction appears {count} times");
    // Submitting it again is refused as a replay.
    let (status, body) = submit(&cluster, 2, &tx, false);
    assert_eq!(status, 409, "replay answered {status}: {body}");
}

#[test]
fn an_idle_network_pauses_and_a_transaction_wakes_it() {
    // A pause after empty blocks far longer than the test: the network must
    // sit at its height while idle, and a submitted certificate must still
    // be decided at once (the RPC waits at most 60 s for the decision).
    let mut cluster = Cluster::generate(4, 0);
    for node in &cluster.nodes {
        let path = node.dir.join("node.toml");
        let config = std::fs::read_to_string(&path).expect("read node.toml");
        assert!(
            config.contains("empty_block_interval_ms = 1000"),
            "{config}"
        );
        let config = config.replace(
            "empty_block_interval_ms = 1000",
            "empty_block_interval_ms = 600000",
        );
        std::fs::write(&path, config).expect("write node.toml");
    }
    cluster.start_all();
    let all = [0, 1, 2, 3];
    cluster.wait_for_height(&all, 1, PROGRESS);
    // Heights still under way when height 1 appeared may finish; then none.
    std::thread::sleep(Duration::from_secs(2));
    let idle = (0..4).map(|i| cluster.height(i)).max().unwrap_or(0);
    std::thread::sleep(Duration::from_secs(4));
    let later = (0..4).map(|i| cluster.height(i)).max().unwrap_or(0);
    assert_eq!(later, idle, "an idle network kept writing blocks");

    let tx = bw_certificate_tx(&cluster, "0000042");
    let (status, body) = submit(&cluster, 2, &tx, true);
    assert_eq!(
        status,
        200,
        "answered {status}: {body}\n{}",
        cluster.logs_tail(30)
    );
    let height = body["decided"]["height"].as_u64();
    assert!(
        height.is_some_and(|h| h > idle),
        "not decided in a new block: {body}"
    );
    cluster.wait_for_height(&all, idle + 1, PROGRESS);
    assert_same_chain(&cluster, &all, idle + 1);
}
