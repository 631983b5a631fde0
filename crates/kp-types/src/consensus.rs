//! Consensus wire objects that the ledger must also understand: votes,
//! proposals, commit certificates and equivocation evidence.
//!
//! They live here rather than in `kp-consensus` because the ledger verifies
//! evidence and clients verify commit certificates, and both depend only on
//! this crate.

use crate::crypto::{verify_batch, CryptoError, PublicKey, Signature, SigningKey};
use crate::hash::{Domain, Hash};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use thiserror::Error;

/// Votes needed for a quorum among `n` validators: more than two thirds.
///
/// For `n = 3f + 1` this is the paper's `2f + 1`; for other `n` it is the
/// smallest count whose any two quorums share an honest validator when at
/// most `f = floor((n - 1) / 3)` are faulty (`2f + 1` alone would not be,
/// e.g. 3 of 5).
pub const fn quorum(n: usize) -> usize {
    n * 2 / 3 + 1
}

/// Faulty validators tolerated among `n`.
pub const fn faults_tolerated(n: usize) -> usize {
    n.saturating_sub(1) / 3
}

/// Prevote or precommit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum VoteKind {
    /// First voting step.
    Prevote,
    /// Second voting step; 2/3+ precommits for a block decide it.
    Precommit,
}

/// A vote, as signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Vote {
    /// The chain.
    pub chain_id: String,
    /// Height voted on.
    pub height: u64,
    /// Round within the height.
    pub round: u32,
    /// Prevote or precommit.
    pub kind: VoteKind,
    /// The block hash voted for, or `None` for nil.
    pub block: Option<Hash>,
    /// The voter's node key.
    pub validator: PublicKey,
}

impl Vote {
    /// What the validator signs.
    pub fn signing_hash(&self) -> Hash {
        Hash::of_value(Domain::Vote, self)
    }

    /// Signs it.
    pub fn sign(self, key: &SigningKey) -> SignedVote {
        let signature = key.sign(&self.signing_hash());
        SignedVote {
            vote: self,
            signature,
        }
    }
}

/// A vote with its signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SignedVote {
    /// The vote.
    pub vote: Vote,
    /// Signature by `vote.validator`.
    pub signature: Signature,
}

impl SignedVote {
    /// Checks the signature.
    pub fn verify(&self) -> Result<(), CryptoError> {
        self.vote
            .validator
            .verify(&self.vote.signing_hash(), &self.signature)
    }
}

/// A proposal of a block for a height and round, as signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Proposal {
    /// The chain.
    pub chain_id: String,
    /// Height.
    pub height: u64,
    /// Round.
    pub round: u32,
    /// The round of the proof-of-lock the proposer re-proposes under, if any
    /// (the paper's `validRound`, `-1` being `None`).
    pub pol_round: Option<u32>,
    /// Hash of the proposed block (the block travels beside the proposal).
    pub block_hash: Hash,
    /// The proposer's node key.
    pub proposer: PublicKey,
}

impl Proposal {
    /// What the proposer signs.
    pub fn signing_hash(&self) -> Hash {
        Hash::of_value(Domain::Proposal, self)
    }

    /// Signs it.
    pub fn sign(self, key: &SigningKey) -> SignedProposal {
        let signature = key.sign(&self.signing_hash());
        SignedProposal {
            proposal: self,
            signature,
        }
    }
}

/// A proposal with its signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SignedProposal {
    /// The proposal.
    pub proposal: Proposal,
    /// Signature by `proposal.proposer`.
    pub signature: Signature,
}

impl SignedProposal {
    /// Checks the signature.
    pub fn verify(&self) -> Result<(), CryptoError> {
        self.proposal
            .proposer
            .verify(&self.proposal.signing_hash(), &self.signature)
    }
}

/// One validator's precommit inside a commit certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct CommitSignature {
    /// The validator.
    pub validator: PublicKey,
    /// Its signature over the precommit for the certified block.
    pub signature: Signature,
}

/// Proof that a block was decided: precommits from a quorum of the height's
/// validators for one block hash in one round. Anyone holding the validator
/// set of that height can check it alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct CommitCertificate {
    /// The chain.
    pub chain_id: String,
    /// Height of the block.
    pub height: u64,
    /// Round in which it was decided.
    pub round: u32,
    /// The decided block's hash.
    pub block_hash: Hash,
    /// The precommits.
    pub signatures: Vec<CommitSignature>,
}

/// Why a commit certificate does not prove its block.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CommitError {
    /// Signed for another chain.
    #[error("certificate is for chain {found:?}, expected {expected:?}")]
    WrongChain {
        /// Expected chain id.
        expected: String,
        /// Chain id in the certificate.
        found: String,
    },
    /// A signer is not a validator of the height.
    #[error("signer {validator} is not a validator of height {height}")]
    NotAValidator {
        /// The stranger.
        validator: PublicKey,
        /// The height.
        height: u64,
    },
    /// The same validator appears twice.
    #[error("validator {validator} signed twice")]
    DuplicateSigner {
        /// Who.
        validator: PublicKey,
    },
    /// Too few signatures.
    #[error("{signed} of {validators} validators signed; {needed} needed")]
    NoQuorum {
        /// Distinct valid signers.
        signed: usize,
        /// Size of the set.
        validators: usize,
        /// Quorum.
        needed: usize,
    },
    /// A signature is invalid.
    #[error(transparent)]
    Signature(#[from] CryptoError),
}

impl CommitCertificate {
    /// The precommit a signer of this certificate signed.
    pub fn precommit_for(&self, validator: PublicKey) -> Vote {
        Vote {
            chain_id: self.chain_id.clone(),
            height: self.height,
            round: self.round,
            kind: VoteKind::Precommit,
            block: Some(self.block_hash),
            validator,
        }
    }

    /// Adds each key's signature of its precommit (for whoever holds the
    /// keys: tests, benchmarks, tools that build a chain; a node's
    /// certificates come from consensus).
    pub fn sign_with<'a>(&mut self, keys: impl IntoIterator<Item = &'a SigningKey>) {
        for key in keys {
            let vote = self.precommit_for(key.public()).sign(key);
            self.signatures.push(CommitSignature {
                validator: key.public(),
                signature: vote.signature,
            });
        }
    }

    /// Checks the certificate against the validator set of its height.
    pub fn verify(&self, chain_id: &str, validators: &[PublicKey]) -> Result<(), CommitError> {
        if self.chain_id != chain_id {
            return Err(CommitError::WrongChain {
                expected: chain_id.to_string(),
                found: self.chain_id.clone(),
            });
        }
        let set: BTreeSet<&PublicKey> = validators.iter().collect();
        let mut seen = BTreeSet::new();
        let mut items = Vec::with_capacity(self.signatures.len());
        for sig in &self.signatures {
            if !set.contains(&sig.validator) {
                return Err(CommitError::NotAValidator {
                    validator: sig.validator,
                    height: self.height,
                });
            }
            if !seen.insert(sig.validator) {
                return Err(CommitError::DuplicateSigner {
                    validator: sig.validator,
                });
            }
            let vote = self.precommit_for(sig.validator);
            items.push((sig.validator, vote.signing_hash(), sig.signature));
        }
        let needed = quorum(set.len());
        if seen.len() < needed {
            return Err(CommitError::NoQuorum {
                signed: seen.len(),
                validators: set.len(),
                needed,
            });
        }
        verify_batch(&items)?;
        Ok(())
    }
}

/// Proof that a validator signed two conflicting messages for one height,
/// round and step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Evidence {
    /// Two different votes of one kind for one height and round.
    DuplicateVote {
        /// One vote.
        first: SignedVote,
        /// The other.
        second: SignedVote,
    },
    /// Two different proposals for one height and round.
    DuplicateProposal {
        /// One proposal.
        first: SignedProposal,
        /// The other.
        second: SignedProposal,
    },
}

/// Why evidence does not prove equivocation.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EvidenceError {
    /// The two messages are by different signers, for different slots or chains.
    #[error("the two messages are not for the same signer, chain, height, round and step")]
    DifferentSlots,
    /// The two messages are the same.
    #[error("the two messages are identical")]
    Identical,
    /// A signature is invalid.
    #[error(transparent)]
    Signature(#[from] CryptoError),
}

impl Evidence {
    /// The equivocating validator.
    pub fn offender(&self) -> PublicKey {
        match self {
            Evidence::DuplicateVote { first, .. } => first.vote.validator,
            Evidence::DuplicateProposal { first, .. } => first.proposal.proposer,
        }
    }

    /// Height of the equivocation.
    pub fn height(&self) -> u64 {
        match self {
            Evidence::DuplicateVote { first, .. } => first.vote.height,
            Evidence::DuplicateProposal { first, .. } => first.proposal.height,
        }
    }

    /// A canonical identity: the same pair in either order gives the same id.
    pub fn id(&self) -> Hash {
        let (a, b) = match self {
            Evidence::DuplicateVote { first, second } => {
                (first.vote.signing_hash(), second.vote.signing_hash())
            }
            Evidence::DuplicateProposal { first, second } => (
                first.proposal.signing_hash(),
                second.proposal.signing_hash(),
            ),
        };
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        Hash::of_parts(Domain::Document, &[b"evidence", &lo.0, &hi.0])
    }

    /// Checks that this is a real equivocation for `chain_id`.
    pub fn verify(&self, chain_id: &str) -> Result<(), EvidenceError> {
        match self {
            Evidence::DuplicateVote { first, second } => {
                let (a, b) = (&first.vote, &second.vote);
                if a.chain_id != chain_id
                    || a.chain_id != b.chain_id
                    || a.validator != b.validator
                    || a.height != b.height
                    || a.round != b.round
                    || a.kind != b.kind
                {
                    return Err(EvidenceError::DifferentSlots);
                }
                if a.block == b.block {
                    return Err(EvidenceError::Identical);
                }
                first.verify()?;
                second.verify()?;
            }
            Evidence::DuplicateProposal { first, second } => {
                let (a, b) = (&first.proposal, &second.proposal);
                if a.chain_id != chain_id
                    || a.chain_id != b.chain_id
                    || a.proposer != b.proposer
                    || a.height != b.height
                    || a.round != b.round
                {
                    return Err(EvidenceError::DifferentSlots);
                }
                if a == b {
                    return Err(EvidenceError::Identical);
                }
                first.verify()?;
                second.verify()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: u8) -> Vec<SigningKey> {
        (0..n).map(|i| SigningKey::from_seed([i + 1; 32])).collect()
    }

    fn cert(keys: &[SigningKey], signers: usize) -> CommitCertificate {
        let mut c = CommitCertificate {
            chain_id: "kp-test".into(),
            height: 5,
            round: 1,
            block_hash: Hash::of(Domain::Document, b"block"),
            signatures: vec![],
        };
        for k in &keys[..signers] {
            let v = c.precommit_for(k.public()).sign(k);
            c.signatures.push(CommitSignature {
                validator: k.public(),
                signature: v.signature,
            });
        }
        c
    }

    #[test]
    fn quorum_sizes() {
        assert_eq!(quorum(1), 1);
        assert_eq!(quorum(4), 3);
        assert_eq!(quorum(5), 4);
        assert_eq!(quorum(7), 5);
        assert_eq!(quorum(60), 41);
        for n in 1..100 {
            // Two quorums overlap in more than f validators.
            assert!(2 * quorum(n) > n + faults_tolerated(n), "n={n}");
        }
    }

    #[test]
    fn commit_certificate_checks() {
        let ks = keys(4);
        let set: Vec<_> = ks.iter().map(SigningKey::public).collect();
        assert!(cert(&ks, 3).verify("kp-test", &set).is_ok());
        assert!(matches!(
            cert(&ks, 2).verify("kp-test", &set),
            Err(CommitError::NoQuorum { .. })
        ));
        assert!(matches!(
            cert(&ks, 3).verify("other", &set),
            Err(CommitError::WrongChain { .. })
        ));
        let mut dup = cert(&ks, 3);
        dup.signatures.push(dup.signatures[0].clone());
        assert!(matches!(
            dup.verify("kp-test", &set),
            Err(CommitError::DuplicateSigner { .. })
        ));
        let mut forged = cert(&ks, 3);
        forged.block_hash = Hash::ZERO;
        assert!(forged.verify("kp-test", &set).is_err());
        assert!(matches!(
            cert(&ks, 3).verify("kp-test", &set[1..]),
            Err(CommitError::NotAValidator { .. })
        ));
    }

    #[test]
    fn evidence_checks() {
        let k = SigningKey::from_seed([9; 32]);
        let vote = |block: u8| {
            Vote {
                chain_id: "kp-test".into(),
                height: 3,
                round: 0,
                kind: VoteKind::Prevote,
                block: Some(Hash([block; 32])),
                validator: k.public(),
            }
            .sign(&k)
        };
        let ev = Evidence::DuplicateVote {
            first: vote(1),
            second: vote(2),
        };
        assert!(ev.verify("kp-test").is_ok());
        let swapped = Evidence::DuplicateVote {
            first: vote(2),
            second: vote(1),
        };
        assert_eq!(ev.id(), swapped.id());
        assert_eq!(
            Evidence::DuplicateVote {
                first: vote(1),
                second: vote(1)
            }
            .verify("kp-test"),
            Err(EvidenceError::Identical)
        );
        assert!(ev.verify("other").is_err());
    }
}
