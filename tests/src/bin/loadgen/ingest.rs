//! `loadgen ingest`: certificates submitted to a live network, timed until decided.

use crate::ceiling::ceiling;
use crate::measure::{cores, cpu_seconds, dir_bytes, loadavg, now_ms, peak_rss, percentile};
use crate::{Json, Opts};
use kp_e2e::Cluster;
use kp_types::tx::{Payload, Transaction};
use kp_types::{Block, SignedTransaction, SigningKey, Timestamp, TxHash};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The BW and EU authorities' decryption keys of a network generated with
/// encryption keys (`loadgen ingest --sealed`), to seal to their public halves.
type SealTo = Option<(kp_types::DecryptionKey, kp_types::DecryptionKey)>;

/// `count` distinct signed certificate issues BW→EU, sealed to BW-KPA and
/// EU-KPA when `seal_to` holds their keys (ADR 0011).
fn presign(
    key: &SigningKey,
    count: usize,
    run: u64,
    seal_to: &SealTo,
) -> Vec<(TxHash, SignedTransaction)> {
    let now = now_ms();
    let today = Timestamp(now).date();
    let authority = kp_types::AuthorityId::new("BW-KPA").expect("valid id");
    (0..count)
        .map(|i| {
            // Numbers unique within a run; `run` keeps runs on one network apart.
            let mut cert =
                kp_ledger::testkit::certificate(&format!("BW{run:02}{i:07}"), "BW", "EU", today);
            cert.issuing_authority = authority.clone();
            if let (Some((bw, eu)), kp_types::Parties::Plain(fields)) = (seal_to, &cert.parties) {
                let mut salt = [0u8; 32];
                salt[..8].copy_from_slice(&(i as u64).to_le_bytes());
                salt[8..16].copy_from_slice(&now.to_le_bytes());
                let recipients = [
                    (authority.clone(), bw.public()),
                    (
                        kp_types::AuthorityId::new("EU-KPA").expect("valid id"),
                        eu.public(),
                    ),
                ];
                let mut entropy = salt;
                entropy[31] = 1;
                let sealed =
                    kp_types::sealed::seal(&cert.number, fields, salt, &recipients, entropy)
                        .expect("seal to the testnet's keys");
                cert.parties = kp_types::Parties::Sealed(sealed);
            }
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

pub(crate) fn ingest(opts: &Opts) -> Json {
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
    // With --sealed the authorities have encryption keys and every
    // certificate is sealed (ADR 0011), for comparison with plain ones.
    let sealed = opts.flag("sealed");
    let first_late = if late { nodes - 1 } else { nodes };
    let startup_timeout = Duration::from_secs(60 + 5 * nodes as u64);
    let mut attempt = 0;
    let started_up = Instant::now();
    // Other processes on the machine may take a port between the check and
    // the bind (the node then exits): start again on other ports.
    let mut cluster = loop {
        attempt += 1;
        let mut cluster = Cluster::generate_with(validators, observers, sealed);
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
    let seal_to: SealTo = sealed.then(|| {
        let open = |i: usize| {
            let seed = kp_e2e::read_key(&cluster.nodes[i].dir.join("encryption.key")).seed();
            kp_types::DecryptionKey::from_seed(&seed)
        };
        (open(0), open(1))
    });
    let bodies = Arc::new(presign(&key, certs, 1, &seal_to));
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
        "sealed": sealed,
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
