//! The `crash` drill: SIGKILL and restart validators one at a time.

use crate::checks::{check_chain, network_started, recover};
use crate::harness::{say, Report, Rng};
use crate::load::{start_load, take_book};
use crate::Options;
use kp_e2e::{read_key, Cluster};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) fn crash(options: &Options) -> Report {
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
