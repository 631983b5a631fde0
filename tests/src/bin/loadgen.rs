//! `loadgen`: the load generator behind `scripts/bench`.
//!
//! Modes (each prints one JSON object as its last stdout line):
//!
//! * `loadgen ceiling [--secs S]` — the physical ceiling's input: ed25519
//!   batch verifications per second on every core of this machine
//!   (`kp_types::verify_batch` on batches of 64), measured now, so that every
//!   benchmark is compared with the machine as it is during that run.
//! * `loadgen ingest --validators N --observers M [...]` — builds a local
//!   network with the real `kpledger testnet`, starts every node, pre-signs
//!   distinct BW→EU certificates with Botswana's authority key, submits them
//!   round-robin to every node over HTTP (`POST /v1/txs`, `wait=false`), and
//!   times each certificate from the start of its submission to the moment
//!   node 0 reports the block that decided it (its `/v1/events` stream, then
//!   the block itself to learn which transactions it holds). Also reports CPU
//!   seconds and peak memory of each node (from `/proc`), store bytes per
//!   certificate, and whether the observer kept up.
//!   With `--info-file F` the network stays up after the run (for the query
//!   benchmark) until `F` is deleted.
//!
//! * `loadgen catchup --certs N [--block-certs B]` — the catch-up benchmark
//!   on a chain of N certificates built without the network: a 2-validator
//!   (BW, EU) + 1-observer testnet is generated, validator 0's store is
//!   written directly with the library crates (blocks of B BW→EU
//!   certificates signed with Botswana's authority key, each applied by
//!   `kp_ledger::Ledger::apply_block` and stored with a commit certificate
//!   signed by every validator key, exactly as a node stores a decided
//!   block), copied to validator 1, both validators started (they continue
//!   from the stored height), then the observer is started and timed until
//!   it reports the validators' height. Building through the network runs
//!   at the ingest rate (hundreds of certificates per second); this runs at
//!   the ledger's apply rate.
//!
//! Pre-signing happens before the clock starts, so the figures measure the
//! network, not the client's signing. The submission window (submitted but not
//! yet decided) is bounded so that the pools of the nodes never overflow; with
//! `--rate` the submissions are also paced (open loop), which is how the
//! latency targets are measured.

#![recursion_limit = "256"]

use kp_e2e::Cluster;
use kp_types::tx::{Payload, Transaction};
use kp_types::{
    Block, Hash, PublicKey, Signature, SignedTransaction, SigningKey, Timestamp, TxHash,
};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Json = serde_json::Value;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(mode) = args.first() else {
        eprintln!("usage: loadgen ceiling|ingest|catchup [options]");
        std::process::exit(2);
    };
    let opts = Opts::parse(&args[1..]);
    let out = match mode.as_str() {
        "ceiling" => ceiling(opts.get_f64("secs", 3.0)),
        "ingest" => ingest(&opts),
        "catchup" => catchup(&opts),
        other => {
            eprintln!("unknown mode {other}");
            std::process::exit(2);
        }
    };
    println!("{out}");
}

/// `--key value` pairs and `--flag`s.
struct Opts(BTreeMap<String, String>);

impl Opts {
    fn parse(args: &[String]) -> Opts {
        let mut map = BTreeMap::new();
        let mut i = 0;
        while i < args.len() {
            let key = args[i].trim_start_matches("--").to_string();
            if i + 1 < args.len() && !args[i + 1].starts_with("--") {
                map.insert(key, args[i + 1].clone());
                i += 2;
            } else {
                map.insert(key, "true".to_string());
                i += 1;
            }
        }
        Opts(map)
    }
    fn get_u64(&self, key: &str, default: u64) -> u64 {
        self.0
            .get(key)
            .map(|v| v.parse().expect("a whole number"))
            .unwrap_or(default)
    }
    fn get_f64(&self, key: &str, default: f64) -> f64 {
        self.0
            .get(key)
            .map(|v| v.parse().expect("a number"))
            .unwrap_or(default)
    }
    fn flag(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Batch verifications of 64 signatures on every core for `secs` seconds.
fn ceiling(secs: f64) -> Json {
    const BATCH: usize = 64;
    let threads = cores();
    let load_before = loadavg();
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                // Distinct keys and messages, as in a block of certificates
                // from many authorities.
                let items: Vec<(PublicKey, Hash, Signature)> = (0..BATCH)
                    .map(|i| {
                        let mut seed = [0u8; 32];
                        seed[0] = t as u8;
                        seed[1] = i as u8;
                        seed[2] = 7;
                        let key = SigningKey::from_seed(seed);
                        let msg = Hash::of(
                            kp_types::Domain::Transaction,
                            format!("bench {t} {i}").as_bytes(),
                        );
                        (key.public(), msg, key.sign(&msg))
                    })
                    .collect();
                let started = Instant::now();
                let mut done = 0u64;
                while Instant::now() < deadline {
                    kp_types::verify_batch(&items).expect("valid batch");
                    done += BATCH as u64;
                }
                (done, started.elapsed().as_secs_f64())
            })
        })
        .collect();
    let mut total = 0.0;
    for h in handles {
        let (done, elapsed) = h.join().expect("ceiling thread");
        total += done as f64 / elapsed;
    }
    serde_json::json!({
        "mode": "ceiling",
        "threads": threads,
        "batch": BATCH,
        "batch_verify_per_s": total.round(),
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
    })
}

/// CPU seconds (user + system) of a process, from `/proc/PID/stat`.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name may hold spaces; fields after its closing parenthesis.
    let Some(rest) = text.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime 15.
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    ticks as f64 / 100.0
}

/// Peak resident memory (`VmHWM`) of a process in bytes.
fn peak_rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `count` distinct signed certificate issues BW→EU.
fn presign(key: &SigningKey, count: usize, run: u64) -> Vec<(TxHash, SignedTransaction)> {
    let now = now_ms();
    let today = Timestamp(now).date();
    let authority = kp_types::AuthorityId::new("BW-KPA").expect("valid id");
    (0..count)
        .map(|i| {
            // Numbers unique within a run; `run` keeps runs on one network apart.
            let mut cert =
                kp_ledger::testkit::certificate(&format!("BW{run:02}{i:07}"), "BW", "EU", today);
            cert.issuing_authority = authority.clone();
            let stx = Transaction {
                chain_id: kp_e2e::TESTNET_CHAIN_ID.to_string(),
                signer: key.public(),
                nonce: now * 1000 + i as u64,
                expires_at: Timestamp(now + 30 * 60 * 1000),
                payload: Payload::IssueCertificate(cert),
            }
            .sign(key);
            (stx.hash(), stx)
        })
        .collect()
}

/// What the watcher learned about decided transactions.
#[derive(Default)]
struct Decided {
    /// Submission start of each transaction in flight.
    submitted_at: BTreeMap<TxHash, Instant>,
    /// Submission-to-decision latency in ms of each decided load transaction.
    latencies_ms: Vec<f64>,
    rejected: u64,
    last_decision: Option<Instant>,
    blocks: u64,
    max_block_txs: usize,
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()
        .expect("http client")
}

/// Follows node `rpc`'s block events; for each block fetches it and records
/// the latency of every load transaction it holds.
fn watch(
    rpc: String,
    decided: Arc<Mutex<Decided>>,
    decided_count: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) {
    let client = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .expect("http client");
    let fetch = http();
    let resp = client
        .get(format!("http://{rpc}/v1/events?kinds=block"))
        .send()
        .expect("events stream");
    let mut reader = BufReader::new(resp);
    let mut line = String::new();
    while !stop.load(Ordering::Relaxed) {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let Some(data) = line.strip_prefix("data:") else {
            continue;
        };
        let seen = Instant::now();
        let Ok(event) = serde_json::from_str::<Json>(data.trim()) else {
            continue;
        };
        let Some(height) = event["height"].as_u64() else {
            continue;
        };
        let rejected = event["rejected"].as_u64().unwrap_or(0);
        let Some(block) = fetch
            .get(format!("http://{rpc}/v1/blocks/{height}"))
            .send()
            .ok()
            .and_then(|r| r.json::<Json>().ok())
            .and_then(|j| serde_json::from_value::<Block>(j["block"].clone()).ok())
        else {
            eprintln!("loadgen: block {height} not readable");
            continue;
        };
        let mut d = decided.lock().expect("lock");
        d.blocks += 1;
        d.max_block_txs = d.max_block_txs.max(block.txs.len());
        d.rejected += rejected;
        let mut n = 0;
        for stx in &block.txs {
            if let Some(at) = d.submitted_at.remove(&stx.hash()) {
                d.latencies_ms
                    .push(seen.duration_since(at).as_secs_f64() * 1000.0);
                n += 1;
            }
        }
        if n > 0 {
            d.last_decision = Some(seen);
        }
        drop(d);
        decided_count.fetch_add(n, Ordering::Relaxed);
    }
}

fn ingest(opts: &Opts) -> Json {
    let validators = opts.get_u64("validators", 4) as usize;
    let observers = opts.get_u64("observers", 1) as usize;
    let certs = opts.get_u64("certs", 20_000) as usize;
    let secs = opts.get_f64("secs", 20.0);
    let window = opts.get_u64("window", 8_000);
    let rate = opts.get_f64("rate", 0.0);
    let threads = opts.get_u64("threads", 32) as usize;
    // Transactions per request: 1 posts each to /v1/txs as JSON; more posts
    // them together to /v1/txs/batch.
    let batch = (opts.get_u64("batch", 1) as usize).clamp(1, kp_rpc::BATCH_TXS_MAX);
    let drain_secs = opts.get_f64("drain-secs", 30.0);

    // Ceiling first, before any node runs, so that it measures the machine
    // and not the idle network.
    let ceiling = ceiling(opts.get_f64("ceiling-secs", 3.0));
    let batch_rate = ceiling["batch_verify_per_s"].as_f64().unwrap_or(0.0);
    let nodes = validators + observers;
    let ceiling_tps = batch_rate / nodes as f64;

    // With --late-observer the last node (an observer) starts only after the
    // load, and the time it takes to sync and verify the chain is the
    // catch-up benchmark.
    let late = opts.flag("late-observer");
    let first_late = if late { nodes - 1 } else { nodes };
    let startup_timeout = Duration::from_secs(60 + 5 * nodes as u64);
    let mut attempt = 0;
    let started_up = Instant::now();
    // Other processes on the machine may take a port between the check and
    // the bind (the node then exits): start again on other ports.
    let mut cluster = loop {
        attempt += 1;
        let mut cluster = Cluster::generate(validators, observers);
        for i in 0..first_late {
            cluster.start(i);
        }
        let up = kp_e2e::wait_until(startup_timeout, || {
            (0..first_late).all(|i| cluster.height(i) >= 2)
        });
        // Another test's network may answer on a port our node failed to
        // bind: every node we started must still be running.
        std::thread::sleep(Duration::from_millis(500));
        let all_alive = (0..first_late).all(|i| {
            cluster.nodes[i]
                .child
                .as_mut()
                .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
        });
        if up && all_alive {
            break cluster;
        }
        let dead = (0..first_late)
            .filter(|&i| {
                cluster.nodes[i]
                    .child
                    .as_mut()
                    .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))))
            })
            .count();
        eprintln!("loadgen: network did not start (attempt {attempt}, {dead} nodes exited)");
        if attempt >= 3 {
            eprintln!("{}", cluster.logs_tail(20));
            std::process::exit(1);
        }
    };
    let startup_s = started_up.elapsed().as_secs_f64();
    eprintln!("loadgen: {nodes} nodes up in {startup_s:.1}s");

    let key = kp_e2e::read_key(&cluster.nodes[0].dir.join("authority.key"));
    let signed_at = Instant::now();
    let bodies = Arc::new(presign(&key, certs, 1));
    let presign_s = signed_at.elapsed().as_secs_f64();

    let decided = Arc::new(Mutex::new(Decided::default()));
    let decided_count = Arc::new(AtomicU64::new(0));
    let stop_watch = Arc::new(AtomicBool::new(false));
    let watcher = {
        let rpc = cluster.nodes[0].rpc.clone();
        let (d, c, s) = (decided.clone(), decided_count.clone(), stop_watch.clone());
        std::thread::spawn(move || watch(rpc, d, c, s))
    };
    std::thread::sleep(Duration::from_millis(300));

    let pids: Vec<u32> = cluster
        .nodes
        .iter()
        .map(|n| n.child.as_ref().map(|c| c.id()).unwrap_or(0))
        .collect();
    let data_dirs: Vec<_> = cluster.nodes.iter().map(|n| n.dir.join("data")).collect();
    let disk_before: Vec<u64> = data_dirs.iter().map(|d| dir_bytes(d)).collect();
    let cpu_before: Vec<f64> = pids.iter().map(|&p| cpu_seconds(p)).collect();
    let height_before = cluster.height(0);
    let load_start = loadavg();

    let rpcs: Arc<Vec<String>> = Arc::new(
        cluster.nodes[..first_late]
            .iter()
            .map(|n| n.rpc.clone())
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let submitted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let retried = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let submit_deadline = t0 + Duration::from_secs_f64(secs);
    let submitters: Vec<_> = (0..threads)
        .map(|_| {
            let (bodies, rpcs, next) = (bodies.clone(), rpcs.clone(), next.clone());
            let (submitted, refused, retried) =
                (submitted.clone(), refused.clone(), retried.clone());
            let (decided, decided_count) = (decided.clone(), decided_count.clone());
            std::thread::spawn(move || {
                let client = http();
                loop {
                    if Instant::now() >= submit_deadline {
                        break;
                    }
                    // Bounded window: never more than `window` undecided.
                    if submitted.load(Ordering::Relaxed)
                        >= decided_count.load(Ordering::Relaxed) + window
                    {
                        std::thread::sleep(Duration::from_millis(2));
                        continue;
                    }
                    let i = next.fetch_add(batch, Ordering::Relaxed);
                    if i >= bodies.len() {
                        break;
                    }
                    let end = (i + batch).min(bodies.len());
                    if rate > 0.0 {
                        let due = t0 + Duration::from_secs_f64(i as f64 / rate);
                        let now = Instant::now();
                        if due > now {
                            std::thread::sleep(due - now);
                        }
                    }
                    let chunk = &bodies[i..end];
                    let rpc = &rpcs[(i / batch) % rpcs.len()];
                    let at = Instant::now();
                    {
                        let mut d = decided.lock().expect("lock");
                        for (hash, _) in chunk {
                            d.submitted_at.insert(*hash, at);
                        }
                    }
                    // Positions in `chunk` not yet accepted or refused; those
                    // refused with 503 (pool or queue full) are sent again.
                    let mut pending: Vec<usize> = (0..chunk.len()).collect();
                    let mut attempts = 0;
                    while !pending.is_empty() {
                        attempts += 1;
                        let result = if batch == 1 {
                            let body = serde_json::json!({
                                "tx_hex": hex::encode(kp_types::encode(&chunk[pending[0]].1)),
                                "wait": false,
                            })
                            .to_string();
                            client
                                .post(format!("http://{rpc}/v1/txs"))
                                .header("content-type", "application/json")
                                .body(body)
                                .send()
                        } else {
                            let txs: Vec<&SignedTransaction> =
                                pending.iter().map(|&k| &chunk[k].1).collect();
                            client
                                .post(format!("http://{rpc}/v1/txs/batch"))
                                .header("content-type", "application/octet-stream")
                                .body(kp_types::encode(&txs))
                                .send()
                        };
                        // Per pending transaction: (status, detail when refused).
                        let outcome: Vec<(u16, Option<String>)> = match result {
                            Ok(r) if batch > 1 && r.status().as_u16() == 200 => {
                                match r.json::<kp_rpc::BatchSubmitted>() {
                                    Ok(answer) if answer.results.len() == pending.len() => answer
                                        .results
                                        .iter()
                                        .map(|item| {
                                            let detail = item.error.as_ref().map(|e| {
                                                format!("{} {}: {}", item.status, e.code, e.message)
                                            });
                                            (item.status, detail)
                                        })
                                        .collect(),
                                    Ok(_) => vec![
                                        (0, Some("answer of the wrong length".into()));
                                        pending.len()
                                    ],
                                    Err(e) => vec![(0, Some(e.to_string())); pending.len()],
                                }
                            }
                            Ok(r) if r.status().as_u16() == 202 || r.status().as_u16() == 200 => {
                                vec![(202, None); pending.len()]
                            }
                            Ok(r) => {
                                let status = r.status().as_u16();
                                let detail = format!("{status} {}", r.text().unwrap_or_default());
                                vec![(status, Some(detail)); pending.len()]
                            }
                            Err(e) => vec![(0, Some(e.to_string())); pending.len()],
                        };
                        let mut again = Vec::new();
                        for (&k, (status, detail)) in pending.iter().zip(outcome) {
                            match detail {
                                None => {
                                    submitted.fetch_add(1, Ordering::Relaxed);
                                }
                                Some(_) if status == 503 && attempts < 50 => again.push(k),
                                Some(detail) => {
                                    if refused.fetch_add(1, Ordering::Relaxed) < 5 {
                                        eprintln!("loadgen: submission refused: {detail}");
                                    }
                                    decided
                                        .lock()
                                        .expect("lock")
                                        .submitted_at
                                        .remove(&chunk[k].0);
                                }
                            }
                        }
                        if !again.is_empty() {
                            retried.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        pending = again;
                    }
                }
            })
        })
        .collect();
    for s in submitters {
        s.join().expect("submitter");
    }
    let submit_s = t0.elapsed().as_secs_f64();
    let submitted_n = submitted.load(Ordering::Relaxed);
    eprintln!("loadgen: submitted {submitted_n} in {submit_s:.1}s; draining");
    let drain_deadline = Instant::now() + Duration::from_secs_f64(drain_secs);
    while decided_count.load(Ordering::Relaxed) < submitted_n && Instant::now() < drain_deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let cpu_after: Vec<f64> = pids.iter().map(|&p| cpu_seconds(p)).collect();
    let peak: Vec<u64> = pids.iter().map(|&p| peak_rss(p)).collect();
    let load_end = loadavg();
    let height_after = cluster.height(0);
    // Let the observer apply the last gossiped block before comparing.
    let observer = nodes - 1;
    let mut catchup = serde_json::Value::Null;
    let caught_up = if late {
        let chain_certs = decided_count.load(Ordering::Relaxed);
        let started = Instant::now();
        cluster.start(observer);
        let ok = kp_e2e::wait_until(
            Duration::from_secs_f64(opts.get_f64("catchup-timeout", 1800.0)),
            || cluster.height(observer) >= height_after,
        );
        let s = started.elapsed().as_secs_f64();
        let pid = cluster.nodes[observer]
            .child
            .as_ref()
            .map(|c| c.id())
            .unwrap_or(0);
        catchup = serde_json::json!({
            "height": height_after,
            "chain_certs": chain_certs,
            "catchup_s": (s * 100.0).round() / 100.0,
            "catchup_certs_per_s": (chain_certs as f64 / s).round(),
            "observer_cpu_s": cpu_seconds(pid),
            "observer_peak_rss_mb": (peak_rss(pid) as f64 / 1048576.0).round(),
            "complete": ok,
        });
        ok
    } else {
        kp_e2e::wait_until(Duration::from_secs(15), || {
            cluster.height(observer) >= height_after
        })
    };
    let disk_after: Vec<u64> = data_dirs.iter().map(|d| dir_bytes(d)).collect();
    // A node that exited during the run invalidates it: say which, with its log.
    let mut exited = Vec::new();
    for (i, node) in cluster.nodes.iter_mut().enumerate() {
        if let Some(Ok(Some(status))) = node.child.as_mut().map(|c| c.try_wait()) {
            exited.push(serde_json::json!({ "node": i, "status": status.to_string() }));
            let log = std::fs::read_to_string(node.dir.join("node.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            eprintln!("loadgen: node {i} exited ({status}); log tail:");
            for line in tail.iter().rev() {
                eprintln!("  {line}");
            }
        }
    }
    let heights_end: Vec<u64> = (0..nodes).map(|i| cluster.height(i)).collect();
    stop_watch.store(true, Ordering::Relaxed);

    let d = decided.lock().expect("lock");
    let decided_n = d.latencies_ms.len() as u64;
    let elapsed = d
        .last_decision
        .map(|t| t.duration_since(t0).as_secs_f64())
        .unwrap_or(f64::NAN);
    let mut lat = d.latencies_ms.clone();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let accepted = decided_n.saturating_sub(d.rejected);
    let certs_per_s = accepted as f64 / elapsed;
    let cpu: Vec<f64> = cpu_before
        .iter()
        .zip(&cpu_after)
        .map(|(a, b)| ((b - a) * 100.0).round() / 100.0)
        .collect();
    let cpu_total: f64 = cpu.iter().sum();
    let disk_per_cert: Vec<f64> = disk_before
        .iter()
        .zip(&disk_after)
        .map(|(a, b)| (b.saturating_sub(*a) as f64 / accepted.max(1) as f64).round())
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let result = serde_json::json!({
        "mode": "ingest",
        "validators": validators,
        "observers": observers,
        "nodes": nodes,
        "cores": cores(),
        "rate_target": rate,
        "window": window,
        "threads": threads,
        "batch": batch,
        "startup_s": (startup_s * 10.0).round() / 10.0,
        "presign_s": (presign_s * 100.0).round() / 100.0,
        "submitted": submitted_n,
        "refused": refused.load(Ordering::Relaxed),
        "retried_503": retried.load(Ordering::Relaxed),
        "decided": decided_n,
        "rejected": d.rejected,
        "blocks": d.blocks,
        "max_block_txs": d.max_block_txs,
        "heights": [height_before, height_after],
        "submit_s": (submit_s * 100.0).round() / 100.0,
        "elapsed_s": (elapsed * 100.0).round() / 100.0,
        "certs_per_s": certs_per_s.round(),
        "batch_verify_per_s": batch_rate,
        "ceiling_certs_per_s": ceiling_tps.round(),
        "ceiling_fraction": ((certs_per_s / ceiling_tps) * 1000.0).round() / 1000.0,
        "p50_ms": percentile(&lat, 50.0).round(),
        "p90_ms": percentile(&lat, 90.0).round(),
        "p99_ms": percentile(&lat, 99.0).round(),
        "max_ms": lat.last().copied().unwrap_or(f64::NAN).round(),
        "cpu_s_per_node": cpu,
        "cpu_s_total": (cpu_total * 100.0).round() / 100.0,
        "cpu_us_per_cert_per_node": (cpu_total / nodes as f64 / accepted.max(1) as f64 * 1e6).round(),
        "peak_rss_mb_per_node": peak.iter().map(|b| (*b as f64 / 1048576.0).round()).collect::<Vec<_>>(),
        "peak_rss_mb_max": (peak.iter().copied().max().unwrap_or(0) as f64 / 1048576.0).round(),
        "disk_bytes_per_cert_per_node": disk_per_cert,
        "disk_bytes_per_cert_mean": mean(&disk_per_cert).round(),
        "observer_caught_up": caught_up,
        "exited_nodes": exited,
        "heights_end": heights_end,
        "catchup": catchup,
        "loadavg_start": load_start,
        "loadavg_end": load_end,
        "ceiling": ceiling,
    });
    drop(d);
    if let Some(info_file) = opts.0.get("info-file") {
        // Leave the network up for the query benchmarks: say where it is,
        // then wait until the caller deletes the file (bounded: one hour).
        let info = serde_json::json!({
            "rpc": *rpcs,
            "sample_tx": bodies.first().map(|(h, _)| h.to_hex()),
            "sample_certificate": "BW010000000",
            "result": result,
        });
        std::fs::write(info_file, info.to_string()).expect("write info file");
        let until = Instant::now() + Duration::from_secs(3600);
        while Path::new(info_file).exists() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let _ = watcher;
    drop(cluster);
    result
}

/// Writes a chain of `certs` BW→EU certificates in blocks of `block_certs`
/// into the store at `data_dir` of the network whose genesis is at
/// `genesis_path`, certified by `validator_keys`, signed by `authority_key`.
/// Returns the chain's height. Signing runs on another thread, bounded a few
/// blocks ahead of the ledger.
fn build_chain(
    genesis_path: &Path,
    data_dir: &Path,
    validator_keys: &[SigningKey],
    authority_key: &SigningKey,
    certs: usize,
    block_certs: usize,
) -> u64 {
    use kp_ledger::{Genesis, Ledger, WriteSet};
    use kp_storage::{BlockStore, SledStore, StagingStore};
    use kp_types::consensus::CommitSignature;
    use kp_types::{CommitCertificate, SignedTransaction};
    // Blocks per durable store commit (a syncing node commits about 4,000
    // certificates at once; sled's memory per batch grows with its keys).
    let blocks_per_commit = (4_000 / block_certs.max(1)).max(1) as u64;

    let genesis = Genesis::from_toml(&std::fs::read_to_string(genesis_path).expect("genesis"))
        .expect("valid genesis");
    let genesis_time = genesis.genesis_time;
    let chain_id = genesis.chain_id.clone();
    let store = SledStore::open(data_dir).expect("open the store");
    let mut ledger = Ledger::open(&genesis, StagingStore::new(store)).expect("open the ledger");
    assert_eq!(ledger.height(), 0, "building a chain needs an empty store");

    let (blocks_tx, blocks_rx) = std::sync::mpsc::sync_channel::<Vec<SignedTransaction>>(4);
    let signer = {
        let key = authority_key.clone();
        let chain_id = chain_id.clone();
        std::thread::spawn(move || {
            let today = genesis_time.date();
            let authority = kp_types::AuthorityId::new("BW-KPA").expect("valid id");
            let mut made = 0usize;
            while made < certs {
                let count = block_certs.min(certs - made);
                let txs = (made..made + count)
                    .map(|i| {
                        let mut cert = kp_ledger::testkit::certificate(
                            &format!("BW{i:09}"),
                            "BW",
                            "EU",
                            today,
                        );
                        cert.issuing_authority = authority.clone();
                        Transaction {
                            chain_id: chain_id.clone(),
                            signer: key.public(),
                            nonce: i as u64,
                            // Block times stay within seconds of genesis.
                            expires_at: genesis_time.plus_ms(30 * 60 * 1000),
                            payload: Payload::IssueCertificate(cert),
                        }
                        .sign(&key)
                    })
                    .collect();
                made += count;
                if blocks_tx.send(txs).is_err() {
                    break;
                }
            }
        })
    };

    let mut validators: Vec<&SigningKey> = validator_keys.iter().collect();
    validators.sort_by_key(|k| k.public());
    let started = Instant::now();
    let mut applied_certs = 0usize;
    let mut late = WriteSet::default();
    ledger.store().stage().expect("stage");
    for txs in blocks_rx {
        let height = ledger.height() + 1;
        let mut block = Block {
            header: ledger.next_header(
                validators[(height as usize) % validators.len()].public(),
                genesis_time.plus_ms(height),
                Hash::ZERO,
            ),
            txs,
        };
        block.header.txs_root = block.compute_txs_root();
        let mut certificate = CommitCertificate {
            chain_id: chain_id.clone(),
            height,
            round: 0,
            block_hash: block.hash(),
            signatures: vec![],
        };
        for key in &validators {
            let vote = certificate.precommit_for(key.public()).sign(key);
            certificate.signatures.push(CommitSignature {
                validator: key.public(),
                signature: vote.signature,
            });
        }
        let writes = BlockStore::try_block_writes(&block, &certificate, &[]).expect("block writes");
        let receipt = ledger.apply_block(&block, writes).expect("apply the block");
        let refused = receipt
            .receipts
            .iter()
            .filter(|r| r.result.is_err())
            .count();
        assert_eq!(
            refused, 0,
            "block {height}: the ledger refused {refused} certificates"
        );
        late.extend(
            BlockStore::receipts_writes(height, &kp_types::encode(&receipt.receipts))
                .expect("receipts writes"),
        );
        applied_certs += block.txs.len();
        if height.is_multiple_of(blocks_per_commit) {
            ledger
                .store()
                .commit_staged(std::mem::take(&mut late))
                .expect("commit");
            ledger.store().stage().expect("stage");
            let s = started.elapsed().as_secs_f64();
            if height.is_multiple_of(blocks_per_commit * 25) {
                eprintln!(
                    "loadgen: chain at height {height}, {applied_certs} certificates, {:.0}/s",
                    applied_certs as f64 / s
                );
            }
        }
    }
    ledger.store().commit_staged(late).expect("commit");
    signer.join().expect("signer thread");
    assert_eq!(applied_certs, certs);
    ledger.height()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// The catch-up benchmark on a pre-built chain (see the module docs).
fn catchup(opts: &Opts) -> Json {
    let certs = opts.get_u64("certs", 30_000) as usize;
    let block_certs = opts.get_u64("block-certs", 2_000) as usize;
    let validators = 2;
    let load_start = loadavg();
    let mut cluster = Cluster::generate(validators, 1);
    let net = cluster.nodes[0]
        .dir
        .parent()
        .expect("net dir")
        .to_path_buf();
    let validator_keys: Vec<SigningKey> = (0..validators)
        .map(|i| kp_e2e::read_key(&cluster.nodes[i].dir.join("node.key")))
        .collect();
    let authority = kp_e2e::read_key(&cluster.nodes[0].dir.join("authority.key"));
    let built_at = Instant::now();
    let chain_height = build_chain(
        &net.join("genesis.toml"),
        &cluster.nodes[0].dir.join("data"),
        &validator_keys,
        &authority,
        certs,
        block_certs,
    );
    let build_s = built_at.elapsed().as_secs_f64();
    let copied_at = Instant::now();
    for i in 1..validators {
        copy_dir(
            &cluster.nodes[0].dir.join("data"),
            &cluster.nodes[i].dir.join("data"),
        );
    }
    let copy_s = copied_at.elapsed().as_secs_f64();
    let store_bytes = dir_bytes(&cluster.nodes[0].dir.join("data"));
    eprintln!(
        "loadgen: chain of {certs} certificates, height {chain_height}, built in {build_s:.1}s, \
         {:.0} MB per copy, copied in {copy_s:.1}s",
        store_bytes as f64 / 1048576.0
    );
    for i in 0..validators {
        cluster.start(i);
    }
    // The validators continue the stored chain: empty blocks from here on.
    let up = kp_e2e::wait_until(Duration::from_secs(120), || {
        (0..validators).all(|i| cluster.height(i) > chain_height)
    });
    if !up {
        eprintln!("loadgen: the validators did not continue the chain");
        eprintln!("{}", cluster.logs_tail(20));
        std::process::exit(1);
    }
    let observer = validators;
    let target = (0..validators)
        .map(|i| cluster.height(i))
        .max()
        .unwrap_or(0);
    // One observer run per binary named (default: the one under test), each
    // from an empty store, so that binaries can be compared on one chain.
    let bins: Vec<std::path::PathBuf> = match opts.0.get("observer-bins") {
        Some(list) => list.split(',').map(std::path::PathBuf::from).collect(),
        None => vec![kp_e2e::kpledger_bin()],
    };
    let timeout = Duration::from_secs_f64(opts.get_f64("catchup-timeout", 1800.0));
    let runs: Vec<Json> = bins
        .iter()
        .map(|bin| observe(&cluster, observer, bin, target, certs, timeout))
        .collect();
    let result = serde_json::json!({
        "mode": "catchup",
        "validators": validators,
        "observers": 1,
        "cores": cores(),
        "block_certs": block_certs,
        "chain_build_s": (build_s * 10.0).round() / 10.0,
        "chain_copy_s": (copy_s * 10.0).round() / 10.0,
        "store_mb_per_copy": (store_bytes as f64 / 1048576.0).round(),
        "catchup": runs.first().cloned().unwrap_or(Json::Null),
        "runs": runs,
        "loadavg_start": load_start,
        "loadavg_end": loadavg(),
    });
    drop(cluster);
    result
}

/// Starts the observer node with `bin` on an empty store, times it until it
/// reports `target`, stops it and removes its store.
fn observe(
    cluster: &Cluster,
    observer: usize,
    bin: &Path,
    target: u64,
    certs: usize,
    timeout: Duration,
) -> Json {
    let node = &cluster.nodes[observer];
    let data = node.dir.join("data");
    let _ = std::fs::remove_dir_all(&data);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(node.dir.join("node.log"))
        .expect("open node log");
    let load_start = loadavg();
    let at = chrono_now();
    let started = Instant::now();
    let mut child = std::process::Command::new(bin)
        .args(["node", "--config"])
        .arg(node.dir.join("node.toml"))
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("clone log"))
        .stderr(log)
        .spawn()
        .expect("start the observer");
    // An observer that exits (say, a binary that refuses this configuration)
    // ends the run at once instead of after the timeout.
    let mut exited = None;
    let reached = kp_e2e::wait_until(timeout, || {
        if let Ok(Some(status)) = child.try_wait() {
            exited = Some(status);
            return true;
        }
        cluster.height(observer) >= target
    });
    let ok = reached && exited.is_none();
    let s = started.elapsed().as_secs_f64();
    let pid = child.id();
    if let Some(status) = exited {
        let log = std::fs::read_to_string(node.dir.join("node.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        eprintln!("loadgen: the observer exited ({status}); log tail:");
        for line in tail.iter().rev() {
            eprintln!("  {line}");
        }
    }
    let run = serde_json::json!({
        "exited": exited.map(|status| status.to_string()),
        "binary": bin.display().to_string(),
        "started_utc": at,
        "height": target,
        "chain_certs": certs,
        "catchup_s": (s * 100.0).round() / 100.0,
        "catchup_certs_per_s": (certs as f64 / s).round(),
        "observer_cpu_s": cpu_seconds(pid),
        "observer_peak_rss_mb": (peak_rss(pid) as f64 / 1048576.0).round(),
        "complete": ok,
        "loadavg_start": load_start,
        "loadavg_end": loadavg(),
    });
    eprintln!("loadgen: observer run {run}");
    let _ = child.kill();
    let _ = child.wait();
    if !ok {
        eprintln!("{}", cluster.logs_tail(20));
    }
    let _ = std::fs::remove_dir_all(&data);
    run
}

/// Wall-clock time as `HH:MM:SS` UTC.
fn chrono_now() -> String {
    let s = now_ms() / 1000;
    format!("{:02}:{:02}:{:02}", (s / 3600) % 24, (s / 60) % 60, s % 60)
}
