//! ed25519 keys and signatures, verified under one rule: ZIP-215.
//!
//! A signer signs the 32-byte domain-separated hash of the object (see
//! [`crate::hash::Domain`]), never raw bytes chosen by someone else. Signing
//! is RFC 8032 ed25519 (`ed25519-dalek`); verification, of one signature
//! ([`PublicKey::verify`]) or of many at once ([`verify_batch`]), follows the
//! rules of [ZIP-215](https://zips.z.cash/zip-0215), as implemented by the
//! `ed25519-consensus` crate:
//!
//! * the key `A` and the first half `R` of the signature must decode to curve
//!   points, but need not be canonical encodings (a `y` coordinate of `p` or
//!   more, or `x = 0` with the sign bit set, is accepted); the bytes as given,
//!   not a re-encoding, are what `k = SHA-512(R || A || M)` hashes;
//! * the second half `s` must be canonical (`s < ℓ`), else the signature is
//!   rejected;
//! * the equation is the cofactored one, `[8]([s]B - R - [k]A) = 0`, so
//!   small-order and mixed-order `A` and `R` are accepted when it holds.
//!
//! Why: whether a transaction, a vote or a commit is valid must be a function
//! of its bytes alone, the same on every node and every client. The previous
//! pair, `ed25519-dalek`'s `verify_strict` for one signature (cofactorless,
//! refuses small-order `A` and `R`) and its `verify_batch` for many (refuses
//! no small-order point, and checks a random combination of cofactorless
//! equations, whose verdict on a mixed-order signature depends on the rest of
//! the batch), gave two verdicts on crafted signatures: a block could be valid
//! to a node that checked it in a batch and invalid to one that checked
//! signatures one by one, or to a client: a consensus split. Under ZIP-215 the
//! batch equation is a random linear combination of the cofactored single
//! equations: a batch of signatures that each verify always verifies, and a
//! batch with one that does not verify fails, except with probability below
//! 2^-128. Every signature that [`SigningKey`] (or any RFC 8032 signer) makes
//! is valid under ZIP-215.
//!
//! The 128-bit coefficients of that combination come from a ChaCha20 stream
//! keyed by a blake3 hash of the whole batch (Fiat-Shamir, as `ed25519-dalek`'s
//! batch verifier did with its transcript), so this crate draws no randomness
//! of its own. (`ed25519-consensus` hands them out in the order of a hash map
//! of the batch's keys, whose hashing is random per process: that order changes
//! nothing but which negligible chance applies.) Such coefficients never turn
//! a batch of valid signatures invalid; making a batch with an invalid
//! signature pass means finding a batch whose hash gives coefficients that
//! cancel its errors, about 2^128 tries.
//!
//! ZIP-215 accepts a small-order key, for which `s = 0` and a small-order `R`
//! "sign" every message: code that registers a key someone else chose must
//! refuse small-order keys itself (verification cannot: it would not be
//! ZIP-215 any more). [`verify_batch`] runs at about twice the
//! single-signature rate.

use crate::hash::Hash;
use ed25519_consensus::{batch, VerificationKey, VerificationKeyBytes};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// Why a signature did not verify.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CryptoError {
    /// The 32 bytes are not a valid ed25519 public key.
    #[error("malformed public key {key}")]
    MalformedKey {
        /// The key, in hex.
        key: String,
    },
    /// The signature does not verify for this key and message.
    #[error("signature does not verify for key {key}")]
    BadSignature {
        /// The claimed signer, in hex.
        key: String,
    },
    /// At least one signature of a batch does not verify.
    #[error("a signature in a batch of {count} does not verify")]
    BadBatch {
        /// Size of the batch.
        count: usize,
    },
}

/// An ed25519 public key (a node key or an authority key).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey(pub [u8; 32]);

/// An ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl PublicKey {
    /// Whether this key must never be registered: a point of small order,
    /// for which ZIP-215 (the ledger's rule) accepts one signature for every
    /// message, so anyone could sign as it; or bytes that are no curve point
    /// at all, for which nothing verifies. Registration refuses both
    /// (`weak-key`); verification itself stays plain ZIP-215.
    pub fn is_weak(&self) -> bool {
        ed25519_dalek::VerifyingKey::from_bytes(&self.0).map_or(true, |k| k.is_weak())
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Option<PublicKey> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut out).ok()?;
        Some(PublicKey(out))
    }

    /// Verifies `signature` over `message` by this key, under the ZIP-215 rule
    /// of this module (the same rule as [`verify_batch`]).
    pub fn verify(&self, message: &Hash, signature: &Signature) -> Result<(), CryptoError> {
        match verify_one(&self.0, &message.0, &signature.0) {
            Ok(()) => Ok(()),
            Err(Failure::MalformedKey) => Err(CryptoError::MalformedKey { key: self.to_hex() }),
            Err(Failure::BadSignature) => Err(CryptoError::BadSignature { key: self.to_hex() }),
        }
    }
}

/// Verifies many `(key, message, signature)` triples at once, under the same
/// ZIP-215 rule as [`PublicKey::verify`]: the batch verifies if and only if
/// every triple does (see the module documentation for the one-sided,
/// below-2^-128 chance of the "only if").
///
/// Either all verify or the batch fails; a caller that needs to know which one
/// failed falls back to [`PublicKey::verify`] on each. A batch with a key that
/// is not a curve point fails with [`CryptoError::MalformedKey`] (the first
/// such key), otherwise a failing batch is [`CryptoError::BadBatch`].
pub fn verify_batch(items: &[(PublicKey, Hash, Signature)]) -> Result<(), CryptoError> {
    if items.is_empty() {
        return Ok(());
    }
    // `ed25519-consensus` groups the batch by key: each distinct key is
    // decompressed once and its terms are summed, which matters because a
    // block's transactions come from a few authority keys.
    if batch_holds(
        items
            .iter()
            .map(|(key, message, signature)| (&key.0, &message.0[..], &signature.0)),
    ) {
        return Ok(());
    }
    // Only a failing batch pays for telling a malformed key apart.
    match items
        .iter()
        .find(|(key, _, _)| VerificationKey::try_from(key.0).is_err())
    {
        Some((key, _, _)) => Err(CryptoError::MalformedKey { key: key.to_hex() }),
        None => Err(CryptoError::BadBatch { count: items.len() }),
    }
}

/// Why one signature failed, before it is dressed as a [`CryptoError`].
enum Failure {
    MalformedKey,
    BadSignature,
}

/// The single-signature rule, on raw bytes: ZIP-215 (`ed25519-consensus`).
fn verify_one(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> Result<(), Failure> {
    let key = VerificationKey::try_from(*key).map_err(|_| Failure::MalformedKey)?;
    key.verify(&ed25519_consensus::Signature::from(*signature), message)
        .map_err(|_| Failure::BadSignature)
}

/// blake3 key-derivation context of the seed of the batch coefficients.
const BATCH_SEED_CONTEXT: &str = "kpledger v1 ed25519 batch verification coefficients";

/// The batch rule, on raw bytes: ZIP-215 (`ed25519-consensus`), with the
/// random coefficients drawn from a ChaCha20 stream whose key is a blake3 hash
/// of every key, message and signature of the batch, in order.
fn batch_holds<'a>(items: impl Iterator<Item = (&'a [u8; 32], &'a [u8], &'a [u8; 64])>) -> bool {
    let mut seed = blake3::Hasher::new_derive_key(BATCH_SEED_CONTEXT);
    let mut verifier = batch::Verifier::new();
    for (key, message, signature) in items {
        // Length-prefixed, so that no two batches hash alike.
        seed.update(key);
        seed.update(&(message.len() as u64).to_be_bytes());
        seed.update(message);
        seed.update(signature);
        verifier.queue((
            VerificationKeyBytes::from(*key),
            ed25519_consensus::Signature::from(*signature),
            message,
        ));
    }
    let rng = ChaCha20Rng::from_seed(*seed.finalize().as_bytes());
    verifier.verify(rng).is_ok()
}

/// The rule of [`PublicKey::verify`] on raw bytes and a message of any
/// length, for published test vectors whose messages are not 32-byte hashes.
/// Not for production use: sign and verify [`Hash`]es.
#[doc(hidden)]
pub fn verify_bytes(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    verify_one(key, message, signature).is_ok()
}

/// The rule of [`verify_batch`] on raw bytes and messages of any length, for
/// published test vectors. Not for production use.
#[doc(hidden)]
pub fn verify_batch_bytes(items: &[([u8; 32], Vec<u8>, [u8; 64])]) -> bool {
    items.is_empty()
        || batch_holds(
            items
                .iter()
                .map(|(key, message, signature)| (key, &message[..], signature)),
        )
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pk:{}", &self.to_hex()[..12])
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sig:{}", &hex::encode(&self.0[..6]))
    }
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::serde_bytes::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::serde_bytes::deserialize(d).map(PublicKey)
    }
}

impl Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::serde_bytes::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::serde_bytes::deserialize(d).map(Signature)
    }
}

/// A private ed25519 key. Its bytes never appear in `Debug` output.
#[derive(Clone)]
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// The key whose 32-byte seed is `seed` (seeds come from the OS RNG in the
    /// CLI, or from a test seed in simulations).
    pub fn from_seed(seed: [u8; 32]) -> SigningKey {
        SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// The 32-byte seed (for writing key files).
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// Signs a domain-separated hash.
    pub fn sign(&self, message: &Hash) -> Signature {
        use ed25519_dalek::Signer;
        Signature(self.0.sign(&message.0).to_bytes())
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({:?})", self.public())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Domain;

    #[test]
    fn small_order_keys_and_non_points_are_weak_real_keys_are_not() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        // The point of order 2: y = -1.
        let mut order_two = [0xff; 32];
        order_two[0] = 0xec;
        order_two[31] = 0x7f;
        // y = 0 is a point of order 4.
        for weak in [identity, order_two, [0u8; 32]] {
            assert!(PublicKey(weak).is_weak(), "{}", hex::encode(weak));
        }
        // y = 2 is no point on the curve.
        let mut not_a_point = [0u8; 32];
        not_a_point[0] = 2;
        assert!(PublicKey(not_a_point).is_weak());
        for seed in 0..32u8 {
            assert!(!SigningKey::from_seed([seed; 32]).public().is_weak());
        }
        // Why it matters: ZIP-215 accepts s = 0 with R the identity for the
        // identity key, whatever the message.
        let mut forged = [0u8; 64];
        forged[0] = 1;
        let forged = Signature(forged);
        for text in [&b"one"[..], b"two"] {
            let msg = Hash::of(Domain::Document, text);
            assert!(PublicKey(identity).verify(&msg, &forged).is_ok());
        }
    }

    #[test]
    fn sign_and_verify() {
        let key = SigningKey::from_seed([7; 32]);
        let msg = Hash::of(Domain::Document, b"hello");
        let sig = key.sign(&msg);
        assert!(key.public().verify(&msg, &sig).is_ok());
        let other = Hash::of(Domain::Document, b"hellO");
        assert!(key.public().verify(&other, &sig).is_err());
        let mut bad = sig;
        bad.0[3] ^= 1;
        assert!(key.public().verify(&msg, &bad).is_err());
    }

    #[test]
    fn batch_detects_one_bad_signature() {
        let items: Vec<_> = (0u8..10)
            .map(|i| {
                let key = SigningKey::from_seed([i; 32]);
                let msg = Hash::of(Domain::Document, &[i]);
                (key.public(), msg, key.sign(&msg))
            })
            .collect();
        assert!(verify_batch(&items).is_ok());
        let mut broken = items.clone();
        broken[4].1 = Hash::of(Domain::Document, b"other");
        assert!(verify_batch(&broken).is_err());
    }

    #[test]
    fn batch_with_repeated_keys_checks_every_signature() {
        let keys: Vec<SigningKey> = (0u8..3).map(|i| SigningKey::from_seed([i; 32])).collect();
        let items: Vec<_> = (0u8..30)
            .map(|i| {
                let key = &keys[usize::from(i % 3)];
                let msg = Hash::of(Domain::Document, &[i]);
                (key.public(), msg, key.sign(&msg))
            })
            .collect();
        assert!(verify_batch(&items).is_ok());
        // A signature under the wrong one of the repeated keys.
        let mut swapped = items.clone();
        swapped[7].0 = keys[0].public();
        assert!(verify_batch(&swapped).is_err());
        // A malformed key is an error even if it repeats.
        let mut malformed = items.clone();
        malformed[2].0 = PublicKey([0xff; 32]);
        malformed[5].0 = PublicKey([0xff; 32]);
        assert!(verify_batch(&malformed).is_err());
    }

    #[test]
    fn signature_round_trips_in_both_forms() {
        let key = SigningKey::from_seed([1; 32]);
        let sig = key.sign(&Hash::ZERO);
        let bin = crate::encode(&sig);
        assert_eq!(bin.len(), 64);
        assert_eq!(crate::decode::<Signature>(&bin, 64).unwrap(), sig);
        let json = serde_json::to_string(&sig).unwrap();
        assert_eq!(serde_json::from_str::<Signature>(&json).unwrap(), sig);
    }
}
