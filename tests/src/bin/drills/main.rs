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

mod checks;
mod clock;
mod crash;
mod disk;
mod flood;
mod harness;
mod load;
mod netns;
mod partition;

use clock::clock;
use crash::crash;
use disk::disk;
use flood::flood;
use harness::{say, Report};
use partition::partition;
use serde_json::{json, Value};
use std::process::ExitCode;
use std::time::Instant;

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
