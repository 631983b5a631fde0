//! The README walkthrough (`docs/readme-walkthrough.md`), step by step,
//! through the `kpledger` CLI against a `kpledger devnet`: issue a
//! certificate as Botswana's authority, confirm it as the EU's, propose a
//! sanction that takes effect only with the last government signature, see a
//! certificate refused because of it, and verify a certificate as a customs
//! officer who trusts only the genesis file.

use kp_e2e::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A running `kpledger devnet`; dropping it stops it (and so its nodes).
struct Devnet {
    child: Child,
    dir: PathBuf,
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let stopped = wait_until(Duration::from_secs(20), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        if !stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn start_devnet(root: &Path, base: u16) -> Devnet {
    let dir = root.join("devnet");
    let log = std::fs::File::create(root.join("devnet.log")).unwrap();
    let child = Command::new(kpledger_bin())
        .args(["devnet", "--dir"])
        .arg(&dir)
        .args(["--base-port", &base.to_string()])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start kpledger devnet");
    Devnet { child, dir }
}

use kp_e2e::{kpledger_at as cli, path_str as path};

/// Runs a client command that must succeed; returns its stdout.
fn ok(node: &str, args: &[&str]) -> String {
    let out = cli(node, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kpledger {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Waits until every node has applied at least the height of `from`: a
/// command answers once its own node decided, the others follow a moment
/// later.
fn settle(base: u16, from: u16) {
    let target = get_json(&format!("127.0.0.1:{}", base + from), "/v1/status")
        .and_then(|s| s["height"].as_u64())
        .unwrap_or(0);
    let all = wait_until(Duration::from_secs(30), || {
        (0..5u16).all(|i| {
            get_json(&format!("127.0.0.1:{}", base + 2 * i + 1), "/v1/status")
                .and_then(|s| s["height"].as_u64())
                .is_some_and(|h| h >= target)
        })
    });
    assert!(all, "nodes did not reach height {target}");
}

fn certificate_toml(number: &str, from: &str, to: &str, destination: &str) -> String {
    CertificateFile {
        destination,
        ..CertificateFile::new(number, from, to)
    }
    .toml()
}

#[test]
fn readme_walkthrough_through_the_cli() {
    let root = tempfile::tempdir().unwrap();
    let base = free_port_range(10);
    let devnet = start_devnet(root.path(), base);
    let dir = devnet.dir.clone();
    let bw = format!("http://127.0.0.1:{}", base + 1);
    let eu = format!("http://127.0.0.1:{}", base + 3);
    let observer = format!("127.0.0.1:{}", base + 9);
    let up = wait_until(Duration::from_secs(60), || {
        get_json(&observer, "/v1/status").is_some_and(|s| s["height"].as_u64() >= Some(1))
    });
    assert!(
        up,
        "devnet did not start:\n{}",
        std::fs::read_to_string(root.path().join("devnet.log")).unwrap_or_default()
    );
    let status = ok(&bw, &["status"]);
    assert!(status.contains("chain kp-devnet"), "{status}");
    // The nodes' log files are plain text, without terminal colour codes.
    let log = std::fs::read_to_string(dir.join("node0/node.log")).unwrap();
    assert!(log.contains("committed"), "{log}");
    assert!(!log.contains('\u{1b}'), "colour codes in node.log");
    // The devnet's own words: counts in the singular where they are one, and
    // no claim of a running network before its first block.
    let said = std::fs::read_to_string(root.path().join("devnet.log")).unwrap();
    assert!(
        said.contains("created a devnet of 4 validators and 1 observer in"),
        "{said}"
    );
    assert!(
        said.contains("started 5 nodes (4 voting); no block yet"),
        "{said}"
    );

    // 1. Botswana's authority issues a certificate to the EU.
    let cert_file = root.path().join("BW2026000001.toml");
    std::fs::write(
        &cert_file,
        certificate_toml("BW2026000001", "BW", "EU", "BE"),
    )
    .unwrap();
    let bw_key = dir.join("node0/authority.key");
    let out = ok(
        &bw,
        &[
            "cert",
            "issue",
            "--key",
            path(&bw_key),
            "--file",
            path(&cert_file),
        ],
    );
    assert!(out.contains("accepted"), "{out}");
    settle(base, 1);
    let shown = ok(&eu, &["cert", "show", "BW2026000001"]);
    assert!(shown.contains("status issued"), "{shown}");

    // 2. The EU's authority confirms receipt (on its own node).
    let eu_key = dir.join("node1/authority.key");
    let out = ok(
        &eu,
        &["cert", "confirm", "BW2026000001", "--key", path(&eu_key)],
    );
    assert!(out.contains("accepted"), "{out}");
    settle(base, 3);
    let shown = ok(&bw, &["cert", "show", "BW2026000001"]);
    assert!(shown.contains("status confirmed"), "{shown}");
    // The names are sealed to BW-KPA and EU-KPA: `cert show` gives the
    // commitment; the EU's encryption key opens them and writes the
    // document; the UAE's key is refused.
    assert!(shown.contains("SEALED to BW-KPA and EU-KPA"), "{shown}");
    assert!(!shown.contains("Antwerp Rough Traders BV"), "{shown}");
    let document = root.path().join("BW2026000001.doc.toml");
    let opened = ok(
        &eu,
        &[
            "cert",
            "show",
            "BW2026000001",
            "--key",
            path(&dir.join("node1/encryption.key")),
            "--document-out",
            path(&document),
        ],
    );
    assert!(opened.contains("Antwerp Rough Traders BV"), "{opened}");
    let refused = cli(
        &eu,
        &[
            "cert",
            "show",
            "BW2026000001",
            "--key",
            path(&dir.join("node2/encryption.key")),
        ],
    );
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("is not a recipient"), "{said}");

    // A shipment that arrives 10.9 % short (1,000.00 ct certified, 891.00
    // received): `cert show` says so in text, and the pair is a mirror
    // mismatch over the default 10 % (it was truncated to 10 and missed).
    let in_file = root.path().join("IN2026000001.toml");
    std::fs::write(
        &in_file,
        certificate_toml("IN2026000001", "IN", "BW", "BW").replace("1250.50", "1000.00"),
    )
    .unwrap();
    let out = ok(
        &bw,
        &[
            "cert",
            "issue",
            "--key",
            path(&dir.join("node3/authority.key")),
            "--file",
            path(&in_file),
        ],
    );
    assert!(out.contains("accepted"), "{out}");
    let out = ok(
        &bw,
        &[
            "cert",
            "confirm",
            "IN2026000001",
            "--key",
            path(&bw_key),
            "--carats",
            "891.00",
        ],
    );
    assert!(out.contains("accepted"), "{out}");
    settle(base, 1);
    let shown = ok(&bw, &["cert", "show", "IN2026000001"]);
    assert!(
        shown.contains("DISCREPANCY: certified 1000.00 ct, 3 parcels; received 891.00 ct"),
        "{shown}"
    );
    let anomalies = ok(&bw, &["--json", "anomalies"]);
    let anomalies: serde_json::Value = serde_json::from_str(&anomalies).unwrap();
    let mirror = anomalies["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["mirror-mismatch"]["exporter"] == "IN")
        .unwrap_or_else(|| panic!("no IN-BW mirror mismatch: {anomalies}"));
    assert_eq!(mirror["mirror-mismatch"]["importer"], "BW", "{mirror}");
    // In text, the figures behind it, not raw JSON.
    let text = ok(&bw, &["anomalies"]);
    assert!(
        text.contains("mirror mismatch IN -> BW: 1000.00 ct certified, 891.00 ct confirmed"),
        "{text}"
    );
    assert!(!text.contains("{\""), "{text}");

    // 3. Botswana proposes an export ban on the UAE; it takes effect only
    //    with the last government's signature.
    let out = ok(
        &bw,
        &[
            "resolution",
            "propose",
            "--key",
            path(&dir.join("node0/node.key")),
            "--title",
            "Export ban on AE pending review",
            "impose-sanction",
            "AE",
            "--scope",
            "export-ban",
        ],
    );
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("resolution id "))
        .expect("propose prints the resolution id")
        .trim()
        .to_string();
    let pending = ok(&bw, &["resolution", "show", &id]);
    let missing = |text: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix("missing: "))
            .map(|m| {
                let mut codes: Vec<String> = m.split(", ").map(str::to_string).collect();
                codes.sort();
                codes
            })
            .unwrap_or_default()
    };
    assert_eq!(missing(&pending), ["AE", "EU", "IN"], "{pending}");
    for node in ["node1", "node2"] {
        ok(
            &bw,
            &[
                "resolution",
                "sign",
                &id,
                "--key",
                path(&dir.join(node).join("node.key")),
            ],
        );
    }
    let still = ok(&bw, &["resolution", "show", &id]);
    assert_eq!(missing(&still), ["IN"], "{still}");
    assert!(still.contains("outcome: pending"), "{still}");
    let ae = ok(&bw, &["participant", "show", "AE"]);
    assert!(
        ae.contains("sanction: none"),
        "no sanction before the last signature: {ae}"
    );
    let done = ok(
        &bw,
        &[
            "resolution",
            "sign",
            &id,
            "--key",
            path(&dir.join("node3/node.key")),
        ],
    );
    assert!(done.contains("adopted"), "{done}");
    let ae = ok(&bw, &["participant", "show", "AE"]);
    assert!(ae.contains("export-ban"), "{ae}");

    // 4. A certificate from the UAE is now refused, with a reason.
    let ae_file = root.path().join("AE2026000001.toml");
    std::fs::write(&ae_file, certificate_toml("AE2026000001", "AE", "EU", "BE")).unwrap();
    let refused = cli(
        &bw,
        &[
            "cert",
            "issue",
            "--key",
            path(&dir.join("node2/authority.key")),
            "--file",
            path(&ae_file),
        ],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("export-forbidden"), "{stderr}");

    // 5. A customs officer verifies the certificate against the genesis file
    //    alone, through the observer's node.
    settle(base, 1);
    let genesis = dir.join("genesis.toml");
    let observer_url = format!("http://{observer}");
    let verified = ok(
        &observer_url,
        &[
            "cert",
            "verify",
            "BW2026000001",
            "--genesis",
            path(&genesis),
        ],
    );
    assert!(verified.contains("is AUTHENTIC"), "{verified}");
    assert!(verified.contains("status: CONFIRMED"), "{verified}");
    let twice = ok(
        &observer_url,
        &[
            "cert",
            "verify",
            "BW2026000001",
            "--genesis",
            path(&genesis),
            "--also",
            &eu,
        ],
    );
    assert!(twice.contains("nodes agree on the header"), "{twice}");
    // The paper document matches the ledger's commitment; a changed name
    // does not.
    let checked = ok(
        &observer_url,
        &[
            "cert",
            "verify",
            "BW2026000001",
            "--genesis",
            path(&genesis),
            "--document",
            path(&document),
        ],
    );
    assert!(
        checked.contains("match the ledger's commitment"),
        "{checked}"
    );
    let forged = root.path().join("forged.doc.toml");
    std::fs::write(
        &forged,
        std::fs::read_to_string(&document)
            .unwrap()
            .replace("Antwerp Rough Traders BV", "Antwerp Rough Trader BV"),
    )
    .unwrap();
    let mismatch = cli(
        &observer_url,
        &[
            "cert",
            "verify",
            "BW2026000001",
            "--genesis",
            path(&genesis),
            "--document",
            path(&forged),
        ],
    );
    assert_eq!(mismatch.status.code(), Some(1));
    let said = String::from_utf8_lossy(&mismatch.stdout);
    assert!(said.contains("NOT AUTHENTIC: DOCUMENT MISMATCH"), "{said}");
    let json = ok(
        &observer_url,
        &[
            "--json",
            "cert",
            "verify",
            "BW2026000001",
            "--genesis",
            path(&genesis),
        ],
    );
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["verdict"]["verdict"], "authentic", "{json}");
    assert_eq!(json["verdict"]["status"], "confirmed", "{json}");
    let unknown = cli(
        &observer_url,
        &["cert", "verify", "BW9999999", "--genesis", path(&genesis)],
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stdout).contains("NOT FOUND"));
    // A genesis of another network: cannot decide (exit 3), said so.
    let other = dir.join("other-genesis.toml");
    let text = std::fs::read_to_string(&genesis).unwrap();
    std::fs::write(
        &other,
        text.replacen("chain_id = \"", "chain_id = \"other-", 1),
    )
    .unwrap();
    let wrong = cli(
        &observer_url,
        &["cert", "verify", "BW2026000001", "--genesis", path(&other)],
    );
    assert_eq!(wrong.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&wrong.stdout).contains("another network or genesis"),
        "{}",
        String::from_utf8_lossy(&wrong.stdout)
    );

    // Listing, statistics and the devnet's resume.
    let list = ok(&bw, &["cert", "list", "--exporting", "BW"]);
    assert!(list.contains("BW2026000001"), "{list}");
    let stats = ok(&bw, &["stats", "--participant", "BW"]);
    assert!(stats.contains("1250.50"), "{stats}");
    drop(devnet);
    let again = start_devnet(root.path(), base);
    let back = wait_until(Duration::from_secs(60), || {
        get_json(&observer, "/v1/certificates/BW2026000001")
            .is_some_and(|c| c["status"] == "confirmed")
    });
    assert!(back, "the devnet resumes with its data");
    drop(again);
}

/// Adopts a resolution through the CLI: `node0` proposes, the other three
/// governments sign; returns the resolution id.
fn adopt_through_cli(node: &str, dir: &Path, title: &str, action: &[&str]) -> String {
    let key = dir.join("node0/node.key");
    let mut args = vec![
        "resolution",
        "propose",
        "--key",
        path(&key),
        "--title",
        title,
    ];
    args.extend_from_slice(action);
    let out = ok(node, &args);
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("resolution id "))
        .expect("propose prints the resolution id")
        .trim()
        .to_string();
    // A resolution id may be given by a unique prefix of 8 or more digits,
    // as git takes commit ids; a shorter one, or one that names nothing, is
    // refused.
    for (signer, given) in [
        ("node1", &id[..]),
        ("node2", &id[..8]),
        ("node3", &id[..12]),
    ] {
        ok(
            node,
            &[
                "resolution",
                "sign",
                given,
                "--key",
                path(&dir.join(signer).join("node.key")),
            ],
        );
    }
    let shown = ok(node, &["resolution", "show", &id[..10]]);
    assert!(shown.contains("adopted"), "{shown}");
    let short = cli(node, &["resolution", "show", &id[..7]]);
    assert!(!short.status.success());
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("unique prefix of at least 8"),
        "{}",
        String::from_utf8_lossy(&short.stderr)
    );
    let unknown = if id.starts_with("ffffffff") {
        "00000000"
    } else {
        "ffffffff"
    };
    let none = cli(node, &["resolution", "show", unknown]);
    assert!(
        String::from_utf8_lossy(&none.stderr).contains("no resolution id starts with"),
        "{}",
        String::from_utf8_lossy(&none.stderr)
    );
    id
}

/// The CAR years through the CLI: partial exports from a green zone with a
/// monitoring body's approval. The monitor lists its queue and approves;
/// nobody else can; the importer can confirm only after. A certificate still
/// waiting when the sanction is lifted keeps waiting (docs/ledger.md) and the
/// monitor can still approve it; one issued after the lift needs nothing.
#[test]
fn monitor_approval_and_a_lifted_sanction_through_the_cli() {
    let root = tempfile::tempdir().unwrap();
    let base = free_port_range(10);
    let devnet = start_devnet(root.path(), base);
    let dir = devnet.dir.clone();
    let bw = format!("http://127.0.0.1:{}", base + 1);
    let up = wait_until(Duration::from_secs(60), || {
        get_json(&format!("127.0.0.1:{}", base + 1), "/v1/status")
            .is_some_and(|s| s["height"].as_u64() >= Some(1))
    });
    assert!(
        up,
        "devnet did not start:\n{}",
        std::fs::read_to_string(root.path().join("devnet.log")).unwrap_or_default()
    );
    let ae_authority = dir.join("node2/authority.key");
    let bw_authority = dir.join("node0/authority.key");
    let eu_node = dir.join("node1/node.key");
    let issue = |number: &str, zones: &str| {
        let file = root.path().join(format!("{number}.toml"));
        std::fs::write(
            &file,
            certificate_toml(number, "AE", "BW", "BW").replace(
                "origin = {",
                &format!("origin_zones = [{zones}]\norigin = {{"),
            ),
        )
        .unwrap();
        cli(
            &bw,
            &[
                "cert",
                "issue",
                "--key",
                path(&ae_authority),
                "--file",
                path(&file),
            ],
        )
    };
    let confirm = |number: &str| {
        cli(
            &bw,
            &["cert", "confirm", number, "--key", path(&bw_authority)],
        )
    };
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();

    adopt_through_cli(
        &bw,
        &dir,
        "Partial exports from Zone-A, monitored by the EU",
        &[
            "impose-sanction",
            "AE",
            "--scope",
            "partial-exports",
            "--green-zones",
            "Zone-A",
            "--monitor",
            "EU",
        ],
    );
    // Participant codes are taken in any case.
    let ae = ok(&bw, &["participant", "show", "ae"]);
    assert!(ae.contains("Zone-A"), "{ae}");
    let no_zones = cli(
        &bw,
        &[
            "resolution",
            "propose",
            "--key",
            path(&dir.join("node0/node.key")),
            "--title",
            "Partial exports from nowhere",
            "amend-sanction",
            "AE",
            "--scope",
            "partial-exports",
        ],
    );
    assert!(!no_zones.status.success());
    assert!(
        stderr(&no_zones).contains("needs --green-zones"),
        "{}",
        stderr(&no_zones)
    );

    // A zone that is not green is refused; a green one waits for the EU.
    let refused = issue("AE2026000001", r#""Zone-B""#);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("origin-zone-not-green"),
        "{}",
        stderr(&refused)
    );
    assert!(issue("AE2026000002", r#""Zone-A""#).status.success());
    let shown = ok(&bw, &["cert", "show", "AE2026000002"]);
    assert!(shown.contains("status awaiting-approval"), "{shown}");
    assert!(shown.contains("AWAITING APPROVAL by monitor EU"), "{shown}");
    let queue = ok(
        &bw,
        &["cert", "list", "--awaiting-approval", "--monitor", "EU"],
    );
    assert!(queue.contains("AE2026000002"), "{queue}");
    let other = ok(
        &bw,
        &["cert", "list", "--awaiting-approval", "--monitor", "BW"],
    );
    assert!(!other.contains("AE2026000002"), "{other}");
    let early = confirm("AE2026000002");
    assert!(!early.status.success());
    assert!(
        stderr(&early).contains("awaiting-approval"),
        "{}",
        stderr(&early)
    );
    // Another government's key cannot approve for the EU.
    let wrong = cli(
        &bw,
        &[
            "cert",
            "approve",
            "AE2026000002",
            "--key",
            path(&dir.join("node0/node.key")),
        ],
    );
    assert!(!wrong.status.success());
    assert!(
        stderr(&wrong).contains("signer-not-government-key"),
        "{}",
        stderr(&wrong)
    );
    let still = ok(&bw, &["cert", "show", "AE2026000002"]);
    assert!(still.contains("status awaiting-approval"), "{still}");
    let approved = ok(
        &bw,
        &["cert", "approve", "AE2026000002", "--key", path(&eu_node)],
    );
    assert!(approved.contains("accepted"), "{approved}");
    let shown = ok(&bw, &["cert", "show", "AE2026000002"]);
    assert!(shown.contains("status issued"), "{shown}");
    assert!(
        shown.contains("approved by monitor EU at height"),
        "{shown}"
    );
    assert!(confirm("AE2026000002").status.success());
    let queue = ok(
        &bw,
        &["cert", "list", "--awaiting-approval", "--monitor", "EU"],
    );
    assert!(!queue.contains("AE2026000002"), "{queue}");

    // Issued under the sanction, still waiting when it is lifted.
    assert!(issue("AE2026000003", r#""Zone-A""#).status.success());
    adopt_through_cli(
        &bw,
        &dir,
        "Lift the sanction on AE",
        &["lift-sanction", "AE"],
    );
    let ae = ok(&bw, &["participant", "show", "AE"]);
    assert!(ae.contains("sanction: none"), "{ae}");
    let shown = ok(&bw, &["cert", "show", "AE2026000003"]);
    assert!(shown.contains("status awaiting-approval"), "{shown}");
    let queue = ok(&bw, &["cert", "list", "--awaiting-approval"]);
    assert!(queue.contains("AE2026000003"), "{queue}");
    assert!(!confirm("AE2026000003").status.success());
    ok(
        &bw,
        &["cert", "approve", "AE2026000003", "--key", path(&eu_node)],
    );
    assert!(confirm("AE2026000003").status.success());
    // After the lift: no zones, no approval.
    assert!(issue("AE2026000004", "").status.success());
    let shown = ok(&bw, &["cert", "show", "AE2026000004"]);
    assert!(shown.contains("status issued"), "{shown}");
    assert!(!shown.contains("APPROVAL"), "{shown}");
    drop(devnet);
}
