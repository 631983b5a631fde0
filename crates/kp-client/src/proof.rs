//! Certificate proofs and their verification without trusting the node.
//!
//! A node answers `GET /v1/certificates/{number}/proof` with a
//! [`CertificateProof`]: its claim about the certificate (the ledger record)
//! and, for every transaction of the certificate's history, a [`TxProof`]:
//! the signed transaction, its Merkle path to the block's transactions root,
//! the block header, and the block's commit certificate.
//!
//! [`verify`] checks, for each transaction: the signer's signature, that the
//! transaction hash sits at its position under the header's `txs_root`, that
//! the commit certificate is for that very header and carries precommits of a
//! quorum of the validators of that height (taken from a
//! [`ValidatorHistory`] the client built itself, starting from a genesis it
//! trusts), and that the payload is the act the history claims (issue,
//! confirm, void, approve, seize) for this certificate number. The
//! certificate's content is taken from the signed issue transaction, never
//! from the node's record; a record that differs is refused.
//!
//! The validator history itself is proven, not taken from the node: each
//! adopted membership resolution (admit, expel, readmit) is folded in only
//! after [`prove_adoption`] has checked its proposing transaction and a
//! signature of it in decided blocks certified by the validators the client
//! already trusts for those heights.
//!
//! What a proof cannot show (said plainly in [`Verified::caveats`]):
//! * that the node listed *every* later act: a node could withhold a
//!   confirmation, void or seizure (or a membership resolution). Ask a second
//!   node if it matters.
//! * that the ledger accepted a transaction it included: receipts are not
//!   committed in block headers, so a rejected transaction in a decided block
//!   looks like an accepted one. The history's consistency (issued first,
//!   at most one final act) limits what a lying node can claim.
//! * expiry, which no transaction records: it is computed from the
//!   certificate's own expiry date against the date the caller gives.
//! * node-key rotations, which are not folded into the validator history
//!   (a rotated validator's commit signatures then fail verification: the
//!   error is loud, never a false "authentic").

use kp_ledger::{Genesis, ResolutionOutcome, ResolutionRecord};
use kp_types::merkle::MerkleProof;
use kp_types::{
    BlockHeader, CertificateNumber, CommitCertificate, Date, ParticipantCode, ParticipantKind,
    Payload, PublicKey, ResolutionAction, SignedTransaction,
};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// Most transactions a certificate proof may hold (issue, approve, confirm or
/// void, seizures): anything larger is refused unread.
pub const PROOF_TXS_MAX: usize = 64;

/// One transaction of a certificate's history, with what proves it decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxProof {
    /// What the node says this transaction did: `issued`, `approved`,
    /// `confirmed`, `voided` or `seized`.
    pub event: String,
    /// The signed transaction.
    pub tx: SignedTransaction,
    /// Height of its block.
    pub height: u64,
    /// Merkle path from the transaction's hash to `header.txs_root`.
    pub merkle: MerkleProof,
    /// The block's header.
    pub header: BlockHeader,
    /// The block's commit certificate.
    pub commit: CommitCertificate,
}

/// What a node serves as the proof of a certificate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CertificateProof {
    /// The certificate number.
    pub number: CertificateNumber,
    /// The node's claim: the ledger record (certificate, status, history).
    pub record: kp_ledger::CertificateRecord,
    /// The transactions of the history, oldest first.
    pub txs: Vec<TxProof>,
}

/// Why a proof is refused. Each variant names what did not hold.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProofError {
    /// The proof is empty or too large.
    #[error("the proof holds {count} transactions; expected 1 to {PROOF_TXS_MAX}")]
    Size {
        /// How many.
        count: usize,
    },
    /// The node answered for another number.
    #[error("the proof is for certificate {found}, not {expected}")]
    WrongNumber {
        /// Asked.
        expected: CertificateNumber,
        /// Answered.
        found: CertificateNumber,
    },
    /// A transaction's signature does not verify.
    #[error("transaction {index} ({event}): signature does not verify")]
    BadSignature {
        /// Position in the proof.
        index: usize,
        /// Its claimed event.
        event: String,
    },
    /// A transaction or block is for another chain.
    #[error("transaction {index}: chain {found:?}, expected {expected:?}")]
    WrongChain {
        /// Position in the proof.
        index: usize,
        /// Expected.
        expected: String,
        /// Found.
        found: String,
    },
    /// The Merkle path does not lead from the transaction to the header's root.
    #[error(
        "transaction {index}: the Merkle path does not lead to block {height}'s transactions root"
    )]
    BadMerklePath {
        /// Position in the proof.
        index: usize,
        /// Height of the block.
        height: u64,
    },
    /// The commit certificate is not for this header.
    #[error("transaction {index}: the commit certificate is for another block than the header at height {height}")]
    CommitMismatch {
        /// Position in the proof.
        index: usize,
        /// Height claimed.
        height: u64,
    },
    /// The commit certificate does not prove the block.
    #[error("transaction {index}: commit certificate of height {height} refused: {reason}")]
    BadCommit {
        /// Position in the proof.
        index: usize,
        /// Height.
        height: u64,
        /// What `CommitCertificate::verify` said.
        reason: String,
    },
    /// The payload is not the act claimed, or not for this certificate.
    #[error("transaction {index}: claimed as {event} of {number} but its payload is {kind}")]
    WrongPayload {
        /// Position in the proof.
        index: usize,
        /// Claimed event.
        event: String,
        /// The certificate number.
        number: CertificateNumber,
        /// The payload's kind.
        kind: String,
    },
    /// The first transaction is not the issue.
    #[error("the proof does not start with the certificate's issue")]
    NoIssue,
    /// The node's record differs from the signed certificate.
    #[error("the node's certificate differs from the one its issuing authority signed: {field}")]
    TamperedCertificate {
        /// The first differing field.
        field: &'static str,
    },
    /// The node's history names a transaction the proof does not prove.
    #[error("the node claims a {event} at height {height} that the proof does not prove")]
    UnprovenHistory {
        /// Event.
        event: String,
        /// Height.
        height: u64,
    },
    /// The record's status does not follow from the proven history.
    #[error("the node says the certificate is {claimed}, but the proven history gives {proven}")]
    StatusMismatch {
        /// The node's claim.
        claimed: String,
        /// What the proofs support.
        proven: String,
    },
    /// A membership resolution's adoption is not proven.
    #[error("membership resolution {id} is not proven: {reason}")]
    UnprovenResolution {
        /// The resolution.
        id: kp_types::Hash,
        /// What did not hold.
        reason: String,
    },
    /// The issuing authority's key is not the one genesis lists.
    #[error("issued by key {signer}, but genesis lists authority {authority} with key {expected}")]
    WrongAuthorityKey {
        /// The authority.
        authority: String,
        /// The signer.
        signer: PublicKey,
        /// The key of genesis.
        expected: PublicKey,
    },
}

/// The validator set of every height, as the client itself derived it.
///
/// It starts from a genesis the caller trusts (its government Participants'
/// node keys) and folds in adopted membership resolutions (admit, expel,
/// readmit a government Participant), each taking effect from the height
/// after the one that adopted it, as the ledger does.
#[derive(Clone, Debug)]
pub struct ValidatorHistory {
    chain_id: String,
    genesis_authorities: BTreeMap<String, PublicKey>,
    keys: BTreeMap<ParticipantCode, PublicKey>,
    /// (first height, validators of that height on).
    sets: Vec<(u64, BTreeMap<ParticipantCode, PublicKey>)>,
}

impl ValidatorHistory {
    /// The validators of genesis (every government Participant).
    pub fn from_genesis(genesis: &Genesis) -> ValidatorHistory {
        let governments: BTreeMap<ParticipantCode, PublicKey> = genesis
            .participants
            .iter()
            .filter(|p| p.kind == ParticipantKind::Government)
            .map(|p| (p.code.clone(), p.node_key))
            .collect();
        ValidatorHistory {
            chain_id: genesis.chain_id.clone(),
            genesis_authorities: genesis
                .authorities
                .iter()
                .map(|a| (a.id.to_string(), a.key))
                .collect(),
            keys: genesis
                .participants
                .iter()
                .map(|p| (p.code.clone(), p.node_key))
                .collect(),
            sets: vec![(1, governments)],
        }
    }

    /// The chain of the genesis.
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// Folds in adopted membership resolutions, in order of adoption,
    /// without proof (tests and callers that proved them otherwise).
    /// Returns how many changed the set.
    pub fn fold_resolutions(&mut self, resolutions: &[ResolutionRecord]) -> usize {
        let mut adopted: Vec<(u64, &ResolutionAction)> = resolutions
            .iter()
            .filter_map(|r| match r.outcome {
                ResolutionOutcome::Adopted { height } => Some((height, &r.proposal.action)),
                _ => None,
            })
            .collect();
        adopted.sort_by_key(|(h, _)| *h);
        adopted
            .into_iter()
            .filter(|(height, action)| self.apply(*height, action))
            .count()
    }

    /// Whether an action changes membership (and so the validator set).
    pub fn is_membership(action: &ResolutionAction) -> bool {
        matches!(
            action,
            ResolutionAction::Admit { .. }
                | ResolutionAction::Expel { .. }
                | ResolutionAction::Readmit { .. }
        )
    }

    /// Applies one adopted action (adopted at `height`, effective from
    /// `height + 1`). Returns whether it is a membership change.
    pub fn apply(&mut self, height: u64, action: &ResolutionAction) -> bool {
        let mut set = self.sets.last().map(|(_, s)| s.clone()).unwrap_or_default();
        match action {
            ResolutionAction::Admit { participant } => {
                self.keys
                    .insert(participant.code.clone(), participant.node_key);
                if participant.kind == ParticipantKind::Government {
                    set.insert(participant.code.clone(), participant.node_key);
                }
            }
            ResolutionAction::Expel { participant } => {
                set.remove(participant);
            }
            ResolutionAction::Readmit { participant } => {
                if let Some(key) = self.keys.get(participant) {
                    set.insert(participant.clone(), *key);
                }
            }
            _ => return false,
        }
        self.sets.push((height + 1, set));
        true
    }

    /// The validators of `height`.
    pub fn at(&self, height: u64) -> Vec<PublicKey> {
        self.sets
            .iter()
            .rev()
            .find(|(from, _)| *from <= height)
            .or_else(|| self.sets.first())
            .map(|(_, s)| s.values().copied().collect())
            .unwrap_or_default()
    }

    /// The key genesis gives an authority, if genesis lists it.
    pub fn genesis_authority_key(&self, id: &str) -> Option<PublicKey> {
        self.genesis_authorities.get(id).copied()
    }
}

/// A decided block as a node serves it: the block and its commit certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecidedBlock {
    /// The block.
    pub block: kp_types::Block,
    /// Its commit certificate.
    pub commit: CommitCertificate,
}

fn check_decided(
    history: &ValidatorHistory,
    decided: &DecidedBlock,
    height: u64,
) -> Result<(), String> {
    let header = &decided.block.header;
    if header.height != height || header.chain_id != history.chain_id() {
        return Err(format!(
            "the block served for height {height} is another one"
        ));
    }
    if decided.block.compute_txs_root() != header.txs_root {
        return Err(format!(
            "block {height}'s transactions do not match its header"
        ));
    }
    if decided.commit.height != height || decided.commit.block_hash != header.hash() {
        return Err(format!("the commit certificate is not block {height}'s"));
    }
    decided
        .commit
        .verify(history.chain_id(), &history.at(height))
        .map_err(|e| format!("block {height}: {e}"))
}

/// Checks that a membership resolution was proposed and signed in decided
/// blocks, each certified by a quorum of the validators the client already
/// trusts for its height, then folds it into `history`.
///
/// `propose` is the proposing transaction (its hash is the resolution's id)
/// in `propose_block`; `adopt_block` is the block of `record`'s adoption,
/// which must hold a signature of the resolution (or its proposal) by a
/// member of the height's validator set.
///
/// What stays the node's word: that the ledger counted every required
/// signature (receipts are not committed in headers).
pub fn prove_adoption(
    history: &mut ValidatorHistory,
    record: &ResolutionRecord,
    propose: &SignedTransaction,
    propose_block: &DecidedBlock,
    adopt_block: &DecidedBlock,
) -> Result<(), ProofError> {
    let fail = |reason: String| ProofError::UnprovenResolution {
        id: record.id,
        reason,
    };
    let ResolutionOutcome::Adopted { height } = record.outcome else {
        return Err(fail("it is not adopted".into()));
    };
    if propose.hash() != record.id || propose.verify_signature().is_err() {
        return Err(fail(
            "the proposing transaction is not the resolution's".into(),
        ));
    }
    let Payload::ProposeResolution(proposal) = &propose.tx.payload else {
        return Err(fail("the proposing transaction proposes nothing".into()));
    };
    if *proposal != record.proposal {
        return Err(fail(
            "the node's resolution differs from the proposal".into(),
        ));
    }
    let proposed_height = propose_block.block.header.height;
    check_decided(history, propose_block, proposed_height).map_err(&fail)?;
    if !propose_block
        .block
        .txs
        .iter()
        .any(|t| t.hash() == record.id)
    {
        return Err(fail(format!(
            "block {proposed_height} does not hold the proposal"
        )));
    }
    check_decided(history, adopt_block, height).map_err(&fail)?;
    let validators = history.at(height);
    let signed_here = adopt_block.block.txs.iter().any(|t| {
        let about_it = match &t.tx.payload {
            Payload::SignResolution { resolution } => *resolution == record.id,
            Payload::ProposeResolution(_) => t.hash() == record.id,
            _ => false,
        };
        about_it && validators.contains(&t.tx.signer) && t.verify_signature().is_ok()
    });
    if !signed_here {
        return Err(fail(format!(
            "block {height} holds no validator's signature of it"
        )));
    }
    history.apply(height, &record.proposal.action);
    Ok(())
}

/// What a verified proof establishes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// The certificate as its issuing authority signed it.
    pub certificate: kp_types::Certificate,
    /// Status from the proven history (and expiry against `today`).
    pub status: String,
    /// Each proven act: (event, height).
    pub history: Vec<(String, u64)>,
    /// What the proof does not establish.
    pub caveats: Vec<String>,
}

fn payload_number(payload: &Payload) -> Option<(&'static str, &CertificateNumber)> {
    match payload {
        Payload::IssueCertificate(c) => Some(("issued", &c.number)),
        Payload::ConfirmImport(c) => Some(("confirmed", &c.number)),
        Payload::VoidCertificate(v) => Some(("voided", &v.number)),
        Payload::ApproveCertificate(a) => Some(("approved", &a.number)),
        Payload::ReportSeizure(s) => s.certificate.as_ref().map(|n| ("seized", n)),
        _ => None,
    }
}

fn check_tx(
    index: usize,
    p: &TxProof,
    number: &CertificateNumber,
    validators: &ValidatorHistory,
) -> Result<(), ProofError> {
    let chain = validators.chain_id();
    if p.tx.verify_signature().is_err() {
        return Err(ProofError::BadSignature {
            index,
            event: p.event.clone(),
        });
    }
    for found in [&p.tx.tx.chain_id, &p.header.chain_id] {
        if found != chain {
            return Err(ProofError::WrongChain {
                index,
                expected: chain.to_string(),
                found: found.clone(),
            });
        }
    }
    let claimed = payload_number(&p.tx.tx.payload);
    if claimed.is_none_or(|(event, n)| event != p.event || n != number) {
        return Err(ProofError::WrongPayload {
            index,
            event: p.event.clone(),
            number: number.clone(),
            kind: p.tx.tx.payload.kind().to_string(),
        });
    }
    if p.header.height != p.height || !p.merkle.verify(&p.tx.hash(), &p.header.txs_root) {
        return Err(ProofError::BadMerklePath {
            index,
            height: p.height,
        });
    }
    if p.commit.height != p.height || p.commit.block_hash != p.header.hash() {
        return Err(ProofError::CommitMismatch {
            index,
            height: p.height,
        });
    }
    p.commit
        .verify(chain, &validators.at(p.height))
        .map_err(|e| ProofError::BadCommit {
            index,
            height: p.height,
            reason: e.to_string(),
        })
}

fn first_difference(a: &kp_types::Certificate, b: &kp_types::Certificate) -> Option<&'static str> {
    let checks: [(&'static str, bool); 12] = [
        ("number", a.number == b.number),
        ("exporting", a.exporting == b.exporting),
        (
            "issuing_authority",
            a.issuing_authority == b.issuing_authority,
        ),
        ("importing", a.importing == b.importing),
        ("destination", a.destination == b.destination),
        ("exporter", a.exporter == b.exporter),
        ("importer", a.importer == b.importer),
        ("origin", a.origin == b.origin),
        ("origin_zones", a.origin_zones == b.origin_zones),
        ("lines", a.lines == b.lines),
        ("issued_on", a.issued_on == b.issued_on),
        ("expires_on", a.expires_on == b.expires_on),
    ];
    checks.iter().find(|(_, same)| !same).map(|(f, _)| *f)
}

/// Verifies a certificate proof against validators the caller derived itself.
/// `today` decides expiry (a certificate never confirmed, voided or seized is
/// expired once its expiry date has passed).
pub fn verify(
    proof: &CertificateProof,
    number: &CertificateNumber,
    validators: &ValidatorHistory,
    today: Date,
) -> Result<Verified, ProofError> {
    if proof.txs.is_empty() || proof.txs.len() > PROOF_TXS_MAX {
        return Err(ProofError::Size {
            count: proof.txs.len(),
        });
    }
    if &proof.number != number || &proof.record.certificate.number != number {
        return Err(ProofError::WrongNumber {
            expected: number.clone(),
            found: proof.number.clone(),
        });
    }
    for (index, p) in proof.txs.iter().enumerate() {
        check_tx(index, p, number, validators)?;
    }
    let Payload::IssueCertificate(certificate) = &proof.txs[0].tx.tx.payload else {
        return Err(ProofError::NoIssue);
    };
    if let Some(field) = first_difference(certificate, &proof.record.certificate) {
        return Err(ProofError::TamperedCertificate { field });
    }
    let mut caveats = Vec::new();
    let signer = proof.txs[0].tx.tx.signer;
    match validators.genesis_authority_key(certificate.issuing_authority.as_str()) {
        Some(expected) if expected != signer => {
            return Err(ProofError::WrongAuthorityKey {
                authority: certificate.issuing_authority.to_string(),
                signer,
                expected,
            })
        }
        Some(_) => {}
        None => caveats.push(format!(
            "authority {} was registered after genesis: that its key belongs to it rests on the ledger's check, not on this proof",
            certificate.issuing_authority
        )),
    }
    // Every transaction the node's history names must be proven.
    for entry in &proof.record.history {
        if let Some(hash) = entry.tx {
            if !proof
                .txs
                .iter()
                .any(|p| p.tx.hash() == hash && p.height == entry.height)
            {
                return Err(ProofError::UnprovenHistory {
                    event: format!("{:?}", entry.event).to_lowercase(),
                    height: entry.height,
                });
            }
        }
    }
    let history: Vec<(String, u64)> = proof
        .txs
        .iter()
        .map(|p| (p.event.clone(), p.height))
        .collect();
    let proven = proven_status(&history, certificate.expires_on, today);
    let claimed = status_name(proof.record.status);
    let consistent = claimed == proven
        // The node may not have applied a block past the expiry date yet,
        // or already has by its block time while the caller's date differs
        // by a day; expiry is a clock fact, not a proven act.
        || (claimed == "expired" && proven == "issued")
        || (claimed == "issued" && proven == "expired")
        || (claimed == "awaiting-approval" && proven == "issued");
    if !consistent {
        return Err(ProofError::StatusMismatch {
            claimed: claimed.to_string(),
            proven: proven.to_string(),
        });
    }
    caveats.push(
        "a node can withhold later acts (confirmation, void, seizure); ask a second node to be sure nothing is missing".into(),
    );
    caveats.push(
        "inclusion in a decided block is proven; acceptance by the ledger is the node's word (receipts are not in block headers)".into(),
    );
    Ok(Verified {
        certificate: certificate.clone(),
        status: proven.to_string(),
        history,
        caveats,
    })
}

fn proven_status(history: &[(String, u64)], expires_on: Date, today: Date) -> &'static str {
    // A seizure overrides everything; otherwise the last final act decides.
    if history.iter().any(|(e, _)| e == "seized") {
        return "seized";
    }
    for (event, _) in history.iter().rev() {
        match event.as_str() {
            "confirmed" => return "confirmed",
            "voided" => return "voided",
            _ => {}
        }
    }
    if today > expires_on {
        "expired"
    } else {
        "issued"
    }
}

/// The kebab-case name of a status.
pub fn status_name(status: kp_ledger::CertificateStatus) -> &'static str {
    use kp_ledger::CertificateStatus as S;
    match status {
        S::AwaitingApproval => "awaiting-approval",
        S::Issued => "issued",
        S::Confirmed => "confirmed",
        S::Voided => "voided",
        S::Expired => "expired",
        S::Seized => "seized",
    }
}
