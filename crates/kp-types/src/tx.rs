//! The signed transaction envelope.
//!
//! A transaction names its chain, its signer, a client-chosen `nonce` and an
//! expiry time. Its identity is the domain-separated hash of its canonical
//! encoding without the signature; that is also what the signer signs. The
//! ledger refuses a transaction whose hash it has already executed, and keeps
//! executed hashes until their expiry passes, so a replay is refused while the
//! memory of past transactions stays bounded by the longest allowed lifetime.

use crate::certificate::{
    Certificate, CertificateApproval, ImportConfirmation, ProductionReport, SeizureReport,
    VoidCertificate,
};
use crate::consensus::Evidence;
use crate::crypto::{CryptoError, PublicKey, Signature, SigningKey};
use crate::hash::{Domain, Hash};
use crate::participant::{Authority, AuthorityId, KeyRole, ParticipantCode};
use crate::resolution::{ResolutionId, ResolutionProposal};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A transaction's identity.
pub type TxHash = Hash;

/// What a transaction does. Who may sign each kind is a ledger rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Payload {
    /// Issue a certificate (signed by the issuing authority).
    IssueCertificate(Certificate),
    /// Confirm receipt (signed by an authority of the importing Participant).
    ConfirmImport(ImportConfirmation),
    /// Void before confirmation (signed by an authority of the exporter).
    VoidCertificate(VoidCertificate),
    /// Approve a certificate as the monitoring body a sanction names (its
    /// government key).
    ApproveCertificate(CertificateApproval),
    /// Report a seizure (signed by any Participant's authority).
    ReportSeizure(SeizureReport),
    /// Report half-yearly production (signed by the Participant's authority).
    ReportProduction(ProductionReport),
    /// Register a KP Authority (signed by its Participant's government key).
    RegisterAuthority(Authority),
    /// Revoke a KP Authority (signed by its Participant's government key).
    RevokeAuthority {
        /// The Participant revoking its own authority.
        participant: ParticipantCode,
        /// The authority.
        authority: AuthorityId,
        /// Its key was compromised since this time: certificates it issued
        /// in blocks of this time or later are flagged wherever they are
        /// shown (absent in JSON: an ordinary revocation).
        #[serde(default)]
        compromised_since: Option<Timestamp>,
    },
    /// Replace one of a member's keys (signed by its government key). A new
    /// consensus or government key takes effect at once (a consensus key
    /// votes from the next height on); a new recovery key replacing one
    /// already registered takes effect only after the recovery delay, during
    /// which the current recovery key can cancel it.
    RotateKey {
        /// Whose key.
        participant: ParticipantCode,
        /// Which key.
        role: KeyRole,
        /// The new key.
        new_key: PublicKey,
    },
    /// Propose a resolution (signed by a government Participant's government key).
    ProposeResolution(ResolutionProposal),
    /// Sign a pending resolution (government key).
    SignResolution {
        /// Which.
        resolution: ResolutionId,
    },
    /// Object to a pending resolution, rejecting it (government key).
    ObjectResolution {
        /// Which.
        resolution: ResolutionId,
        /// Why.
        reason: String,
    },
    /// Put consensus equivocation evidence on the ledger (any validator).
    SubmitEvidence(Evidence),
    /// Begin replacing a member's government key (signed by its recovery
    /// key); it takes effect after the chain's recovery delay unless it is
    /// cancelled first (see `CancelRecovery`).
    BeginRecovery {
        /// Whose key.
        participant: ParticipantCode,
        /// The government key once the recovery completes.
        new_government_key: PublicKey,
        /// A new recovery key as well, if any (otherwise the recovery key stays).
        new_recovery_key: Option<PublicKey>,
    },
    /// Cancel a member's pending recovery or recovery-key rotation, judged
    /// by the signer: the recovery key cancels either at once, the
    /// government key a recovery-key rotation; a recovery needs the
    /// government key and the node key, each signing one of these (the
    /// first is recorded as a half, the second cancels).
    CancelRecovery {
        /// Whose.
        participant: ParticipantCode,
    },
    /// Register or replace an authority's encryption key for sealed fields
    /// (signed by its Participant's government key; ADR 0011). Certificates
    /// sealed before stay sealed to the old key.
    SetEncryptionKey {
        /// The Participant owning the authority.
        participant: ParticipantCode,
        /// The authority.
        authority: AuthorityId,
        /// The new X25519 key.
        key: crate::sealed::EncryptionKey,
    },
    /// Replace an authority's signing key, and optionally its encryption
    /// key, keeping its id (signed by its Participant's government key;
    /// ADR 0008, "Rotating an authority key"). Acts the old key signed
    /// before stay valid; from this transaction on the old key is refused.
    /// Last of the variants, so blocks written before it still decode.
    RotateAuthorityKey {
        /// The Participant owning the authority.
        participant: ParticipantCode,
        /// The authority.
        authority: AuthorityId,
        /// Its new signing key.
        new_key: PublicKey,
        /// Its new X25519 key for sealed fields, if it changes too.
        new_encryption_key: Option<crate::sealed::EncryptionKey>,
    },
}

impl Payload {
    /// Every name [`Payload::kind`] gives, in the order of the variants.
    pub const KINDS: [&'static str; 17] = [
        "issue-certificate",
        "confirm-import",
        "void-certificate",
        "approve-certificate",
        "report-seizure",
        "report-production",
        "register-authority",
        "revoke-authority",
        "rotate-key",
        "propose-resolution",
        "sign-resolution",
        "object-resolution",
        "submit-evidence",
        "begin-recovery",
        "cancel-recovery",
        "set-encryption-key",
        "rotate-authority-key",
    ];

    /// A short name of the kind of transaction (for listings and metrics).
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::IssueCertificate(_) => "issue-certificate",
            Payload::ConfirmImport(_) => "confirm-import",
            Payload::VoidCertificate(_) => "void-certificate",
            Payload::ApproveCertificate(_) => "approve-certificate",
            Payload::ReportSeizure(_) => "report-seizure",
            Payload::ReportProduction(_) => "report-production",
            Payload::RegisterAuthority(_) => "register-authority",
            Payload::RevokeAuthority { .. } => "revoke-authority",
            Payload::RotateKey { .. } => "rotate-key",
            Payload::ProposeResolution(_) => "propose-resolution",
            Payload::SignResolution { .. } => "sign-resolution",
            Payload::ObjectResolution { .. } => "object-resolution",
            Payload::SubmitEvidence(_) => "submit-evidence",
            Payload::BeginRecovery { .. } => "begin-recovery",
            Payload::CancelRecovery { .. } => "cancel-recovery",
            Payload::SetEncryptionKey { .. } => "set-encryption-key",
            Payload::RotateAuthorityKey { .. } => "rotate-authority-key",
        }
    }
}

/// The signed part of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Transaction {
    /// The chain it is meant for; a transaction for another chain is refused.
    pub chain_id: String,
    /// The key that signs it.
    pub signer: PublicKey,
    /// Chosen by the client so that two otherwise equal acts differ.
    pub nonce: u64,
    /// Block time after which it can no longer be included.
    pub expires_at: Timestamp,
    /// What it does.
    pub payload: Payload,
}

impl Transaction {
    /// The transaction's identity, and the message its signer signs.
    pub fn hash(&self) -> TxHash {
        Hash::of_value(Domain::Transaction, self)
    }

    /// Signs it.
    pub fn sign(self, key: &SigningKey) -> SignedTransaction {
        let signature = key.sign(&self.hash());
        SignedTransaction {
            tx: self,
            signature,
        }
    }
}

/// A transaction with its signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SignedTransaction {
    /// The signed content.
    pub tx: Transaction,
    /// Signature by `tx.signer` over `tx.hash()`.
    pub signature: Signature,
}

impl SignedTransaction {
    /// The transaction's identity (excludes the signature).
    pub fn hash(&self) -> TxHash {
        self.tx.hash()
    }

    /// Its identity and its size in a block (the signed part's encoding and
    /// the 64-byte signature), from one encoding of the signed part.
    pub fn hash_and_size(&self) -> (TxHash, usize) {
        crate::encoding::with_encoded(&self.tx, |bytes| {
            (Hash::of(Domain::Transaction, bytes), bytes.len() + 64)
        })
    }

    /// Its leaf in a block's transactions tree: the identity and the
    /// signature. A header commits to the exact bytes of its block's
    /// transactions, so no copy of a block can carry other signatures under
    /// the same header (a copy with a flipped signature bit would otherwise
    /// be judged invalid under the genuine block's hash).
    pub fn leaf(&self) -> Hash {
        tx_leaf(&self.hash(), &self.signature)
    }

    /// Checks the signature against the claimed signer.
    pub fn verify_signature(&self) -> Result<(), CryptoError> {
        self.tx.signer.verify(&self.hash(), &self.signature)
    }

    /// Decodes untrusted bytes (at most [`crate::encoding::TX_BYTES_MAX`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, crate::EncodingError> {
        crate::decode(bytes, crate::encoding::TX_BYTES_MAX)
    }
}

/// The leaf of a block's transactions tree for the transaction `hash` signed
/// with `signature` ([`SignedTransaction::leaf`]).
pub fn tx_leaf(hash: &TxHash, signature: &Signature) -> Hash {
    Hash::of_parts(Domain::SignedTransaction, &[&hash.0, &signature.0])
}
