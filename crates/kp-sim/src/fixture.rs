//! The simulated chain: a genesis with `n` government Participants (codes
//! `AA`, `AB`, … each its own territory, one KP Authority each) and observers,
//! deterministic keys from the ledger's testkit, and a generator of random
//! valid and invalid KPCS transactions.

use kp_ledger::testkit;
use kp_ledger::{Genesis, Params};
use kp_types::{
    Carats, Certificate, Hash, HsCode, ImportConfirmation, ParticipantKind, Payload,
    SignedTransaction, SigningKey, Timestamp, Transaction,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Lifetime of workload transactions.
pub const TX_LIFETIME_MS: u64 = 10 * 60_000;

/// The code of government `index`: two letters, `AA`, `AB`, ….
pub fn government_code(index: usize) -> String {
    let first = char::from(b'A' + (index / 26 % 26) as u8);
    let second = char::from(b'A' + (index % 26) as u8);
    format!("{first}{second}")
}

/// The code of observer `index`: `OBA`, `OBB`, ….
pub fn observer_code(index: usize) -> String {
    format!("OB{}", char::from(b'A' + (index % 26) as u8))
}

/// The genesis of a simulated chain.
pub fn genesis(validators: usize, observers: usize, genesis_time: Timestamp) -> Genesis {
    let mut participants = Vec::new();
    let mut authorities = Vec::new();
    for i in 0..validators {
        let code = government_code(i);
        participants.push(testkit::member(
            &code,
            ParticipantKind::Government,
            &[&code],
        ));
        authorities.push(testkit::authority(&code));
    }
    for i in 0..observers {
        participants.push(testkit::member(
            &observer_code(i),
            ParticipantKind::Observer,
            &[],
        ));
    }
    Genesis {
        chain_id: testkit::CHAIN_ID.to_string(),
        genesis_time,
        chair: testkit::code(&government_code(0)),
        vice_chair: None,
        params: Params::default(),
        participants,
        authorities,
    }
}

/// Random KPCS transactions: mostly valid certificate issues and import
/// confirmations, plus invalid ones of several kinds (bad HS code, wrong number
/// prefix, bad signature, other chain, expired, duplicate number submitted
/// twice so that one copy fails inside a block).
#[derive(Debug, Default)]
pub struct Workload {
    counter: u64,
    issued: Vec<(Certificate, String)>,
    /// Transactions generated, by kind.
    pub generated_valid: u64,
    /// Invalid transactions generated.
    pub generated_invalid: u64,
}

fn sign(
    key: &SigningKey,
    nonce: u64,
    expires_at: Timestamp,
    payload: Payload,
) -> SignedTransaction {
    testkit::sign(key, nonce, expires_at, payload)
}

impl Workload {
    /// The next transaction, for the trading members `active` (codes) at `now`.
    pub fn next(
        &mut self,
        rng: &mut ChaCha8Rng,
        active: &[String],
        now: Timestamp,
    ) -> Option<SignedTransaction> {
        if active.len() < 2 {
            return None;
        }
        self.counter += 1;
        let nonce = self.counter;
        let expires = now.plus_ms(TX_LIFETIME_MS);
        let from = active[rng.gen_range(0..active.len())].clone();
        let mut to = active[rng.gen_range(0..active.len())].clone();
        if to == from {
            to = active[(active.iter().position(|c| *c == from).unwrap_or(0) + 1) % active.len()]
                .clone();
        }
        let number = format!("{from}{:07}", self.counter);
        let today = now.date();
        let roll = rng.gen_range(0..100);
        let tx = match roll {
            0..=54 => {
                let c = testkit::certificate(&number, &from, &to, today);
                self.issued.push((c.clone(), to.clone()));
                if self.issued.len() > 64 {
                    self.issued.remove(0);
                }
                self.generated_valid += 1;
                sign(
                    &testkit::authority_key(&from),
                    nonce,
                    expires,
                    Payload::IssueCertificate(c),
                )
            }
            55..=69 if !self.issued.is_empty() => {
                let (c, importer) = self.issued[rng.gen_range(0..self.issued.len())].clone();
                self.generated_valid += 1;
                sign(
                    &testkit::authority_key(&importer),
                    nonce,
                    expires,
                    Payload::ConfirmImport(ImportConfirmation {
                        number: c.number.clone(),
                        authority: testkit::authority_id(&importer),
                        carats: Carats(10_000),
                        parcels: 2,
                        received_on: today,
                    }),
                )
            }
            70..=77 if !self.issued.is_empty() => {
                // The same certificate again under a fresh nonce: passes
                // admission while the first is pending, fails in its block.
                let (c, _) = self.issued[rng.gen_range(0..self.issued.len())].clone();
                self.generated_invalid += 1;
                let exporter = c.exporting.as_str().to_string();
                sign(
                    &testkit::authority_key(&exporter),
                    nonce,
                    expires,
                    Payload::IssueCertificate(c),
                )
            }
            _ => {
                self.generated_invalid += 1;
                let mut c = testkit::certificate(&number, &from, &to, today);
                let key = testkit::authority_key(&from);
                match rng.gen_range(0..5) {
                    0 => {
                        c.lines[0].hs_code = HsCode::new("7103.10");
                        sign(&key, nonce, expires, Payload::IssueCertificate(c))
                    }
                    1 => {
                        let wrong = format!("{to}{:07}", self.counter);
                        c.number = testkit::number(&wrong);
                        sign(&key, nonce, expires, Payload::IssueCertificate(c))
                    }
                    2 => {
                        // Signed by the wrong key.
                        let mut tx = sign(&key, nonce, expires, Payload::IssueCertificate(c));
                        tx.signature = testkit::authority_key(&to).sign(&tx.hash());
                        tx
                    }
                    3 => Transaction {
                        chain_id: "other-chain".into(),
                        signer: key.public(),
                        nonce,
                        expires_at: expires,
                        payload: Payload::IssueCertificate(c),
                    }
                    .sign(&key),
                    _ => sign(
                        &key,
                        nonce,
                        Timestamp(now.0.saturating_sub(1)),
                        Payload::IssueCertificate(c),
                    ),
                }
            }
        };
        Some(tx)
    }
}

/// A hash that names no block (target of a double voter's second vote).
pub fn phantom_block() -> Hash {
    Hash::of(kp_types::Domain::Document, b"kp-sim phantom block")
}
