//! What an operator reads when a node cannot start: each error names the
//! field, the address or the directory at fault, in words rather than Rust
//! debug text.

use kp_e2e::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `kpledger node --config CONFIG`, which must fail within a minute;
/// returns its stderr.
fn node_fails(config: &Path) -> String {
    let mut child = Command::new(kpledger_bin())
        .args(["node", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kpledger node");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let out = child.wait_with_output().expect("node output");
                let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                assert!(!status.success(), "the node started:\n{stderr}");
                return stderr;
            }
            _ if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the node did not stop with an error within a minute");
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

#[test]
fn a_node_that_cannot_start_says_which_field_address_or_directory() {
    let mut cluster = Cluster::generate(1, 0);
    cluster.start(0);
    let rpc = cluster.nodes[0].rpc.clone();
    let up = wait_until(Duration::from_secs(60), || {
        get_json(&rpc, "/v1/status").is_some()
    });
    assert!(up, "{}", cluster.logs_tail(20));
    let dir = cluster.nodes[0].dir.clone();
    let config = std::fs::read_to_string(dir.join("node.toml")).unwrap();
    let p2p = config
        .lines()
        .find(|l| l.starts_with("listen = \"/ip4/"))
        .expect("a p2p listen line")
        .to_string();

    // A second node on the same data directory.
    let stderr = node_fails(&dir.join("node.toml"));
    assert!(stderr.contains("another process has it open"), "{stderr}");
    assert!(!stderr.contains("WouldBlock"), "{stderr}");

    // Its own data directory and peer port, but the RPC address is taken.
    let free = free_port_range(1);
    let taken = config
        .replace("data_dir = \"data\"", "data_dir = \"data-b\"")
        .replace(&p2p, &format!("listen = \"/ip4/127.0.0.1/tcp/{free}\""));
    std::fs::write(dir.join("taken.toml"), taken).unwrap();
    let stderr = node_fails(&dir.join("taken.toml"));
    assert!(
        stderr.contains(&format!("cannot listen on {rpc} ([rpc] listen)")),
        "{stderr}"
    );

    // A peer address in the wrong form names its field and the form expected.
    let malformed = config
        .replace("data_dir = \"data\"", "data_dir = \"data-c\"")
        .replace(&p2p, "listen = \"127.0.0.1:9\"");
    std::fs::write(dir.join("malformed.toml"), malformed).unwrap();
    let stderr = node_fails(&dir.join("malformed.toml"));
    assert!(
        stderr.contains("[network] listen \"127.0.0.1:9\""),
        "{stderr}"
    );
    assert!(stderr.contains("/ip4/127.0.0.1/tcp/"), "{stderr}");
}

/// `kpledger node --log-format json` makes every log line one JSON object
/// that a log shipper can read, over the file's `[node] log_format` and its
/// environment variable (`[node] log_format = "json"` alone does the same:
/// tests/node_config.rs of kp-node).
#[test]
fn a_node_asked_for_json_logs_writes_one_object_per_line() {
    let mut cluster = Cluster::generate(1, 0);
    let dir = cluster.nodes[0].dir.clone();
    let config = std::fs::read_to_string(dir.join("node.toml")).unwrap();
    assert!(config.contains("log_format = \"text\""), "{config}");
    let log = std::fs::File::create(dir.join("node.log")).unwrap();
    let child = Command::new(kpledger_bin())
        .args(["node", "--log-format", "json", "--config"])
        .arg(dir.join("node.toml"))
        .env("RUST_LOG", "info")
        .env("KPLEDGER_NODE_LOG_FORMAT", "text")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start kpledger node");
    // The cluster kills it when dropped, as the nodes it starts itself.
    cluster.nodes[0].child = Some(child);
    let rpc = cluster.nodes[0].rpc.clone();
    let decided = wait_until(Duration::from_secs(60), || {
        get_json(&rpc, "/v1/status")
            .and_then(|s| s["height"].as_u64())
            .is_some_and(|h| h >= 1)
    });
    assert!(decided, "{}", cluster.logs_tail(20));
    let log = std::fs::read_to_string(dir.join("node.log")).unwrap();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "no log lines");
    for line in &lines {
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(object["timestamp"].is_string(), "{line}");
        assert!(object["level"].is_string(), "{line}");
        assert!(object["fields"].is_object(), "{line}");
    }
    assert!(
        lines.iter().any(|l| l.contains("\"message\"")),
        "no message field:\n{log}"
    );
}

/// Runs `kpledger ARGS`, returning whether it succeeded and what it printed.
fn kpledger(args: &[&str]) -> (bool, String) {
    let out = Command::new(kpledger_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run kpledger");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// A devnet that exists keeps its validators, observers and ports: asking
/// for others when resuming is refused with what the folder holds, not
/// silently ignored.
#[test]
fn a_devnet_resumed_with_other_sizes_or_ports_says_what_it_holds() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("devnet");
    let dir_text = dir.to_str().unwrap();
    let base = free_port_range(4);
    let base_text = base.to_string();
    let (ok, text) = kpledger(&[
        "devnet",
        "--dir",
        dir_text,
        "--validators",
        "1",
        "--observers",
        "1",
        "--base-port",
        &base_text,
        "--init-only",
    ]);
    assert!(ok, "{text}");
    assert!(
        text.contains("created a devnet of 1 validator and 1 observer in"),
        "{text}"
    );
    // The same options, or none, resume it.
    let (ok, text) = kpledger(&["devnet", "--dir", dir_text, "--init-only"]);
    assert!(ok, "{text}");
    assert!(text.contains("resuming the devnet"), "{text}");
    let (ok, text) = kpledger(&[
        "devnet",
        "--dir",
        dir_text,
        "--base-port",
        &base_text,
        "--init-only",
    ]);
    assert!(ok, "{text}");
    let other = (base + 100).to_string();
    for args in [
        vec!["--base-port", other.as_str()],
        vec!["--validators", "4"],
        vec!["--observers", "2"],
    ] {
        let mut command = vec!["devnet", "--dir", dir_text, "--init-only"];
        command.extend(&args);
        let (ok, text) = kpledger(&command);
        assert!(!ok, "{args:?} was taken:\n{text}");
        assert!(
            text.contains(&format!(
                "holds a devnet of 1 validator and 1 observer on ports from {base}"
            )),
            "{text}"
        );
        assert!(text.contains("leave them out to resume it"), "{text}");
    }
}

/// A client pointed at a port where no node listens says the connection
/// was refused, and where.
#[test]
fn a_client_without_a_node_says_connection_refused() {
    let port = free_port_range(1);
    let url = format!("http://127.0.0.1:{port}");
    let (ok, text) = kpledger(&["--node", &url, "status"]);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!("cannot reach {url}/v1/status")),
        "{text}"
    );
    assert!(text.to_lowercase().contains("connection refused"), "{text}");
    assert!(!text.contains("error sending request"), "{text}");
}

/// The addresses of a node come from KPLEDGER_* variables over its file, as
/// deploy/compose.yaml sets them: the node listens where they say, not where
/// the file does, and is ready there.
#[test]
fn environment_variables_set_the_addresses_over_the_file() {
    let mut cluster = Cluster::generate(1, 0);
    let dir = cluster.nodes[0].dir.clone();
    let port = free_port_range(2);
    let rpc = format!("127.0.0.1:{}", port + 1);
    let log = std::fs::File::create(dir.join("node.log")).unwrap();
    let child = Command::new(kpledger_bin())
        .args(["node", "--config"])
        .arg(dir.join("node.toml"))
        .env("RUST_LOG", "info")
        .env("KPLEDGER_RPC_LISTEN", &rpc)
        .env(
            "KPLEDGER_NETWORK_LISTEN",
            format!("/ip4/0.0.0.0/tcp/{port}"),
        )
        .env("KPLEDGER_NETWORK_PEERS", "[]")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start kpledger node");
    cluster.nodes[0].child = Some(child);
    let ready = wait_until(Duration::from_secs(60), || {
        get_json(&rpc, "/v1/health/ready").is_some_and(|r| r["ok"] == true)
    });
    assert!(ready, "{}", cluster.logs_tail(20));
    assert!(get_json(&cluster.nodes[0].rpc, "/v1/status").is_none());
}

/// `kpledger ... | head` closes standard output before the command is done:
/// the command stops quietly, as a shell tool stopped by SIGPIPE does
/// (status 141), instead of a Rust panic with a backtrace.
#[test]
fn a_closed_pipe_on_standard_output_stops_the_cli_without_a_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("k.key");
    let (ok, out) = kpledger(&[
        "keys",
        "generate",
        "--out",
        key.to_str().expect("utf-8 path"),
    ]);
    assert!(ok, "keys generate: {out}");
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = Command::new(kpledger_bin())
        .args(["keys", "show"])
        .arg(&key)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run kpledger keys show");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked"),
        "a panic on a closed pipe:\n{stderr}"
    );
    assert_eq!(out.status.code(), Some(141), "stderr:\n{stderr}");
}
