//! Writes the seed corpora, `corpus/<target>/seed-<n>`, and replays every
//! file of each corpus through its target (without libFuzzer, on any
//! toolchain):
//!
//! ```text
//! cargo run --release --manifest-path fuzz/Cargo.toml --example seeds [-- DIR]
//! ```
//!
//! DIR defaults to `fuzz/corpus`. With `--replay`, writes nothing and only
//! replays.

use std::path::{Path, PathBuf};

type Target = (&'static str, fn(&[u8]), fn() -> Vec<Vec<u8>>);

const TARGETS: [Target; 5] = [
    ("decode_header", kp_fuzz::decode_header::run, kp_fuzz::decode_header::seeds),
    ("decode_proof", kp_fuzz::decode_proof::run, kp_fuzz::decode_proof::seeds),
    ("smt_proof", kp_fuzz::smt_proof::run, kp_fuzz::smt_proof::seeds),
    ("light_verify", kp_fuzz::light_verify::run, kp_fuzz::light_verify::seeds),
    ("sealed_envelope", kp_fuzz::sealed_envelope::run, kp_fuzz::sealed_envelope::seeds),
];

fn main() {
    let mut replay_only = false;
    let mut dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for arg in std::env::args().skip(1) {
        if arg == "--replay" {
            replay_only = true;
        } else {
            dir = PathBuf::from(arg);
        }
    }
    check_small_order();
    for (name, run, seeds) in TARGETS {
        let target_dir = dir.join(name);
        if !replay_only {
            std::fs::create_dir_all(&target_dir).expect("create the corpus directory");
            let seeds = seeds();
            let bytes: usize = seeds.iter().map(Vec::len).sum();
            for (i, seed) in seeds.iter().enumerate() {
                std::fs::write(target_dir.join(format!("seed-{i:02}")), seed)
                    .expect("write a seed");
            }
            println!("{name}: {} seeds, {bytes} bytes", seeds.len());
        }
        let mut files = 0;
        if let Ok(entries) = std::fs::read_dir(&target_dir) {
            for entry in entries.flatten() {
                let data = std::fs::read(entry.path()).expect("read a corpus file");
                run(&data);
                files += 1;
            }
        }
        println!("{name}: replayed {files} files of {}", target_dir.display());
    }
}

/// The small-order keys and signature the harnesses forge with do verify.
fn check_small_order() {
    let message = kp_types::Hash([7; 32]);
    for i in 0..kp_fuzz::small_order::KEYS.len() {
        let key = kp_fuzz::small_order::key(i);
        assert!(
            key.verify(&message, &kp_fuzz::small_order::signature()).is_ok(),
            "small-order key {i} does not verify"
        );
    }
}
