//! `kpledger devnet --validators 60`: the full KP network, every government
//! node on this one machine, reaches its first blocks and says how far it is
//! until it does. Alone in its own test binary, so that no other test's
//! network shares the two cores with its 61 nodes.

use kp_e2e::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The devnet process; dropping it stops the devnet, which stops its nodes.
struct Devnet(Child);

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let stopped = wait_until(Duration::from_secs(60), || {
            matches!(self.0.try_wait(), Ok(Some(_)))
        });
        if !stopped {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
#[ignore = "needs a release build: `.ci/run` runs it with KPLEDGER_BIN=target/release/kpledger"]
fn a_devnet_of_60_validators_reports_its_progress_until_every_validator_has_a_block() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("devnet");
    let nodes: u16 = 61;
    let base = free_port_range(2 * nodes);
    let mut child = Command::new(kpledger_bin())
        .args(["devnet", "--validators", "60", "--observers", "1", "--dir"])
        .arg(&dir)
        .args(["--base-port", &base.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start kpledger devnet");
    let stdout = child.stdout.take().unwrap();
    let devnet = Devnet(child);
    let (lines, seen) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });

    let deadline = Instant::now() + Duration::from_secs(600);
    let mut output = Vec::new();
    let mut decided = false;
    while Instant::now() < deadline {
        match seen.recv_timeout(Duration::from_secs(5)) {
            Ok(line) => {
                decided = line.contains("the network decides blocks");
                output.push(line);
                if decided {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let text = output.join("\n");
    assert!(decided, "no first block:\n{text}");
    assert!(
        text.contains("started 61 nodes (60 voting); no block yet"),
        "{text}"
    );
    assert!(
        output
            .iter()
            .any(|l| l.contains("of 60 validators") || l.contains("all 60 validators answer")),
        "progress names the 60 validators:\n{text}"
    );
    // The devnet picks slower timing for a network this size on one machine.
    let config = std::fs::read_to_string(dir.join("node0/node.toml")).unwrap();
    assert!(config.contains("timeout_propose_ms = 4000"), "{config}");

    // The last government and the observer both have the block.
    for i in [59u16, 60] {
        let rpc = format!("127.0.0.1:{}", base + 2 * i + 1);
        let up = wait_until(Duration::from_secs(120), || {
            get_json(&rpc, "/v1/status").is_some_and(|s| s["height"].as_u64() >= Some(1))
        });
        assert!(up, "node {i} has no block:\n{text}");
    }
    drop(devnet);
}

#[test]
fn a_devnet_that_exists_keeps_its_size_and_says_so() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("devnet");
    let dir_arg = dir.to_str().unwrap();
    let base = free_port_range(10).to_string();
    run_ok(&[
        "devnet",
        "--dir",
        dir_arg,
        "--base-port",
        &base,
        "--init-only",
    ]);
    // Four validators get the default timing.
    let config = std::fs::read_to_string(dir.join("node0/node.toml")).unwrap();
    assert!(
        config.contains("empty_block_interval_ms = 60000"),
        "{config}"
    );
    let out = Command::new(kpledger_bin())
        .args([
            "devnet",
            "--dir",
            dir_arg,
            "--validators",
            "60",
            "--init-only",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("holds a devnet of 4 validators and 1 observer "),
        "{stderr}"
    );
    assert!(!dir.join("node5").exists());
    // Asking for what it holds, or nothing, resumes it.
    let again = run_ok(&[
        "devnet",
        "--dir",
        dir_arg,
        "--validators",
        "4",
        "--init-only",
    ]);
    assert!(again.contains("resuming the devnet"), "{again}");
}
