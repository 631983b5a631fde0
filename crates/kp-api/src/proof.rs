//! What a node serves so that a client can check an answer without trusting
//! the node: decided headers with their commit certificates and validator
//! sets ([`LightBlock`]), records proven against a header's `records_root`
//! ([`RecordProof`]), and transactions proven included in a block and
//! accepted by the ledger ([`ActProof`]).
//!
//! A [`CertificateProof`] is one answer (one round trip) holding everything
//! `cert verify` needs: the anchor, a recent decided header whose
//! `records_root` commits to the state after the block before it; the
//! certificate's record (or its absence), both Participants' records, the
//! authorities that signed its acts, the seizure reports that name it, and,
//! for each act of its history, the signed transaction with its inclusion
//! and result proofs. Older headers are tied to the anchor through the state
//! itself: the ledger records every applied block's hash
//! ([`crate::keys::block_hash`]), a provable record.

use kp_types::merkle::MerkleProof;
use kp_types::smt;
use kp_types::{
    AuthorityId, BlockHeader, CertificateNumber, CommitCertificate, ParticipantCode, Payload,
    PublicKey, SignedTransaction,
};
use serde::{Deserialize, Serialize};

/// Most records one proof may carry.
pub const PROOF_RECORDS_MAX: usize = 512;
/// Most acts (transactions) one certificate proof may carry.
pub const PROOF_ACTS_MAX: usize = 64;
/// Most validators a light block may list.
pub const LIGHT_VALIDATORS_MAX: usize = 1_000;
/// Largest encoded proof a client reads.
pub const PROOF_BYTES_MAX: usize = 4 * 1024 * 1024;

/// A decided header, the commit certificate that decided it, and the
/// validator set of its height (whose hash the header carries).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct LightBlock {
    /// The header.
    pub header: BlockHeader,
    /// Precommits of a quorum of `validators` for the header's hash.
    pub commit: CommitCertificate,
    /// The validators of `header.height`, by code:
    /// `kp_types::validator_set_hash(&validators) == header.validators_hash`.
    pub validators: Vec<(ParticipantCode, PublicKey)>,
}

/// One entry of the ledger state, present or absent, proven against a
/// records root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct RecordProof {
    /// The store key ([`crate::keys`]).
    #[serde(with = "hex_bytes")]
    #[cfg_attr(
        feature = "openapi",
        schemars(with = "String", regex(pattern = r"^([0-9a-f]{2})*$"))
    )]
    pub key: Vec<u8>,
    /// The stored bytes, or `None` when the proof shows the key absent.
    #[serde(with = "hex_option")]
    #[cfg_attr(feature = "openapi", schemars(with = "Option<String>"))]
    pub value: Option<Vec<u8>>,
    /// The path in the records tree.
    pub proof: smt::RecordProof,
}

/// A transaction, proven decided (in the block of `height`) and accepted by
/// the ledger (its result in the next header's `results_root`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ActProof {
    /// The signed transaction.
    pub tx: SignedTransaction,
    /// Height of its block.
    pub height: u64,
    /// The header of that block (`txs_root`).
    pub header: BlockHeader,
    /// Path from the transaction's hash to `header.txs_root`.
    pub inclusion: MerkleProof,
    /// The header of `height + 1` (`results_root` of the block at `height`).
    pub result_header: BlockHeader,
    /// Path from `kp_types::result_leaf(tx hash, None)` (accepted) to
    /// `result_header.results_root`.
    pub result: MerkleProof,
}

/// Everything that proves what the ledger holds about one certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct CertificateProof {
    /// The certificate number asked for.
    pub number: CertificateNumber,
    /// The header whose `records_root` the records are proven against.
    pub anchor: LightBlock,
    /// The records: the certificate (or its absence), the two Participants,
    /// the authorities and their keys, the seizure index and reports, and
    /// the block hashes that tie the acts' headers to the anchor.
    pub records: Vec<RecordProof>,
    /// The transactions of the certificate's history, oldest first.
    pub acts: Vec<ActProof>,
}

/// Any single record, proven against an anchor (`participant show
/// --verify`, `resolution show --verify`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct RecordsProof {
    /// The header whose `records_root` the records are proven against.
    pub anchor: LightBlock,
    /// The records asked for.
    pub records: Vec<RecordProof>,
}

/// The KP Authority an act names as its signer, for the acts authorities
/// sign (issue, confirmation, void, seizure report).
pub fn act_authority(tx: &SignedTransaction) -> Option<&AuthorityId> {
    match &tx.tx.payload {
        Payload::IssueCertificate(c) => Some(&c.issuing_authority),
        Payload::ConfirmImport(c) => Some(&c.authority),
        Payload::VoidCertificate(v) => Some(&v.authority),
        Payload::ReportSeizure(s) => Some(&s.authority),
        _ => None,
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&hex::encode(bytes))
        } else {
            s.serialize_bytes(bytes)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        if d.is_human_readable() {
            let text = String::deserialize(d)?;
            hex::decode(text).map_err(serde::de::Error::custom)
        } else {
            Vec::<u8>::deserialize(d)
        }
    }
}

mod hex_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Bytes(#[serde(with = "super::hex_bytes")] Vec<u8>);

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        bytes.as_ref().map(|b| Bytes(b.clone())).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Ok(Option::<Bytes>::deserialize(d)?.map(|b| b.0))
    }
}
