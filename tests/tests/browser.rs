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
/// its proof, NOT FOUND for a number the ledger proves absent, and CANNOT
/// DECIDE where the browser pinned another genesis or its clock makes the
/// answer stale.
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

/// A 4-validator network whose authorities have encryption keys, with
/// certificate `BW<suffix>` issued sealed to BW-KPA and EU-KPA; and the
/// document of its sealed fields as `kpledger cert show --key
/// --document-out` writes it (TOML), opened with the BW authority's key.
fn network_with_a_sealed_certificate(suffix: &str) -> (Cluster, String, String) {
    let mut cluster = Cluster::generate_with(4, 0, true);
    cluster.start_all();
    cluster.wait_for_height(&[0, 1, 2, 3], 1, PROGRESS);
    let (bw, eu) = (cluster.nodes[0].dir.clone(), cluster.nodes[1].dir.clone());
    let key = read_key(&bw.join("authority.key"));
    let tx = sealed_bw_to_eu(bw_certificate_tx(&cluster, suffix), &bw, &eu, &key);
    let (status, answer) = submit(&cluster, 0, &tx, true);
    assert_eq!(status, 200, "{answer}");
    let decided = answer["decided"]["height"]
        .as_u64()
        .expect("decided height");
    cluster.wait_for_height(&[0], decided + 2, PROGRESS);
    let kp_types::tx::Payload::IssueCertificate(certificate) = &tx.tx.payload else {
        panic!("not an issue");
    };
    let kp_types::Parties::Sealed(sealed) = &certificate.parties else {
        panic!("not sealed");
    };
    let decryption =
        kp_types::DecryptionKey::from_seed(&read_key(&bw.join("encryption.key")).seed());
    let opened = sealed
        .open(&certificate.number, &decryption)
        .expect("BW-KPA opens its certificate");
    let f = &opened.fields;
    let document = format!(
        "number = {:?}\nsalt = {:?}\ndetails = {:?}\n\n[exporter]\nname = {:?}\naddress = {:?}\n\n[importer]\nname = {:?}\naddress = {:?}\n",
        certificate.number.as_str(),
        hex::encode(opened.salt),
        f.details,
        f.exporter.name,
        f.exporter.address,
        f.importer.name,
        f.importer.address,
    );
    (cluster, format!("BW{suffix}"), document)
}

/// The printable certificate carries every Annex I field, its sealed fields
/// as sealed, and a QR code. A picture of that code uploaded to the check
/// page, or filmed by the (fake) camera, opens the check of that
/// certificate (AUTHENTIC); a code whose
/// digest was altered is NOT AUTHENTIC. The exporting officer's document
/// prints the sealed names only when it matches the proven commitment.
#[test]
fn a_printed_certificate_qr_code_opens_its_check() {
    let (cluster, number, document) = network_with_a_sealed_certificate("0000702");
    let base = format!("http://{}", cluster.nodes[0].rpc);
    let files = tempfile::tempdir().expect("temp dir");
    let good = files.path().join("document.toml");
    std::fs::write(&good, &document).expect("write the document");
    // The same document with the exporter's and importer's names altered.
    let bad = files.path().join("altered.toml");
    std::fs::write(&bad, document.replace("name = \"", "name = \"Not ")).expect("write");
    let env = screenshot_env();
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run_scenario(
        "print.mjs",
        &[&base, &number, path_str(&good), path_str(&bad)],
        &envs,
    );
}

/// Accessibility basics (labels, contrast, names, landmarks) of the check
/// page with a verdict, the print page and the dashboard, by axe-core
/// against WCAG 2.1 A and AA, on a desktop and a phone.
#[test]
fn every_page_passes_the_accessibility_rules_of_axe() {
    let (cluster, number) = network_with_a_certificate("0000709");
    let base = format!("http://{}", cluster.nodes[0].rpc);
    run_scenario("a11y.mjs", &[&base, &number], &[]);
}
