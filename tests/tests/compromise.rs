//! An authority revoked as compromised, through the real binary: `authority
//! revoke --compromised-since`, then `cert show`, `cert list --authority`
//! and `cert verify` flag the certificates it issued since then, and only
//! those.

use kp_e2e::*;
use std::time::Duration;

const PROGRESS: Duration = Duration::from_secs(60);

/// Submits `tx` to node 0 and waits until it is decided; the decided height.
fn decide(cluster: &Cluster, tx: &kp_types::SignedTransaction) -> u64 {
    let (status, answer) = submit(cluster, 0, tx, true);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["decided"]["receipt"]["result"],
        serde_json::json!({ "Ok": null }),
        "{answer}"
    );
    answer["decided"]["height"].as_u64().unwrap()
}

#[test]
fn a_compromised_authority_flags_what_it_signed_since_then() {
    let mut cluster = Cluster::generate(4, 0);
    cluster.start_all();
    cluster.wait_for_height(&[0, 1, 2, 3], 1, PROGRESS);
    let url = format!("http://{}", cluster.nodes[0].rpc);
    let rpc = cluster.nodes[0].rpc.clone();

    decide(&cluster, &bw_certificate_tx(&cluster, "0000001"));
    let second = decide(&cluster, &bw_certificate_tx(&cluster, "0000002"));
    // Compromised since the block that issued the second one.
    let block = get_json(&rpc, &format!("/v1/blocks/{second}")).unwrap();
    let since = block["block"]["header"]["time"].clone();
    let since = since
        .as_u64()
        .map(|ms| ms.to_string())
        .or_else(|| since.as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("header time: {block}"));

    let node_key = cluster.nodes[0].dir.join("node.key");
    run_ok(&[
        "--node",
        &url,
        "authority",
        "revoke",
        "--key",
        node_key.to_str().unwrap(),
        "--participant",
        "BW",
        "--id",
        "BW-KPA",
        "--compromised-since",
        &since,
    ]);

    let first = run_ok(&["--node", &url, "cert", "show", "BW0000001"]);
    assert!(!first.contains("COMPROMISED"), "{first}");
    let flagged = run_ok(&["--node", &url, "cert", "show", "BW0000002"]);
    assert!(
        flagged.contains("COMPROMISED AUTHORITY: BW-KPA"),
        "{flagged}"
    );
    let answer = get_json(&rpc, "/v1/certificates/BW0000002").unwrap();
    assert_eq!(
        answer["alerts"][0]["kind"], "compromised-authority",
        "{answer}"
    );

    let list = run_ok(&["--node", &url, "cert", "list", "--authority", "BW-KPA"]);
    assert!(
        list.contains("BW0000001") && list.contains("BW0000002"),
        "{list}"
    );
    let none = run_ok(&["--node", &url, "cert", "list", "--authority", "IN-KPA"]);
    assert!(!none.contains("BW0000001"), "{none}");

    // cert verify proves it from the authority's record and the issue's
    // header, not from the node's alerts.
    let after = cluster.height(0);
    cluster.wait_for_height(&[0], after + 1, PROGRESS);
    let genesis = cluster.dir.path().join("net/genesis.toml");
    let light = cluster.dir.path().join("light");
    let verify = |n: &str| -> serde_json::Value {
        let out = run_ok(&[
            "--node",
            &url,
            "--json",
            "cert",
            "verify",
            n,
            "--genesis",
            genesis.to_str().unwrap(),
            "--light-dir",
            light.to_str().unwrap(),
        ]);
        serde_json::from_str(&out).unwrap()
    };
    let kinds = |v: &serde_json::Value| -> Vec<String> {
        v["verdict"]["alerts"]
            .as_array()
            .unwrap_or_else(|| panic!("no alerts: {v}"))
            .iter()
            .map(|a| a["kind"].as_str().unwrap().to_string())
            .collect()
    };
    let v = verify("BW0000002");
    assert_eq!(v["verdict"]["verdict"], "authentic", "{v}");
    assert!(
        kinds(&v).contains(&"compromised-authority".to_string()),
        "{v}"
    );
    let v = verify("BW0000001");
    assert!(
        !kinds(&v).contains(&"compromised-authority".to_string()),
        "{v}"
    );
    assert!(kinds(&v).contains(&"authority-revoked".to_string()), "{v}");
}
