//! The `flood` drill: garbage peer connections and hostile HTTP submissions against one validator.

use crate::checks::{check_chain, network_started, recover};
use crate::harness::{http, Report, Rng};
use crate::load::{certificate_tx, start_load, take_book};
use crate::Options;
use kp_e2e::{read_key, Cluster, TESTNET_CHAIN_ID};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Flood drill: hostile clients that are not on the ledger hammer validator
/// 0 — raw TCP connections to its peer port that send garbage instead of a
/// noise handshake, and HTTP clients that post malformed, forged and
/// duplicate transactions as fast as they can. The node must close the
/// garbage connections, refuse the requests, keep answering its status and
/// keep deciding; the chain must stay whole.
pub(crate) fn flood(options: &Options) -> Report {
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
