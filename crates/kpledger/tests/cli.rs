//! The `kpledger` binary answers for itself. This test also makes
//! `cargo test --workspace` build the binary (cargo builds a package's
//! binaries for its integration tests), which the end-to-end tests of
//! `kp-e2e` then drive as `target/<profile>/kpledger`.

use std::process::Command;

fn kpledger(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kpledger"))
        .args(args)
        .output()
        .expect("run kpledger");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn help_names_the_node_the_devnet_and_the_client_commands() {
    let (ok, text) = kpledger(&["--help"]);
    assert!(ok, "{text}");
    for command in [
        "node",
        "devnet",
        "testnet",
        "keys",
        "cert",
        "resolution",
        "participant",
    ] {
        assert!(text.contains(command), "{command} missing from:\n{text}");
    }
    let (ok, text) = kpledger(&["resolution", "propose", "--help"]);
    assert!(ok, "{text}");
    for action in [
        "impose-sanction",
        "lift-sanction",
        "expel",
        "readmit",
        "json",
    ] {
        assert!(text.contains(action), "{action} missing from:\n{text}");
    }
}

#[test]
fn a_usage_error_fails_and_shows_the_usage() {
    let (ok, text) = kpledger(&["resolution", "propose", "--key", "k", "--title", "t"]);
    assert!(!ok);
    assert!(text.contains("Usage"), "{text}");
}

#[test]
fn version_names_the_commit() {
    let (ok, text) = kpledger(&["--version"]);
    assert!(ok, "{text}");
    let (commit, date) = text
        .split("(commit ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|inside| inside.split_once(", built "))
        .unwrap_or_else(|| panic!("no commit and build date in {text:?}"));
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{text}"
    );
    // YYYY-MM-DD
    let digits: Vec<&str> = date.split('-').collect();
    assert!(
        digits.len() == 3
            && [4, 2, 2]
                .iter()
                .zip(&digits)
                .all(|(n, d)| d.len() == *n && d.bytes().all(|b| b.is_ascii_digit())),
        "{text}"
    );
}

#[test]
fn genesis_validate_and_hash_check_a_file_as_a_node_would() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../node-config/devnet-genesis.toml"
    );
    let (ok, text) = kpledger(&["genesis", "validate", file]);
    assert!(ok, "{text}");
    assert!(
        text.contains("valid\nchain kp-devnet  governments 4"),
        "{text}"
    );
    let (ok, hash) = kpledger(&["genesis", "hash", file]);
    assert!(ok, "{hash}");
    let hash = hash.trim();
    assert_eq!(hash.len(), 64, "{hash}");
    assert!(text.contains(&format!("hash {hash}")), "{text}");
    // The template names no government or recovery key: each government
    // key is its node key (ADR 0008).
    assert!(
        text.contains("government keys apart from node keys: 0 of 4  recovery keys: 0 of 4"),
        "{text}"
    );

    // A small-order key (the identity point) is refused, as a node would.
    let original = std::fs::read_to_string(file).unwrap();
    let key = original
        .lines()
        .find_map(|l| l.strip_prefix("node_key = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap();
    let weak = format!("01{}", "0".repeat(62));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("genesis.toml");
    std::fs::write(&bad, original.replacen(key, &weak, 1)).unwrap();
    let (ok, text) = kpledger(&["genesis", "validate", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(text.contains("small order"), "{text}");
}

#[test]
fn completions_cover_every_command_in_each_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (ok, out) = kpledger(&["completions", shell]);
        assert!(ok, "{shell}: {out}");
        for word in ["verify", "devnet", "genesis", "resolution", "light-dir"] {
            assert!(out.contains(word), "{shell} completion lacks {word}");
        }
    }
    let (ok, out) = kpledger(&["completions", "tcsh"]);
    assert!(!ok);
    assert!(out.contains("possible values"), "{out}");
    // bash really reads the script and completes a subcommand.
    let (ok, script) = kpledger(&["completions", "bash"]);
    assert!(ok);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kpledger.bash");
    std::fs::write(&file, script).unwrap();
    let probe = format!(
        "source {}; COMP_WORDS=(kpledger cert ver); COMP_CWORD=2; _kpledger kpledger ver cert; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
    let words = String::from_utf8_lossy(&out.stdout);
    assert!(
        words.lines().any(|w| w == "verify"),
        "bash completed `kpledger cert ver` to {words:?} ({})",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn man_writes_a_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("man1");
    let (ok, out) = kpledger(&["man", "--out", out_dir.to_str().unwrap()]);
    assert!(ok, "{out}");
    for page in [
        "kpledger.1",
        "kpledger-cert-verify.1",
        "kpledger-node.1",
        "kpledger-devnet.1",
    ] {
        let text =
            std::fs::read_to_string(out_dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{page} is no roff page"
        );
    }
    let verify = std::fs::read_to_string(out_dir.join("kpledger-cert-verify.1")).unwrap();
    assert!(verify.contains("genesis"), "{verify}");
}

#[test]
fn help_lists_the_values_of_status_period_scope_and_reason() {
    let (ok, text) = kpledger(&["cert", "list", "--help"]);
    assert!(ok, "{text}");
    assert!(
        text.contains(
            "[possible values: awaiting-approval, issued, confirmed, voided, expired, seized]"
        ),
        "{text}"
    );
    assert!(text.contains("--period <YYYY|YYYYH1-2|YYYYQ1-4>"), "{text}");
    let (ok, text) = kpledger(&["seizure", "report", "--help"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("[possible values: no-certificate, forged-certificate, contents-mismatch, sanctioned-origin]"),
        "{text}"
    );
    let (ok, text) = kpledger(&[
        "resolution",
        "propose",
        "--key",
        "k",
        "--title",
        "t",
        "impose-sanction",
        "--help",
    ]);
    assert!(ok, "{text}");
    assert!(
        text.contains("[possible values: full-suspension, export-ban, import-ban, enhanced-vigilance, partial-exports]"),
        "{text}"
    );
    assert!(text.contains("[possible values: flag, refuse]"), "{text}");
    // A wrong value is refused before anything is sent, naming the values.
    let (ok, text) = kpledger(&["cert", "list", "--status", "isued"]);
    assert!(!ok);
    assert!(
        text.contains("invalid value 'isued' for '--status"),
        "{text}"
    );
    assert!(
        text.contains("possible values: awaiting-approval"),
        "{text}"
    );
    let (ok, text) = kpledger(&["stats", "--period", "2026Q5"]);
    assert!(!ok);
    assert!(
        text.contains("invalid value '2026Q5' for '--period"),
        "{text}"
    );
    assert!(text.contains("YYYYQ1..YYYYQ4"), "{text}");
}

#[test]
fn node_and_json_are_options_of_the_client_commands_only() {
    for command in [
        &["node", "--help"][..],
        &["devnet", "--help"],
        &["testnet", "--help"],
        &["keys", "generate", "--help"],
        &["keys", "show", "--help"],
        &["genesis", "hash", "--help"],
    ] {
        let (ok, text) = kpledger(command);
        assert!(ok, "{text}");
        assert!(!text.contains("--node"), "{command:?}:\n{text}");
        assert!(!text.contains("--json"), "{command:?}:\n{text}");
    }
    for command in [
        &["cert", "show", "--help"][..],
        &["status", "--help"],
        &["keys", "rotate", "--help"],
        &["anomalies", "--help"],
    ] {
        let (ok, text) = kpledger(command);
        assert!(ok, "{text}");
        assert!(text.contains("--node <NODE>"), "{command:?}:\n{text}");
        assert!(text.contains("--json"), "{command:?}:\n{text}");
    }
    // Ahead of a command that does not talk to a node, they are refused.
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.key");
    let (ok, text) = kpledger(&["--json", "keys", "generate", "--out", key.to_str().unwrap()]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("--json applies to the commands that talk to a node"),
        "{text}"
    );
    assert!(!key.exists());
    // After a client command they are taken as well as before it: a node
    // that is not there is named as such either way.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    for args in [
        vec!["--node", url.as_str(), "status"],
        vec!["status", "--node", url.as_str()],
    ] {
        let (ok, text) = kpledger(&args);
        assert!(!ok, "{text}");
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        assert!(text.to_lowercase().contains("connection refused"), "{text}");
    }
}

#[test]
fn participant_codes_are_taken_in_any_case() {
    // `participant show` with a code in lower case reaches the node as the
    // code in upper case: the request goes out (and finds no node) instead
    // of being refused as a malformed code.
    let (ok, text) = kpledger(&["--node", "http://127.0.0.1:9", "participant", "show", "bw"]);
    assert!(!ok);
    assert!(text.contains("/v1/participants/BW"), "{text}");
}

/// deploy/compose.yaml runs the network `kpledger testnet` writes with its
/// init service's options: each node's addresses there must be the ones
/// its generated config has (ports), on the container's own IP.
#[test]
fn the_compose_file_follows_the_testnet_layout() {
    let compose = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/compose.yaml"
    ))
    .unwrap();
    assert!(
        compose.contains("testnet --validators 4 --observers 1"),
        "the init service's options changed"
    );
    assert!(compose.contains("--base-port 26600"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("devnet");
    let (ok, text) = kpledger(&[
        "testnet",
        "--validators",
        "4",
        "--observers",
        "1",
        "--out",
        out.to_str().unwrap(),
        "--base-port",
        "26600",
    ]);
    assert!(ok, "{text}");
    // Each node's section, up to the next one.
    let sections: Vec<&str> = compose.split("\n  node").skip(1).collect();
    assert_eq!(sections.len(), 5, "five node services");
    for (i, section) in sections.iter().enumerate() {
        assert!(
            section.starts_with(&format!("{i}:")),
            "node{i} out of order"
        );
        let config = std::fs::read_to_string(out.join(format!("node{i}/node.toml"))).unwrap();
        let port = |key: &str| -> String {
            let line = config
                .lines()
                .find(|l| l.starts_with(key))
                .unwrap_or_else(|| panic!("no {key} in node{i}'s config"));
            line.rsplit(['/', ':'])
                .next()
                .unwrap()
                .trim_end_matches('"')
                .to_string()
        };
        // [network] listen comes before [rpc] listen in the file.
        let p2p = port("listen = \"/ip4/");
        let rpc = port("listen = \"127.0.0.1:");
        assert!(
            section.contains(&format!(
                "KPLEDGER_NETWORK_LISTEN: /ip4/0.0.0.0/tcp/{p2p}\n"
            )),
            "node{i}: p2p port {p2p}:\n{section}"
        );
        assert!(
            section.contains(&format!("KPLEDGER_RPC_LISTEN: 0.0.0.0:{rpc}\n")),
            "node{i}: rpc port {rpc}:\n{section}"
        );
        assert!(
            section.contains(&format!("/var/lib/kpledger/devnet/node{i}/node.toml")),
            "node{i}: config path"
        );
        // Its peers: every other node's p2p port, none of its own.
        let peers = section
            .lines()
            .find_map(|l| l.trim().strip_prefix("KPLEDGER_NETWORK_PEERS: "))
            .unwrap_or_else(|| panic!("node{i}: no peers"));
        assert_eq!(peers.matches("/tcp/").count(), 4, "node{i}: {peers}");
        assert!(
            !peers.contains(&format!("/tcp/{p2p}\"")),
            "node{i} dials itself"
        );
    }
}
