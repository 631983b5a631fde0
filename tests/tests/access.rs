//! Access control and TLS between the real `kpledger` CLI and a real node
//! (issue 18): a `kpledger devnet --tls` node with `[rpc] anonymous =
//! "public"` and tokens from `kpledger rpc token create`.
//!
//! What it shows: the CLI talks to the node over TLS with `--ca`; an
//! `http://` URL to the TLS node, an untrusted certificate and an
//! `https://` URL to a plain node each fail with a message that says so;
//! anonymous and wrong-scope calls are refused with 401/403 and their
//! stable codes; a write with a token the node does not know changes
//! nothing; a participant token sees its own certificate in full; a
//! revoked token is refused from the next request.

use kp_e2e::{free_port_range, kpledger_bin, read_key, run_ok, Cluster, NodeHandle};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Runs the CLI; returns whether it succeeded, and stdout + stderr.
fn cli(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(kpledger_bin())
        .args(args)
        .env_remove("KPLEDGER_TOKEN")
        .env_remove("KPLEDGER_CA")
        .envs(env.iter().copied())
        .output()
        .expect("run kpledger");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn https_client(ca: &Path) -> reqwest::blocking::Client {
    let root = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(root)
        .timeout(Duration::from_secs(70))
        .build()
        .unwrap()
}

#[test]
fn tls_tokens_and_scopes_between_the_cli_and_a_node() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("devnet");
    // Two validators: BW issues to the EU.
    let base = free_port_range(4);
    run_ok(&[
        "devnet",
        "--dir",
        dir.to_str().unwrap(),
        "--validators",
        "2",
        "--observers",
        "0",
        "--base-port",
        &base.to_string(),
        "--tls",
        "--init-only",
    ]);
    let node_dir = dir.join("node0");
    let config = node_dir.join("node.toml");
    // A real node's setting: anonymous callers get the public scope.
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("tls_cert = \"tls-cert.pem\""), "{text}");
    std::fs::write(
        &config,
        text.replace("anonymous = \"operator\"", "anonymous = \"public\""),
    )
    .unwrap();
    // mTLS: a client certificate authority of the operator's, and one
    // certificate it signed for Botswana's customs system.
    let client_pem = node_dir.join("bw-client.pem");
    {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "clients");
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        std::fs::write(node_dir.join("clients-ca.pem"), ca_cert.pem()).unwrap();
        let mut leaf = CertificateParams::new(Vec::<String>::new()).unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, "bw-customs");
        let key = KeyPair::generate().unwrap();
        let cert = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
        std::fs::write(
            &client_pem,
            format!("{}{}", cert.pem(), key.serialize_pem()),
        )
        .unwrap();
    }
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replacen("[rpc]\n", "[rpc]\ntls_client_ca = \"clients-ca.pem\"\n", 1),
    )
    .unwrap();
    let config_arg = config.to_str().unwrap();
    run_ok(&[
        "rpc",
        "token",
        "create",
        "--scope",
        "participant:BW",
        "--client-cert",
        client_pem.to_str().unwrap(),
        "--config",
        config_arg,
    ]);
    let token = |scope: &str| {
        run_ok(&[
            "rpc", "token", "create", "--scope", scope, "--config", config_arg,
        ])
        .trim()
        .to_string()
    };
    let bw = token("participant:BW");
    let operator = token("operator");
    let listed = run_ok(&["rpc", "token", "list", "--config", config_arg]);
    assert!(listed.contains("participant:BW") && listed.contains("operator"));
    assert!(listed.contains("client-cert"), "{listed}");
    let stored = std::fs::read_to_string(node_dir.join("rpc-tokens.toml")).unwrap();
    assert!(!stored.contains(&bw), "the token itself is never stored");

    let rpc = format!("127.0.0.1:{}", base + 1);
    let mut cluster = Cluster {
        dir: root,
        nodes: (0..2u16)
            .map(|i| NodeHandle {
                dir: dir.join(format!("node{i}")),
                rpc: format!("127.0.0.1:{}", base + 2 * i + 1),
                child: None,
            })
            .collect(),
        validators: 2,
    };
    cluster.start_all();
    let ca = dir.join("tls").join("ca.pem");
    let ca_arg = ca.to_str().unwrap();
    let url = format!("https://{rpc}");
    let up = kp_e2e::wait_until(Duration::from_secs(60), || {
        cli(&["--node", &url, "--ca", ca_arg, "status"], &[]).0
    });
    assert!(
        up,
        "the node never answered over TLS: {}",
        cluster.logs_tail(30)
    );

    // TLS mismatches say what is wrong.
    let (ok, text) = cli(&["--node", &format!("http://{rpc}"), "status"], &[]);
    assert!(
        !ok && text.contains("tls-required") && text.contains("https://"),
        "{text}"
    );
    let (ok, text) = cli(&["--node", &url, "status"], &[]);
    assert!(
        !ok && text.contains("not trusted") && text.contains("--ca"),
        "{text}"
    );

    // Scopes: anonymous is public; a search needs a participant token.
    let (ok, text) = cli(
        &[
            "--node",
            &url,
            "--ca",
            ca_arg,
            "cert",
            "list",
            "--exporting",
            "BW",
        ],
        &[],
    );
    assert!(!ok && text.contains("unauthenticated (HTTP 401)"), "{text}");
    assert!(text.contains("needs scope participant"), "{text}");
    let (ok, text) = cli(
        &[
            "--node",
            &url,
            "--ca",
            ca_arg,
            "cert",
            "list",
            "--exporting",
            "BW",
        ],
        &[("KPLEDGER_TOKEN", &bw)],
    );
    assert!(ok, "{text}");
    let (ok, text) = cli(
        &[
            "--node",
            &url,
            "--ca",
            ca_arg,
            "--token",
            &bw,
            "cert",
            "list",
            "--exporting",
            "EU",
        ],
        &[],
    );
    assert!(
        !ok && text.contains("forbidden (HTTP 403)") && text.contains("exporting=BW"),
        "{text}"
    );

    // The registered client certificate proves participant:BW.
    let (ok, text) = cli(
        &[
            "--node",
            &url,
            "--ca",
            ca_arg,
            "--client-cert",
            client_pem.to_str().unwrap(),
            "cert",
            "list",
            "--exporting",
            "BW",
        ],
        &[],
    );
    assert!(ok, "{text}");

    // A write with a token the node did not issue is refused and changes
    // nothing: the same transaction is then taken, and decided, as new.
    let key = read_key(&node_dir.join("authority.key"));
    let mut tx = kp_e2e::bw_certificate_tx(&cluster, "2026000077").tx;
    tx.chain_id = "kp-devnet".into();
    // The devnet's authorities have encryption keys: a certificate between
    // them must be sealed (ADR 0011).
    let tx = kp_e2e::sealed_bw_to_eu(tx.sign(&key), &node_dir, &dir.join("node1"), &key);
    let body = serde_json::json!({"tx_hex": hex::encode(kp_types::encode(&tx)), "wait": true});
    let http = https_client(&ca);
    let refused = http
        .post(format!("{url}/v1/txs"))
        .bearer_auth("kpt_not-a-token")
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let answer: serde_json::Value = refused.json().unwrap();
    assert_eq!(answer["error"]["code"], "unauthenticated");
    let taken = http
        .post(format!("{url}/v1/txs"))
        .bearer_auth(&operator)
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(taken.status().as_u16(), 200, "{:?}", taken.text());

    // The exporter sees its certificate in full; anonymous callers the
    // public view.
    let (ok, text) = cli(
        &[
            "--node",
            &url,
            "--ca",
            ca_arg,
            "--token",
            &bw,
            "--json",
            "cert",
            "show",
            "BW2026000077",
        ],
        &[],
    );
    assert!(ok && text.contains("\"lines\""), "{text}");
    let public: serde_json::Value = http
        .get(format!("{url}/v1/certificates/BW2026000077"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(public["view"], "public", "{public}");
    assert!(public["certificate"].get("lines").is_none(), "{public}");

    let (ok, text) = cli(
        &[
            "--node",
            &url,
            "--ca",
            ca_arg,
            "cert",
            "show",
            "BW2026000077",
        ],
        &[],
    );
    assert!(
        ok && text.contains("public view") && text.contains("BW -> EU"),
        "{text}"
    );
    // A confirmation needs the certificate in full: anonymously it says why not.
    let (ok, text) = cli(
        &[
            "--node",
            &url,
            "--ca",
            ca_arg,
            "cert",
            "confirm",
            "BW2026000077",
            "--key",
            dir.join("node1").join("authority.key").to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        !ok && text.contains("participant:CODE of either side"),
        "{text}"
    );

    // Statistics: the public gets half-year totals, the Participant its quarters.
    let (ok, text) = cli(
        &[
            "--node",
            &url,
            "--ca",
            ca_arg,
            "--json",
            "stats",
            "--participant",
            "BW",
        ],
        &[],
    );
    assert!(ok && text.contains("H"), "{text}");
    let quarter = format!(
        "{}Q1",
        &text[text.find("\"period\": \"").unwrap() + 11..][..4]
    );
    let (ok, text) = cli(
        &[
            "--node",
            &url,
            "--ca",
            ca_arg,
            "stats",
            "--participant",
            "BW",
            "--period",
            &quarter,
        ],
        &[],
    );
    assert!(
        !ok && text.contains("forbidden (HTTP 403)") && text.contains("participant:BW"),
        "{text}"
    );
    let (ok, text) = cli(
        &[
            "--node",
            &url,
            "--ca",
            ca_arg,
            "--token",
            &bw,
            "stats",
            "--participant",
            "BW",
            "--period",
            &quarter,
        ],
        &[],
    );
    assert!(ok, "{text}");

    // A revoked token is refused from the next request.
    let id = run_ok(&["rpc", "token", "list", "--config", config_arg])
        .lines()
        .find(|l| l.contains("participant:BW") && l.contains(" token "))
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap();
    run_ok(&["rpc", "token", "revoke", &id, "--config", config_arg]);
    let (ok, text) = cli(
        &[
            "--node",
            &url,
            "--ca",
            ca_arg,
            "--token",
            &bw,
            "cert",
            "list",
            "--exporting",
            "BW",
        ],
        &[],
    );
    assert!(
        !ok && text.contains("unauthenticated (HTTP 401)") && text.contains("revoked"),
        "{text}"
    );
}

#[test]
fn an_https_url_to_a_plain_node_says_the_node_does_not_speak_tls() {
    let mut cluster = Cluster::generate(1, 0);
    cluster.start(0);
    let rpc = cluster.nodes[0].rpc.clone();
    let up = kp_e2e::wait_until(Duration::from_secs(60), || {
        cli(&["--node", &format!("http://{rpc}"), "status"], &[]).0
    });
    assert!(up, "{}", cluster.logs_tail(30));
    let (ok, text) = cli(&["--node", &format!("https://{rpc}"), "status"], &[]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("does not speak TLS") && text.contains("http://"),
        "{text}"
    );
}
