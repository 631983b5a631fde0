//! The shipped configuration examples load, and `testnet` writes a network
//! that a node can start from.

use kp_ledger::Genesis;
use kp_node::config::{LogFormat, NodeConfig};
use kp_node::testnet::{generate, TestnetSpec};
use kp_types::{ParticipantKind, Timestamp};
use std::path::Path;

fn node_config_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../node-config"))
}

fn load_genesis(path: &Path) -> Genesis {
    let text = std::fs::read_to_string(path).unwrap();
    let genesis = Genesis::from_toml(&text).unwrap();
    genesis.validate().unwrap();
    genesis
}

#[test]
fn devnet_genesis_is_four_validators_and_an_observer() {
    let g = load_genesis(&node_config_dir().join("devnet-genesis.toml"));
    let kinds: Vec<_> = g.participants.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == ParticipantKind::Government)
            .count(),
        4
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == ParticipantKind::Observer)
            .count(),
        1
    );
}

#[test]
fn full_network_template_lists_the_whole_scheme() {
    let g = load_genesis(&node_config_dir().join("kp-network-genesis.toml"));
    let count = |kind| g.participants.iter().filter(|p| p.kind == kind).count();
    assert_eq!(count(ParticipantKind::Government), 60);
    assert_eq!(count(ParticipantKind::TradingEntity), 1);
    assert_eq!(count(ParticipantKind::Observer), 3);
    assert_eq!(
        g.authorities.len(),
        61,
        "one authority per trading Participant"
    );
}

#[test]
fn example_node_config_loads() {
    let config = NodeConfig::load(&node_config_dir().join("node.toml")).unwrap();
    assert!(config.node.genesis.ends_with("devnet-genesis.toml"));
}

#[test]
fn testnet_writes_keys_configs_and_a_valid_genesis() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let spec = TestnetSpec {
        validators: 4,
        observers: 1,
        out: dir.path().join("net"),
        base_port: 40000,
        chain_id: "kp-testnet".into(),
        genesis_time: Timestamp(1_800_000_000_000),
        consensus: kp_node::config::ConsensusSection::default(),
        encryption_keys: true,
    };
    let nodes = generate(&spec).unwrap();
    assert_eq!(nodes.len(), 5);
    let codes: Vec<_> = nodes.iter().map(|n| n.code.as_str()).collect();
    assert_eq!(codes, ["BW", "EU", "AE", "IN", "WDC"]);
    let genesis = load_genesis(&spec.out.join("genesis.toml"));
    assert_eq!(genesis.authorities.len(), 4, "observers have no authority");
    // Each authority's encryption key is registered and its file is beside it.
    for (a, node) in genesis.authorities.iter().zip(&nodes) {
        let file = node.config.parent().unwrap().join("encryption.key");
        let seed = kp_types::keyfile::read(&file).unwrap().seed();
        assert_eq!(
            a.encryption_key,
            Some(kp_types::DecryptionKey::from_seed(&seed).public())
        );
    }
    let mut ports = std::collections::BTreeSet::new();
    for node in &nodes {
        let key = node.dir.join("node.key");
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let config = NodeConfig::load(&node.config).unwrap();
        assert!(ports.insert(config.rpc.listen.clone()));
        assert!(ports.insert(config.network.listen.clone()));
        assert_eq!(config.network.peers.len(), 4);
        let public = kp_node::keys::public_of(&key).unwrap();
        let listed = genesis
            .participants
            .iter()
            .find(|p| p.code.as_str() == node.code)
            .unwrap();
        assert_eq!(listed.node_key, public, "genesis lists the written key");
        assert_eq!(node.authority_key.is_some(), listed.kind.trades());
    }
    // A second run into the same folder refuses to overwrite the network.
    assert!(generate(&spec).is_err());
}

#[test]
fn environment_variables_set_config_values_and_typos_are_refused() {
    let path = node_config_dir().join("node.toml");
    let env = |vars: &[(&str, &str)]| -> Vec<(String, String)> {
        vars.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let plain = NodeConfig::load_with(&path, Vec::new()).unwrap();
    let set = NodeConfig::load_with(
        &path,
        env(&[
            ("KPLEDGER_RPC_LISTEN", "0.0.0.0:8700"),
            (
                "KPLEDGER_NETWORK_PEERS",
                r#"["/ip4/10.0.0.2/tcp/26600", "/ip4/10.0.0.3/tcp/26600"]"#,
            ),
            ("KPLEDGER_CONSENSUS_TIMEOUT_PROPOSE_MS", "4000"),
            ("KPLEDGER_STORAGE_CACHE_MB", "128"),
            ("KPLEDGER_NODE_DATA_DIR", "/var/lib/kpledger"),
            // Not the node's: the tests' binary, another program's setting.
            ("KPLEDGER_BIN", "/usr/bin/kpledger"),
            ("PATH", "/usr/bin"),
        ]),
    )
    .unwrap();
    assert_eq!(set.rpc.listen, "0.0.0.0:8700");
    assert_eq!(
        set.network.peers,
        vec!["/ip4/10.0.0.2/tcp/26600", "/ip4/10.0.0.3/tcp/26600"]
    );
    assert_eq!(set.consensus.timeout_propose_ms, 4000);
    assert_eq!(set.storage.cache_mb, 128);
    assert_eq!(set.node.data_dir, Path::new("/var/lib/kpledger"));
    assert_eq!(set.network.listen, plain.network.listen);
    assert_eq!(plain.node.threads, 2);
    let threads = NodeConfig::load_with(&path, env(&[("KPLEDGER_NODE_THREADS", "8")])).unwrap();
    assert_eq!(threads.node.threads, 8);
    // A two-word section: `[state_sync] enable`, `rpc_servers`.
    assert!(!plain.state_sync.enable);
    let sync = NodeConfig::load_with(
        &path,
        env(&[
            ("KPLEDGER_STATE_SYNC_ENABLE", "true"),
            (
                "KPLEDGER_STATE_SYNC_RPC_SERVERS",
                r#"["http://10.0.0.2:26601"]"#,
            ),
            ("KPLEDGER_STATE_SYNC_SNAPSHOT_INTERVAL", "500"),
        ]),
    )
    .unwrap();
    assert!(sync.state_sync.enable);
    assert_eq!(sync.state_sync.rpc_servers, vec!["http://10.0.0.2:26601"]);
    assert_eq!(sync.state_sync.snapshot_interval, 500);
    // Enabled with no server to restore from: refused.
    let nowhere = NodeConfig::load_with(&path, env(&[("KPLEDGER_STATE_SYNC_ENABLE", "true")]))
        .unwrap_err()
        .to_string();
    assert!(nowhere.contains("state_sync.rpc_servers"), "{nowhere}");
    let none = NodeConfig::load_with(&path, env(&[("KPLEDGER_NODE_THREADS", "0")]))
        .unwrap_err()
        .to_string();
    assert!(none.contains("node.threads"), "{none}");
    assert_eq!(plain.node.log_format, LogFormat::Text);
    let json = NodeConfig::load_with(&path, env(&[("KPLEDGER_NODE_LOG_FORMAT", "json")])).unwrap();
    assert_eq!(json.node.log_format, LogFormat::Json);
    let xml = NodeConfig::load_with(&path, env(&[("KPLEDGER_NODE_LOG_FORMAT", "xml")]))
        .unwrap_err()
        .to_string();
    assert!(xml.contains("xml") || xml.contains("log_format"), "{xml}");

    // A misspelled key is named, as in the file; a bad value is checked as
    // in the file.
    let typo = NodeConfig::load_with(&path, env(&[("KPLEDGER_RPC_LISTN", "0.0.0.0:1")]))
        .unwrap_err()
        .to_string();
    assert!(typo.contains("listn"), "{typo}");
    let range = NodeConfig::load_with(&path, env(&[("KPLEDGER_STORAGE_CACHE_MB", "1")]))
        .unwrap_err()
        .to_string();
    assert!(range.contains("storage.cache_mb"), "{range}");
}

/// Every key of a node's configuration has its `KPLEDGER_*` variable, which
/// the node takes (a key it did not know would be refused as a typo), and
/// docs/operations.md lists it.
#[test]
fn every_config_key_has_a_documented_environment_variable() {
    let path = node_config_dir().join("node.toml");
    let plain = NodeConfig::load_with(&path, Vec::new()).unwrap();
    let full: toml::Table = toml::from_str(&plain.to_toml()).unwrap();
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/operations.md"
    ))
    .unwrap();
    let mut count = 0;
    for (section, keys) in &full {
        let keys = keys.as_table().expect("a section");
        for (key, value) in keys {
            let variable = format!(
                "KPLEDGER_{}_{}",
                section.to_ascii_uppercase(),
                key.to_ascii_uppercase()
            );
            assert!(
                docs.contains(&format!("`{variable}`")),
                "docs/operations.md does not list {variable}"
            );
            let set = NodeConfig::load_with(&path, vec![(variable.clone(), value.to_string())])
                .unwrap_or_else(|e| panic!("{variable}={value}: {e}"));
            assert_eq!(set, plain, "{variable}={value}");
            count += 1;
        }
    }
    assert!(count >= 18, "only {count} keys");
}
