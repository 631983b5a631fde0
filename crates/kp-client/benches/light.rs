//! What `cert verify` costs a customs officer's machine: the size of a
//! certificate's proof, and the time to verify it with a cold light store
//! (headers verified from genesis) and a warm one (the store of an earlier
//! check, reopened from disk), for a certificate with four acts (issue,
//! confirmation, two seizure reports) at 4 and 60 validators.
//!
//! The chain is built in memory by `kp-ledger` and signed by every
//! validator; the light blocks a node would serve are prepared before
//! timing, so the figures are the client's own work (decoding excluded:
//! the proof is handed over decoded).
//!
//! Run: `cargo bench -p kp-client --bench light`. Sizes and the number of
//! light blocks fetched are printed before the timings.

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use kp_api::proof::LightBlock;
use kp_client::light::{LightClient, LightStore, TrustOptions, TrustedState};
use kp_client::{judge, Freshness, Verdict};
use kp_ledger::testkit::*;
use kp_types::{ParticipantKind, Timestamp};
use std::cell::Cell;
use std::path::Path;

/// Empty blocks after the last act: the anchor lies this far from genesis.
const LATER_BLOCKS: usize = 200;
const NUMBER: &str = "BW0000001";

/// A chain with `validators` governments and the certificate's four acts.
fn chain(validators: usize) -> TestChain {
    let mut genesis = genesis_at(Timestamp(now().0 - 3_600_000));
    let mut governments: Vec<String> = GOVERNMENTS.iter().map(|c| c.to_string()).collect();
    if validators < governments.len() {
        // Keep the four the certificate needs.
        let keep = ["AE", "BW", "EU", "IN"];
        genesis
            .participants
            .retain(|p| p.kind != ParticipantKind::Government || keep.contains(&p.code.as_str()));
        genesis
            .authorities
            .retain(|a| genesis.participants.iter().any(|p| p.code == a.participant));
        governments.retain(|c| keep.contains(&c.as_str()));
    }
    for i in 0..validators.saturating_sub(governments.len()) {
        let code = format!(
            "{}{}",
            ["Q", "X", "Y"][i / 26],
            (b'A' + (i % 26) as u8) as char
        );
        genesis
            .participants
            .push(member(&code, ParticipantKind::Government, &[&code]));
        governments.push(code);
    }
    let codes: Vec<&str> = governments.iter().map(String::as_str).collect();
    let mut c = TestChain::with_genesis(genesis, &codes);
    assert_eq!(c.h.ledger.validators().len(), validators);
    c.issue(NUMBER, "BW", "EU");
    c.confirm(NUMBER, "EU");
    for _ in 0..2 {
        let tx = c.seizure_tx(NUMBER, &authority_key("EU"), "EU");
        c.run(tx);
    }
    for _ in 0..LATER_BLOCKS {
        c.seal();
    }
    c
}

fn check(
    chain: &TestChain,
    proof: &kp_api::proof::CertificateProof,
    blocks: &[LightBlock],
    dir: &Path,
    fetched: &Cell<usize>,
) -> Verdict {
    let store = LightStore::open(dir).unwrap();
    let mut light = LightClient::new(
        TrustedState::from_genesis(&chain.genesis),
        TrustOptions::default(),
        Some(store),
    )
    .unwrap();
    let mut fetch = |h: u64| {
        fetched.set(fetched.get() + 1);
        blocks
            .get((h as usize).wrapping_sub(1))
            .cloned()
            .ok_or_else(|| format!("no block {h}"))
    };
    judge(
        proof,
        &number(NUMBER),
        &mut light,
        &chain.genesis_hash(),
        Freshness {
            now: now(),
            max_age_ms: 4 * 3_600_000,
        },
        &mut fetch,
        "the node",
    )
}

fn bench_light(c: &mut Criterion) {
    for validators in [4usize, 60] {
        let chain = chain(validators);
        let proof = chain.prove(NUMBER);
        let blocks: Vec<LightBlock> = (1..=chain.blocks.len() as u64)
            .map(|h| chain.light_block(h))
            .collect();
        let fetched = Cell::new(0);
        let warm = tempfile::tempdir().unwrap();
        let v = check(&chain, &proof, &blocks, warm.path(), &fetched);
        assert_eq!(v.exit_code(), 0, "{v:?}");
        let cold_fetches = fetched.replace(0);
        let v = check(&chain, &proof, &blocks, warm.path(), &fetched);
        assert_eq!(v.exit_code(), 0, "{v:?}");
        let warm_fetches = fetched.replace(0);
        let light_block = blocks
            .last()
            .map(|b| kp_types::encode(b).len())
            .unwrap_or(0);
        eprintln!(
            "light/{validators}v: proof {} B canonical, {} B JSON ({} records, {} acts); \
             light blocks fetched: cold {cold_fetches}, warm {warm_fetches} ({light_block} B each)",
            kp_types::encode(&proof).len(),
            serde_json::to_vec(&proof).map(|v| v.len()).unwrap_or(0),
            proof.records.len(),
            proof.acts.len(),
        );
        let mut group = c.benchmark_group(format!("light/{validators}v"));
        group.sample_size(20);
        group.bench_function("cold", |b| {
            b.iter_batched(
                || tempfile::tempdir().unwrap(),
                |dir| check(&chain, &proof, &blocks, dir.path(), &fetched),
                BatchSize::PerIteration,
            )
        });
        group.bench_function("warm", |b| {
            b.iter(|| check(&chain, &proof, &blocks, warm.path(), &fetched))
        });
        group.finish();
    }
}

criterion_group!(benches, bench_light);
criterion_main!(benches);
