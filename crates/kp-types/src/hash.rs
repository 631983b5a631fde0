//! blake3 hashes with one domain per object kind.
//!
//! Every hash is `blake3::derive_key(context, bytes)` where the context names the
//! kind of object, so a transaction, a block header and a vote can never hash to
//! the same value even if their encodings coincide.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of object being hashed; each has its own blake3 derivation context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// A transaction (its identity, which is also what its signer signs).
    Transaction,
    /// A block header (the block's identity).
    BlockHeader,
    /// A leaf of the transactions Merkle tree.
    MerkleLeaf,
    /// An inner node of a Merkle tree.
    MerkleNode,
    /// A consensus vote (what a validator signs).
    Vote,
    /// A consensus proposal (what a proposer signs).
    Proposal,
    /// An entry of the ledger state (key and value), expanded to the state
    /// hash's lanes.
    StateEntry,
    /// The state root (of the state hash's lanes).
    StateRoot,
    /// The set of validators of a height.
    ValidatorSet,
    /// Anything else a caller names (administrative decision texts, test data).
    Document,
    /// The key of a record of the sparse Merkle tree ([`crate::smt`]).
    RecordKey,
    /// The value of a record of the sparse Merkle tree ([`crate::smt`]).
    RecordValue,
    /// A leaf of the sparse Merkle tree: a key hash and a value hash.
    RecordLeaf,
    /// An internal node of the sparse Merkle tree: two child hashes.
    RecordNode,
    /// The result of one transaction of a block (accepted or the rejection
    /// code), a leaf of the block's results tree.
    TxResult,
    /// A transaction with its signature: the leaf of a block's transactions
    /// tree, so that the header commits to the signatures too.
    SignedTransaction,
    /// The salted commitment of a certificate's sealed fields.
    SealedFields,
}

impl Domain {
    /// Every domain, in declaration order (`ALL[d as usize] == d`).
    pub const ALL: [Domain; 17] = [
        Domain::Transaction,
        Domain::BlockHeader,
        Domain::MerkleLeaf,
        Domain::MerkleNode,
        Domain::Vote,
        Domain::Proposal,
        Domain::StateEntry,
        Domain::StateRoot,
        Domain::ValidatorSet,
        Domain::Document,
        Domain::RecordKey,
        Domain::RecordValue,
        Domain::RecordLeaf,
        Domain::RecordNode,
        Domain::TxResult,
        Domain::SignedTransaction,
        Domain::SealedFields,
    ];

    /// A blake3 hasher in this domain's key-derivation mode, before any
    /// input: `Domain::hasher(d)` then `update(x)` gives
    /// `blake3::derive_key(d.context(), x)`. The context's own hash is
    /// computed once per domain and the hasher cloned, which halves the
    /// cost of the short inputs (tree nodes, leaves) most hashes have.
    pub fn hasher(self) -> blake3::Hasher {
        static HASHERS: std::sync::OnceLock<Vec<blake3::Hasher>> = std::sync::OnceLock::new();
        let hashers = HASHERS.get_or_init(|| {
            Domain::ALL
                .iter()
                .map(|d| blake3::Hasher::new_derive_key(d.context()))
                .collect()
        });
        match hashers.get(self as usize) {
            Some(hasher) => hasher.clone(),
            None => blake3::Hasher::new_derive_key(self.context()),
        }
    }

    /// The blake3 key-derivation context of this domain.
    pub const fn context(self) -> &'static str {
        match self {
            Domain::Transaction => "kpledger v1 transaction",
            Domain::BlockHeader => "kpledger v1 block header",
            Domain::MerkleLeaf => "kpledger v1 merkle leaf",
            Domain::MerkleNode => "kpledger v1 merkle node",
            Domain::Vote => "kpledger v1 consensus vote",
            Domain::Proposal => "kpledger v1 consensus proposal",
            Domain::StateEntry => "kpledger v2 state entry",
            Domain::StateRoot => "kpledger v2 state root",
            Domain::ValidatorSet => "kpledger v1 validator set",
            Domain::Document => "kpledger v1 document",
            Domain::RecordKey => "kpledger v1 record key",
            Domain::RecordValue => "kpledger v1 record value",
            Domain::RecordLeaf => "kpledger v1 record leaf",
            Domain::RecordNode => "kpledger v1 record node",
            Domain::TxResult => "kpledger v1 transaction result",
            Domain::SignedTransaction => "kpledger v1 signed transaction",
            Domain::SealedFields => "kpledger v1 sealed certificate fields commitment",
        }
    }
}

/// A 32-byte blake3 hash.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero hash, used for "no previous block" and empty trees.
    pub const ZERO: Hash = Hash([0; 32]);

    /// Hashes `bytes` in `domain`.
    pub fn of(domain: Domain, bytes: &[u8]) -> Hash {
        let mut hasher = domain.hasher();
        hasher.update(bytes);
        Hash(*hasher.finalize().as_bytes())
    }

    /// Hashes the concatenation of `parts` in `domain` without copying them.
    pub fn of_parts(domain: Domain, parts: &[&[u8]]) -> Hash {
        let mut hasher = domain.hasher();
        for part in parts {
            hasher.update(part);
        }
        Hash(*hasher.finalize().as_bytes())
    }

    /// The canonical encoding of `value`, hashed in `domain`.
    pub fn of_value<T: Serialize + ?Sized>(domain: Domain, value: &T) -> Hash {
        crate::encoding::with_encoded(value, |bytes| Hash::of(domain, bytes))
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Option<Hash> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).ok()?;
        Some(Hash(out))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", &self.to_hex()[..12])
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::serde_bytes::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::serde_bytes::deserialize(d).map(Hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_domain_hasher_is_blake3_derive_key_of_its_context() {
        for (i, domain) in Domain::ALL.iter().enumerate() {
            assert_eq!(
                *domain as usize, i,
                "Domain::ALL is out of order at {domain:?}"
            );
            for input in [&b""[..], b"x", &[7u8; 64], &[9u8; 1500]] {
                assert_eq!(
                    Hash::of(*domain, input).0,
                    blake3::derive_key(domain.context(), input),
                    "{domain:?}, {} bytes",
                    input.len()
                );
                assert_eq!(
                    Hash::of_parts(*domain, &[input, b"tail"]).0,
                    blake3::derive_key(domain.context(), &[input, b"tail"].concat()),
                );
            }
        }
    }

    #[test]
    fn domains_separate() {
        assert_ne!(
            Hash::of(Domain::Transaction, b"x"),
            Hash::of(Domain::Vote, b"x")
        );
    }

    #[test]
    fn parts_equal_concatenation() {
        assert_eq!(
            Hash::of_parts(Domain::Document, &[b"ab", b"c"]),
            Hash::of(Domain::Document, b"abc")
        );
    }

    #[test]
    fn hex_and_binary_forms() {
        let h = Hash::of(Domain::Document, b"x");
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"{}\"", h.to_hex()));
        assert_eq!(serde_json::from_str::<Hash>(&json).unwrap(), h);
        let bin = crate::encode(&h);
        assert_eq!(bin.len(), 32);
        assert_eq!(crate::decode::<Hash>(&bin, 32).unwrap(), h);
    }
}
