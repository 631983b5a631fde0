//! Seeded mutation fuzzing of everything a node decodes from outside:
//! transactions and blocks (canonical bincode), consensus messages, block-sync
//! frames and answers, the genesis TOML, the node configuration, and the
//! RPC's JSON bodies.
//!
//! cargo-fuzz needs a nightly toolchain, which this project does not use, so
//! this is a coverage-blind fuzzer that runs under `cargo test`: start from a
//! valid sample of each input, apply a few random mutations (bit flips, byte
//! overwrites, truncation, insertion, splices of the sample into itself,
//! boundary integers), and feed the result to the decoder. Properties:
//!
//! * decoding never panics and never allocates beyond its limit (a panic or an
//!   abort fails the test);
//! * whatever decodes re-encodes to a value that decodes to itself, so a
//!   mutated input cannot smuggle in a value that the node would later fail
//!   to store, hash or gossip.
//!
//! Iterations are bounded: `KP_FUZZ_ITERS` per target (default 3000) and the
//! seed is `KP_FUZZ_SEED` or the clock, printed first so that a failure can be
//! replayed: `KP_FUZZ_SEED=<seed> cargo test -p kp-node --test fuzz_inputs`.
//! Findings are kept as regression cases in `regressions_*` tests below.

use kp_consensus::ConsensusMessage;
use kp_ledger::testkit;
use kp_types::{
    Block, CommitCertificate, CommitSignature, SignedTransaction, Timestamp, Vote, VoteKind,
};
use rand::{Rng, RngCore, SeedableRng};
use std::path::Path;

type Gen = rand::rngs::StdRng;

fn seed() -> u64 {
    let seed = std::env::var("KP_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
        });
    eprintln!("fuzz seed {seed} (replay with KP_FUZZ_SEED={seed})");
    seed
}

fn iterations() -> usize {
    std::env::var("KP_FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000)
}

/// One to four random edits of `sample`.
fn mutate(rng: &mut Gen, sample: &[u8]) -> Vec<u8> {
    let mut out = sample.to_vec();
    let edits = rng.gen_range(1..=4);
    for _ in 0..edits {
        let len = out.len();
        match rng.gen_range(0..9) {
            0 if len > 0 => {
                let i = rng.gen_range(0..len);
                out[i] ^= 1 << rng.gen_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.gen_range(0..len);
                out[i] = rng.gen();
            }
            2 if len > 0 => out.truncate(rng.gen_range(0..len)),
            3 => {
                let i = rng.gen_range(0..=len);
                let n = rng.gen_range(1..16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
                out.splice(i..i, bytes);
            }
            4 if len > 1 => {
                // Splice a piece of the sample elsewhere: duplicates fields
                // and length prefixes, which random bytes rarely do.
                let a = rng.gen_range(0..len);
                let b = rng.gen_range(a..len.min(a + 64) + 1).min(len);
                let piece = sample[a.min(sample.len())..b.min(sample.len())].to_vec();
                let i = rng.gen_range(0..=len);
                out.splice(i..i, piece);
            }
            5 if len > 0 => {
                // Boundary values where a length or varint may sit.
                let i = rng.gen_range(0..len);
                out[i] = *[0x00, 0x7f, 0x80, 0xfb, 0xfc, 0xfd, 0xfe, 0xff]
                    .get(rng.gen_range(0..8))
                    .unwrap_or(&0xff);
            }
            6 if len > 0 => {
                // A huge varint (bincode: 0xfd = u64 follows).
                let i = rng.gen_range(0..len);
                out.splice(i..i, [0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
            }
            7 if len > 0 => {
                let i = rng.gen_range(0..len);
                let j = rng.gen_range(i..len);
                out.drain(i..j);
            }
            _ => {
                let n = rng.gen_range(0..64);
                out = (0..n).map(|_| rng.gen()).collect();
            }
        }
    }
    out
}

/// Text-level edits for TOML and JSON: bytes from the grammar's alphabet,
/// so that mutants get past the lexer more often than random bytes would.
fn mutate_text(rng: &mut Gen, sample: &str) -> Vec<u8> {
    const PIECES: &[&str] = &[
        "\"",
        "'",
        "[",
        "]",
        "{",
        "}",
        "=",
        ",",
        ":",
        "\n",
        "-1",
        "0",
        "18446744073709551616",
        "1e999",
        "null",
        "true",
        "[[",
        "]]",
        "\\u0000",
        "\u{10ffff}",
        "#",
        "x",
        "\"\"\"",
        "9999999999999999999999",
    ];
    let mut out = sample.as_bytes().to_vec();
    for _ in 0..rng.gen_range(1..=4) {
        let len = out.len();
        if len == 0 || rng.gen_bool(0.3) {
            return mutate(rng, &out);
        }
        let i = rng.gen_range(0..len);
        let piece = PIECES[rng.gen_range(0..PIECES.len())].as_bytes();
        if rng.gen_bool(0.5) {
            let j = rng.gen_range(i..len.min(i + 8) + 1).min(len);
            out.splice(i..j, piece.iter().copied());
        } else {
            out.splice(i..i, piece.iter().copied());
        }
    }
    out
}

fn sample_tx() -> SignedTransaction {
    let key = testkit::authority_key("BW");
    let cert = testkit::certificate("BW0000001", "BW", "EU", testkit::date(2025, 3, 1));
    testkit::sign(
        &key,
        7,
        testkit::at(2025, 3, 2),
        kp_types::tx::Payload::IssueCertificate(cert),
    )
}

fn sample_block() -> Block {
    let harness = testkit::Harness::new();
    testkit::block_with(
        &harness.ledger,
        harness.time,
        vec![sample_tx(), sample_tx()],
    )
}

fn sample_certificate(block: &Block) -> CommitCertificate {
    let key = testkit::node_key("BW");
    let vote = Vote {
        chain_id: testkit::CHAIN_ID.to_string(),
        height: block.header.height,
        round: 0,
        kind: VoteKind::Precommit,
        block: Some(block.hash()),
        validator: key.public(),
    };
    let signed = vote.sign(&key);
    CommitCertificate {
        chain_id: testkit::CHAIN_ID.to_string(),
        height: block.header.height,
        round: 0,
        block_hash: block.hash(),
        signatures: vec![CommitSignature {
            validator: key.public(),
            signature: signed.signature,
        }],
    }
}

fn sample_messages() -> Vec<ConsensusMessage> {
    let block = sample_block();
    let key = testkit::node_key("BW");
    let vote = Vote {
        chain_id: testkit::CHAIN_ID.to_string(),
        height: 1,
        round: 2,
        kind: VoteKind::Prevote,
        block: Some(block.hash()),
        validator: key.public(),
    }
    .sign(&key);
    let proposal = kp_types::Proposal {
        chain_id: testkit::CHAIN_ID.to_string(),
        height: 1,
        round: 2,
        pol_round: Some(1),
        block_hash: block.hash(),
        proposer: key.public(),
    }
    .sign(&key);
    vec![
        ConsensusMessage::Vote(vote.clone()),
        ConsensusMessage::Proposal {
            signed: proposal,
            block: block.into(),
            pol: vec![vote],
        },
    ]
}

/// Decodes every mutant of `sample` with `decode`; what decodes must
/// re-encode to bytes that decode to the same value.
fn fuzz_binary<T, D, E>(name: &str, seed: u64, sample: &[u8], decode: D, encode: E)
where
    T: PartialEq + std::fmt::Debug,
    D: Fn(&[u8]) -> Option<T>,
    E: Fn(&T) -> Vec<u8>,
{
    let salt = name
        .bytes()
        .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
    let mut rng = Gen::seed_from_u64(seed ^ salt);
    assert!(
        decode(sample).is_some(),
        "{name}: the sample itself must decode"
    );
    let mut decoded = 0usize;
    for i in 0..iterations() {
        let input = mutate(&mut rng, sample);
        if let Some(value) = decode(&input) {
            decoded += 1;
            let again = decode(&encode(&value));
            assert_eq!(
                again.as_ref(),
                Some(&value),
                "{name}: iteration {i} decoded to a value that does not round-trip; input {}",
                hex::encode(&input)
            );
        }
    }
    eprintln!("{name}: {} mutants, {decoded} decoded", iterations());
}

#[test]
fn transactions_decode_defensively() {
    let seed = seed();
    let bytes = kp_types::encode(&sample_tx());
    fuzz_binary(
        "tx",
        seed,
        &bytes,
        |b| SignedTransaction::decode(b).ok(),
        kp_types::encode,
    );
}

#[test]
fn blocks_and_sync_answers_decode_defensively() {
    let seed = seed();
    let block = sample_block();
    fuzz_binary(
        "block",
        seed,
        &kp_types::encode(&block),
        |b| Block::decode(b).ok(),
        kp_types::encode,
    );
    // The gossiped decided block and the block-sync answer.
    let pair = (block.clone(), sample_certificate(&block));
    let limit = 4 * 1024 * 1024;
    fuzz_binary(
        "block+certificate",
        seed,
        &kp_types::encode(&pair),
        |b| kp_types::decode::<(Block, CommitCertificate)>(b, limit).ok(),
        kp_types::encode,
    );
    fuzz_binary(
        "sync answer",
        seed,
        &kp_types::encode(&vec![pair.clone(), pair]),
        |b| kp_types::decode::<Vec<(Block, CommitCertificate)>>(b, limit).ok(),
        kp_types::encode,
    );
}

#[test]
fn consensus_messages_decode_defensively() {
    let seed = seed();
    for (i, message) in sample_messages().into_iter().enumerate() {
        fuzz_binary(
            &format!("consensus message {i}"),
            seed,
            &message.encode(),
            |b| ConsensusMessage::decode(b).ok(),
            ConsensusMessage::encode,
        );
    }
}

#[test]
fn sync_requests_and_frames_decode_defensively() {
    use kp_network::codec::{read_frame, SyncRequest};
    let seed = seed();
    let request = SyncRequest {
        from_height: 12,
        max: 64,
    };
    fuzz_binary(
        "sync request",
        seed,
        &request.to_bytes(),
        SyncRequest::from_bytes,
        |r| r.to_bytes().to_vec(),
    );
    // Frames: a length prefix that lies must not make the reader allocate
    // more than its bound or wait for bytes that never come.
    let mut rng = Gen::seed_from_u64(seed);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let bound = 1024;
    for _ in 0..iterations() {
        let mut frame = (rng.gen_range(0..2048u32)).to_be_bytes().to_vec();
        frame.extend((0..rng.gen_range(0..1100)).map(|_| rng.gen::<u8>()));
        let input = mutate(&mut rng, &frame);
        let mut reader = futures::io::Cursor::new(input.clone());
        let result = runtime.block_on(read_frame(&mut reader, bound));
        if let Ok(body) = result {
            assert!(
                body.len() <= bound,
                "frame of {} bytes over the bound",
                body.len()
            );
            assert_eq!(input.get(4..4 + body.len()), Some(body.as_slice()));
        }
    }
}

#[test]
fn genesis_toml_parses_defensively() {
    let seed = seed();
    let mut rng = Gen::seed_from_u64(seed ^ 0x6e);
    let text = testkit::genesis().to_toml();
    assert!(kp_ledger::Genesis::from_toml(&text).is_ok());
    let mut parsed = 0;
    for i in 0..iterations() / 3 {
        let input = mutate_text(&mut rng, &text);
        let Ok(text) = std::str::from_utf8(&input) else {
            continue;
        };
        if let Ok(genesis) = kp_ledger::Genesis::from_toml(text) {
            parsed += 1;
            let again = kp_ledger::Genesis::from_toml(&genesis.to_toml());
            assert!(
                again.is_ok(),
                "genesis mutant {i} parses but its own TOML does not: {:?}\n{text}",
                again.err()
            );
        }
    }
    eprintln!("genesis: {parsed} mutants parsed");
}

#[test]
fn node_config_loads_defensively() {
    let seed = seed();
    let mut rng = Gen::seed_from_u64(seed ^ 0xc0);
    let sample_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../node-config/node.toml");
    let text = std::fs::read_to_string(&sample_path).expect("example config");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("node.toml");
    let mut loaded = 0;
    for _ in 0..iterations() / 3 {
        let input = mutate_text(&mut rng, &text);
        std::fs::write(&path, &input).expect("write config");
        if let Ok(config) = kp_node::config::NodeConfig::load(&path) {
            loaded += 1;
            // What loads is usable: its addresses were validated.
            assert!(config.rpc.listen.parse::<std::net::SocketAddr>().is_ok());
            assert!(config.mempool.size_max > 0);
        }
    }
    eprintln!("node config: {loaded} mutants loaded");
}

#[test]
fn rpc_json_bodies_parse_defensively() {
    let seed = seed();
    let mut rng = Gen::seed_from_u64(seed ^ 0x75);
    let tx = sample_tx();
    let samples = [
        serde_json::json!({ "tx_hex": hex::encode(kp_types::encode(&tx)), "wait": true }),
        serde_json::json!({ "tx": tx, "wait": false }),
    ];
    let mut parsed = 0;
    for sample in &samples {
        let text = sample.to_string();
        assert!(serde_json::from_str::<kp_rpc::SubmitBody>(&text).is_ok());
        for _ in 0..iterations() / 2 {
            let input = mutate_text(&mut rng, &text);
            if let Ok(body) = serde_json::from_slice::<kp_rpc::SubmitBody>(&input) {
                parsed += 1;
                // The server then decodes tx_hex; that must be defensive too.
                if let Some(hex_text) = body.tx_hex {
                    if let Ok(bytes) = hex::decode(hex_text.trim()) {
                        let _ = SignedTransaction::decode(&bytes);
                    }
                }
                if let Some(tx) = body.tx {
                    let _ = tx.verify_signature();
                    let _ = tx.hash();
                }
            }
            let _ = serde_json::from_slice::<SignedTransaction>(&input);
        }
    }
    eprintln!("rpc json: {parsed} mutants parsed");
}

/// Deep nesting must not overflow the stack (serde_json limits recursion).
#[test]
fn regressions_deeply_nested_json_is_refused() {
    let deep = "[".repeat(100_000);
    assert!(serde_json::from_str::<kp_rpc::SubmitBody>(&deep).is_err());
    let deep = format!("{{\"tx\":{}", "{\"a\":".repeat(50_000));
    assert!(serde_json::from_str::<kp_rpc::SubmitBody>(&deep).is_err());
}

/// A length prefix claiming more than the limit is refused before any
/// allocation of that size.
#[test]
fn regressions_huge_length_prefixes_are_refused() {
    let mut bytes = kp_types::encode(&sample_tx());
    // Replace everything after the first byte with a u64::MAX length.
    bytes.truncate(1);
    bytes.extend([0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    assert!(SignedTransaction::decode(&bytes).is_err());
    assert!(
        ConsensusMessage::decode(&[1, 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
            .is_err()
    );
    let empty: &[u8] = &[];
    assert!(Block::decode(empty).is_err());
    let _ = Timestamp(0);
}

#[test]
fn fuzzer_mutates() {
    // The mutator itself must produce varied output, or the targets above
    // prove nothing.
    let mut rng = Gen::seed_from_u64(1);
    let sample = kp_types::encode(&sample_tx());
    let distinct: std::collections::BTreeSet<Vec<u8>> =
        (0..200).map(|_| mutate(&mut rng, &sample)).collect();
    assert!(
        distinct.len() > 150,
        "only {} distinct mutants",
        distinct.len()
    );
    let _ = rng.next_u64();
}
