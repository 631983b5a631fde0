//! The `partition` drill: cut validators, a minority and halves apart, then heal.

use crate::checks::{check_chain, heights, network_started, recover};
use crate::harness::{say, Report, Rng};
use crate::load::{start_load, take_book};
use crate::netns::Netns;
use crate::Options;
use kp_e2e::{read_key, Cluster};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

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

pub(crate) fn partition(options: &Options) -> Report {
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
    let observer = validators;
    let mut rng = Rng::new(options.seed);
    let lone = rng.below(validators as u64) as usize;
    let key = read_key(&cluster.nodes[0].dir.join("authority.key"));
    // The load goes to the validators that keep a quorum in every phase
    // that must go on. The network makes no block without transactions, and
    // each load thread waits (up to 20 s) for the one it submitted: two
    // threads waiting on the isolated validator, or on the observer, left
    // the live side without traffic for the whole hold (seen once in CI:
    // "isolate one validator ... [2, 3, 3] -> [2, 3, 3]").
    let rpcs: Vec<String> = (0..validators)
        .filter(|&i| i != lone)
        .map(|i| cluster.nodes[i].rpc.clone())
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let (book, loaders) = start_load(rpcs, key, 2, options.seed, stop.clone());
    // Each phase holds the partition for a share of the drill's time.
    let hold = Duration::from_secs(if options.quick {
        6
    } else {
        (options.seconds / 5).max(6)
    });
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
