//! The `clock` drill: validators with skewed wall clocks (libfaketime).

use crate::checks::{block_json, check_chain, heights, network_started, recover};
use crate::harness::Report;
use crate::load::{start_load, take_book};
use crate::Options;
use kp_e2e::{kpledger_bin, read_key, Cluster};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
pub(crate) fn clock(options: &Options) -> Report {
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
