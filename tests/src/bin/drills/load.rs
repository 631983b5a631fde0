//! Steady load during a drill: certificate submissions, and the book of what the nodes answered.

use crate::harness::{http, Rng};
use kp_e2e::TESTNET_CHAIN_ID;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the load generator saw.
#[derive(Default)]
pub struct Ledgerbook {
    /// Acknowledged as decided: tx hash -> height named by the acknowledgement.
    pub decided: BTreeMap<String, u64>,
    /// Accepted into a pool (202) or lost in flight (timeout, node killed):
    /// may or may not be decided.
    pub uncertain: Vec<String>,
    /// Refused with a status (busy, 4xx): never acknowledged.
    pub refused: BTreeMap<u16, u64>,
    /// Requests that got no answer (connection refused while a node is down).
    pub unanswered: u64,
}

/// A certificate issue from node 0's authority (Botswana) numbered `BW<n>`.
pub fn certificate_tx(
    key: &kp_types::SigningKey,
    n: u64,
    chain_id: &str,
) -> kp_types::SignedTransaction {
    use kp_types::tx::{Payload, Transaction};
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let today = kp_types::Timestamp(now_ms).date();
    let mut cert = kp_ledger::testkit::certificate(&format!("BW{n:08}"), "BW", "EU", today);
    if let Ok(id) = kp_types::AuthorityId::new("BW-KPA") {
        cert.issuing_authority = id;
    }
    Transaction {
        chain_id: chain_id.to_string(),
        signer: key.public(),
        nonce: n,
        expires_at: kp_types::Timestamp(now_ms + 10 * 60 * 1000),
        payload: Payload::IssueCertificate(cert),
    }
    .sign(key)
}

/// Steady load: `threads` workers each submit with `wait: true` to a random
/// node until `stop`; returns what they were told.
pub fn start_load(
    rpcs: Vec<String>,
    key: kp_types::SigningKey,
    threads: usize,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> (Arc<Mutex<Ledgerbook>>, Vec<std::thread::JoinHandle<()>>) {
    let book = Arc::new(Mutex::new(Ledgerbook::default()));
    let counter = Arc::new(AtomicU64::new(1));
    let mut handles = Vec::new();
    for t in 0..threads {
        let (rpcs, key, stop, book, counter) = (
            rpcs.clone(),
            key.clone(),
            stop.clone(),
            book.clone(),
            counter.clone(),
        );
        handles.push(std::thread::spawn(move || {
            let client = http(Duration::from_secs(20));
            let mut rng = Rng::new(seed ^ (t as u64 + 1).wrapping_mul(0x1234_5678));
            while !stop.load(Ordering::SeqCst) {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let tx = certificate_tx(&key, n, TESTNET_CHAIN_ID);
                let hash = tx.hash().to_hex();
                let body = json!({ "tx_hex": hex::encode(kp_types::encode(&tx)), "wait": true });
                let node = &rpcs[rng.below(rpcs.len() as u64) as usize];
                let answer = client
                    .post(format!("http://{node}/v1/txs"))
                    .json(&body)
                    .send();
                let mut book = match book.lock() {
                    Ok(b) => b,
                    Err(p) => p.into_inner(),
                };
                match answer {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let value: Value = resp.json().unwrap_or(Value::Null);
                        match (status, value["decided"]["height"].as_u64()) {
                            (200, Some(h)) => {
                                book.decided.insert(hash, h);
                            }
                            (202 | 504, _) => book.uncertain.push(hash),
                            _ => *book.refused.entry(status).or_default() += 1,
                        }
                    }
                    Err(e) if e.is_connect() => {
                        book.unanswered += 1;
                        drop(book);
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    // Sent but the answer was lost: the node may have pooled it.
                    Err(_) => book.uncertain.push(hash),
                }
            }
        }));
    }
    (book, handles)
}

/// What the load generator saw, taken out of its lock.
pub fn take_book(book: &Mutex<Ledgerbook>) -> Ledgerbook {
    let mut guard = match book.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    std::mem::take(&mut *guard)
}
