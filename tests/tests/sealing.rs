//! Sealed commercial fields end to end (ADR 0011), on a 4-validator network
//! with an observer from `kpledger testnet` whose authorities have
//! encryption keys: `cert issue` seals; the observer's files and every RPC
//! answer it gives hold none of the sealed names; the two authorities read
//! them with `cert show --key`; a third government's key reads the
//! commitment only; a document checks with `cert verify --document`, and a
//! tampered one is NOT AUTHENTIC.

use kp_e2e::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

/// The names, addresses and details this test seals; none may leak.
const SECRETS: [&str; 5] = [
    "Okavango Sealed Exporter",
    "77 Hidden Street",
    "Scheldt Quiet Importer",
    "9 Silent Lane",
    "SECRET-INVOICE-4242",
];
const NUMBER: &str = "BW2026000777";

fn cli(node: &str, args: &[&str]) -> Output {
    Command::new(kpledger_bin())
        .args(["--node", &format!("http://{node}")])
        .args(args)
        .output()
        .expect("run kpledger")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(node: &str, args: &[&str]) -> String {
    let out = cli(node, args);
    assert!(
        out.status.success(),
        "kpledger {args:?} failed:\n{}",
        text(&out)
    );
    text(&out)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn certificate_toml() -> String {
    let exporter_address = format!("{}, Gaborone", SECRETS[1]);
    let importer_address = format!("{}, Antwerp", SECRETS[3]);
    CertificateFile {
        details: SECRETS[4],
        exporter: (SECRETS[0], &exporter_address),
        importer: (SECRETS[2], &importer_address),
        ..CertificateFile::new(NUMBER, "BW", "EU")
    }
    .toml()
}

fn leaks(bytes: &[u8]) -> Vec<&'static str> {
    SECRETS
        .iter()
        .copied()
        .filter(|s| bytes.windows(s.len()).any(|w| w == s.as_bytes()))
        .collect()
}

/// Every file under `dir`, raw bytes.
fn files(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
        }
    }
}

/// A raw GET: status line, headers and body as bytes.
fn get_raw(addr: &str, path: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

/// The server-sent events of `addr` for `seconds`, read on a thread.
fn listen_events(addr: String) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut stream = TcpStream::connect(&addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        write!(
            stream,
            "GET /v1/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(40);
        let mut buf = [0u8; 4096];
        while std::time::Instant::now() < deadline && seen.len() < 4 << 20 {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
                Err(_) => {
                    // Stop once the walkthrough's acts (and its confirm) were seen.
                    if String::from_utf8_lossy(&seen).contains("confirmed") {
                        break;
                    }
                }
            }
        }
        seen
    })
}

#[test]
fn sealed_names_stay_with_the_two_authorities() {
    let mut cluster = Cluster::generate_with(4, 1, true);
    cluster.start_all();
    cluster.wait_for_height(&[0, 1, 2, 3, 4], 1, Duration::from_secs(60));
    let bw = cluster.nodes[0].rpc.clone();
    let eu = cluster.nodes[1].rpc.clone();
    let observer = cluster.nodes[4].rpc.clone();
    let dirs: Vec<_> = cluster.nodes.iter().map(|n| n.dir.clone()).collect();
    let dir = |i: usize| dirs[i].clone();
    let events = listen_events(observer.clone());

    // Botswana's authority issues; the CLI seals to BW-KPA and EU-KPA.
    let work = tempfile::tempdir().unwrap();
    let cert_file = work.path().join("cert.toml");
    std::fs::write(&cert_file, certificate_toml()).unwrap();
    let out = ok(
        &bw,
        &[
            "cert",
            "issue",
            "--key",
            path(&dir(0).join("authority.key")),
            "--file",
            path(&cert_file),
        ],
    );
    assert!(out.contains("accepted"), "{out}");
    assert!(!out.contains("NOT SEALED"), "{out}");
    // The EU confirms on its own node: the import needs no names.
    let out = ok(
        &eu,
        &[
            "cert",
            "confirm",
            NUMBER,
            "--key",
            path(&dir(1).join("authority.key")),
        ],
    );
    assert!(out.contains("accepted"), "{out}");
    let height = cluster.height(1);
    cluster.wait_for_height(&[4], height, Duration::from_secs(30));

    // Without a key: the commitment and the recipients only.
    let shown = ok(&observer, &["cert", "show", NUMBER]);
    assert!(shown.contains("SEALED to BW-KPA and EU-KPA"), "{shown}");
    assert!(leaks(shown.as_bytes()).is_empty(), "{shown}");

    // The two authorities read the fields (from any node, the observer's too).
    let document = work.path().join("document.toml");
    for (i, extra) in [(0usize, false), (1, true)] {
        let key = dir(i).join("encryption.key");
        let mut args = vec!["cert", "show", NUMBER, "--key", path(&key)];
        if extra {
            args.extend(["--document-out", path(&document)]);
        }
        let shown = ok(&observer, &args);
        for secret in SECRETS {
            assert!(
                shown.contains(secret),
                "node{i} cannot read {secret}:\n{shown}"
            );
        }
    }
    // A third government's key reads the commitment only.
    let ae_key = dir(2).join("encryption.key");
    let refused = cli(&observer, &["cert", "show", NUMBER, "--key", path(&ae_key)]);
    assert!(!refused.status.success());
    let said = text(&refused);
    assert!(said.contains("not a recipient"), "{said}");
    assert!(said.contains("only the commitment"), "{said}");
    assert!(leaks(said.as_bytes()).is_empty(), "{said}");

    // A customs officer checks the document against the ledger, trusting
    // only the genesis file; then a tampered copy.
    let genesis = dir(0).join("../genesis.toml");
    let light = work.path().join("light");
    let verify = |doc: &Path| {
        cli(
            &observer,
            &[
                "cert",
                "verify",
                NUMBER,
                "--genesis",
                path(&genesis),
                "--light-dir",
                path(&light),
                "--document",
                path(doc),
            ],
        )
    };
    let authentic = verify(&document);
    let said = text(&authentic);
    assert_eq!(authentic.status.code(), Some(0), "{said}");
    assert!(said.contains("AUTHENTIC"), "{said}");
    assert!(said.contains("match the ledger's commitment"), "{said}");
    // The importing authority opens the proven record: the same names,
    // said to be proven, and the document it writes is the same one.
    let proven_doc = work.path().join("proven.toml");
    let opened = cli(
        &observer,
        &[
            "cert",
            "verify",
            NUMBER,
            "--genesis",
            path(&genesis),
            "--light-dir",
            path(&light),
            "--key",
            path(&dir(1).join("encryption.key")),
            "--document-out",
            path(&proven_doc),
        ],
    );
    let said = text(&opened);
    assert_eq!(opened.status.code(), Some(0), "{said}");
    assert!(said.contains("opened from the proven record"), "{said}");
    for secret in SECRETS {
        assert!(said.contains(secret), "proven open lacks {secret}:\n{said}");
    }
    assert_eq!(
        std::fs::read_to_string(&proven_doc).unwrap(),
        std::fs::read_to_string(&document).unwrap()
    );
    let tampered = work.path().join("tampered.toml");
    let original = std::fs::read_to_string(&document).unwrap();
    std::fs::write(
        &tampered,
        original.replace(SECRETS[2], "Scheldt Quiet Importers"),
    )
    .unwrap();
    let refused = verify(&tampered);
    let said = text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{said}");
    assert!(said.contains("NOT AUTHENTIC"), "{said}");
    assert!(said.contains("DOCUMENT MISMATCH"), "{said}");

    // Every RPC answer of the observer: status, the certificate, its proof,
    // lists, every block and every transaction, members, statistics,
    // anomalies, metrics, and the events it streamed meanwhile.
    let mut paths: Vec<String> = [
        "/v1/status",
        "/v1/health",
        "/v1/genesis",
        "/v1/certificates?limit=100",
        "/v1/participants",
        "/v1/participants/BW",
        "/v1/participants/EU",
        "/v1/participants/BW/proof",
        "/v1/participants/EU/proof",
        "/v1/openapi.json",
        "/v1/seizures?limit=100",
        "/v1/statistics/BW",
        "/v1/statistics/EU",
        "/v1/anomalies",
        "/v1/resolutions?limit=100",
        "/metrics",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    paths.push(format!("/v1/certificates/{NUMBER}"));
    paths.push(format!("/v1/certificates/{NUMBER}/proof"));
    let top = cluster.height(4);
    let mut txs = 0;
    for h in 1..=top {
        paths.push(format!("/v1/blocks/{h}"));
        paths.push(format!("/v1/light/blocks/{h}"));
        let block = get_json(&observer, &format!("/v1/blocks/{h}")).unwrap();
        for tx in block["block"]["txs"].as_array().into_iter().flatten() {
            let signed: kp_types::SignedTransaction = serde_json::from_value(tx.clone()).unwrap();
            paths.push(format!("/v1/txs/{}", signed.hash()));
            txs += 1;
        }
    }
    assert!(txs >= 2, "the issue and the confirmation are in blocks");
    for p in &paths {
        let answer = get_raw(&observer, p);
        assert!(
            answer.starts_with(b"HTTP/1.1 200"),
            "{p}: {}",
            String::from_utf8_lossy(&answer[..answer.len().min(200)])
        );
        assert!(leaks(&answer).is_empty(), "{p} leaks {:?}", leaks(&answer));
    }
    let streamed = events.join().unwrap();
    assert!(
        String::from_utf8_lossy(&streamed).contains(NUMBER),
        "the observer streamed the certificate's events"
    );
    assert!(
        leaks(&streamed).is_empty(),
        "events leak {:?}",
        leaks(&streamed)
    );

    // Every file of the observer, raw bytes, once it has stopped (its store
    // flushed): the number is there (the scan sees plain bytes), no name is.
    assert!(
        cluster.terminate(4, Duration::from_secs(20)),
        "observer stops cleanly"
    );
    let mut all = Vec::new();
    files(&dir(4), &mut all);
    assert!(
        all.iter()
            .any(|(_, b)| b.windows(NUMBER.len()).any(|w| w == NUMBER.as_bytes())),
        "the observer's store holds the certificate"
    );
    for (file, bytes) in &all {
        assert!(leaks(bytes).is_empty(), "{file} leaks {:?}", leaks(bytes));
    }
}
