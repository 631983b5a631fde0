//! Helpers shared by the end-to-end tests: build a local network with the real
//! `kpledger testnet`, start and stop real `kpledger node` processes, query
//! their HTTP API.
//!
//! Every process a test starts is owned by a [`Cluster`] whose `Drop` kills it,
//! so nothing is left running when a test fails. Ports are chosen free at run
//! time, never fixed.

pub mod browser;
pub mod proxy;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `kpledger` binary under test: `$KPLEDGER_BIN`, or the one cargo built
/// next to this test executable (`target/<profile>/kpledger`).
pub fn kpledger_bin() -> PathBuf {
    if let Ok(path) = std::env::var("KPLEDGER_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/kpledger
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps");
    let bin = profile_dir.join("kpledger");
    assert!(
        bin.exists(),
        "{} not found: build it with `cargo build -p kpledger` (cargo test --workspace does)",
        bin.display()
    );
    bin
}

/// A base port such that `base .. base + count` are all free right now.
///
/// Ranges handed out within one test process never overlap (tests run in
/// parallel threads); the starting point depends on the process id so that
/// concurrent test processes are unlikely to collide, and every port is
/// checked free before it is handed out. Ranges lie below the kernel's
/// ephemeral port range, which outgoing connections draw from.
pub fn free_port_range(count: u16) -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Below the kernel's ephemeral range: a port checked free here and bound
    // by a node a moment later must not be taken meanwhile as the source
    // port of an outgoing connection (61 devnet nodes open thousands; two
    // nodes once failed to bind their listen port that way).
    const LOW: u32 = 10_000;
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    let span = ephemeral_low
        .saturating_sub(LOW)
        .max(4 * u32::from(count) + 1_000);
    let origin = (std::process::id().wrapping_mul(7919)) % span;
    for _ in 0..500 {
        let offset = NEXT.fetch_add(u32::from(count), Ordering::SeqCst);
        let base = LOW + (origin + offset) % (span - u32::from(count));
        let base = base as u16;
        let all_free = (0..count).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if all_free {
            return base;
        }
    }
    panic!("no range of {count} free ports found");
}

/// Runs `kpledger` with `args` to completion; panics with its output on failure.
pub fn run_ok(args: &[&str]) -> String {
    let out = Command::new(kpledger_bin())
        .args(args)
        .output()
        .expect("run kpledger");
    assert!(
        out.status.success(),
        "kpledger {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `kpledger --node NODE ARGS...` (a client command) and returns what
/// it did, whether it succeeded or not.
pub fn kpledger_at(node: &str, args: &[&str]) -> std::process::Output {
    Command::new(kpledger_bin())
        .args(["--node", node])
        .args(args)
        .output()
        .expect("run kpledger")
}

/// A command's standard output and error, together (for messages and for
/// assertions' explanations).
pub fn all_output(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A path as the `&str` a command line takes.
pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// One node of a cluster.
pub struct NodeHandle {
    /// `DIR/nodeI`.
    pub dir: PathBuf,
    /// HTTP address `127.0.0.1:P`.
    pub rpc: String,
    /// The running process, if started.
    pub child: Option<Child>,
}

/// A local network from `kpledger testnet`, whose processes die with it.
pub struct Cluster {
    /// Keeps the files until the cluster is dropped.
    pub dir: tempfile::TempDir,
    /// Validators first, then observers.
    pub nodes: Vec<NodeHandle>,
    /// How many of `nodes` are validators.
    pub validators: usize,
}

impl Cluster {
    /// Generates (but does not start) `validators + observers` nodes whose
    /// authorities have no encryption keys (certificates in the clear, as
    /// most tests build them with `kp_ledger::testkit::certificate`).
    pub fn generate(validators: usize, observers: usize) -> Cluster {
        Cluster::generate_with(validators, observers, false)
    }

    /// As [`Cluster::generate`], with encryption keys for every authority
    /// (`nodeI/encryption.key`) when `sealed`: certificates between them
    /// must be sealed (ADR 0011).
    pub fn generate_with(validators: usize, observers: usize, sealed: bool) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let count = validators + observers;
        let base = free_port_range(2 * count as u16);
        let out = dir.path().join("net");
        let (validators_text, observers_text) = (validators.to_string(), observers.to_string());
        let base_text = base.to_string();
        let mut args = vec![
            "testnet",
            "--validators",
            &validators_text,
            "--observers",
            &observers_text,
            "--out",
            out.to_str().expect("utf-8 path"),
            "--base-port",
            &base_text,
            // Tests and drills watch heights grow on an idle network: an
            // empty block a second, not the production heartbeat of a minute.
            "--empty-block-interval-ms",
            "1000",
        ];
        if !sealed {
            args.push("--plain");
        }
        run_ok(&args);
        let nodes = (0..count)
            .map(|i| NodeHandle {
                dir: out.join(format!("node{i}")),
                rpc: format!("127.0.0.1:{}", base + 2 * i as u16 + 1),
                child: None,
            })
            .collect();
        Cluster {
            dir,
            nodes,
            validators,
        }
    }

    /// Starts node `i` (its log goes to `nodeI/node.log`).
    pub fn start(&mut self, i: usize) {
        self.start_with_env(i, &[]);
    }

    /// Starts node `i` with extra environment variables (the
    /// `KPLEDGER_<SECTION>_<KEY>` overrides of its configuration).
    pub fn start_with_env(&mut self, i: usize, env: &[(&str, &str)]) {
        let node = &mut self.nodes[i];
        assert!(node.child.is_none(), "node {i} already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.dir.join("node.log"))
            .expect("open node log");
        let child = Command::new(kpledger_bin())
            .args(["node", "--config"])
            .arg(node.dir.join("node.toml"))
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log"))
            .stderr(log)
            .spawn()
            .expect("start kpledger node");
        node.child = Some(child);
    }

    /// Starts every node.
    pub fn start_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.start(i);
        }
    }

    /// Kills node `i` with SIGKILL and reaps it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM to node `i` and waits for it to exit; returns whether it
    /// exited cleanly within `timeout`.
    pub fn terminate(&mut self, i: usize, timeout: Duration) -> bool {
        let Some(mut child) = self.nodes[i].child.take() else {
            return true;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    /// `GET /v1/status` of node `i`, or `None` if it does not answer.
    pub fn status(&self, i: usize) -> Option<serde_json::Value> {
        get_json(&self.nodes[i].rpc, "/v1/status")
    }

    /// The height node `i` reports, or 0 if it does not answer.
    pub fn height(&self, i: usize) -> u64 {
        self.status(i)
            .and_then(|s| s["height"].as_u64())
            .unwrap_or(0)
    }

    /// Waits until every node in `which` reports at least `height`.
    pub fn wait_for_height(&self, which: &[usize], height: u64, timeout: Duration) {
        let ok = wait_until(timeout, || which.iter().all(|&i| self.height(i) >= height));
        if !ok {
            let seen: Vec<_> = which.iter().map(|&i| (i, self.height(i))).collect();
            panic!(
                "nodes did not reach height {height} within {timeout:?}: {seen:?}\n{}",
                self.logs_tail(40)
            );
        }
    }

    /// The last `lines` lines of every node's log (for failure messages).
    pub fn logs_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for (i, node) in self.nodes.iter().enumerate() {
            let text = std::fs::read_to_string(node.dir.join("node.log")).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            let start = all.len().saturating_sub(lines);
            out.push_str(&format!("--- node{i} ---\n{}\n", all[start..].join("\n")));
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

/// Polls `condition` every 100 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("http client")
}

/// `GET http://addr/path` as JSON, or `None` on any failure.
pub fn get_json(addr: &str, path: &str) -> Option<serde_json::Value> {
    if TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_millis(300)).is_err() {
        return None;
    }
    let resp = client().get(format!("http://{addr}{path}")).send().ok()?;
    resp.json().ok()
}

/// `POST http://addr/path` with a JSON body; returns status and JSON answer.
pub fn post_json(
    addr: &str,
    path: &str,
    body: &serde_json::Value,
) -> Option<(u16, serde_json::Value)> {
    let resp = client()
        .post(format!("http://{addr}{path}"))
        .json(body)
        .send()
        .ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.json().unwrap_or(serde_json::Value::Null)))
}

/// Reads a key file written by `kpledger` (64 hex digits).
pub fn read_key(path: &Path) -> kp_types::SigningKey {
    let text = std::fs::read_to_string(path).expect("read key file");
    let mut seed = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut seed).expect("key file holds 64 hex digits");
    kp_types::SigningKey::from_seed(seed)
}

/// The chain id of a generated network.
pub const TESTNET_CHAIN_ID: &str = "kp-testnet";

/// A signed certificate issue from Botswana (node 0 of a testnet, authority
/// `BW-KPA`) to the EU, numbered `BW<suffix>`, issued today.
pub fn bw_certificate_tx(cluster: &Cluster, suffix: &str) -> kp_types::SignedTransaction {
    use kp_types::tx::{Payload, Transaction};
    let key = read_key(&cluster.nodes[0].dir.join("authority.key"));
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64;
    let today = kp_types::Timestamp(now_ms).date();
    let mut cert = kp_ledger::testkit::certificate(&format!("BW{suffix}"), "BW", "EU", today);
    cert.issuing_authority = kp_types::AuthorityId::new("BW-KPA").expect("valid id");
    Transaction {
        chain_id: TESTNET_CHAIN_ID.to_string(),
        signer: key.public(),
        nonce: now_ms,
        expires_at: kp_types::Timestamp(now_ms + 10 * 60 * 1000),
        payload: Payload::IssueCertificate(cert),
    }
    .sign(&key)
}

/// Seals the parties of `tx`'s certificate to BW-KPA and EU-KPA, whose
/// encryption keys are `nodeI/encryption.key` in `bw_dir` and `eu_dir`
/// (a network whose authorities have keys refuses plain certificates between
/// them), and signs it again with `key`.
pub fn sealed_bw_to_eu(
    tx: kp_types::SignedTransaction,
    bw_dir: &Path,
    eu_dir: &Path,
    key: &kp_types::SigningKey,
) -> kp_types::SignedTransaction {
    let mut tx = tx.tx;
    let kp_types::tx::Payload::IssueCertificate(cert) = &mut tx.payload else {
        panic!("not a certificate issue");
    };
    let kp_types::Parties::Plain(fields) = &cert.parties else {
        panic!("already sealed");
    };
    let open = |dir: &Path| {
        kp_types::DecryptionKey::from_seed(&read_key(&dir.join("encryption.key")).seed())
    };
    let recipients = [
        (
            kp_types::AuthorityId::new("BW-KPA").expect("valid id"),
            open(bw_dir).public(),
        ),
        (
            kp_types::AuthorityId::new("EU-KPA").expect("valid id"),
            open(eu_dir).public(),
        ),
    ];
    let mut salt = [7u8; 32];
    salt[..8].copy_from_slice(&tx.nonce.to_le_bytes());
    let sealed = kp_types::sealed::seal(&cert.number, fields, salt, &recipients, [9u8; 32])
        .expect("seal to the network's keys");
    cert.parties = kp_types::Parties::Sealed(sealed);
    tx.sign(key)
}

/// `POST /v1/txs` of the canonical bytes of `tx` to node `i`.
pub fn submit(
    cluster: &Cluster,
    i: usize,
    tx: &kp_types::SignedTransaction,
    wait: bool,
) -> (u16, serde_json::Value) {
    let body = serde_json::json!({ "tx_hex": hex::encode(kp_types::encode(tx)), "wait": wait });
    post_json(&cluster.nodes[i].rpc, "/v1/txs", &body).expect("node answers POST /v1/txs")
}

/// Block hash at `height` as node `i` reports it.
pub fn block_hash(cluster: &Cluster, i: usize, height: u64) -> Option<String> {
    get_json(&cluster.nodes[i].rpc, &format!("/v1/blocks/{height}"))
        .and_then(|b| b["hash"].as_str().map(str::to_string))
}

/// Asserts every node in `which` has the same block hashes at heights `1..=up_to`.
pub fn assert_same_chain(cluster: &Cluster, which: &[usize], up_to: u64) {
    for h in 1..=up_to {
        let hashes: Vec<Option<String>> =
            which.iter().map(|&i| block_hash(cluster, i, h)).collect();
        assert!(
            hashes[0].is_some() && hashes.iter().all(|x| *x == hashes[0]),
            "nodes {which:?} disagree or miss block {h}: {hashes:?}"
        );
    }
}

/// Today's date (UTC), as certificates carry it.
pub fn today() -> kp_types::Date {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64;
    kp_types::Timestamp(now_ms).date()
}

/// A certificate file for `kpledger cert issue --file`, as the README
/// writes one: `number` from `from` (its authority `FROM-KPA`) to `to`,
/// issued today for 30 days, one line of HS 7102.31 worth 2,500,000.00
/// USD in 3 parcels. The other fields have the README's values; change
/// them with struct update syntax.
#[derive(Clone, Debug)]
pub struct CertificateFile<'a> {
    /// Its number.
    pub number: &'a str,
    /// The exporting Participant.
    pub from: &'a str,
    /// The importing Participant.
    pub to: &'a str,
    /// The destination territory.
    pub destination: &'a str,
    /// The line's carats.
    pub carats: &'a str,
    /// The parcels' commercial details.
    pub details: &'a str,
    /// The exporter's name and address.
    pub exporter: (&'a str, &'a str),
    /// The importer's name and address.
    pub importer: (&'a str, &'a str),
}

impl<'a> CertificateFile<'a> {
    /// The README's certificate, numbered `number`, from `from` to `to`.
    pub fn new(number: &'a str, from: &'a str, to: &'a str) -> CertificateFile<'a> {
        CertificateFile {
            number,
            from,
            to,
            destination: "BE",
            carats: "1250.50",
            details: "Invoice DB-2026-118; 3 parcels of sawables",
            exporter: (
                "Debswana Diamond Company",
                "Plot 64288, Airport Road, Gaborone",
            ),
            importer: (
                "Antwerp Rough Traders BV",
                "Hoveniersstraat 2, 2018 Antwerp",
            ),
        }
    }

    /// The file's text (strings quoted and escaped as TOML wants them).
    pub fn toml(&self) -> String {
        let q = |s: &str| toml::Value::String(s.to_string()).to_string();
        let issued = today();
        format!(
            r#"number = {number}
exporting = {from}
issuing_authority = {authority}
importing = {to}
destination = {destination}
origin = {{ countries = [{from}] }}
issued_on = "{issued}"
expires_on = "{expires}"
details = {details}

[exporter]
name = {exporter}
address = {exporter_address}

[importer]
name = {importer}
address = {importer_address}

[[lines]]
hs_code = "7102.31"
carats = {carats}
value_usd = "2500000.00"
parcels = 3
"#,
            number = q(self.number),
            from = q(self.from),
            authority = q(&format!("{}-KPA", self.from)),
            to = q(self.to),
            destination = q(self.destination),
            expires = issued.plus_days(30),
            details = q(self.details),
            exporter = q(self.exporter.0),
            exporter_address = q(self.exporter.1),
            importer = q(self.importer.0),
            importer_address = q(self.importer.1),
            carats = q(self.carats),
        )
    }
}

/// On a plain 4-validator cluster: BW issues BW2026000001 (1251.50 ct) and
/// BW2026000002 (1252.50 ct) to the EU, and the EU confirms the first with
/// 1000.00 ct received (a mirror mismatch), all through the CLI at node 0.
pub fn issue_two_bw_certificates(cluster: &Cluster) {
    let node = format!("http://{}", cluster.nodes[0].rpc);
    let dir = cluster.dir.path();
    for (n, carats) in [("1", "1251.50"), ("2", "1252.50")] {
        let number = format!("BW202600000{n}");
        let file = dir.join(format!("{number}.toml"));
        let text = CertificateFile {
            carats,
            // Quotes and a comma: the CSV export must quote this field.
            details: "Invoice DB-2026-118, \"sawables\"; 3 parcels",
            ..CertificateFile::new(&number, "BW", "EU")
        }
        .toml();
        std::fs::write(&file, text).expect("write certificate file");
        let key = cluster.nodes[0].dir.join("authority.key");
        let out = kpledger_at(
            &node,
            &[
                "cert",
                "issue",
                "--key",
                path_str(&key),
                "--file",
                path_str(&file),
            ],
        );
        assert!(out.status.success(), "{}", all_output(&out));
    }
    let eu_key = cluster.nodes[1].dir.join("authority.key");
    let out = kpledger_at(
        &node,
        &[
            "cert",
            "confirm",
            "BW2026000001",
            "--key",
            path_str(&eu_key),
            "--carats",
            "1000.00",
        ],
    );
    assert!(out.status.success(), "{}", all_output(&out));
}
