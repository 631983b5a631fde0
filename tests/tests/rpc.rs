//! Contract tests of the HTTP API against real `kpledger node` processes:
//! every endpoint answers what the OpenAPI document says, and each error
//! case (bad JSON, bad signature, unknown certificate, oversized body,
//! replayed transaction, page limits) has its status and stable code.

use kp_e2e::*;
use std::io::{BufRead, BufReader};
use std::time::Duration;

const PROGRESS: Duration = Duration::from_secs(60);

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn get(addr: &str, path: &str) -> (u16, serde_json::Value) {
    let resp = http().get(format!("http://{addr}{path}")).send().unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(serde_json::Value::Null))
}

fn post_raw(addr: &str, body: String) -> (u16, serde_json::Value) {
    let resp = http()
        .post(format!("http://{addr}/v1/txs"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(serde_json::Value::Null))
}

fn code(answer: &serde_json::Value) -> &str {
    answer["error"]["code"].as_str().unwrap_or("")
}

#[test]
fn every_endpoint_and_error_case_against_a_running_network() {
    let mut cluster = Cluster::generate(4, 0);
    cluster.start_all();
    cluster.wait_for_height(&[0, 1, 2, 3], 1, PROGRESS);
    let node = cluster.nodes[0].rpc.clone();
    let other = cluster.nodes[2].rpc.clone();

    // An events subscriber on another node, started before the transaction.
    let events_addr = other.clone();
    let (seen_tx, seen) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        let resp = http()
            .get(format!("http://{events_addr}/v1/events?kinds=certificate"))
            .send()
            .unwrap();
        for line in BufReader::new(resp).lines() {
            let Ok(line) = line else { break };
            if seen_tx.send(line).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(300));

    // Submit and wait: 200 with where it was decided.
    let tx = bw_certificate_tx(&cluster, "0000777");
    let (status, answer) = submit(&cluster, 0, &tx, true);
    assert_eq!(status, 200, "{answer}");
    let hash = answer["hash"].as_str().unwrap().to_string();
    assert!(answer["decided"]["height"].as_u64().unwrap() >= 1);

    // Looked up on another node: block, position, accepted receipt.
    let (status, found) = get(&other, &format!("/v1/txs/{hash}"));
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["accepted"], true);
    let height = found["height"].as_u64().unwrap();

    // A replay is refused.
    let (status, answer) = submit(&cluster, 1, &tx, false);
    assert_eq!(
        (status, code(&answer)),
        (409, "already-decided"),
        "{answer}"
    );

    // A bad signature, bad JSON, an oversized body.
    let mut forged = bw_certificate_tx(&cluster, "0000778");
    forged.tx.nonce += 1;
    let (status, answer) = post_raw(&node, serde_json::json!({ "tx": forged }).to_string());
    assert_eq!((status, code(&answer)), (400, "bad-signature"));
    let (status, answer) = post_raw(&node, "{\"tx_hex\": ".into());
    assert_eq!((status, code(&answer)), (400, "malformed-json"));
    let big = serde_json::json!({ "tx_hex": "00".repeat(200_000) }).to_string();
    let (status, answer) = post_raw(&node, big);
    assert_eq!((status, code(&answer)), (413, "body-too-large"));
    // A transaction the ledger refuses at admission: its rejection code.
    let mut wrong_chain = bw_certificate_tx(&cluster, "0000779");
    wrong_chain.tx.chain_id = "another-chain".into();
    let key = read_key(&cluster.nodes[0].dir.join("authority.key"));
    let wrong_chain = wrong_chain.tx.sign(&key);
    let (status, answer) = submit(&cluster, 0, &wrong_chain, false);
    assert_eq!((status, code(&answer)), (422, "wrong-chain"), "{answer}");

    // Certificates: by number with history, unknown, search, page limits, proof.
    let (status, cert) = get(&other, "/v1/certificates/BW0000777");
    assert_eq!(status, 200);
    assert_eq!(cert["status"], "issued");
    assert_eq!(cert["history"][0]["event"], "issued");
    assert_eq!(cert["history"][0]["tx"], hash.as_str());
    assert_eq!(cert["history"][0]["height"], height);
    assert!(cert["alerts"].as_array().unwrap().is_empty());
    let (status, answer) = get(&node, "/v1/certificates/BW0404040");
    assert_eq!((status, code(&answer)), (404, "not-found"));
    let (status, page) = get(&node, "/v1/certificates?exporting=BW&status=issued&limit=1");
    assert_eq!(status, 200);
    assert_eq!(page["items"][0]["certificate"]["number"], "BW0000777");
    let (_, page) = get(&node, "/v1/certificates?importing=BW");
    assert!(page["items"].as_array().unwrap().is_empty());
    assert!(page["next"].is_null());
    for bad in ["limit=0", "limit=101", "limit=x"] {
        let (status, answer) = get(&node, &format!("/v1/certificates?{bad}"));
        assert_eq!((status, code(&answer)), (400, "page-limit"), "{bad}");
    }
    let (status, answer) = get(&node, "/v1/seizures?limit=1000");
    assert_eq!((status, code(&answer)), (400, "page-limit"));
    let (status, proof) = get(&other, "/v1/certificates/BW0000777/proof");
    assert_eq!(status, 200);
    assert_eq!(proof["txs"][0]["height"], height);
    assert_eq!(
        proof["txs"][0]["tx"]["tx"]["payload"]["issue-certificate"]["number"],
        "BW0000777"
    );
    // The CLI checks that proof against the genesis file alone.
    let genesis_file = cluster.dir.path().join("net/genesis.toml");
    let verified = run_ok(&[
        "--node",
        &other,
        "cert",
        "verify",
        "BW0000777",
        "--genesis",
        genesis_file.to_str().unwrap(),
    ]);
    assert!(verified.contains("is AUTHENTIC"), "{verified}");

    // Blocks by height and by hash agree and carry the commit certificate.
    let (_, by_height) = get(&node, &format!("/v1/blocks/{height}"));
    let block_hash = by_height["hash"].as_str().unwrap();
    let (status, by_hash) = get(&node, &format!("/v1/blocks/by-hash/{block_hash}"));
    assert_eq!(status, 200);
    assert_eq!(by_hash, by_height);
    assert_eq!(by_height["commit_certificate"]["block_hash"], block_hash);

    // Participants, resolutions, seizures, statistics, anomalies, genesis.
    let (_, bw) = get(&node, "/v1/participants/BW");
    assert_eq!(bw["authorities"][0]["authority"]["id"], "BW-KPA");
    let (_, all) = get(&node, "/v1/participants");
    assert_eq!(all["items"].as_array().unwrap().len(), 4);
    let (status, _) = get(&node, "/v1/participants/ZZ");
    assert_eq!(status, 404);
    let (status, res) = get(&node, "/v1/resolutions?pending=true");
    assert_eq!(status, 200);
    assert!(res["items"].as_array().unwrap().is_empty());
    let (status, _) = get(&node, &format!("/v1/resolutions/{}", "00".repeat(32)));
    assert_eq!(status, 404);
    let (status, _) = get(&node, "/v1/seizures");
    assert_eq!(status, 200);
    let (status, stats) = get(&node, "/v1/statistics/BW");
    assert_eq!(status, 200);
    assert_eq!(stats["statistics"]["exports"]["count"], 1);
    let (status, _) = get(&node, "/v1/anomalies?period=2026");
    assert_eq!(status, 200);
    let (_, genesis) = get(&node, "/v1/genesis");
    assert_eq!(genesis["chain_id"], TESTNET_CHAIN_ID);

    // The subscriber on the other node saw the certificate's issue.
    let mut lines = Vec::new();
    let got = wait_until(Duration::from_secs(20), || {
        while let Ok(line) = seen.try_recv() {
            lines.push(line);
        }
        lines.iter().any(|l| l.contains("BW0000777"))
    });
    assert!(got, "no certificate event: {lines:?}");
    assert!(lines.iter().any(|l| l == "event: certificate"));

    // Metrics and the OpenAPI document.
    let metrics = http()
        .get(format!("http://{node}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    for name in [
        "kpledger_height ",
        "kpledger_round ",
        "kpledger_peers ",
        "kpledger_mempool_size ",
        "kpledger_txs_accepted_total ",
        "kpledger_block_commit_ms_last ",
    ] {
        assert!(metrics.contains(name), "{name} missing:\n{metrics}");
    }
    let (status, doc) = get(&node, "/v1/openapi.json");
    assert_eq!(status, 200);
    for path in ["/v1/certificates/{number}/proof", "/v1/events", "/metrics"] {
        assert!(doc["paths"].get(path).is_some(), "{path}");
    }
}
