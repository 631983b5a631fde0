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

/// A 4-validator network with certificate `BW<suffix>` issued and decided.
fn network_with_a_certificate(suffix: &str) -> (Cluster, String) {
    let mut cluster = Cluster::generate(4, 0);
    cluster.start_all();
    cluster.wait_for_height(&[0, 1, 2, 3], 1, PROGRESS);
    let tx = bw_certificate_tx(&cluster, suffix);
    let (status, answer) = submit(&cluster, 0, &tx, true);
    assert_eq!(status, 200, "{answer}");
    // A proof is of the state under a newer header: wait for one.
    let decided = answer["decided"]["height"]
        .as_u64()
        .expect("decided height");
    cluster.wait_for_height(&[0], decided + 2, PROGRESS);
    (cluster, format!("BW{suffix}"))
}

/// The certificate check page proves a genuine certificate AUTHENTIC in the
/// browser, shows NOT AUTHENTIC when a lying node alters a carat figure in
/// its proof, and NOT FOUND for a number the ledger proves absent.
#[test]
fn the_check_page_proves_genuine_refuses_tampered_and_finds_no_unknown() {
    let (cluster, number) = network_with_a_certificate("0000701");
    let base = format!("http://{}", cluster.nodes[0].rpc);
    let liar = kp_e2e::proxy::LyingProxy::start(
        &cluster.nodes[1].rpc,
        Box::new(|path: &str, body: &mut serde_json::Value| {
            if path.starts_with("/v1/certificates/") && path.ends_with("/proof") {
                let line = &mut body["acts"][0]["tx"]["tx"]["payload"]["issue-certificate"]
                    ["lines"][0]["carats"];
                *line = match line.take() {
                    serde_json::Value::String(s) => format!("9{s}").into(),
                    serde_json::Value::Number(n) => (n.as_u64().unwrap_or(0) + 100).into(),
                    other => panic!("carats are neither text nor a number: {other}"),
                };
            }
        }),
    );
    let lying = format!("http://{}", liar.addr);
    let env = screenshot_env();
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run_scenario(
        "check.mjs",
        &[&base, &lying, &number, "BW2026999999"],
        &envs,
    );
}

/// The printable certificate carries every Annex I field and a QR code; a
/// picture of that code uploaded to the check page opens the check of that
/// certificate, which is AUTHENTIC.
#[test]
fn a_printed_certificate_qr_code_opens_its_check() {
    let (cluster, number) = network_with_a_certificate("0000702");
    let base = format!("http://{}", cluster.nodes[0].rpc);
    let env = screenshot_env();
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run_scenario("print.mjs", &[&base, &number], &envs);
}
