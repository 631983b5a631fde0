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
    let commit = text
        .split("(commit ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no commit in {text:?}"));
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{text}"
    );
}
