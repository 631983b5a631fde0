//! The node's web pages in a real browser (headless Chromium through
//! playwright-core; see `kp_e2e::browser`), against a real network.

use kp_e2e::browser::run_scenario;
use kp_e2e::*;
use std::time::Duration;

const PROGRESS: Duration = Duration::from_secs(60);

/// Where scenarios save screenshots: `$KPLEDGER_SCREENSHOTS` when set (see
/// `scripts/screenshots`), else nowhere.
fn screenshot_env() -> Vec<(&'static str, String)> {
    std::env::var("KPLEDGER_SCREENSHOTS")
        .map(|dir| vec![("KPLEDGER_SCREENSHOTS", dir)])
        .unwrap_or_default()
}

#[test]
fn the_pages_load_on_a_desktop_and_a_phone_and_answer_the_keyboard() {
    let mut cluster = Cluster::generate(4, 0);
    cluster.start_all();
    cluster.wait_for_height(&[0, 1, 2, 3], 1, PROGRESS);
    let base = format!("http://{}", cluster.nodes[0].rpc);
    let env = screenshot_env();
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run_scenario("smoke.mjs", &[&base], &envs);
}

#[test]
fn the_dashboard_shows_figures_and_a_signature_bar_that_moves_as_governments_sign() {
    let mut cluster = Cluster::generate(4, 0);
    cluster.start_all();
    cluster.wait_for_height(&[0, 1, 2, 3], 1, PROGRESS);
    issue_two_bw_certificates(&cluster);
    let base = format!("http://{}", cluster.nodes[0].rpc);
    let bin = kpledger_bin();
    let net = cluster.nodes[0]
        .dir
        .parent()
        .expect("network dir")
        .to_path_buf();
    // A participant token: the scenario reads the events with it.
    let config = cluster.nodes[0].dir.join("node.toml");
    let eu_token = run_ok(&[
        "rpc",
        "token",
        "create",
        "--scope",
        "participant:EU",
        "--config",
        path_str(&config),
    ])
    .trim()
    .to_string();
    let env = screenshot_env();
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run_scenario(
        "dashboard.mjs",
        &[&base, path_str(&bin), path_str(&net), &eu_token],
        &envs,
    );
}
