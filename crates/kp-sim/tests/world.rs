//! The KP network on the world map (issue: "60 validators on the world
//! map, by simulation"): each government's node at its capital
//! (`data/capitals.tsv`), one-way latency the great-circle distance at 2/3
//! of the speed of light times a routing factor, plus jitter
//! (`kp_sim::geo`). Finality is a transaction's submission to the first
//! honest commit of its block, in simulated time.
//!
//! The quick test runs in CI. The report (`-- --ignored --nocapture`, in
//! release) runs the 60 validators at several rates and timeouts and prints
//! the table `docs/benchmarks.md` quotes.

use kp_sim::config::SimConfig;
use kp_sim::geo;

/// Cables do not follow great circles: about 1.5x the distance.
const ROUTING_FACTOR: f64 = 1.5;

fn world(seed: u64, validators: usize, tx_interval_ms: u64, timeouts_ms: [u64; 4]) -> SimConfig {
    let mut cfg = SimConfig::calm(seed, validators);
    cfg.observers = 1;
    cfg.latency_table = Some(geo::latency_table(validators + 1, ROUTING_FACTOR));
    cfg.faults.jitter_ms = 10;
    cfg.tx_interval_ms = tx_interval_ms;
    cfg.timeouts_ms = timeouts_ms;
    cfg.fault_phase_ms = 30_000;
    cfg.liveness_window_ms = 120_000;
    cfg
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

#[test]
fn thirteen_capitals_decide_and_finality_follows_the_map() {
    let timeouts = [3_000, 1_000, 1_000, 500];
    let report = kp_sim::sim::run(world(7, 13, 200, timeouts)).unwrap_or_else(|f| panic!("{f:?}"));
    let mut fin = report.finality_ms.clone();
    fin.sort_unstable();
    assert!(fin.len() > 20, "few transactions decided: {}", fin.len());
    // A transaction crosses the map at least three times (gossip to the
    // proposer, proposal, two vote rounds): never faster than the nearest
    // pair's one-way latency times three.
    let table = geo::latency_table(14, ROUTING_FACTOR);
    let nearest = table
        .iter()
        .enumerate()
        .flat_map(|(i, row)| {
            row.iter()
                .enumerate()
                .filter(move |(j, _)| *j != i)
                .map(|(_, v)| *v)
        })
        .min()
        .unwrap();
    assert!(
        fin[0] >= 3 * nearest,
        "finality {} under 3x {nearest} ms",
        fin[0]
    );
    let p50 = percentile(&fin, 0.5);
    assert!(p50 < 5_000, "p50 {p50} ms (seed 7)");
}

#[test]
#[ignore = "report: cargo test -p kp-sim --release --test world -- --ignored --nocapture"]
fn sixty_capitals_report() {
    let seed: u64 = std::env::var("KP_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    println!("| validators | crashes | timeouts ms (propose/prevote/precommit/delta) | offered tx/s | decided | finality p50 ms | p99 ms | max ms | blocks | blocks/min |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let defaults = [3_000, 1_000, 1_000, 500];
    let mut runs: Vec<([u64; 4], u64, bool)> = vec![
        (defaults, 1000, false),
        (defaults, 100, false),
        (defaults, 20, false),
        ([1_500, 500, 500, 500], 100, false),
        ([800, 300, 300, 200], 100, false),
        // Validators crash and restart during the run: a missing proposer
        // costs its round's timeouts, so here they matter.
        (defaults, 100, true),
        ([1_500, 500, 500, 500], 100, true),
        ([800, 300, 300, 200], 100, true),
    ];
    if std::env::var("KP_WORLD_QUICK").is_ok() {
        runs.truncate(1);
    }
    for (timeouts, interval, crashes) in runs {
        let mut cfg = world(seed, 60, interval, timeouts);
        cfg.faults.crashes = crashes;
        let elapsed_s = cfg.fault_phase_ms as f64 / 1000.0;
        match kp_sim::sim::run(cfg) {
            Ok(report) => {
                let mut fin = report.finality_ms.clone();
                fin.sort_unstable();
                let minutes = report.elapsed_ms as f64 / 60_000.0;
                println!(
                    "| 60 | {} | {}/{}/{}/{} | {:.0} | {} | {} | {} | {} | {} | {:.1} |",
                    if crashes { "yes" } else { "no" },
                    timeouts[0],
                    timeouts[1],
                    timeouts[2],
                    timeouts[3],
                    1000.0 / interval as f64,
                    fin.len(),
                    percentile(&fin, 0.5),
                    percentile(&fin, 0.99),
                    fin.last().copied().unwrap_or(0),
                    report.max_height,
                    report.max_height as f64 / minutes.max(1e-9),
                );
                let _ = elapsed_s;
            }
            Err(f) => println!(
                "| 60 | {crashes} | {timeouts:?} | interval {interval} ms | FAILED: {f:?} |"
            ),
        }
    }
}

/// An idle network on the map: no workload, the node's default heartbeat
/// (60 s), until `heights` more blocks are decided.
fn idle_run(seed: u64, validators: usize, heights: u64) -> kp_sim::sim::SimReport {
    let mut cfg = world(seed, validators, 1_000_000_000, [3_000, 1_000, 1_000, 500]);
    cfg.empty_block_interval_ms = Some(60_000);
    cfg.fault_phase_ms = 1_000;
    cfg.liveness_heights = heights;
    cfg.liveness_window_ms = (heights + 2) * 60_000;
    kp_sim::sim::run(cfg).unwrap_or_else(|f| panic!("{f:?}"))
}

/// Issue 22 goal 4: on the map, with the consensus core, replica and
/// pacing the node runs, an idle network makes one block per heartbeat.
/// It made two more a few seconds apart after the fifth: a validator that
/// took a sync answer holding only the block its core had just decided
/// ended the (empty) catch-up batch by starting the next height at once,
/// and its messages woke every other validator (`Replica::catch_up_done`).
#[test]
fn an_idle_network_on_the_map_makes_one_block_per_heartbeat() {
    let report = idle_run(1, 13, 6);
    let times: Vec<u64> = report.decided_at.iter().map(|d| d.1).collect();
    for pair in times.windows(2).skip(1) {
        assert!(
            pair[1] - pair[0] >= 59_000,
            "a block {} ms after the one before (seed 1, 13 capitals): {:?}",
            pair[1] - pair[0],
            report.decided_at
        );
    }
    assert!(times.len() >= 6, "{:?}", report.decided_at);
}

#[test]
#[ignore = "report: cargo test -p kp-sim --release --test world -- --ignored --nocapture idle"]
fn sixty_capitals_idle_report() {
    for (seed, validators) in [(1, 13), (1, 60), (2, 60)] {
        let report = idle_run(seed, validators, 6);
        println!(
            "seed {seed}: {validators} capitals idle, {} blocks in {:.1} simulated minutes; (height, ms, round, txs): {:?}",
            report.max_height,
            report.elapsed_ms as f64 / 60_000.0,
            report.decided_at
        );
    }
}
