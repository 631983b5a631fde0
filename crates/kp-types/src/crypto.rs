//! ed25519 keys and signatures.
//!
//! A signer signs the 32-byte domain-separated hash of the object (see
//! [`crate::hash::Domain`]), never raw bytes chosen by someone else. Verification
//! is strict about key and signature encodings; [`verify_batch`] checks many
//! signatures at once at roughly twice the single-signature rate.

use crate::hash::Hash;
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

    /// Verifies `signature` over `message` by this key.
    pub fn verify(&self, message: &Hash, signature: &Signature) -> Result<(), CryptoError> {
        let key = self.dalek()?;
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        key.verify_strict(&message.0, &sig)
            .map_err(|_| CryptoError::BadSignature { key: self.to_hex() })
    }

    fn dalek(&self) -> Result<ed25519_dalek::VerifyingKey, CryptoError> {
        ed25519_dalek::VerifyingKey::from_bytes(&self.0)
            .map_err(|_| CryptoError::MalformedKey { key: self.to_hex() })
    }
}

/// Verifies many `(key, message, signature)` triples at once.
///
/// Either all verify or the batch fails; a caller that needs to know which one
/// failed falls back to [`PublicKey::verify`] on each.
pub fn verify_batch(items: &[(PublicKey, Hash, Signature)]) -> Result<(), CryptoError> {
    if items.is_empty() {
        return Ok(());
    }
    // A block's transactions come from a few authority keys: each distinct
    // key is decompressed once, not once per signature (decompression costs
    // about as much as the rest of a signature's share of the batch).
    let mut decompressed: std::collections::HashMap<[u8; 32], ed25519_dalek::VerifyingKey> =
        std::collections::HashMap::new();
    let mut keys = Vec::with_capacity(items.len());
    let mut sigs = Vec::with_capacity(items.len());
    for (key, _, sig) in items {
        let dalek = match decompressed.get(&key.0) {
            Some(k) => *k,
            None => {
                let k = key.dalek()?;
                decompressed.insert(key.0, k);
                k
            }
        };
        keys.push(dalek);
        sigs.push(ed25519_dalek::Signature::from_bytes(&sig.0));
    }
    let messages: Vec<&[u8]> = items.iter().map(|(_, m, _)| &m.0[..]).collect();
    ed25519_dalek::verify_batch(&messages, &sigs, &keys)
        .map_err(|_| CryptoError::BadBatch { count: items.len() })
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
