//! The seed sweep: random networks of 4, 7 and 13 validators with random
//! faults and byzantine validators. `KP_SIM_SEEDS=N` runs N seeds (default a
//! CI-sized sweep); `KP_SIM_SEED=S` replays one seed (test `replay`).

use kp_sim::{run, SimConfig};
use std::time::Instant;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Seeds of the default sweep.
const DEFAULT_SEEDS: u64 = 300;

#[test]
fn sweep() {
    if env_u64("KP_SIM_SEED").is_some() {
        return; // replaying one seed: see `replay`
    }
    let seeds = env_u64("KP_SIM_SEEDS").unwrap_or(DEFAULT_SEEDS);
    let first = env_u64("KP_SIM_FIRST_SEED").unwrap_or(0);
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut heights = 0;
    let (mut stages, mut stage_crashes) = (0, 0);
    for seed in first..first + seeds {
        match run(SimConfig::from_seed(seed)) {
            Ok(report) => {
                heights += report.min_height;
                stages += report.stages_written;
                stage_crashes += report.stage_crashes;
            }
            Err(failure) => {
                eprintln!("FAILED {failure}");
                failures.push(failure);
            }
        }
    }
    eprintln!(
        "sweep: {seeds} seeds, {} failed, {heights} heights decided, \
         {stages} catch-up stages written, {stage_crashes} crashes in a stage, {:?}",
        failures.len(),
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} seeds failed; first: {}",
        failures.len(),
        failures[0]
    );
    // The sweep exercises the node's catch-up path, crashes included.
    if seeds >= DEFAULT_SEEDS {
        assert!(stages > 0, "no seed caught up in stages");
        assert!(stage_crashes > 0, "no seed crashed while writing a stage");
    }
}

#[test]
fn replay() {
    let Some(seed) = env_u64("KP_SIM_SEED") else {
        return;
    };
    let cfg = SimConfig::from_seed(seed);
    eprintln!("replaying {cfg:#?}");
    match run(cfg) {
        Ok(report) => eprintln!("ok: {report:#?}"),
        Err(failure) => panic!("{failure}\n{}", failure.replicas),
    }
}
