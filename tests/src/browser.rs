//! Browser scenarios (`tests/browser/*.mjs`): headless Chromium driven by
//! playwright-core under Node.js, against a real node's pages.
//!
//! A scenario needs `node`, Chromium (`/usr/bin/chromium`, or
//! `$KPLEDGER_CHROMIUM`) and `tests/browser/node_modules` (`npm ci
//! --prefix tests/browser`). Where one is missing the scenario is skipped
//! with a note, so `cargo test` works on a machine without a browser;
//! `.ci/run` installs all three and sets `KPLEDGER_BROWSER_TESTS=required`,
//! which turns a missing piece into a failure.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest a scenario may run before it is killed and failed.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_secs(180);

/// The folder of the scenarios.
pub fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// What is missing to run scenarios here, if anything.
pub fn missing() -> Option<String> {
    let chromium =
        std::env::var("KPLEDGER_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !PathBuf::from(&chromium).exists() {
        return Some(format!(
            "no Chromium at {chromium} (apt-get install chromium)"
        ));
    }
    let node_ok = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !node_ok {
        return Some("no `node` on PATH (Node.js 18 or later)".into());
    }
    if !scenarios_dir()
        .join("node_modules/playwright-core")
        .exists()
    {
        return Some("playwright-core is not installed (npm ci --prefix tests/browser)".into());
    }
    None
}

/// Runs scenario `script` with `args`; panics with its output when it fails.
/// Returns false (after a note on stderr) when it was skipped because the
/// browser tools are missing and `KPLEDGER_BROWSER_TESTS` is not `required`.
pub fn run_scenario(script: &str, args: &[&str], envs: &[(&str, &str)]) -> bool {
    if let Some(why) = missing() {
        if std::env::var("KPLEDGER_BROWSER_TESTS").as_deref() == Ok("required") {
            panic!("browser scenario {script} cannot run: {why}");
        }
        eprintln!("browser scenario {script} skipped: {why}");
        return false;
    }
    let dir = scenarios_dir();
    let mut child = Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    let started = Instant::now();
    loop {
        match child.try_wait().expect("wait for node") {
            Some(_) => break,
            None if started.elapsed() > SCENARIO_TIMEOUT => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("collect output");
                panic!(
                    "browser scenario {script} ran over {SCENARIO_TIMEOUT:?} and was killed\n{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    let out = child.wait_with_output().expect("collect output");
    assert!(
        out.status.success(),
        "browser scenario {script} failed ({})\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}
