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

/// The node's answer decoded into its kp-api type, which serializes back to
/// the very JSON the node sent: the typed contract is the wire format.
fn typed<T>(answer: &serde_json::Value) -> T
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let decoded: T = serde_json::from_value(answer.clone())
        .unwrap_or_else(|e| panic!("{}: {e}: {answer}", std::any::type_name::<T>()));
    assert_eq!(&serde_json::to_value(&decoded).unwrap(), answer);
    decoded
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

    // Health: 200 while the node follows the network, with what it judged.
    let (status, health) = get(&node, "/v1/health");
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["ok"], true, "{health}");
    assert_eq!(health["catching_up"], false, "{health}");
    assert!(health["peers"].as_u64() >= Some(3), "{health}");
    assert_eq!(health["problems"], serde_json::json!([]), "{health}");
    // The probes: alive; ready, with 4 validators needing 2 peers each
    // (a quorum of 3 with itself).
    let (status, live) = get(&node, "/v1/health/live");
    assert_eq!(
        (status, &live["ok"]),
        (200, &serde_json::json!(true)),
        "{live}"
    );
    let (status, ready) = get(&node, "/v1/health/ready");
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["peers_needed"], 2, "{ready}");
    assert_eq!(ready["block_age_max_ms"], 120_000, "{ready}");

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
    let decided = answer["decided"]["height"].as_u64().unwrap();
    assert!(decided >= 1);
    // Other nodes apply the block a moment later.
    cluster.wait_for_height(&[0, 1, 2, 3], decided, PROGRESS);

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
    let typed_cert: kp_api::CertificateAnswer = typed(&cert);
    assert_eq!(typed_cert.record.certificate.number.as_str(), "BW0000777");
    let (status, answer) = get(&node, "/v1/certificates/BW0404040");
    assert_eq!((status, code(&answer)), (404, "not-found"));
    let error: kp_api::ErrorAnswer = typed(&answer);
    assert_eq!(error.error.code, "not-found");
    let (status, page) = get(&node, "/v1/certificates?exporting=BW&status=issued&limit=1");
    assert_eq!(status, 200);
    assert_eq!(page["items"][0]["certificate"]["number"], "BW0000777");
    let typed_page: kp_api::CertificatePage = typed(&page);
    assert_eq!(typed_page.items.len(), 1);
    // Pages follow the cursor to the end, in number order.
    for suffix in ["0000781", "0000780"] {
        let (status, answer) = submit(&cluster, 0, &bw_certificate_tx(&cluster, suffix), true);
        assert_eq!(status, 200, "{answer}");
    }
    let walk = |query: &str| {
        let mut numbers = Vec::new();
        let mut cursor = String::new();
        for _ in 0..10 {
            let (status, page) = get(&node, &format!("/v1/certificates?{query}&limit=1{cursor}"));
            assert_eq!(status, 200, "{page}");
            for item in page["items"].as_array().unwrap() {
                numbers.push(item["certificate"]["number"].as_str().unwrap().to_string());
            }
            match page["next"].as_str() {
                Some(next) => cursor = format!("&after={next}"),
                None => break,
            }
        }
        numbers
    };
    assert_eq!(
        walk("exporting=BW"),
        ["BW0000777", "BW0000780", "BW0000781"]
    );
    // The same pages through the territories the authority issued under.
    assert_eq!(
        walk("authority=BW-KPA"),
        ["BW0000777", "BW0000780", "BW0000781"]
    );
    assert!(walk("authority=EU-KPA").is_empty());
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
    assert_eq!(proof["acts"][0]["height"], height);
    assert_eq!(
        proof["acts"][0]["tx"]["tx"]["payload"]["issue-certificate"]["number"],
        "BW0000777"
    );
    assert!(proof["anchor"]["header"]["height"].as_u64().unwrap() > height);
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
    let _: kp_api::ParticipantRecord = typed(&bw);
    let (_, all) = get(&node, "/v1/participants");
    assert_eq!(all["items"].as_array().unwrap().len(), 4);
    assert_eq!(typed::<kp_api::ParticipantList>(&all).items.len(), 4);
    let (status, _) = get(&node, "/v1/participants/ZZ");
    assert_eq!(status, 404);
    let (status, res) = get(&node, "/v1/resolutions?pending=true");
    assert_eq!(status, 200);
    assert!(res["items"].as_array().unwrap().is_empty());
    let _: kp_api::ResolutionPage = typed(&res);
    let (status, _) = get(&node, &format!("/v1/resolutions/{}", "00".repeat(32)));
    assert_eq!(status, 404);
    let (status, seizures) = get(&node, "/v1/seizures");
    assert_eq!(status, 200);
    let _: kp_api::SeizureList = typed(&seizures);
    let (status, stats) = get(&node, "/v1/statistics/BW");
    assert_eq!(status, 200);
    assert_eq!(stats["statistics"]["exports"]["count"], 3);
    let typed_stats: kp_api::StatisticsAnswer = typed(&stats);
    assert_eq!(typed_stats.statistics.exports.count, 3);
    let (status, anomalies) = get(&node, "/v1/anomalies?period=2026");
    assert_eq!(status, 200);
    let _: kp_api::AnomaliesAnswer = typed(&anomalies);
    let (_, genesis) = get(&node, "/v1/genesis");
    assert_eq!(genesis["chain_id"], TESTNET_CHAIN_ID);

    // A batch: each transaction's outcome in order, the good one decided.
    let batch_good = bw_certificate_tx(&cluster, "0000790");
    let mut batch_forged = bw_certificate_tx(&cluster, "0000791");
    batch_forged.signature.0[5] ^= 1;
    let batch = vec![
        batch_good.clone(),
        batch_forged.clone(),
        tx.clone(),
        wrong_chain.clone(),
    ];
    let resp = http()
        .post(format!("http://{node}/v1/txs/batch"))
        .header("content-type", "application/octet-stream")
        .body(kp_types::encode(&batch))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let answer: serde_json::Value = resp.json().unwrap();
    assert_eq!(answer["accepted"], 1, "{answer}");
    let outcomes: Vec<(String, u64, String)> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["hash"].as_str().unwrap().to_string(),
                r["status"].as_u64().unwrap(),
                r["error"]["code"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let hex = |t: &kp_types::SignedTransaction| t.hash().to_hex();
    assert_eq!(
        outcomes,
        vec![
            (hex(&batch_good), 202, String::new()),
            (hex(&batch_forged), 400, "bad-signature".to_string()),
            (hex(&tx), 409, "already-decided".to_string()),
            (hex(&wrong_chain), 422, "wrong-chain".to_string()),
        ]
    );
    let decided = wait_until(PROGRESS, || {
        get(&other, &format!("/v1/txs/{}", hex(&batch_good))).0 == 200
    });
    assert!(
        decided,
        "the batch's accepted transaction was never decided"
    );
    let (status, _) = get(&other, &format!("/v1/txs/{}", hex(&batch_forged)));
    assert_eq!(status, 404);

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
    // Its id is where it stands in the chain: the block's height, then its
    // place among the block's events (the block event is 0).
    let id = lines
        .iter()
        .skip_while(|l| *l != "event: certificate")
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap_or_else(|| panic!("no id after the certificate event: {lines:?}"))
        .to_string();
    assert_eq!(id, format!("{height}.1"), "{lines:?}");

    // A reader that reconnects with Last-Event-ID gets what came after it,
    // on any node (ids follow the chain): after the block event of the
    // certificate's block, the certificate event, at once.
    let resumed = |addr: &str, last: &str| {
        let resp = http()
            .get(format!("http://{addr}/v1/events?kinds=certificate"))
            .header("Last-Event-ID", last)
            .send()
            .unwrap();
        let mut lines = Vec::new();
        for line in BufReader::new(resp).lines() {
            let Ok(line) = line else { break };
            let done = line.starts_with("data: ");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    };
    for addr in [&node, &other] {
        let lines = resumed(addr, &format!("{height}.0"));
        assert_eq!(lines[0], "event: certificate", "{lines:?}");
        assert_eq!(lines[1], format!("id: {height}.1"), "{lines:?}");
        assert!(lines[2].contains("BW0000777"), "{lines:?}");
    }
    // An id that is not one is said to be so, and the stream goes on.
    let lines = resumed(&node, "yesterday");
    assert_eq!(lines[0], "event: lagged", "{lines:?}");
    assert!(lines[1].contains("not an event id"), "{lines:?}");

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
        "kpledger_block_commit_seconds_bucket{le=",
        "kpledger_block_interval_seconds_count ",
        "kpledger_tx_decide_seconds_count ",
        "kpledger_rpc_request_duration_seconds_count{method=\"GET\",route=\"/v1/status\",status=\"200\"} ",
        "\nprocess_cpu_seconds_total ",
        "\nprocess_resident_memory_bytes ",
        // libp2p's own: bytes per protocol and connections.
        "\nlibp2p_bandwidth_bytes_total{",
        "\nlibp2p_swarm_connections_established_total{",
        "# EOF\n",
    ] {
        assert!(metrics.contains(name), "{name} missing:\n{metrics}");
    }
    the_grafana_dashboard_reads_only_metrics_the_node_exports(&metrics);
    let (status, doc) = get(&node, "/v1/openapi.json");
    assert_eq!(status, 200);
    let examples = [
        ("{hash}", hash.clone()),
        ("{id}", "00".repeat(32)),
        ("{height}", height.to_string()),
        ("{number}", "BW0000777".to_string()),
        ("{code}", "BW".to_string()),
    ];
    openapi_matches(&node, &doc, &examples, &tx);
}

/// Calls every documented GET with real values and checks that the status
/// is documented and that a JSON answer validates against its schema;
/// the POST is checked with a replay (a documented 409).
fn openapi_matches(
    node: &str,
    doc: &serde_json::Value,
    examples: &[(&str, String)],
    replay: &kp_types::SignedTransaction,
) {
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let mut path = template.clone();
            for (name, value) in examples {
                path = path.replace(name, value);
            }
            let url = format!("http://{node}{path}");
            let resp = match method.as_str() {
                "get" => http().get(&url).send().unwrap(),
                "post" => http()
                    .post(&url)
                    .json(&serde_json::json!({ "tx_hex": hex::encode(kp_types::encode(replay)) }))
                    .send()
                    .unwrap(),
                other => panic!("undocumented method {other}"),
            };
            let status = resp.status().as_u16().to_string();
            let documented = &op["responses"][&status];
            assert!(
                documented.is_object(),
                "{method} {template} answered {status}, not documented"
            );
            let (media, schema) = documented["content"]
                .as_object()
                .unwrap()
                .iter()
                .next()
                .unwrap();
            let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
            assert!(
                content_type.starts_with(media.as_str()),
                "{template}: {content_type}"
            );
            if media == "application/json" {
                let body: serde_json::Value = resp.json().unwrap();
                // The schema, generated from the types, with the components
                // its `$ref`s point into.
                let mut root = schema["schema"].clone();
                root["components"] = doc["components"].clone();
                let validator = jsonschema::draft202012::new(&root).unwrap();
                let errors: Vec<String> = validator
                    .iter_errors(&body)
                    .map(|e| format!("{e} at {}", e.instance_path()))
                    .collect();
                assert!(
                    errors.is_empty(),
                    "{method} {template} {status}: {errors:?} in {body}"
                );
            }
        }
    }
}

/// How the lying node alters the proofs it serves.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Tamper {
    Nothing,
    CertificateInRecord,
    CertificateInTransaction,
    MerklePath,
    ForgedCommit,
    ThinCommit,
    Header,
    /// Hides the last act (drops its proof, its history entry, and says the
    /// certificate is still issued).
    Withhold,
}

fn tamper(mode: Tamper, proof: &mut serde_json::Value) {
    match mode {
        Tamper::Nothing => {}
        Tamper::CertificateInRecord => {
            // The certificate's record (table 0x07): one byte changed.
            let records = proof["records"].as_array_mut().unwrap();
            let record = records
                .iter_mut()
                .find(|r| r["key"].as_str().unwrap().starts_with("0701"))
                .unwrap();
            let value = record["value"].as_str().unwrap().to_string();
            let flipped = if value.ends_with('0') { "1" } else { "0" };
            record["value"] = format!("{}{flipped}", &value[..value.len() - 1]).into();
        }
        Tamper::CertificateInTransaction => {
            proof["acts"][0]["tx"]["tx"]["payload"]["issue-certificate"]["parties"]["plain"]
                ["importer"]["name"] = "Someone Else Ltd".into();
        }
        Tamper::MerklePath => {
            let tx = &mut proof["acts"][0];
            let empty = tx["inclusion"]["path"].as_array().unwrap().is_empty();
            if empty {
                tx["inclusion"]["leaf_count"] = 2.into();
                tx["inclusion"]["path"] = serde_json::json!([
                    { "sibling": "11".repeat(32), "sibling_is_left": false }
                ]);
            } else {
                tx["inclusion"]["path"][0]["sibling"] = "11".repeat(32).into();
            }
        }
        Tamper::ForgedCommit => {
            // A quorum of precommits, by keys that are not the validators.
            let anchor = &mut proof["anchor"];
            let mut commit: kp_types::CommitCertificate =
                serde_json::from_value(anchor["commit"].clone()).unwrap();
            let strangers: Vec<_> = (0..4u8)
                .map(|i| kp_types::SigningKey::from_seed([200 + i; 32]))
                .collect();
            commit.signatures.clear();
            commit.sign_with(&strangers);
            anchor["commit"] = serde_json::to_value(&commit).unwrap();
        }
        Tamper::ThinCommit => {
            proof["anchor"]["commit"]["signatures"]
                .as_array_mut()
                .unwrap()
                .truncate(1);
        }
        Tamper::Header => {
            proof["anchor"]["header"]["records_root"] = "22".repeat(32).into();
        }
        Tamper::Withhold => {
            // Drops the newest act's proof (the record still names it: the
            // record is proven, so it cannot be rolled back).
            let acts = proof["acts"].as_array_mut().unwrap();
            acts.pop();
        }
    }
}

#[test]
fn cert_verify_refuses_every_tampered_proof() {
    let mut cluster = Cluster::generate(4, 0);
    cluster.start_all();
    cluster.wait_for_height(&[0, 1, 2, 3], 1, PROGRESS);
    let tx = bw_certificate_tx(&cluster, "0000888");
    let (status, answer) = submit(&cluster, 0, &tx, true);
    assert_eq!(status, 200, "{answer}");
    let decided = answer["decided"]["height"].as_u64().unwrap();
    // Proofs are of the state under the newest decided header: the one
    // after the certificate's block.
    cluster.wait_for_height(&[1], decided + 1, PROGRESS);
    let mode = std::sync::Arc::new(std::sync::Mutex::new(Tamper::Nothing));
    // A node in front of a real one that answers everything faithfully
    // except certificate proofs, which it alters as `mode` says.
    let tampering = mode.clone();
    let liar = kp_e2e::proxy::LyingProxy::start(
        &cluster.nodes[1].rpc,
        Box::new(move |path: &str, body: &mut serde_json::Value| {
            if path.ends_with("/proof") {
                tamper(*tampering.lock().unwrap(), body);
            }
        }),
    );
    let proxy = liar.addr.clone();
    let genesis = cluster.dir.path().join("net/genesis.toml");
    let verify = || {
        std::process::Command::new(kpledger_bin())
            .args([
                "--node",
                &format!("http://{proxy}"),
                "cert",
                "verify",
                "BW0000888",
                "--genesis",
            ])
            .arg(&genesis)
            .output()
            .unwrap()
    };
    let honest = verify();
    assert!(
        honest.status.success() && String::from_utf8_lossy(&honest.stdout).contains("is AUTHENTIC"),
        "the proxy passes honest proofs through: {}{}",
        String::from_utf8_lossy(&honest.stdout),
        String::from_utf8_lossy(&honest.stderr)
    );
    for lie in [
        Tamper::CertificateInRecord,
        Tamper::CertificateInTransaction,
        Tamper::MerklePath,
        Tamper::ForgedCommit,
        Tamper::ThinCommit,
        Tamper::Header,
    ] {
        *mode.lock().unwrap() = lie;
        let out = verify();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{lie:?} was accepted: {stdout}");
        assert!(stdout.contains("NOT AUTHENTIC"), "{lie:?}: {stdout}");
    }

    // A node that hides the confirmation is caught alone: the proven record
    // names it. Asked beside an honest node, nothing is decided and the
    // liar is named.
    let eu_key = cluster.nodes[1].dir.join("authority.key");
    run_ok(&[
        "--node",
        &format!("http://{}", cluster.nodes[1].rpc),
        "cert",
        "confirm",
        "BW0000888",
        "--key",
        eu_key.to_str().unwrap(),
    ]);
    let confirmed_at = cluster.height(1);
    cluster.wait_for_height(&[1, 2], confirmed_at + 1, PROGRESS);
    *mode.lock().unwrap() = Tamper::Withhold;
    let alone = verify();
    let text = String::from_utf8_lossy(&alone.stdout).into_owned();
    assert_eq!(alone.status.code(), Some(1), "{text}");
    assert!(text.contains("lacks the act"), "{text}");
    let honest = format!("http://{}", cluster.nodes[2].rpc);
    let out = std::process::Command::new(kpledger_bin())
        .args([
            "--node",
            &format!("http://{proxy}"),
            "cert",
            "verify",
            "BW0000888",
            "--also",
            &honest,
            "--genesis",
        ])
        .arg(&genesis)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("CANNOT DECIDE"), "{text}");
    assert!(text.contains("forged"), "{text}");
    // The honest node alone proves the confirmation.
    *mode.lock().unwrap() = Tamper::Nothing;
    let text = String::from_utf8_lossy(&verify().stdout).into_owned();
    assert!(text.contains("status: CONFIRMED"), "{text}");
}

#[test]
fn cert_verify_folds_in_a_proven_expulsion() {
    let mut cluster = Cluster::generate(4, 0);
    cluster.start_all();
    cluster.wait_for_height(&[0, 1, 2, 3], 1, PROGRESS);
    let url = format!("http://{}", cluster.nodes[0].rpc);
    let key = |i: usize| {
        cluster.nodes[i]
            .dir
            .join("node.key")
            .to_str()
            .unwrap()
            .to_string()
    };
    let out = run_ok(&[
        "--node",
        &url,
        "resolution",
        "propose",
        "--key",
        &key(0),
        "--title",
        "Expel IN",
        "expel",
        "IN",
    ]);
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("resolution id "))
        .unwrap()
        .trim()
        .to_string();
    for i in 1..4 {
        run_ok(&["--node", &url, "resolution", "sign", &id, "--key", &key(i)]);
    }
    // The expulsion fixes the validators of the height after next.
    let after = cluster.height(0);
    cluster.wait_for_height(&[0], after + 2, PROGRESS);
    let (_, status) = get(&cluster.nodes[0].rpc, "/v1/status");
    let _: kp_api::NodeStatus = typed(&status);
    assert_eq!(status["validators"], 3, "{status}");
    let tx = bw_certificate_tx(&cluster, "0000999");
    let (status, answer) = submit(&cluster, 0, &tx, true);
    assert_eq!(status, 200, "{answer}");
    let decided = answer["decided"]["height"].as_u64().unwrap();
    cluster.wait_for_height(&[0], decided + 1, PROGRESS);
    let genesis = cluster.dir.path().join("net/genesis.toml");
    let out = run_ok(&[
        "--node",
        &url,
        "--json",
        "cert",
        "verify",
        "BW0000999",
        "--genesis",
        genesis.to_str().unwrap(),
    ]);
    // The light client follows the expulsion from headers alone.
    let check: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(check["verdict"]["verdict"], "authentic", "{check}");

    // The expulsion itself, and who signed it, are proven rather than told.
    let light = cluster.dir.path().join("light");
    let proven = |args: &[&str]| -> (i32, String) {
        let mut all = vec!["--node", url.as_str()];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--light-dir", light.to_str().unwrap()]);
        let out = std::process::Command::new(kpledger_bin())
            .args(&all)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code().unwrap_or(-1), text)
    };
    let g = genesis.to_str().unwrap();
    let (code, out) = proven(&[
        "--json",
        "resolution",
        "show",
        &id,
        "--verify",
        "--genesis",
        g,
    ]);
    assert_eq!(code, 0, "{out}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["verdict"], "proven", "{r}");
    assert!(r["value"]["outcome"]["adopted"].is_object(), "{r}");
    assert_eq!(r["value"]["signed_by"].as_array().unwrap().len(), 4, "{r}");
    let (code, out) = proven(&["participant", "show", "IN", "--verify", "--genesis", g]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("participant IN: PROVEN, as of height"),
        "{out}"
    );
    assert!(out.contains("status: expelled"), "{out}");
    // A Participant that is not on the ledger is proven absent (exit 2).
    let (code, out) = proven(&["participant", "show", "ZZ", "--verify", "--genesis", g]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("NOT FOUND"), "{out}");
    // A genesis that is not this network's cannot decide (exit 3).
    let other = cluster.dir.path().join("other-genesis.toml");
    let text = std::fs::read_to_string(&genesis).unwrap();
    std::fs::write(&other, text.replacen("chain_id = \"", "chain_id = \"x", 1)).unwrap();
    let (code, out) = proven(&[
        "participant",
        "show",
        "IN",
        "--verify",
        "--genesis",
        other.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{out}");
    // A header pinned by height and hash replaces the genesis validators
    // as the root of trust; a pin the node's header does not match cannot
    // decide.
    let (_, block) = get(&cluster.nodes[0].rpc, "/v1/blocks/2");
    let pin = format!("2:{}", block["hash"].as_str().unwrap());
    let (code, out) = proven(&[
        "participant",
        "show",
        "IN",
        "--verify",
        "--genesis",
        g,
        "--trust-header",
        &pin,
    ]);
    assert_eq!(code, 0, "{out}");
    let wrong = format!("2:{}", "ab".repeat(32));
    let (code, out) = proven(&[
        "participant",
        "show",
        "IN",
        "--verify",
        "--genesis",
        g,
        "--trust-header",
        &wrong,
    ]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("CANNOT DECIDE"), "{out}");
    // `--verify` without a genesis is a usage error, not a silent trust.
    let (code, out) = proven(&["participant", "show", "IN", "--verify"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("--genesis"), "{out}");
}

/// Every metric `deploy/grafana/kpledger.json` queries is one the node
/// exports (a histogram's `_bucket`, `_count` and `_sum` included).
fn the_grafana_dashboard_reads_only_metrics_the_node_exports(metrics: &str) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana/kpledger.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut queried = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let words = expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
            for word in words {
                if ["kpledger_", "process_", "libp2p_"]
                    .iter()
                    .any(|p| word.starts_with(p))
                {
                    queried.push(word.to_string());
                }
            }
        }
    }
    assert!(queried.len() >= 12, "{queried:?}");
    for name in queried {
        // A labelled family that has seen nothing is not encoded at all:
        // refusals by reason (none on this network) are checked by the
        // node's unit test `blocks_and_decisions_land_in_their_histograms`.
        let may_be_empty = ["kpledger_txs_rejected_total"];
        let exported = may_be_empty.contains(&name.as_str())
            || metrics
                .lines()
                .any(|l| l.starts_with(&format!("{name} ")) || l.starts_with(&format!("{name}{{")));
        assert!(
            exported,
            "the dashboard queries {name}, which the node does not export"
        );
    }
}
