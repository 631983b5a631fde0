//! What the nodes report, and the safety checks every drill shares.

use crate::harness::Report;
use crate::load::Ledgerbook;
use kp_e2e::{get_json, wait_until, Cluster};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

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

pub(crate) fn heights(cluster: &Cluster, which: &[usize]) -> Vec<u64> {
    which.iter().map(|&i| cluster.height(i)).collect()
}
