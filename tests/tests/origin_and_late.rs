//! Sanction-aware origin and late confirmations through the real binary:
//! `resolution propose ... impose-sanction --origin flag|refuse`, a
//! certificate declaring the sanctioned origin flagged, then refused; a
//! confirmation after expiry accepted for goods received in time and shown
//! late by `cert show`.

use kp_e2e::*;
use kp_types::tx::{Payload, Transaction};
use kp_types::{Certificate, Date, Origin, Territory, Timestamp};
use std::time::Duration;

const PROGRESS: Duration = Duration::from_secs(60);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A certificate from Botswana (node 0) to the EU, issued on `issued_on`.
fn bw_certificate(number: &str, issued_on: Date) -> Certificate {
    let mut cert = kp_ledger::testkit::certificate(number, "BW", "EU", issued_on);
    cert.issuing_authority = kp_types::AuthorityId::new("BW-KPA").unwrap();
    cert
}

fn issue_tx(cluster: &Cluster, cert: Certificate) -> kp_types::SignedTransaction {
    let key = read_key(&cluster.nodes[0].dir.join("authority.key"));
    let now = now_ms();
    Transaction {
        chain_id: TESTNET_CHAIN_ID.to_string(),
        signer: key.public(),
        nonce: now,
        expires_at: Timestamp(now + 10 * 60 * 1000),
        payload: Payload::IssueCertificate(cert),
    }
    .sign(&key)
}

/// Has every government adopt the action after `propose`'s options.
fn adopt(cluster: &Cluster, url: &str, title: &str, action: &[&str]) {
    let key = |i: usize| {
        cluster.nodes[i]
            .dir
            .join("node.key")
            .to_str()
            .unwrap()
            .to_string()
    };
    let proposer = key(0);
    let mut args = vec![
        "--node",
        url,
        "resolution",
        "propose",
        "--key",
        &proposer,
        "--title",
        title,
    ];
    args.extend_from_slice(action);
    let out = run_ok(&args);
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("resolution id "))
        .unwrap()
        .trim()
        .to_string();
    for i in 1..cluster.nodes.len() {
        run_ok(&["--node", url, "resolution", "sign", &id, "--key", &key(i)]);
    }
}

#[test]
fn a_sanctioned_origin_is_flagged_then_refused_and_a_late_confirmation_is_shown() {
    let mut cluster = Cluster::generate(4, 0);
    cluster.start_all();
    cluster.wait_for_height(&[0, 1, 2, 3], 1, PROGRESS);
    let url = format!("http://{}", cluster.nodes[0].rpc);
    let today = Timestamp(now_ms()).date();

    adopt(
        &cluster,
        &url,
        "Export ban on AE",
        &[
            "impose-sanction",
            "AE",
            "--scope",
            "export-ban",
            "--origin",
            "flag",
        ],
    );
    let mut laundered = bw_certificate("BW0000001", today);
    laundered.origin = Origin::Countries(vec![Territory::new("AE").unwrap()]);
    let (status, answer) = submit(&cluster, 0, &issue_tx(&cluster, laundered.clone()), true);
    assert_eq!(status, 200, "{answer}");
    let shown = run_ok(&["--node", &url, "cert", "show", "BW0000001"]);
    assert!(shown.contains("SANCTIONED ORIGIN"), "{shown}");
    assert!(shown.contains("ENHANCED VIGILANCE"), "{shown}");

    adopt(
        &cluster,
        &url,
        "Refuse AE origin",
        &[
            "amend-sanction",
            "AE",
            "--scope",
            "export-ban",
            "--origin",
            "refuse",
        ],
    );
    laundered.number = kp_types::CertificateNumber::new("BW0000002").unwrap();
    let (status, answer) = submit(&cluster, 0, &issue_tx(&cluster, laundered), true);
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "sanctioned-origin", "{answer}");

    // Issued 40 days ago, valid 30: expired. The goods arrived on the
    // expiry date; the EU confirms now.
    let old = bw_certificate("BW0000003", Date(today.0 - 40));
    let expires_on = old.expires_on.to_string();
    let (status, answer) = submit(&cluster, 0, &issue_tx(&cluster, old), true);
    assert_eq!(status, 200, "{answer}");
    let eu_key = cluster.nodes[1].dir.join("authority.key");
    let eu_key = eu_key.to_str().unwrap();
    let refused = std::process::Command::new(kpledger_bin())
        .args([
            "--node",
            &url,
            "cert",
            "confirm",
            "BW0000003",
            "--key",
            eu_key,
            "--received-on",
            &today.to_string(),
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let text = String::from_utf8_lossy(&refused.stderr).into_owned()
        + &String::from_utf8_lossy(&refused.stdout);
    assert!(text.contains("certificate-expired"), "{text}");
    run_ok(&[
        "--node",
        &url,
        "cert",
        "confirm",
        "BW0000003",
        "--key",
        eu_key,
        "--received-on",
        &expires_on,
    ]);
    let shown = run_ok(&["--node", &url, "cert", "show", "BW0000003"]);
    assert!(shown.contains("status confirmed"), "{shown}");
    assert!(shown.contains("LATE CONFIRMATION"), "{shown}");
}
