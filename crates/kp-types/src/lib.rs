//! Domain types of kpledger: the objects of the Kimberley Process Certification
//! Scheme (Participants, KP Authorities, certificates, seizures, resolutions),
//! the signed transaction envelope, blocks, consensus wire objects, and the one
//! canonical encoding, hashing and signature scheme that every replica uses.
//!
//! This crate does no IO, reads no clock and draws no randomness: everything in
//! it is a pure function of its inputs, so that every replica computes the same
//! bytes, hashes and verdicts.
//!
//! * Encoding: bincode 2, one configuration ([`encoding`]), big-endian fixed-width
//!   integers, size-limited decoding that refuses trailing bytes.
//! * Hashing: blake3 in key-derivation mode with one context string per object
//!   kind ([`hash::Domain`]), so that no two kinds of object can share a hash.
//! * Signatures: ed25519 over the domain-separated hash of the signed object
//!   ([`crypto`]); single and batch verification follow one rule (ZIP-215, `ed25519-consensus`).
//! * Amounts are fixed-point integers (carats in hundredths, US cents); there are
//!   no floats in anything that is signed, stored or hashed.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

pub mod amount;
pub mod block;
pub mod certificate;
pub mod consensus;
pub mod crypto;
pub mod encoding;
pub mod hash;
// Unix file modes guard key files; the WebAssembly verifier has none.
#[cfg(unix)]
pub mod keyfile;
pub mod merkle;
pub mod participant;
pub mod resolution;
#[cfg(feature = "openapi")]
mod schema;
pub mod sealed;
mod serde_bytes;
pub mod smt;
pub mod time;
pub mod tx;

pub use amount::{Carats, UsdCents};
pub use block::{result_leaf, validator_set_hash, Block, BlockHeader};
pub use certificate::{
    Certificate, CertificateApproval, CertificateLine, CertificateNumber, HsCode,
    ImportConfirmation, Origin, Party, ProductionReport, SeizureReason, SeizureReport,
    VoidCertificate,
};
pub use consensus::{
    quorum, CommitCertificate, CommitSignature, Evidence, Proposal, SignedProposal, SignedVote,
    Vote, VoteKind,
};
pub use crypto::{verify_batch, PublicKey, Signature, SigningKey};
pub use encoding::{decode, encode, EncodingError};
pub use hash::{Domain, Hash};
pub use participant::{
    Authority, AuthorityId, KeyRole, Participant, ParticipantCode, ParticipantKind, Territory,
};
pub use resolution::{
    OriginRule, ResolutionAction, ResolutionId, ResolutionProposal, SanctionScope,
};
pub use sealed::{DecryptionKey, EncryptionKey, Parties, Sealed, SealedFields};
pub use time::{Date, Period, Timestamp};
pub use tx::{Payload, SignedTransaction, Transaction, TxHash};
