//! The genesis ceremony with the real binary: a coordinator starts a draft,
//! each government adds itself with its own keys, every government signs
//! the final hash (one missing signature and it is not agreed), and the
//! agreed genesis runs a network.

use kp_e2e::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn kpledger(args: &[&str]) -> std::process::Output {
    Command::new(kpledger_bin())
        .args(args)
        .output()
        .expect("run kpledger")
}

#[test]
fn a_genesis_made_by_ceremony_is_agreed_only_when_every_government_signs_and_then_runs() {
    // The network's processes, ports and node keys come from `testnet`;
    // its genesis is then replaced by the ceremony's.
    let mut cluster = Cluster::generate(4, 0);
    let net = cluster.dir.path().join("net");
    let template: toml::Value =
        toml::from_str(&std::fs::read_to_string(net.join("genesis.toml")).unwrap()).unwrap();
    let genesis_time = template["genesis_time"].as_str().unwrap().to_string();
    let draft = net.join("ceremony.toml");
    let d = path_str(&draft);
    run_ok(&[
        "genesis",
        "init",
        "--out",
        d,
        "--chain-id",
        "kp-ceremony",
        "--genesis-time",
        &genesis_time,
        "--chair",
        "bw",
        "--vice-chair",
        "EU",
    ]);
    // A draft without members is not a genesis yet.
    assert!(!kpledger(&["genesis", "validate", d]).status.success());
    let again = kpledger(&[
        "genesis",
        "init",
        "--out",
        d,
        "--chain-id",
        "x",
        "--genesis-time",
        &genesis_time,
        "--chair",
        "BW",
    ]);
    assert!(all_output(&again).contains("not overwritten"));

    // Each government adds itself: node key from its node's key file, a
    // government key of its own kept apart (here its public half in hex).
    let mut governments = Vec::new();
    for (i, p) in template["participants"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let code = p["code"].as_str().unwrap().to_string();
        let node_dir = net.join(format!("node{i}"));
        assert_eq!(
            kp_node_key_hex(&node_dir.join("node.key")),
            p["node_key"].as_str().unwrap(),
            "testnet lists node{i} as participant {i}"
        );
        let gov_key = node_dir.join("government.key");
        run_ok(&["keys", "generate", "--out", path_str(&gov_key)]);
        let gov_hex = kp_node_key_hex(&gov_key);
        let mut args = vec![
            "genesis".to_string(),
            "add-participant".into(),
            "--genesis".into(),
            d.into(),
            "--code".into(),
            code.clone(),
            "--name".into(),
            p["name"].as_str().unwrap().into(),
            "--node-key".into(),
            path_str(&node_dir.join("node.key")).into(),
            "--government-key".into(),
            gov_hex,
        ];
        for t in p["territories"].as_array().unwrap() {
            args.push("--territory".into());
            args.push(t.as_str().unwrap().into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_ok(&args);
        governments.push((code, gov_key, node_dir));
    }
    // A second entry for one code, or one reusing a key, is refused.
    let dup = kpledger(&[
        "genesis",
        "add-participant",
        "--genesis",
        d,
        "--code",
        "BW",
        "--name",
        "again",
        "--territory",
        "ZZ",
        "--node-key",
        &"11".repeat(32),
    ]);
    assert!(
        all_output(&dup).contains("already in this genesis"),
        "{}",
        all_output(&dup)
    );
    for a in template["authorities"].as_array().unwrap() {
        run_ok(&[
            "genesis",
            "add-authority",
            "--genesis",
            d,
            "--id",
            a["id"].as_str().unwrap(),
            "--participant",
            a["participant"].as_str().unwrap(),
            "--name",
            a["name"].as_str().unwrap(),
            "--key",
            a["key"].as_str().unwrap(),
        ]);
    }
    let valid = run_ok(&["genesis", "validate", d]);
    assert!(valid.contains("governments 4"), "{valid}");
    assert!(
        valid.contains("government keys apart from node keys: 4 of 4"),
        "{valid}"
    );
    let hash = run_ok(&["genesis", "hash", d]).trim().to_string();

    // Sign-off: a node key is not a government key.
    let signoffs = net.join("signoffs");
    std::fs::create_dir(&signoffs).unwrap();
    let (first, _, first_dir) = &governments[0];
    let wrong = kpledger(&[
        "genesis",
        "sign",
        "--genesis",
        d,
        "--participant",
        first,
        "--key",
        path_str(&first_dir.join("node.key")),
        "--out",
        path_str(&signoffs.join("wrong.toml")),
    ]);
    assert!(!wrong.status.success());
    assert!(
        all_output(&wrong).contains("not BW's government key"),
        "{}",
        all_output(&wrong)
    );
    // Three of four sign: not agreed, and the missing one is named.
    for (code, key, _) in &governments[..3] {
        let out = run_ok(&[
            "genesis",
            "sign",
            "--genesis",
            d,
            "--participant",
            code,
            "--key",
            path_str(key),
            "--out",
            path_str(&signoffs.join(format!("{code}.toml"))),
        ]);
        assert!(out.contains(&hash), "{out}");
    }
    let verify = || {
        kpledger(&[
            "genesis",
            "verify-signatures",
            "--genesis",
            d,
            path_str(&signoffs),
        ])
    };
    let partial = verify();
    let said = all_output(&partial);
    assert!(!partial.status.success(), "{said}");
    assert!(said.contains("NOT AGREED"), "{said}");
    assert!(
        said.contains(&format!("missing (1): {}", governments[3].0)),
        "{said}"
    );
    // A forged sign-off for the last one is refused, not counted.
    let forged = std::fs::read_to_string(signoffs.join(format!("{}.toml", governments[0].0)))
        .unwrap()
        .replace(
            &format!("participant = \"{}\"", governments[0].0),
            &format!("participant = \"{}\"", governments[3].0),
        );
    std::fs::write(signoffs.join("forged.toml"), forged).unwrap();
    let said = all_output(&verify());
    assert!(said.contains("refused:"), "{said}");
    assert!(said.contains("NOT AGREED"), "{said}");
    std::fs::remove_file(signoffs.join("forged.toml")).unwrap();
    let (code, key, _) = &governments[3];
    run_ok(&[
        "genesis",
        "sign",
        "--genesis",
        d,
        "--participant",
        code,
        "--key",
        path_str(key),
        "--out",
        path_str(&signoffs.join(format!("{code}.toml"))),
    ]);
    let agreed = verify();
    let said = all_output(&agreed);
    assert!(agreed.status.success(), "{said}");
    assert!(said.contains("AGREED: every government signed"), "{said}");

    // The agreed genesis runs the network.
    std::fs::copy(&draft, net.join("genesis.toml")).unwrap();
    cluster.start_all();
    cluster.wait_for_height(&[0, 1, 2, 3], 2, Duration::from_secs(60));
    let status = cluster.status(0).unwrap();
    assert_eq!(status["chain_id"], "kp-ceremony");
    let served = get_json(&cluster.nodes[0].rpc, "/v1/genesis").unwrap();
    assert_eq!(served["chain_id"], "kp-ceremony", "{served}");
}

/// The public key of a key file, as `keys show` would print it.
fn kp_node_key_hex(path: &Path) -> String {
    read_key(path).public().to_string()
}
