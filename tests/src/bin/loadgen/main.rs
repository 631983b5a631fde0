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
//!   benchmark) until `F` is deleted. With `--sealed` the authorities have
//!   encryption keys and every certificate is sealed (ADR 0011; sealing is
//!   part of the pre-signing, outside the clock).
//!
//! * `loadgen catchup --certs N [--block-certs B] [--state-sync]` — the catch-up benchmark
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
//!   the ledger's apply rate. With `--state-sync` the validators take a
//!   snapshot of the state after their first new block, and a second
//!   observer run starts from it (`[state_sync] enable`, ADR 0016) instead
//!   of replaying: `state_sync` in the JSON, beside `catchup`.
//! * `loadgen disk [--validators 4,60] [--block-certs 2000,10] [--certs N]
//!   [--small-certs M]` — bytes per certificate on disk for a validator and
//!   an observer, by key table, with and without the commit certificates,
//!   on chains built with the library crates (deterministic; see
//!   `disk.rs`). `scripts/bench --disk` runs it and writes its tables.
//!
//! Pre-signing happens before the clock starts, so the figures measure the
//! network, not the client's signing. The submission window (submitted but not
//! yet decided) is bounded so that the pools of the nodes never overflow; with
//! `--rate` the submissions are also paced (open loop), which is how the
//! latency targets are measured.

#![recursion_limit = "256"]

mod catchup;
mod ceiling;
mod disk;
mod ingest;
mod measure;

use catchup::catchup;
use ceiling::ceiling;
use disk::disk;
use ingest::ingest;
use std::collections::BTreeMap;

type Json = serde_json::Value;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(mode) = args.first() else {
        eprintln!("usage: loadgen ceiling|ingest|catchup|disk [options]");
        std::process::exit(2);
    };
    let opts = Opts::parse(&args[1..]);
    let out = match mode.as_str() {
        "ceiling" => ceiling(opts.get_f64("secs", 3.0)),
        "ingest" => ingest(&opts),
        "catchup" => catchup(&opts),
        "disk" => disk(&opts),
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
