//! What a node serves to light clients, assembled from its decided blocks
//! and the ledger's records trees: decided headers with their commit
//! certificates and validator sets ([`LightBlock`]), and certificate proofs
//! (records proven against a header's `records_root`, acts proven included
//! and accepted).
//!
//! The anchor of a proof is the newest decided block `H`: its header
//! commits to the records after block `H - 1`, which the applying ledger
//! keeps as a version of its records tree ([`RecordVersions`]). The host
//! gives access to its decided blocks through [`Chain`], so that the node
//! (over its block store) and tests (over memory) assemble proofs with the
//! same code.

use crate::keys;
use crate::records::{CertificateRecord, SeizureIndex, SeizureRecord, TxReceipt};
use crate::records_tree::{ProveError, RecordVersions};
use crate::store::StateStore;
use kp_api::proof::{
    act_authority, ActProof, CertificateProof, LightBlock, RecordProof, RecordsProof,
    PROOF_ACTS_MAX, PROOF_RECORDS_MAX,
};
use kp_types::{
    merkle, result_leaf, Block, CertificateNumber, CommitCertificate, Hash, ParticipantCode,
    PublicKey, SignedTransaction,
};
use std::collections::BTreeSet;
use thiserror::Error;

/// A host's decided blocks.
pub trait Chain {
    /// The newest decided height (0: none).
    fn last_height(&self) -> Result<u64, String>;
    /// The decided block at `height`.
    fn block(&self, height: u64) -> Result<Option<Block>, String>;
    /// Its commit certificate.
    fn commit(&self, height: u64) -> Result<Option<CommitCertificate>, String>;
    /// Its receipts, once stored.
    fn receipts(&self, height: u64) -> Result<Option<Vec<TxReceipt>>, String>;
}

/// Why a proof could not be assembled.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProofFailure {
    /// What was asked for does not exist (yet).
    #[error("{0}")]
    NotFound(String),
    /// Ask again later: the state moved, or nothing is decided yet.
    #[error("{0}")]
    Unavailable(String),
    /// The host's data is broken.
    #[error("{0}")]
    Internal(String),
}

type ApiError = ProofFailure;

impl ProofFailure {
    fn not_found(m: impl Into<String>) -> Self {
        ProofFailure::NotFound(m.into())
    }
    fn unavailable(m: impl Into<String>) -> Self {
        ProofFailure::Unavailable(m.into())
    }
    fn internal(m: impl Into<String>) -> Self {
        ProofFailure::Internal(m.into())
    }
}

/// Times a proof is assembled again when the state moved while it was read.
const PROOF_ATTEMPTS_MAX: usize = 4;
/// Largest stored record decoded while assembling a proof.
const RECORD_BYTES_MAX: usize = 1024 * 1024;

/// What proofs read: the decided blocks, the ledger's store (the state
/// after the newest applied block), and the versions of the records tree
/// the applying ledger keeps.
pub struct Prover<'a, C: Chain, S: StateStore> {
    /// The decided blocks.
    pub chain: &'a C,
    /// The ledger's store.
    pub store: &'a S,
    /// The applying ledger's recent records trees.
    pub versions: &'a RecordVersions,
}

impl<C: Chain, S: StateStore> std::fmt::Debug for Prover<'_, C, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Prover {{ kept: {:?} }}", self.versions.kept())
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("storage failure: {e}"))
}

impl<C: Chain, S: StateStore> Prover<'_, C, S> {
    fn block_at(&self, height: u64) -> Result<Block, ApiError> {
        self.chain
            .block(height)
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found(format!("no block at height {height}")))
    }

    /// The newest decided height.
    fn last_height(&self) -> Result<u64, ApiError> {
        self.chain.last_height().map_err(internal)
    }

    /// The light block at `height` (`None`: the newest).
    pub fn light_block(&self, height: Option<u64>) -> Result<LightBlock, ApiError> {
        let height = match height {
            Some(h) => h,
            None => self.last_height()?,
        };
        if height == 0 {
            return Err(ApiError::not_found("no block is decided yet"));
        }
        let header = self.block_at(height)?.header;
        let commit = self
            .chain
            .commit(height)
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found(format!("no commit certificate at {height}")))?;
        let key = keys::validator_set(&header.validators_hash);
        let validators: Vec<(ParticipantCode, PublicKey)> = self
            .store
            .get(&key)
            .map_err(internal)?
            .map(|v| kp_types::decode(&v, RECORD_BYTES_MAX).map_err(internal))
            .transpose()?
            .ok_or_else(|| {
                ApiError::internal(format!(
                    "the validator set {} of height {height} is not on the ledger",
                    header.validators_hash
                ))
            })?;
        Ok(LightBlock {
            header,
            commit,
            validators,
        })
    }

    /// The proof of everything the ledger holds about certificate `number`.
    pub fn certificate(&self, number: &CertificateNumber) -> Result<CertificateProof, ApiError> {
        let mut last = None;
        for _ in 0..PROOF_ATTEMPTS_MAX {
            match self.certificate_once(number) {
                Err(Retry(e)) => last = Some(e),
                Ok(proof) => return proof,
            }
        }
        Err(ApiError::unavailable(format!(
            "the ledger moved on while the proof was read; ask again ({})",
            last.map(|e| e.to_string()).unwrap_or_default()
        )))
    }

    /// The proof of Participant `code`'s record (membership, sanction, node
    /// key), of how many authorities it has registered, and of each of them:
    /// the whole list, which always fits in one proof
    /// ([`kp_api::genesis::AUTHORITIES_PER_PARTICIPANT_MAX`]), so a client can
    /// see that none is missing.
    pub fn participant(&self, code: &ParticipantCode) -> Result<RecordsProof, ApiError> {
        let prefix = keys::authority_by_participant_prefix(code);
        let listed = self
            .store
            .scan_prefix(&prefix, None, PROOF_RECORDS_MAX - 3)
            .map_err(internal)?;
        let mut wanted = vec![
            keys::meta("genesis"),
            keys::participant(code),
            keys::authority_count(code),
        ];
        for (key, _) in listed {
            if let Ok(id) = std::str::from_utf8(&key[prefix.len()..]) {
                wanted.push(keys::authority(id));
            }
        }
        self.records(&wanted)
    }

    /// The proof of resolution `id`: proposal, signers, outcome.
    pub fn resolution(&self, id: &Hash) -> Result<RecordsProof, ApiError> {
        self.records(&[keys::meta("genesis"), keys::resolution(id)])
    }

    /// `keys`, each proven present or absent against the newest anchor.
    fn records(&self, wanted: &[Vec<u8>]) -> Result<RecordsProof, ApiError> {
        let mut last = None;
        for _ in 0..PROOF_ATTEMPTS_MAX {
            let anchor_height = self.last_height()?;
            if anchor_height == 0 {
                return Err(ApiError::unavailable(
                    "no block is decided yet: proofs start with the first block",
                ));
            }
            let anchor = self.light_block(Some(anchor_height))?;
            match self.prove(anchor_height - 1, wanted) {
                Ok(records) => return Ok(RecordsProof { anchor, records }),
                Err(Retry(e)) => last = Some(e),
            }
        }
        Err(ApiError::unavailable(format!(
            "the ledger moved on while the proof was read; ask again ({})",
            last.map(|e| e.to_string()).unwrap_or_default()
        )))
    }

    fn prove(&self, version: u64, keys: &[Vec<u8>]) -> Result<Vec<RecordProof>, Retry> {
        self.versions
            .prove(self.store, version, keys)
            .map_err(Retry)
    }

    fn certificate_once(
        &self,
        number: &CertificateNumber,
    ) -> Result<Result<CertificateProof, ApiError>, Retry> {
        let anchor_height = match self.last_height() {
            Ok(h) => h,
            Err(e) => return Ok(Err(e)),
        };
        if anchor_height == 0 {
            return Ok(Err(ApiError::unavailable(
                "no block is decided yet: proofs start with the first block",
            )));
        }
        let anchor = match self.light_block(Some(anchor_height)) {
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        };
        let version = anchor_height - 1;
        let first = self.prove(
            version,
            &[
                keys::certificate(number),
                keys::meta("genesis"),
                keys::seizures_by_certificate(number),
            ],
        )?;
        self.assemble(number, anchor, version, first)
    }

    fn assemble(
        &self,
        number: &CertificateNumber,
        anchor: LightBlock,
        version: u64,
        first: Vec<RecordProof>,
    ) -> Result<Result<CertificateProof, ApiError>, Retry> {
        let decode_record = |p: &RecordProof| -> Result<Option<CertificateRecord>, ApiError> {
            p.value
                .as_deref()
                .map(|v| kp_types::decode(v, RECORD_BYTES_MAX).map_err(internal))
                .transpose()
        };
        let record = match decode_record(&first[0]) {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let index: Option<SeizureIndex> = match first[2]
            .value
            .as_deref()
            .map(|v| kp_types::decode(v, RECORD_BYTES_MAX).map_err(internal))
            .transpose()
        {
            Ok(i) => i,
            Err(e) => return Ok(Err(e)),
        };
        let mut more: BTreeSet<Vec<u8>> = BTreeSet::new();
        for seq in index.iter().flat_map(|i| i.sequences.iter()) {
            more.insert(keys::seizure(*seq));
        }
        // The acts: the history's transactions and the seizure reports.
        let mut acts: Vec<(Hash, u64)> = Vec::new();
        if let Some(r) = &record {
            more.insert(keys::participant(&r.certificate.exporting));
            more.insert(keys::participant(&r.certificate.importing));
            more.insert(keys::authority(r.certificate.issuing_authority.as_str()));
            for entry in &r.history {
                if let Some(tx) = entry.tx {
                    acts.push((tx, entry.height));
                }
            }
        }
        let seizure_keys: Vec<Vec<u8>> = more
            .iter()
            .filter(|k| k.first() == Some(&keys::table::SEIZURE))
            .cloned()
            .collect();
        let seizures = self.prove(version, &seizure_keys)?;
        for p in &seizures {
            if let Some(Ok(s)) = p
                .value
                .as_deref()
                .map(|v| kp_types::decode::<SeizureRecord>(v, RECORD_BYTES_MAX))
            {
                acts.push((s.tx, s.height));
                more.insert(keys::authority(s.report.authority.as_str()));
            }
        }
        acts.sort_by_key(|(hash, height)| (*height, *hash));
        acts.dedup();
        acts.truncate(PROOF_ACTS_MAX);
        let mut act_proofs = Vec::with_capacity(acts.len());
        for (hash, height) in &acts {
            match self.act(*hash, *height) {
                Ok(act) => {
                    if let Some(id) = act_authority(&act.tx) {
                        more.insert(keys::authority(id.as_str()));
                    }
                    more.insert(keys::block_hash(*height));
                    if *height < version {
                        more.insert(keys::block_hash(height + 1));
                    }
                    act_proofs.push(act);
                }
                Err(e) => return Ok(Err(e)),
            }
        }
        let rest: Vec<Vec<u8>> = more
            .into_iter()
            .filter(|k| !seizure_keys.contains(k))
            .collect();
        let mut records = first;
        records.extend(seizures);
        records.extend(self.prove(version, &rest)?);
        Ok(Ok(CertificateProof {
            number: number.clone(),
            anchor,
            records,
            acts: act_proofs,
        }))
    }

    /// The act `hash` in the block at `height`: inclusion and result paths.
    fn act(&self, hash: Hash, height: u64) -> Result<ActProof, ApiError> {
        let block = self.block_at(height)?;
        let position = block
            .txs
            .iter()
            .position(|tx| tx.hash() == hash)
            .ok_or_else(|| ApiError::internal(format!("{hash} is not in block {height}")))?;
        let leaves: Vec<Hash> = block.txs.iter().map(SignedTransaction::leaf).collect();
        let inclusion = merkle::prove(&leaves, position)
            .ok_or_else(|| ApiError::internal("transaction position out of range"))?;
        let Some(receipts) = self.chain.receipts(height).map_err(internal)? else {
            return Err(ApiError::unavailable(format!(
                "the receipts of block {height} are not stored yet; ask again"
            )));
        };
        let results: Vec<Hash> = receipts
            .iter()
            .map(|r| result_leaf(&r.tx_hash, r.result.as_ref().err().map(|e| e.code())))
            .collect();
        let result = merkle::prove(&results, position)
            .ok_or_else(|| ApiError::internal("receipt position out of range"))?;
        let result_header = self.block_at(height + 1)?.header;
        let tx = block
            .txs
            .get(position)
            .cloned()
            .ok_or_else(|| ApiError::internal("transaction position out of range"))?;
        Ok(ActProof {
            tx,
            height,
            header: block.header,
            inclusion,
            result_header,
            result,
        })
    }
}

/// A proof attempt that met a state in motion.
struct Retry(ProveError);
