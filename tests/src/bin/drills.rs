//! `drills`: reliability drills on real `kpledger node` processes.
//!
//! Each drill builds a fresh local network with `kpledger testnet`, runs
//! steady load against it while it injects a fault, then checks the safety
//! properties that matter to users of the ledger:
//!
//! * every transaction acknowledged as decided (`POST /v1/txs` with
//!   `wait: true` answered `200` with a `decided` height) is in the chain
//!   exactly once, at the height the acknowledgement named;
//! * no transaction appears twice in the chain;
//! * all replicas agree on the block hash at every height (a block commits to
//!   the previous state root, so equal hashes mean equal state roots), and on
//!   the state root at a common tip;
//! * no validator signed two different precommits for one height and round
//!   (checked across the commit certificates every node holds), no evidence
//!   transaction is in the chain and no node logged an equivocation.
//!
//! Drills:
//! * `crash`: SIGKILL a random validator every few seconds and restart it,
//!   one at a time so that a quorum always remains; the chain must keep going.
//! * `partition`: every node in its own network namespace on a bridge; cut a
//!   validator, a minority, the network in halves (no quorum: the chain must
//!   halt), then heal; the chain must resume and never fork. Needs root and
//!   `ip netns`; skipped (reported, not failed) when unavailable.
//! * `disk`: a validator's data directory is a small tmpfs that fills up, and
//!   later is read-only when the node restarts: the node must stop with a
//!   clear error, never decide on a broken disk, and catch up once space is
//!   back. Needs root (mount); skipped otherwise.
//! * `flood`: garbage TCP connections to a validator's peer port and a
//!   storm of malformed, forged and duplicate HTTP submissions: the node
//!   closes the connections, refuses the requests and keeps deciding.
//! * `clock`: validators 30 s ahead and 20 s behind (libfaketime): agreement
//!   holds and block times strictly increase. Skipped without `faketime`.
//!
//! Output: one `figures` line per drill, and a last line that is a JSON
//! summary with `"pass": true|false`. The exit code is 0 only on a pass.
//! The random choices (which validator, when) come from `--seed`, printed at
//! the start so a failing run can be repeated.
//!
//! Usage: `drills [--quick] [--drill crash|partition|disk|clock|flood|all] [--seconds N] [--seed S]`
//! with `KPLEDGER_BIN` naming the `kpledger` binary.

use kp_e2e::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A small deterministic generator (SplitMix64): the drill's choices repeat
/// for a seed without pulling a dependency into the test package.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// Options from the command line.
#[derive(Clone, Debug)]
pub struct Options {
    /// Short bounded run for CI.
    pub quick: bool,
    /// Which drills.
    pub drills: Vec<String>,
    /// Fault phase length per drill.
    pub seconds: u64,
    /// Seed of the random choices.
    pub seed: u64,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        quick: false,
        drills: Vec::new(),
        seconds: 0,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--drill" => options.drills.push(value("--drill")?),
            "--seconds" => {
                options.seconds = value("--seconds")?
                    .parse()
                    .map_err(|_| "--seconds takes a number".to_string())?
            }
            "--seed" => {
                options.seed = value("--seed")?
                    .parse()
                    .map_err(|_| "--seed takes a number".to_string())?
            }
            "-h" | "--help" => {
                return Err("usage: drills [--quick] [--drill crash|partition|disk|clock|flood|all] [--seconds N] [--seed S]".into())
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if options.drills.is_empty() || options.drills.iter().any(|d| d == "all") {
        options.drills = vec![
            "crash".into(),
            "partition".into(),
            "disk".into(),
            "clock".into(),
            "flood".into(),
        ];
    }
    if options.seconds == 0 {
        options.seconds = if options.quick { 40 } else { 300 };
    }
    Ok(options)
}

/// The outcome of one drill.
pub struct Report {
    /// Drill name.
    pub name: String,
    /// Figures to print and put in the summary.
    pub figures: serde_json::Map<String, Value>,
    /// Broken properties; empty on a pass.
    pub failures: Vec<String>,
    /// Not run (e.g. needs root); neither pass nor fail.
    pub skipped: Option<String>,
}

impl Report {
    /// An empty report for `name`.
    pub fn new(name: &str) -> Report {
        Report {
            name: name.to_string(),
            figures: serde_json::Map::new(),
            failures: Vec::new(),
            skipped: None,
        }
    }
    /// Records a figure.
    pub fn figure(&mut self, key: &str, value: impl Into<Value>) {
        self.figures.insert(key.to_string(), value.into());
    }
    /// Records a broken property unless `ok`.
    pub fn check(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            let what = what.into();
            eprintln!("[{}] FAIL: {what}", self.name);
            self.failures.push(what);
        }
    }
}

/// Prints a progress line (stderr, so stdout keeps figures and the summary).
pub fn say(drill: &str, text: &str) {
    eprintln!("[{drill} {}] {text}", wall_clock());
}

fn wall_clock() -> String {
    let s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{:02}:{:02}:{:02}", (s / 3600) % 24, (s / 60) % 60, s % 60)
}

/// An HTTP client with a timeout longer than the node's own waits for
/// decisions under faults.
pub fn http(timeout: Duration) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .build()
        .unwrap_or_else(|_| reqwest::blocking::Client::new())
}

/// What the load generator saw.
#[derive(Default)]
pub struct Ledgerbook {
    /// Acknowledged as decided: tx hash -> height named by the acknowledgement.
    pub decided: BTreeMap<String, u64>,
    /// Accepted into a pool (202) or lost in flight (timeout, node killed):
    /// may or may not be decided.
    pub uncertain: Vec<String>,
    /// Refused with a status (busy, 4xx): never acknowledged.
    pub refused: BTreeMap<u16, u64>,
    /// Requests that got no answer (connection refused while a node is down).
    pub unanswered: u64,
}

/// A certificate issue from node 0's authority (Botswana) numbered `BW<n>`.
pub fn certificate_tx(
    key: &kp_types::SigningKey,
    n: u64,
    chain_id: &str,
) -> kp_types::SignedTransaction {
    use kp_types::tx::{Payload, Transaction};
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let today = kp_types::Timestamp(now_ms).date();
    let mut cert = kp_ledger::testkit::certificate(&format!("BW{n:08}"), "BW", "EU", today);
    if let Ok(id) = kp_types::AuthorityId::new("BW-KPA") {
        cert.issuing_authority = id;
    }
    Transaction {
        chain_id: chain_id.to_string(),
        signer: key.public(),
        nonce: n,
        expires_at: kp_types::Timestamp(now_ms + 10 * 60 * 1000),
        payload: Payload::IssueCertificate(cert),
    }
    .sign(key)
}

/// Steady load: `threads` workers each submit with `wait: true` to a random
/// node until `stop`; returns what they were told.
pub fn start_load(
    rpcs: Vec<String>,
    key: kp_types::SigningKey,
    threads: usize,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> (Arc<Mutex<Ledgerbook>>, Vec<std::thread::JoinHandle<()>>) {
    let book = Arc::new(Mutex::new(Ledgerbook::default()));
    let counter = Arc::new(AtomicU64::new(1));
    let mut handles = Vec::new();
    for t in 0..threads {
        let (rpcs, key, stop, book, counter) = (
            rpcs.clone(),
            key.clone(),
            stop.clone(),
            book.clone(),
            counter.clone(),
        );
        handles.push(std::thread::spawn(move || {
            let client = http(Duration::from_secs(20));
            let mut rng = Rng::new(seed ^ (t as u64 + 1).wrapping_mul(0x1234_5678));
            while !stop.load(Ordering::SeqCst) {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let tx = certificate_tx(&key, n, TESTNET_CHAIN_ID);
                let hash = tx.hash().to_hex();
                let body = json!({ "tx_hex": hex::encode(kp_types::encode(&tx)), "wait": true });
                let node = &rpcs[rng.below(rpcs.len() as u64) as usize];
                let answer = client
                    .post(format!("http://{node}/v1/txs"))
                    .json(&body)
                    .send();
                let mut book = match book.lock() {
                    Ok(b) => b,
                    Err(p) => p.into_inner(),
                };
                match answer {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let value: Value = resp.json().unwrap_or(Value::Null);
                        match (status, value["decided"]["height"].as_u64()) {
                            (200, Some(h)) => {
                                book.decided.insert(hash, h);
                            }
                            (202 | 504, _) => book.uncertain.push(hash),
                            _ => *book.refused.entry(status).or_default() += 1,
                        }
                    }
                    Err(e) if e.is_connect() => {
                        book.unanswered += 1;
                        drop(book);
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    // Sent but the answer was lost: the node may have pooled it.
                    Err(_) => book.uncertain.push(hash),
                }
            }
        }));
    }
    (book, handles)
}

/// Waits for every node in `which` to decide height 2 and records how long
/// that took. Generous on purpose: on a loaded CI machine, or when the first
/// votes went out before peers were connected, the first height can take
/// far longer than the later ones, and that is a liveness figure, not a
/// safety failure.
pub fn network_started(report: &mut Report, cluster: &Cluster, which: &[usize]) -> bool {
    match recover(cluster, which, 2, Duration::from_secs(150)) {
        Some(s) => {
            report.figure("start_seconds", (s * 10.0).round() / 10.0);
            true
        }
        None => {
            report.check(
                false,
                format!("network never started\n{}", cluster.logs_tail(20)),
            );
            false
        }
    }
}

/// What the load generator saw, taken out of its lock.
pub fn take_book(book: &Mutex<Ledgerbook>) -> Ledgerbook {
    let mut guard = match book.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    std::mem::take(&mut *guard)
}

/// A block as node `i` reports it, or `None`.
pub fn block_json(cluster: &Cluster, i: usize, height: u64) -> Option<Value> {
    get_json(&cluster.nodes[i].rpc, &format!("/v1/blocks/{height}"))
}

/// Waits until every node in `which` answers and reports at least `height`;
/// returns the seconds it took, or `None` on timeout.
pub fn recover(cluster: &Cluster, which: &[usize], height: u64, timeout: Duration) -> Option<f64> {
    let start = Instant::now();
    wait_until(timeout, || {
        which.iter().all(|&i| {
            cluster
                .status(i)
                .and_then(|s| s["height"].as_u64())
                .is_some_and(|h| h >= height)
        })
    })
    .then(|| start.elapsed().as_secs_f64())
}

/// The safety checks shared by every drill: agreement on every block,
/// state roots at a common tip, transactions exactly once, no equivocation.
pub fn check_chain(
    report: &mut Report,
    cluster: &Cluster,
    which: &[usize],
    up_to: u64,
    book: &Ledgerbook,
) {
    let mut seen: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut disagreements = 0u64;
    let mut equivocations = 0u64;
    let mut evidence_txs = 0u64;
    for h in 1..=up_to {
        let blocks: Vec<Option<Value>> = which.iter().map(|&i| block_json(cluster, i, h)).collect();
        let hashes: Vec<Option<&str>> = blocks
            .iter()
            .map(|b| b.as_ref().and_then(|b| b["hash"].as_str()))
            .collect();
        if hashes[0].is_none() || hashes.iter().any(|x| *x != hashes[0]) {
            disagreements += 1;
            if disagreements <= 3 {
                report.check(
                    false,
                    format!("height {h}: nodes {which:?} report {hashes:?}"),
                );
            }
            continue;
        }
        // Precommits by (validator, round) across all nodes' certificates.
        let mut precommits: BTreeMap<(String, u64), String> = BTreeMap::new();
        for block in blocks.iter().flatten() {
            let cert = &block["commit_certificate"];
            let round = cert["round"].as_u64().unwrap_or(u64::MAX);
            let voted = cert["block_hash"].to_string();
            for sig in cert["signatures"].as_array().into_iter().flatten() {
                let validator = sig["validator"].to_string();
                match precommits.get(&(validator.clone(), round)) {
                    Some(other) if *other != voted => equivocations += 1,
                    _ => {
                        precommits.insert((validator, round), voted.clone());
                    }
                }
            }
        }
        let Some(first) = &blocks[0] else { continue };
        for t in first["block"]["txs"].as_array().into_iter().flatten() {
            if t.to_string().contains("SubmitEvidence") {
                evidence_txs += 1;
            }
            match serde_json::from_value::<kp_types::SignedTransaction>(t.clone()) {
                Ok(tx) => seen.entry(tx.hash().to_hex()).or_default().push(h),
                Err(e) => report.check(false, format!("height {h}: undecodable tx JSON: {e}")),
            }
        }
    }
    report.check(
        disagreements == 0,
        format!("{disagreements} heights disagree"),
    );
    report.check(
        equivocations == 0,
        format!("{equivocations} conflicting precommits"),
    );
    report.check(
        evidence_txs == 0,
        format!("{evidence_txs} evidence transactions in the chain"),
    );
    let duplicated = seen.values().filter(|hs| hs.len() > 1).count();
    report.check(
        duplicated == 0,
        format!("{duplicated} transactions appear more than once"),
    );
    let mut missing = 0u64;
    let mut misplaced = 0u64;
    for (hash, height) in &book.decided {
        match seen.get(hash) {
            None => missing += 1,
            Some(hs) if hs.first() != Some(height) => misplaced += 1,
            Some(_) => {}
        }
    }
    report.check(
        missing == 0,
        format!("{missing} acknowledged transactions missing"),
    );
    report.check(
        misplaced == 0,
        format!("{misplaced} acknowledged at another height"),
    );
    let found = book
        .decided
        .keys()
        .filter(|h| seen.contains_key(*h))
        .count();
    let uncertain_found = book
        .uncertain
        .iter()
        .filter(|h| seen.contains_key(*h))
        .count();
    report.figure("heights_checked", up_to);
    report.figure("txs_in_chain", seen.len() as u64);
    report.figure("txs_acknowledged", book.decided.len() as u64);
    report.figure("txs_acknowledged_found", found as u64);
    report.figure("txs_uncertain", book.uncertain.len() as u64);
    report.figure("txs_uncertain_found", uncertain_found as u64);
    report.figure("requests_unanswered", book.unanswered);
    report.figure(
        "requests_refused",
        serde_json::to_value(&book.refused).unwrap_or(Value::Null),
    );
    // State roots at one common height: poll until every node reports the
    // same height (the chain moves), then compare.
    let mut roots_agree = false;
    let agreed = wait_until(Duration::from_secs(30), || {
        let s: Vec<Value> = which.iter().filter_map(|&i| cluster.status(i)).collect();
        if s.len() != which.len() || s.iter().any(|x| x["height"] != s[0]["height"]) {
            return false;
        }
        roots_agree = s.iter().all(|x| x["state_root"] == s[0]["state_root"]);
        true
    });
    report.check(agreed, "never saw every node at one height");
    report.check(
        !agreed || roots_agree,
        "state roots differ at a common height",
    );
    let mut logged = 0;
    for &i in which {
        let log =
            std::fs::read_to_string(cluster.nodes[i].dir.join("node.log")).unwrap_or_default();
        logged += log.matches("equivocation detected").count();
    }
    report.check(logged == 0, format!("{logged} equivocations logged"));
}

fn crash(options: &Options) -> Report {
    let mut report = Report::new("crash");
    let mut rng = Rng::new(options.seed);
    let validators = 4;
    let mut cluster = Cluster::generate(validators, 1);
    cluster.start_all();
    let all: Vec<usize> = (0..cluster.nodes.len()).collect();
    if !network_started(&mut report, &cluster, &all) {
        return report;
    }
    let key = read_key(&cluster.nodes[0].dir.join("authority.key"));
    let rpcs: Vec<String> = cluster.nodes.iter().map(|n| n.rpc.clone()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let (book, loaders) = start_load(rpcs, key, 4, options.seed, stop.clone());
    let start_height = cluster.height(0);
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let mut kills = 0u64;
    let mut recover_max = 0.0f64;
    let mut stalls = 0u64;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1500 + rng.below(2500)));
        let victim = rng.below(validators as u64) as usize;
        let before = cluster.height(victim);
        cluster.kill(victim);
        kills += 1;
        // The others are a quorum: the chain must go on while it is down.
        let others: Vec<usize> = (0..validators).filter(|&i| i != victim).collect();
        let top = others.iter().map(|&i| cluster.height(i)).max().unwrap_or(0);
        if recover(&cluster, &others, top + 1, Duration::from_secs(30)).is_none() {
            stalls += 1;
            report.check(
                false,
                format!("chain stalled with node {victim} down (height {top})"),
            );
        }
        std::thread::sleep(Duration::from_millis(rng.below(1500)));
        cluster.start(victim);
        let target = cluster.height((victim + 1) % validators).max(before);
        match recover(&cluster, &[victim], target, Duration::from_secs(60)) {
            Some(s) => recover_max = recover_max.max(s),
            None => report.check(
                false,
                format!("node {victim} did not catch up to {target} after kill {kills}"),
            ),
        }
        say(
            "crash",
            &format!("kill {kills}: node {victim} back at height >= {target}"),
        );
    }
    stop.store(true, Ordering::SeqCst);
    for l in loaders {
        let _ = l.join();
    }
    let end_height = all.iter().map(|&i| cluster.height(i)).max().unwrap_or(0);
    let up_to = end_height + 1;
    let caught_up = recover(&cluster, &all, up_to, Duration::from_secs(60));
    report.check(
        caught_up.is_some(),
        format!("not every node reached {up_to} after the drill"),
    );
    let book = take_book(&book);
    check_chain(&mut report, &cluster, &all, up_to, &book);
    report.figure("kills_survived", kills - stalls);
    report.figure("kills", kills);
    report.figure(
        "blocks_during_drill",
        end_height.saturating_sub(start_height),
    );
    report.figure("recover_seconds_max", (recover_max * 10.0).round() / 10.0);
    report.figure(
        "final_catch_up_seconds",
        caught_up.map(|s| (s * 10.0).round() / 10.0),
    );
    if !report.failures.is_empty() {
        eprintln!("{}", cluster.logs_tail(15));
    }
    report
}

/// Prefix of every interface and namespace the partition drill creates, so
/// that leftovers of an interrupted run are found and removed.
const NS_PREFIX: &str = "kpd";
/// The drill's private subnet; node I is `.I+1`, the host side `.254`.
const SUBNET: &str = "10.213.77";
const NS_NODES_MAX: usize = 16;

fn run_cmd(args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Network namespaces `kpd-nI`, each with a veth into the bridge `kpd-br` in
/// the host namespace; removed on drop (killing nothing but the drill's own
/// interfaces and namespaces).
pub struct Netns {
    nodes: usize,
    cuts: Vec<(usize, usize)>,
}

impl Netns {
    fn ns(i: usize) -> String {
        format!("{NS_PREFIX}-n{i}")
    }
    /// Node `i`'s address.
    pub fn ip(i: usize) -> String {
        format!("{SUBNET}.{}", i + 1)
    }
    fn cleanup() {
        for i in 0..NS_NODES_MAX {
            let _ = run_cmd(&["ip", "netns", "del", &Netns::ns(i)]);
            let _ = run_cmd(&["ip", "link", "del", &format!("{NS_PREFIX}-v{i}")]);
        }
        let _ = run_cmd(&["ip", "link", "del", &format!("{NS_PREFIX}-br")]);
    }
    /// Creates `nodes` namespaces on one bridge.
    pub fn create(nodes: usize) -> Result<Netns, String> {
        if nodes > NS_NODES_MAX {
            return Err(format!("at most {NS_NODES_MAX} nodes"));
        }
        Netns::cleanup();
        let net = Netns {
            nodes,
            cuts: Vec::new(),
        };
        let br = format!("{NS_PREFIX}-br");
        run_cmd(&["ip", "link", "add", &br, "type", "bridge"])?;
        run_cmd(&["ip", "addr", "add", &format!("{SUBNET}.254/24"), "dev", &br])?;
        run_cmd(&["ip", "link", "set", &br, "up"])?;
        for i in 0..nodes {
            let (ns, host, inner) = (
                Netns::ns(i),
                format!("{NS_PREFIX}-v{i}"),
                format!("{NS_PREFIX}-p{i}"),
            );
            run_cmd(&["ip", "netns", "add", &ns])?;
            run_cmd(&[
                "ip", "link", "add", &host, "type", "veth", "peer", "name", &inner,
            ])?;
            run_cmd(&["ip", "link", "set", &inner, "netns", &ns])?;
            run_cmd(&["ip", "link", "set", &host, "master", &br])?;
            run_cmd(&["ip", "link", "set", &host, "up"])?;
            run_cmd(&["ip", "-n", &ns, "link", "set", "lo", "up"])?;
            run_cmd(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", Netns::ip(i)),
                "dev",
                &inner,
            ])?;
            run_cmd(&["ip", "-n", &ns, "link", "set", &inner, "up"])?;
        }
        Ok(net)
    }
    /// Cuts `a` and `b` apart in both directions (a blackhole route on each side).
    pub fn cut(&mut self, a: usize, b: usize) -> Result<(), String> {
        for (x, y) in [(a, b), (b, a)] {
            run_cmd(&[
                "ip",
                "-n",
                &Netns::ns(x),
                "route",
                "add",
                "blackhole",
                &format!("{}/32", Netns::ip(y)),
            ])?;
            self.cuts.push((x, y));
        }
        Ok(())
    }
    /// Cuts every link between the two groups.
    pub fn split(&mut self, left: &[usize], right: &[usize]) -> Result<(), String> {
        for &a in left {
            for &b in right {
                self.cut(a, b)?;
            }
        }
        Ok(())
    }
    /// Node `i` loses every packet it sends; it still receives. (A blackhole
    /// route on its side only: `tc netem` is not in every kernel.)
    pub fn drop_outgoing(&mut self, i: usize) -> Result<(), String> {
        for j in (0..self.nodes).filter(|&j| j != i) {
            run_cmd(&[
                "ip",
                "-n",
                &Netns::ns(i),
                "route",
                "add",
                "blackhole",
                &format!("{}/32", Netns::ip(j)),
            ])?;
            self.cuts.push((i, j));
        }
        Ok(())
    }
    /// Removes every cut and loss.
    pub fn heal(&mut self) -> Result<(), String> {
        for (x, y) in std::mem::take(&mut self.cuts) {
            run_cmd(&[
                "ip",
                "-n",
                &Netns::ns(x),
                "route",
                "del",
                "blackhole",
                &format!("{}/32", Netns::ip(y)),
            ])?;
        }
        Ok(())
    }
    /// Rewrites the node configurations of `cluster` to listen on the
    /// namespace addresses, and points its RPC addresses there.
    pub fn configure(&self, cluster: &mut Cluster) -> Result<(), String> {
        for i in 0..self.nodes {
            let path = cluster.nodes[i].dir.join("node.toml");
            let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
            let mut config: toml::Value = toml::from_str(&text).map_err(|e| e.to_string())?;
            config["network"]["listen"] =
                toml::Value::String(format!("/ip4/{}/tcp/26600", Netns::ip(i)));
            config["network"]["peers"] = toml::Value::Array(
                (0..self.nodes)
                    .filter(|&j| j != i)
                    .map(|j| toml::Value::String(format!("/ip4/{}/tcp/26600", Netns::ip(j))))
                    .collect(),
            );
            config["rpc"]["listen"] = toml::Value::String(format!("{}:26601", Netns::ip(i)));
            let text = toml::to_string(&config).map_err(|e| e.to_string())?;
            std::fs::write(&path, text).map_err(|e| e.to_string())?;
            cluster.nodes[i].rpc = format!("{}:26601", Netns::ip(i));
        }
        Ok(())
    }
    /// Starts node `i` of `cluster` inside its namespace; the cluster owns
    /// the process (and kills it on drop).
    pub fn start(&self, cluster: &mut Cluster, i: usize) -> Result<(), String> {
        let node = &mut cluster.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.dir.join("node.log"))
            .map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        // `ip netns exec` enters the namespace and then execs the node, so
        // the child's pid is the node's own and SIGKILL reaches it.
        let child = std::process::Command::new("ip")
            .args(["netns", "exec", &Netns::ns(i)])
            .arg(kpledger_bin())
            .args(["node", "--config"])
            .arg(node.dir.join("node.toml"))
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| e.to_string())?;
        node.child = Some(child);
        Ok(())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        Netns::cleanup();
    }
}

fn heights(cluster: &Cluster, which: &[usize]) -> Vec<u64> {
    which.iter().map(|&i| cluster.height(i)).collect()
}

/// One partition scenario: apply `cut`, then for `hold`: the `live` nodes
/// must make progress and the `halted` ones must not (beyond a block that
/// was already being committed); then heal and wait for everyone.
struct Phase<'a> {
    name: &'a str,
    live: &'a [usize],
    halted: &'a [usize],
}

fn partition_phase(
    report: &mut Report,
    cluster: &Cluster,
    net: &mut Netns,
    phase: &Phase<'_>,
    hold: Duration,
    apply: impl FnOnce(&mut Netns) -> Result<(), String>,
) -> Option<f64> {
    if let Err(e) = apply(net) {
        report.check(false, format!("{}: cannot partition: {e}", phase.name));
        return None;
    }
    // Connections notice the cut through failed pings; give them time
    // before taking the baseline of the nodes that must halt.
    std::thread::sleep(Duration::from_secs(3));
    let halted_before = heights(cluster, phase.halted);
    let live_before = heights(cluster, phase.live);
    std::thread::sleep(hold);
    let halted_after = heights(cluster, phase.halted);
    let live_after = heights(cluster, phase.live);
    say("partition", &format!(
        "{}: live {:?} {live_before:?} -> {live_after:?}, halted {:?} {halted_before:?} -> {halted_after:?}",
        phase.name, phase.live, phase.halted
    ));
    if !phase.live.is_empty() {
        let progressed = live_after
            .iter()
            .zip(&live_before)
            .all(|(a, b)| *a >= b + 2);
        report.check(
            progressed,
            format!(
                "{}: the side with a quorum {:?} did not go on: {live_before:?} -> {live_after:?}",
                phase.name, phase.live
            ),
        );
    }
    let stopped = halted_after
        .iter()
        .zip(&halted_before)
        .all(|(a, b)| *a <= b + 1);
    report.check(
        stopped,
        format!(
            "{}: nodes without a quorum {:?} kept deciding: {halted_before:?} -> {halted_after:?}",
            phase.name, phase.halted
        ),
    );
    if let Err(e) = net.heal() {
        report.check(false, format!("{}: cannot heal: {e}", phase.name));
        return None;
    }
    let all: Vec<usize> = (0..cluster.nodes.len()).collect();
    let top = heights(cluster, &all).into_iter().max().unwrap_or(0);
    let recovered = recover(cluster, &all, top + 2, Duration::from_secs(120));
    report.check(
        recovered.is_some(),
        format!(
            "{}: after heal not every node reached {}: {:?}",
            phase.name,
            top + 2,
            heights(cluster, &all)
        ),
    );
    say(
        "partition",
        &format!("{}: healed, recovered in {recovered:?} s", phase.name),
    );
    recovered
}

fn partition(options: &Options) -> Report {
    let mut report = Report::new("partition");
    let is_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if !is_root {
        report.skipped = Some("needs root for ip netns".into());
        return report;
    }
    let validators = 4;
    let mut cluster = Cluster::generate(validators, 1);
    let count = cluster.nodes.len();
    let mut net = match Netns::create(count) {
        Ok(n) => n,
        Err(e) => {
            report.skipped = Some(format!("cannot create network namespaces: {e}"));
            return report;
        }
    };
    if let Err(e) = net.configure(&mut cluster) {
        report.check(false, format!("cannot rewrite configs: {e}"));
        return report;
    }
    for i in 0..count {
        if let Err(e) = net.start(&mut cluster, i) {
            report.check(false, format!("cannot start node {i}: {e}"));
            return report;
        }
    }
    let all: Vec<usize> = (0..count).collect();
    if !network_started(&mut report, &cluster, &all) {
        return report;
    }
    let key = read_key(&cluster.nodes[0].dir.join("authority.key"));
    let rpcs: Vec<String> = cluster.nodes.iter().map(|n| n.rpc.clone()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let (book, loaders) = start_load(rpcs, key, 2, options.seed, stop.clone());
    // Each phase holds the partition for a share of the drill's time.
    let hold = Duration::from_secs(if options.quick {
        6
    } else {
        (options.seconds / 5).max(6)
    });
    let observer = validators;
    let mut rng = Rng::new(options.seed);
    let lone = rng.below(validators as u64) as usize;
    let others: Vec<usize> = (0..count).filter(|&i| i != lone).collect();
    let mut healed = 0u64;
    let mut recover_max = 0.0f64;
    let mut record = |r: Option<f64>, healed: &mut u64| {
        if let Some(s) = r {
            *healed += 1;
            recover_max = recover_max.max(s);
        }
    };
    // 1. One validator alone: three of four still decide.
    let live: Vec<usize> = others.iter().copied().filter(|&i| i != observer).collect();
    let r = partition_phase(
        &mut report,
        &cluster,
        &mut net,
        &Phase {
            name: "isolate one validator",
            live: &live,
            halted: &[lone],
        },
        hold,
        |net| {
            for &j in &others {
                net.cut(lone, j)?;
            }
            Ok(())
        },
    );
    record(r, &mut healed);
    // 2. A minority (one validator and the observer): the rest decide.
    let minority = [lone, observer];
    let majority: Vec<usize> = (0..validators).filter(|&i| i != lone).collect();
    let r = partition_phase(
        &mut report,
        &cluster,
        &mut net,
        &Phase {
            name: "isolate a minority",
            live: &majority,
            halted: &minority,
        },
        hold,
        |net| net.split(&minority, &majority),
    );
    record(r, &mut healed);
    // 3. Halves with no quorum on either side: the chain must halt.
    let left = [0, 1];
    let right = [2, 3, observer];
    let r = partition_phase(
        &mut report,
        &cluster,
        &mut net,
        &Phase {
            name: "halves without quorum",
            live: &[],
            halted: &all,
        },
        hold,
        |net| net.split(&left, &right),
    );
    record(r, &mut healed);
    // 4. One-way loss: a validator hears everyone but nobody hears it.
    let deaf: Vec<usize> = (0..validators).filter(|&i| i != lone).collect();
    let r = partition_phase(
        &mut report,
        &cluster,
        &mut net,
        &Phase {
            name: "one-way loss",
            live: &deaf,
            halted: &[],
        },
        hold,
        |net| net.drop_outgoing(lone),
    );
    record(r, &mut healed);
    stop.store(true, Ordering::SeqCst);
    for l in loaders {
        let _ = l.join();
    }
    let up_to = heights(&cluster, &all).into_iter().max().unwrap_or(0) + 1;
    let caught_up = recover(&cluster, &all, up_to, Duration::from_secs(60));
    report.check(
        caught_up.is_some(),
        format!("not every node reached {up_to} at the end"),
    );
    let book = take_book(&book);
    check_chain(&mut report, &cluster, &all, up_to, &book);
    report.figure("partitions", 4u64);
    report.figure("partitions_healed", healed);
    report.figure("recover_seconds_max", (recover_max * 10.0).round() / 10.0);
    if !report.failures.is_empty() {
        eprintln!("{}", cluster.logs_tail(15));
    }
    // Processes die before their namespaces go.
    drop(cluster);
    drop(net);
    report
}

/// Starts node `i` of `cluster` with extra environment (e.g. libfaketime's
/// `LD_PRELOAD`); the node is the direct child, so the cluster's SIGKILL
/// reaches it (the `faketime` wrapper would fork, and killing the wrapper
/// would leave the node running).
fn start_with_env(cluster: &mut Cluster, i: usize, env: &[(&str, &str)]) -> Result<(), String> {
    let node = &mut cluster.nodes[i];
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(node.dir.join("node.log"))
        .map_err(|e| e.to_string())?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    let child = std::process::Command::new(kpledger_bin())
        .args(["node", "--config"])
        .arg(node.dir.join("node.toml"))
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(|e| e.to_string())?;
    node.child = Some(child);
    Ok(())
}

/// The multithreaded libfaketime library, if installed.
fn libfaketime() -> Option<String> {
    [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/faketime/libfaketimeMT.so.1",
        "/usr/local/lib/faketime/libfaketimeMT.so.1",
    ]
    .iter()
    .find(|p| std::path::Path::new(p).exists())
    .map(|p| p.to_string())
}

/// Block times as node `i` reports them, heights `1..=up_to`.
fn block_times(cluster: &Cluster, i: usize, up_to: u64) -> Vec<u64> {
    (1..=up_to)
        .filter_map(|h| block_json(cluster, i, h))
        .filter_map(|b| {
            serde_json::from_value::<kp_types::Timestamp>(b["block"]["header"]["time"].clone()).ok()
        })
        .map(|t| t.0)
        .collect()
}

/// Clock drill: one validator runs 30 s ahead, another 20 s behind (libfaketime).
/// Agreement must hold and block times must strictly increase.
fn clock(options: &Options) -> Report {
    let mut report = Report::new("clock");
    let Some(library) = libfaketime() else {
        report.skipped = Some("needs libfaketime (apt-get install faketime)".into());
        return report;
    };
    let validators = 4;
    let mut cluster = Cluster::generate(validators, 0);
    let skews = [(1usize, "+30s"), (2usize, "-20s")];
    for i in 0..validators {
        match skews.iter().find(|(j, _)| *j == i) {
            Some((_, skew)) => {
                // Only the wall clock is skewed: timers use the monotonic one.
                let env = [
                    ("LD_PRELOAD", library.as_str()),
                    ("FAKETIME", skew),
                    ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
                ];
                if let Err(e) = start_with_env(&mut cluster, i, &env) {
                    report.check(false, format!("cannot start node {i} under faketime: {e}"));
                    return report;
                }
            }
            None => cluster.start(i),
        }
    }
    let all: Vec<usize> = (0..validators).collect();
    if !network_started(&mut report, &cluster, &all) {
        return report;
    }
    let key = read_key(&cluster.nodes[0].dir.join("authority.key"));
    let rpcs: Vec<String> = cluster.nodes.iter().map(|n| n.rpc.clone()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let (book, loaders) = start_load(rpcs, key, 2, options.seed, stop.clone());
    let start_height = cluster.height(0);
    std::thread::sleep(Duration::from_secs(if options.quick {
        options.seconds / 2
    } else {
        options.seconds
    }));
    stop.store(true, Ordering::SeqCst);
    for l in loaders {
        let _ = l.join();
    }
    let end_height = heights(&cluster, &all).into_iter().max().unwrap_or(0);
    report.check(
        end_height >= start_height + 3,
        format!("the chain did not go on with skewed clocks: {start_height} -> {end_height}"),
    );
    let up_to = end_height + 1;
    report.check(
        recover(&cluster, &all, up_to, Duration::from_secs(60)).is_some(),
        format!("not every node reached {up_to}"),
    );
    let book = take_book(&book);
    check_chain(&mut report, &cluster, &all, up_to, &book);
    let times = block_times(&cluster, 0, up_to);
    let monotonic = times.windows(2).all(|w| w[1] > w[0]);
    report.check(times.len() as u64 == up_to, "block times unreadable");
    report.check(monotonic, "block time went backwards or stood still");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let ahead_ms = times
        .iter()
        .max()
        .map(|t| t.saturating_sub(now))
        .unwrap_or(0);
    // The fast clock (+30 s) must not drag block time beyond the accepted drift.
    report.check(
        ahead_ms <= 10_000,
        format!("block time is {ahead_ms} ms ahead of real time"),
    );
    report.figure("skews", "validator 1 +30 s, validator 2 -20 s");
    report.figure(
        "blocks_during_drill",
        end_height.saturating_sub(start_height),
    );
    report.figure("block_time_ahead_of_real_ms", ahead_ms);
    report
}

/// Writes a filler file into `dir` until the file system is full; returns
/// the bytes written.
fn fill(dir: &std::path::Path) -> u64 {
    use std::io::Write;
    let Ok(mut file) = std::fs::File::create(dir.join("filler")) else {
        return 0;
    };
    let chunk = vec![0u8; 1 << 20];
    let mut written = 0u64;
    // Bounded: the tmpfs is small, this stops at ENOSPC long before.
    for _ in 0..4096 {
        match file.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    let _ = file.sync_all();
    written
}

/// A log line without the terminal colour codes that tracing adds.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Skip to the end of the escape sequence (a letter).
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Waits until node `i`'s process has exited; returns its exit code.
fn wait_exit(cluster: &mut Cluster, i: usize, timeout: Duration) -> Option<Option<i32>> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(child) = cluster.nodes[i].child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                cluster.nodes[i].child = None;
                return Some(status.code());
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

/// Disk drill: a validator's data directory is a small tmpfs. Fill it, then
/// make it read-only: the node must stop (or stop deciding) with a clear error
/// in its log, never write a bad state; given space back and restarted, it
/// must catch up and agree.
fn disk(options: &Options) -> Report {
    let mut report = Report::new("disk");
    let validators = 4;
    let victim = 3;
    let mut cluster = Cluster::generate(validators, 0);
    let mount = cluster.nodes[victim].dir.join("data-mnt");
    if std::fs::create_dir_all(&mount).is_err()
        || run_cmd(&[
            "mount",
            "-t",
            "tmpfs",
            "-o",
            "size=48m",
            "kpd-tmpfs",
            &mount.to_string_lossy(),
        ])
        .is_err()
    {
        report.skipped = Some("needs root to mount a tmpfs".into());
        return report;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = run_cmd(&["umount", "-l", &self.0.to_string_lossy()]);
        }
    }
    let _unmount = Unmount(mount.clone());
    let config_path = cluster.nodes[victim].dir.join("node.toml");
    let rewrite = std::fs::read_to_string(&config_path)
        .map_err(|e| e.to_string())
        .and_then(|t| toml::from_str::<toml::Value>(&t).map_err(|e| e.to_string()))
        .and_then(|mut c| {
            c["node"]["data_dir"] = toml::Value::String(mount.join("db").to_string_lossy().into());
            toml::to_string(&c).map_err(|e| e.to_string())
        })
        .and_then(|t| std::fs::write(&config_path, t).map_err(|e| e.to_string()));
    if let Err(e) = rewrite {
        report.check(false, format!("cannot rewrite config: {e}"));
        return report;
    }
    cluster.start_all();
    let all: Vec<usize> = (0..validators).collect();
    if !network_started(&mut report, &cluster, &all) {
        return report;
    }
    let key = read_key(&cluster.nodes[0].dir.join("authority.key"));
    let rpcs: Vec<String> = cluster.nodes.iter().map(|n| n.rpc.clone()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let (book, loaders) = start_load(rpcs, key, 2, options.seed, stop.clone());
    let others: Vec<usize> = (0..validators).filter(|&i| i != victim).collect();
    let mut recover_max = 0.0f64;
    let mut faults = 0u64;
    for fault in ["disk full", "read-only"] {
        let log_path = cluster.nodes[victim].dir.join("node.log");
        let log_before = std::fs::read_to_string(&log_path)
            .map(|t| t.len())
            .unwrap_or(0);
        let height_at_fault = cluster.height(victim);
        let mount_text = mount.to_string_lossy().to_string();
        let filled = if fault == "disk full" {
            fill(&mount)
        } else {
            // The kernel refuses to remount read-only while sled holds files
            // open for writing, so the node meets the read-only directory
            // when it (re)starts.
            cluster.kill(victim);
            if let Err(e) = run_cmd(&["mount", "-o", "remount,ro", &mount_text]) {
                report.check(false, format!("cannot remount read-only: {e}"));
                continue;
            }
            cluster.start(victim);
            0
        };
        faults += 1;
        // The others are a quorum: they go on.
        let top = heights(&cluster, &others).into_iter().max().unwrap_or(0);
        report.check(
            recover(&cluster, &others, top + 3, Duration::from_secs(60)).is_some(),
            format!("{fault}: the others stalled"),
        );
        let exited = wait_exit(&mut cluster, victim, Duration::from_secs(30));
        let stuck = cluster.height(victim);
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let new_log = log.get(log_before..).unwrap_or("");
        let error_line = new_log
            .lines()
            .map(strip_ansi)
            .find(|l| {
                let l = l.to_lowercase();
                l.contains("error") || l.contains("panic")
            })
            .map(|l| l.chars().take(240).collect::<String>());
        say("disk", &format!(
            "{fault}: filler {filled} bytes; node {victim} at {height_at_fault} -> {stuck}, exit code {exited:?}, error: {error_line:?}"
        ));
        report.figure(
            &format!("{fault}: exit code"),
            exited
                .map(|c| format!("{c:?}"))
                .unwrap_or_else(|| "still running".into()),
        );
        report.figure(&format!("{fault}: error logged"), error_line.clone());
        // Either it stopped, or it kept running without deciding; in both
        // cases a person must be able to read why.
        report.check(
            exited.is_some() || stuck <= height_at_fault + 1,
            format!("{fault}: node {victim} went on deciding on a broken disk"),
        );
        report.check(
            error_line.is_some(),
            format!("{fault}: node {victim} logged no error"),
        );
        // Space comes back; restart the node and it must catch up.
        cluster.kill(victim);
        let _ = std::fs::remove_file(mount.join("filler"));
        let _ = run_cmd(&["mount", "-o", "remount,rw", &mount_text]);
        let restart = Instant::now();
        cluster.start(victim);
        let target = cluster.height(others[0]);
        match recover(&cluster, &[victim], target, Duration::from_secs(90)) {
            Some(_) => recover_max = recover_max.max(restart.elapsed().as_secs_f64()),
            None => report.check(
                false,
                format!(
                    "{fault}: node {victim} did not recover to {target}\n{}",
                    cluster.logs_tail(20)
                ),
            ),
        }
    }
    stop.store(true, Ordering::SeqCst);
    for l in loaders {
        let _ = l.join();
    }
    let up_to = heights(&cluster, &all).into_iter().max().unwrap_or(0) + 1;
    report.check(
        recover(&cluster, &all, up_to, Duration::from_secs(60)).is_some(),
        format!("not every node reached {up_to}"),
    );
    let book = take_book(&book);
    check_chain(&mut report, &cluster, &all, up_to, &book);
    report.figure("disk_faults_recovered", faults);
    report.figure("recover_seconds_max", (recover_max * 10.0).round() / 10.0);
    drop(cluster);
    report
}

/// Flood drill: hostile clients that are not on the ledger hammer validator
/// 0 — raw TCP connections to its peer port that send garbage instead of a
/// noise handshake, and HTTP clients that post malformed, forged and
/// duplicate transactions as fast as they can. The node must close the
/// garbage connections, refuse the requests, keep answering its status and
/// keep deciding; the chain must stay whole.
fn flood(options: &Options) -> Report {
    use std::io::{Read, Write};
    let mut report = Report::new("flood");
    let validators = 4;
    let mut cluster = Cluster::generate(validators, 0);
    cluster.start_all();
    let all: Vec<usize> = (0..validators).collect();
    if !network_started(&mut report, &cluster, &all) {
        return report;
    }
    let p2p_port: u16 = cluster.nodes[0]
        .rpc
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .map(|p| p - 1)
        .unwrap_or(0);
    let rpc = cluster.nodes[0].rpc.clone();
    let key = read_key(&cluster.nodes[0].dir.join("authority.key"));
    let stop = Arc::new(AtomicBool::new(false));
    let closed_by_node = Arc::new(AtomicU64::new(0));
    let garbage_bytes = Arc::new(AtomicU64::new(0));
    let http_refused = Arc::new(AtomicU64::new(0));
    let http_accepted = Arc::new(AtomicU64::new(0));
    let mut flooders = Vec::new();
    for t in 0..4u64 {
        let (stop, closed, bytes) = (stop.clone(), closed_by_node.clone(), garbage_bytes.clone());
        let mut rng = Rng::new(options.seed ^ (t + 100));
        flooders.push(std::thread::spawn(move || {
            let mut chunk = vec![0u8; 16 * 1024];
            while !stop.load(Ordering::SeqCst) {
                let Ok(mut socket) = std::net::TcpStream::connect(("127.0.0.1", p2p_port)) else {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                };
                let _ = socket.set_write_timeout(Some(Duration::from_secs(2)));
                let _ = socket.set_read_timeout(Some(Duration::from_millis(10)));
                // Bounded per connection: a few MiB, then a new connection.
                for _ in 0..256 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    for b in chunk.iter_mut() {
                        *b = rng.next_u64() as u8;
                    }
                    match socket.write(&chunk) {
                        Ok(n) if n > 0 => {
                            bytes.fetch_add(n as u64, Ordering::SeqCst);
                        }
                        _ => {
                            closed.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                    }
                    let mut sink = [0u8; 1024];
                    if let Ok(0) = socket.read(&mut sink) {
                        closed.fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                }
            }
        }));
    }
    for t in 0..3u64 {
        let (stop, refused, accepted, rpc, key) = (
            stop.clone(),
            http_refused.clone(),
            http_accepted.clone(),
            rpc.clone(),
            key.clone(),
        );
        let mut rng = Rng::new(options.seed ^ (t + 200));
        flooders.push(std::thread::spawn(move || {
            let client = http(Duration::from_secs(5));
            let valid = certificate_tx(&key, 90_000_000 + t, TESTNET_CHAIN_ID);
            let mut forged = valid.clone();
            forged.tx.nonce += 1;
            while !stop.load(Ordering::SeqCst) {
                let body = match rng.below(4) {
                    0 => "{\"tx_hex\":".to_string(),
                    1 => json!({ "tx_hex": hex::encode(kp_types::encode(&forged)) }).to_string(),
                    2 => json!({ "tx_hex": hex::encode((0..200).map(|_| rng.next_u64() as u8).collect::<Vec<u8>>()) })
                        .to_string(),
                    _ => json!({ "tx_hex": hex::encode(kp_types::encode(&valid)) }).to_string(),
                };
                let answer = client
                    .post(format!("http://{rpc}/v1/txs"))
                    .header("content-type", "application/json")
                    .body(body)
                    .send();
                match answer.map(|r| r.status().as_u16()) {
                    Ok(200..=299) => accepted.fetch_add(1, Ordering::SeqCst),
                    _ => refused.fetch_add(1, Ordering::SeqCst),
                };
            }
        }));
    }
    let (book, loaders) = start_load(
        cluster.nodes.iter().map(|n| n.rpc.clone()).collect(),
        key,
        2,
        options.seed,
        stop.clone(),
    );
    let start_height = cluster.height(1);
    let deadline = Instant::now()
        + Duration::from_secs(if options.quick {
            15
        } else {
            options.seconds.min(120)
        });
    let mut status_ms_max = 0u128;
    let mut status_failures = 0u64;
    while Instant::now() < deadline {
        let asked = Instant::now();
        match cluster.status(0) {
            Some(_) => status_ms_max = status_ms_max.max(asked.elapsed().as_millis()),
            None => status_failures += 1,
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let flooded_height = cluster.height(0);
    stop.store(true, Ordering::SeqCst);
    for f in flooders.into_iter().chain(loaders) {
        let _ = f.join();
    }
    let end_height = all.iter().map(|&i| cluster.height(i)).max().unwrap_or(0);
    report.check(
        flooded_height >= start_height + 5,
        format!("the flooded node fell behind: {start_height} -> {flooded_height}"),
    );
    report.check(
        status_failures <= 1,
        format!("status unanswered {status_failures} times under flood"),
    );
    report.check(
        cluster.nodes[0]
            .child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None))),
        "the flooded node died",
    );
    report.check(
        closed_by_node.load(Ordering::SeqCst) > 0,
        "the node never closed a garbage connection",
    );
    let up_to = end_height + 1;
    report.check(
        recover(&cluster, &all, up_to, Duration::from_secs(60)).is_some(),
        format!("not every node reached {up_to}"),
    );
    let book = take_book(&book);
    check_chain(&mut report, &cluster, &all, up_to, &book);
    report.figure(
        "garbage_connections_closed_by_node",
        closed_by_node.load(Ordering::SeqCst),
    );
    report.figure(
        "garbage_mib_sent",
        garbage_bytes.load(Ordering::SeqCst) / (1 << 20),
    );
    report.figure("hostile_http_refused", http_refused.load(Ordering::SeqCst));
    report.figure(
        "hostile_http_accepted",
        http_accepted.load(Ordering::SeqCst),
    );
    report.figure("status_ms_max", status_ms_max as u64);
    report.figure(
        "blocks_during_flood",
        flooded_height.saturating_sub(start_height),
    );
    report
}

fn run_drill(name: &str, options: &Options) -> Report {
    say(name, &format!("start (seed {})", options.seed));
    let options = options.clone();
    let drill = name.to_string();
    // A panic in a drill (a harness assertion) is a failure of that drill,
    // not of the run: the summary line must still be printed.
    let outcome = std::panic::catch_unwind(move || match drill.as_str() {
        "crash" => crash(&options),
        "partition" => partition(&options),
        "disk" => disk(&options),
        "clock" => clock(&options),
        "flood" => flood(&options),
        other => {
            let mut r = Report::new(other);
            r.check(false, format!("no drill named {other}"));
            r
        }
    });
    outcome.unwrap_or_else(|panic| {
        let mut r = Report::new(name);
        let text = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".to_string());
        r.check(false, format!("drill panicked: {text}"));
        r
    })
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "drills: seed {} ({}), {} s per drill; repeat with --seed {}",
        options.seed,
        if options.quick { "quick" } else { "full" },
        options.seconds,
        options.seed
    );
    let started = Instant::now();
    let mut summaries = Vec::new();
    let mut pass = true;
    for name in &options.drills {
        let report = run_drill(name, &options);
        let ok = report.failures.is_empty();
        pass &= ok;
        let verdict = match (&report.skipped, ok) {
            (Some(why), true) => format!("skipped: {why}"),
            (_, true) => "pass".to_string(),
            (_, false) => "FAIL".to_string(),
        };
        println!(
            "{}: {verdict} {}",
            report.name,
            Value::Object(report.figures.clone())
        );
        summaries.push(json!({
            "drill": report.name,
            "pass": ok,
            "skipped": report.skipped,
            "figures": report.figures,
            "failures": report.failures,
        }));
    }
    println!(
        "{}",
        json!({
            "pass": pass,
            "seed": options.seed,
            "quick": options.quick,
            "seconds": started.elapsed().as_secs(),
            "drills": summaries,
        })
    );
    if pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
