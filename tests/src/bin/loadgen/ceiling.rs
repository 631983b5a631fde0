//! `loadgen ceiling`: batch signature verifications per second on every core.

use crate::measure::{cores, loadavg};
use crate::Json;
use kp_types::{Hash, PublicKey, Signature, SigningKey};
use std::time::{Duration, Instant};

/// Batch verifications of 64 signatures on every core for `secs` seconds.
pub(crate) fn ceiling(secs: f64) -> Json {
    const BATCH: usize = 64;
    let threads = cores();
    let load_before = loadavg();
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                // Distinct keys and messages, as in a block of certificates
                // from many authorities.
                let items: Vec<(PublicKey, Hash, Signature)> = (0..BATCH)
                    .map(|i| {
                        let mut seed = [0u8; 32];
                        seed[0] = t as u8;
                        seed[1] = i as u8;
                        seed[2] = 7;
                        let key = SigningKey::from_seed(seed);
                        let msg = Hash::of(
                            kp_types::Domain::Transaction,
                            format!("bench {t} {i}").as_bytes(),
                        );
                        (key.public(), msg, key.sign(&msg))
                    })
                    .collect();
                let started = Instant::now();
                let mut done = 0u64;
                while Instant::now() < deadline {
                    kp_types::verify_batch(&items).expect("valid batch");
                    done += BATCH as u64;
                }
                (done, started.elapsed().as_secs_f64())
            })
        })
        .collect();
    let mut total = 0.0;
    for h in handles {
        let (done, elapsed) = h.join().expect("ceiling thread");
        total += done as f64 / elapsed;
    }
    serde_json::json!({
        "mode": "ceiling",
        "threads": threads,
        "batch": BATCH,
        "batch_verify_per_s": total.round(),
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
    })
}
