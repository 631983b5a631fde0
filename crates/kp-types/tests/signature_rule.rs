//! One signature rule: single and batch verification give the same verdict,
//! the one ZIP-215 expects, on the published edge-case vectors.
//!
//! Test data (facts, copied as data; no code of theirs):
//!
//! * `testdata/zip215_small_order.json`: the 196 ZIP-215 small-order cases,
//!   every pair of `A` and `R` drawn from the 8 canonical encodings of the
//!   8-torsion points and the 6 non-canonical encodings of low-order points,
//!   with `s = 0` and the message `"Zcash"`, the set that `tests/small_order.rs`
//!   of ed25519-zebra and ed25519-consensus builds (<https://zips.z.cash/zip-0215>).
//!   All 196 are valid under ZIP-215.
//! * `testdata/speccheck_cases.json`: byte for byte `cases.json` of
//!   `novifinancial/ed25519-speccheck` at commit
//!   `65519336fda78a3d016e947df6d82848aca0c9da` (git blob
//!   `8686dcb7eef8b6abe36ca8fa9bb10de112e63774`, Apache-2.0), the 12 vectors of
//!   "Taming the many EdDSAs" (Chalkias, Garillot, Nikolaenko, SSR 2020,
//!   <https://eprint.iacr.org/2020/1244>). The expected ZIP-215 verdicts are the
//!   "Zebra" row of that repository's results table.

use kp_types::crypto::{verify_batch_bytes, verify_bytes};
use kp_types::{verify_batch, Domain, Hash, PublicKey, Signature, SigningKey};
use proptest::prelude::*;
use serde_json::Value;

const ZIP215_SMALL_ORDER: &str = include_str!("testdata/zip215_small_order.json");
const SPECCHECK_CASES: &str = include_str!("testdata/speccheck_cases.json");

/// ZIP-215 verdicts on the 12 speccheck vectors, by index: accepted except
/// 6 and 7 (`s` not canonical) and 8 (non-canonical `R` whose hash was
/// computed over its canonical re-encoding, not the bytes sent).
const SPECCHECK_ZIP215: [bool; 12] = [
    true, true, true, true, true, true, false, false, false, true, true, true,
];

/// The group order ℓ, little-endian.
const ELL: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// One test vector: key, message and signature bytes.
#[derive(Clone, Debug)]
struct Vector {
    key: [u8; 32],
    message: Vec<u8>,
    signature: [u8; 64],
}

fn bytes<const N: usize>(text: &Value) -> [u8; N] {
    let mut out = [0u8; N];
    hex::decode_to_slice(text.as_str().expect("hex string"), &mut out).expect("hex");
    out
}

fn zip215_small_order() -> Vec<Vector> {
    let file: Value = serde_json::from_str(ZIP215_SMALL_ORDER).expect("json");
    assert_eq!(file["expected"], Value::Bool(true));
    let message = hex::decode(file["message"].as_str().expect("message")).expect("hex");
    assert_eq!(message, b"Zcash");
    file["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|case| Vector {
            key: bytes(&case["pub_key"]),
            message: message.clone(),
            signature: bytes(&case["signature"]),
        })
        .collect()
}

fn speccheck() -> Vec<Vector> {
    let file: Value = serde_json::from_str(SPECCHECK_CASES).expect("json");
    file.as_array()
        .expect("cases")
        .iter()
        .map(|case| Vector {
            key: bytes(&case["pub_key"]),
            message: hex::decode(case["message"].as_str().expect("message")).expect("hex"),
            signature: bytes(&case["signature"]),
        })
        .collect()
}

/// `n` ordinary signatures over 32-byte hashes.
fn valid_items(n: u8) -> Vec<(PublicKey, Hash, Signature)> {
    (0..n)
        .map(|i| {
            let key = SigningKey::from_seed([i.wrapping_add(100); 32]);
            let msg = Hash::of(Domain::Document, &[i]);
            (key.public(), msg, key.sign(&msg))
        })
        .collect()
}

/// The same, as raw bytes for [`verify_batch_bytes`].
fn valid_raw(n: u8) -> Vec<([u8; 32], Vec<u8>, [u8; 64])> {
    valid_items(n)
        .into_iter()
        .map(|(k, m, s)| (k.0, m.0.to_vec(), s.0))
        .collect()
}

/// The verdicts of the rule on one vector: alone, in a batch of one, and in
/// the middle of a batch of otherwise valid signatures.
fn verdicts(v: &Vector) -> [bool; 3] {
    let single = verify_bytes(&v.key, &v.message, &v.signature);
    let alone = verify_batch_bytes(&[(v.key, v.message.clone(), v.signature)]);
    let mut mixed = valid_raw(8);
    mixed.insert(4, (v.key, v.message.clone(), v.signature));
    let in_batch = verify_batch_bytes(&mixed);
    [single, alone, in_batch]
}

/// The same through the public API, for a vector whose message is 32 bytes.
fn api_verdicts(key: PublicKey, msg: Hash, sig: Signature) -> [bool; 3] {
    let single = key.verify(&msg, &sig).is_ok();
    let alone = verify_batch(&[(key, msg, sig)]).is_ok();
    let mut mixed = valid_items(8);
    mixed.insert(4, (key, msg, sig));
    let in_batch = verify_batch(&mixed).is_ok();
    [single, alone, in_batch]
}

#[test]
fn zip215_small_order_vectors_are_accepted_single_and_batch() {
    let vectors = zip215_small_order();
    assert_eq!(vectors.len(), 196);
    for (i, v) in vectors.iter().enumerate() {
        assert_eq!(
            verdicts(v),
            [true; 3],
            "ZIP-215 small-order case {i}: {v:?}"
        );
    }
    // And all 196 in one batch, with and without ordinary signatures.
    let mut all: Vec<_> = vectors
        .iter()
        .map(|v| (v.key, v.message.clone(), v.signature))
        .collect();
    assert!(verify_batch_bytes(&all));
    all.extend(valid_raw(16));
    assert!(verify_batch_bytes(&all));
}

#[test]
fn zip215_small_order_vectors_through_the_public_api() {
    // With `s = 0` and small-order `A` and `R`, the cofactored equation holds
    // for every message, so a 32-byte hash works as well as "Zcash".
    for (i, v) in zip215_small_order().iter().enumerate() {
        for msg in [Hash::ZERO, Hash::of(Domain::Transaction, &[i as u8])] {
            let verdicts = api_verdicts(PublicKey(v.key), msg, Signature(v.signature));
            assert_eq!(verdicts, [true; 3], "ZIP-215 small-order case {i}");
        }
    }
}

#[test]
fn speccheck_vectors_get_the_zip215_verdict_single_and_batch() {
    let vectors = speccheck();
    assert_eq!(vectors.len(), 12);
    for (i, v) in vectors.iter().enumerate() {
        let expected = SPECCHECK_ZIP215[i];
        assert_eq!(verdicts(v), [expected; 3], "speccheck vector {i}: {v:?}");
        // Every speccheck message is 32 bytes: the real functions too.
        let msg = Hash(v.message.as_slice().try_into().expect("32-byte message"));
        let verdicts = api_verdicts(PublicKey(v.key), msg, Signature(v.signature));
        assert_eq!(verdicts, [expected; 3], "speccheck vector {i} (API)");
    }
    // The ones that verify, all in one batch; adding any one that does not
    // fails the batch.
    let good: Vec<_> = vectors
        .iter()
        .zip(SPECCHECK_ZIP215)
        .filter(|(_, ok)| *ok)
        .map(|(v, _)| (v.key, v.message.clone(), v.signature))
        .collect();
    assert!(verify_batch_bytes(&good));
    for (v, _) in vectors.iter().zip(SPECCHECK_ZIP215).filter(|(_, ok)| !*ok) {
        let mut bad = good.clone();
        bad.push((v.key, v.message.clone(), v.signature));
        assert!(!verify_batch_bytes(&bad));
    }
}

/// The bug this rule fixes: the previous pair, `verify_strict` and
/// `ed25519_dalek::verify_batch`, disagree on these published vectors.
#[test]
fn old_dalek_pair_disagreed_on_these_vectors() {
    let old_single = |v: &Vector| {
        ed25519_dalek::VerifyingKey::from_bytes(&v.key)
            .map(|k| {
                k.verify_strict(
                    &v.message,
                    &ed25519_dalek::Signature::from_bytes(&v.signature),
                )
                .is_ok()
            })
            .unwrap_or(false)
    };
    let old_batch = |v: &Vector| {
        ed25519_dalek::VerifyingKey::from_bytes(&v.key)
            .map(|k| {
                ed25519_dalek::verify_batch(
                    &[&v.message[..]],
                    &[ed25519_dalek::Signature::from_bytes(&v.signature)],
                    &[k],
                )
                .is_ok()
            })
            .unwrap_or(false)
    };
    let mut disagreements = 0;
    for v in speccheck().iter().chain(zip215_small_order().iter()) {
        if old_single(v) != old_batch(v) {
            disagreements += 1;
        }
        // The new rule never disagrees with itself.
        let [single, alone, in_batch] = verdicts(v);
        assert_eq!((single, single), (alone, in_batch), "{v:?}");
    }
    println!("old single and old batch disagree on {disagreements} of 208 vectors");
    assert!(disagreements > 0);
}

/// `s` plus ℓ: the same scalar, not canonically encoded.
fn add_ell(sig: &mut [u8; 64]) {
    let mut carry = 0u16;
    for (byte, ell) in sig[32..].iter_mut().zip(ELL) {
        let sum = u16::from(*byte) + u16::from(ell) + carry;
        *byte = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
}

#[test]
fn non_canonical_s_is_rejected_single_and_batch() {
    for (key, msg, sig) in valid_items(8) {
        assert_eq!(api_verdicts(key, msg, sig), [true; 3]);
        let mut bad = sig;
        add_ell(&mut bad.0);
        assert_ne!(bad, sig);
        assert_eq!(api_verdicts(key, msg, bad), [false; 3]);
    }
}

#[test]
fn failing_batch_reports_a_malformed_key_or_a_bad_batch() {
    use kp_types::crypto::CryptoError;
    let mut items = valid_items(6);
    items[3].2 .0[40] ^= 1;
    assert_eq!(
        verify_batch(&items),
        Err(CryptoError::BadBatch { count: 6 })
    );
    // y = 2 is no point's y coordinate: not a key.
    let mut not_a_point = [0u8; 32];
    not_a_point[0] = 2;
    assert!(matches!(
        PublicKey(not_a_point).verify(&items[0].1, &items[0].2),
        Err(CryptoError::MalformedKey { .. })
    ));
    items[1].0 = PublicKey(not_a_point);
    assert!(matches!(
        verify_batch(&items),
        Err(CryptoError::MalformedKey { key }) if key == hex::encode(not_a_point)
    ));
    assert_eq!(verify_batch(&[]), Ok(()));
}

/// What can be done to one signature of a batch.
#[derive(Clone, Copy, Debug)]
enum Tamper {
    Keep,
    FlipBit(u16),
    OtherMessage,
    OtherKey,
    SPlusEll,
    Speccheck(usize),
    SmallOrder(usize),
}

fn tamper() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        6 => Just(Tamper::Keep),
        1 => (0u16..512).prop_map(Tamper::FlipBit),
        1 => Just(Tamper::OtherMessage),
        1 => Just(Tamper::OtherKey),
        1 => Just(Tamper::SPlusEll),
        1 => (0usize..12).prop_map(Tamper::Speccheck),
        1 => (0usize..196).prop_map(Tamper::SmallOrder),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// On any mix of valid, tampered and edge-case signatures, the batch
    /// verifies exactly when every signature verifies on its own.
    #[test]
    fn batch_verdict_is_the_conjunction_of_single_verdicts(
        tampers in proptest::collection::vec(tamper(), 1..12),
        repeat_keys in any::<bool>(),
    ) {
        let speccheck = speccheck();
        let small_order = zip215_small_order();
        let keys: Vec<SigningKey> = (0u8..3).map(|i| SigningKey::from_seed([i; 32])).collect();
        let items: Vec<(PublicKey, Hash, Signature)> = tampers
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let signer = if repeat_keys {
                    keys[i % 3].clone()
                } else {
                    SigningKey::from_seed([i as u8 + 10; 32])
                };
                let msg = Hash::of(Domain::Document, &[i as u8]);
                let (mut key, mut msg, mut sig) = (signer.public(), msg, signer.sign(&msg));
                match *t {
                    Tamper::Keep => {}
                    Tamper::FlipBit(bit) => sig.0[usize::from(bit / 8)] ^= 1 << (bit % 8),
                    Tamper::OtherMessage => msg = Hash::of(Domain::Vote, &[i as u8]),
                    Tamper::OtherKey => key = SigningKey::from_seed([0xee; 32]).public(),
                    Tamper::SPlusEll => add_ell(&mut sig.0),
                    Tamper::Speccheck(j) => {
                        let v = &speccheck[j];
                        key = PublicKey(v.key);
                        msg = Hash(v.message.as_slice().try_into().expect("32 bytes"));
                        sig = Signature(v.signature);
                    }
                    Tamper::SmallOrder(j) => {
                        key = PublicKey(small_order[j].key);
                        sig = Signature(small_order[j].signature);
                    }
                }
                (key, msg, sig)
            })
            .collect();
        let all_single = items.iter().all(|(k, m, s)| k.verify(m, s).is_ok());
        prop_assert_eq!(verify_batch(&items).is_ok(), all_single);
    }
}

/// Single verify/s and batch-of-64 verify/s, old rule (ed25519-dalek's
/// `verify_strict`, and `verify_batch` after decoding each distinct key once,
/// as the old `verify_batch` did) against the new one. Old and new run in
/// alternation, several rounds, and the best round of each is kept, so that
/// other load on the machine weighs on both alike. Run with
/// `cargo test --release -p kp-types --test signature_rule -- --ignored --nocapture`.
#[test]
#[ignore = "measurement, prints rates"]
fn measure_verification_rates() {
    use std::collections::HashMap;
    use std::hint::black_box;
    use std::time::{Duration, Instant};

    type Items = Vec<(PublicKey, Hash, Signature)>;
    fn items(keys: u8) -> Items {
        (0u8..64)
            .map(|i| {
                let key = SigningKey::from_seed([i % keys; 32]);
                let msg = Hash::of(Domain::Transaction, &[i]);
                (key.public(), msg, key.sign(&msg))
            })
            .collect()
    }
    fn old_single(items: &Items, i: usize) {
        let (k, m, s) = &items[i % items.len()];
        let key = ed25519_dalek::VerifyingKey::from_bytes(&k.0).expect("key");
        let sig = ed25519_dalek::Signature::from_bytes(&s.0);
        black_box(key.verify_strict(&m.0, &sig)).expect("valid");
    }
    fn new_single(items: &Items, i: usize) {
        let (k, m, s) = &items[i % items.len()];
        black_box(k.verify(m, s)).expect("valid");
    }
    fn old_batch(items: &Items, _: usize) {
        let mut decoded = HashMap::new();
        let mut keys = Vec::with_capacity(items.len());
        let mut sigs = Vec::with_capacity(items.len());
        for (k, _, s) in items {
            let key = *decoded
                .entry(k.0)
                .or_insert_with(|| ed25519_dalek::VerifyingKey::from_bytes(&k.0).expect("key"));
            keys.push(key);
            sigs.push(ed25519_dalek::Signature::from_bytes(&s.0));
        }
        let msgs: Vec<&[u8]> = items.iter().map(|(_, m, _)| &m.0[..]).collect();
        black_box(ed25519_dalek::verify_batch(&msgs, &sigs, &keys)).expect("valid");
    }
    fn new_batch(items: &Items, _: usize) {
        black_box(verify_batch(items)).expect("valid");
    }

    let distinct = items(64);
    let four = items(4);
    type Bench<'a> = (&'a str, &'a Items, usize, fn(&Items, usize));
    let benches: [Bench; 6] = [
        (
            "single, old (dalek verify_strict)",
            &distinct,
            1,
            old_single,
        ),
        ("single, new (ZIP-215)", &distinct, 1, new_single),
        (
            "batch of 64, 64 keys, old (dalek)",
            &distinct,
            64,
            old_batch,
        ),
        (
            "batch of 64, 64 keys, new (ZIP-215)",
            &distinct,
            64,
            new_batch,
        ),
        ("batch of 64, 4 keys, old (dalek)", &four, 64, old_batch),
        ("batch of 64, 4 keys, new (ZIP-215)", &four, 64, new_batch),
    ];
    let mut best = [0f64; 6];
    for _round in 0..8 {
        for (b, (_, items, per_call, f)) in benches.iter().enumerate() {
            let start = Instant::now();
            let mut calls = 0usize;
            while start.elapsed() < Duration::from_millis(200) {
                f(items, calls);
                calls += 1;
            }
            let per_s = (calls * per_call) as f64 / start.elapsed().as_secs_f64();
            best[b] = best[b].max(per_s);
        }
    }
    for ((label, ..), rate) in benches.iter().zip(best) {
        println!("{label:<40} {rate:>8.0} signatures/s");
    }
    for pair in [0, 2, 4] {
        let name = benches[pair]
            .0
            .trim_end_matches(", old (dalek verify_strict)");
        let name = name.trim_end_matches(", old (dalek)");
        println!("{name}: new/old = {:.2}", best[pair + 1] / best[pair]);
    }
}
