//! A chain in memory for the light-client tests and benchmarks: blocks
//! applied by `kp-ledger`, commits signed by the validators' keys, proofs
//! assembled by the prover the node runs, verdicts from the code the CLI
//! calls.

#![allow(dead_code)]

use kp_api::proof::{CertificateProof, LightBlock, RecordsProof};
use kp_client::light::{LightClient, TrustOptions, TrustedState};
use kp_client::proof::{verify_participant, verify_resolution, ProofError, Proven};
use kp_client::{judge, judge_records, Freshness, RecordVerdict, Verdict};
use kp_ledger::prove::{Chain, Prover};
use kp_ledger::testkit::*;
use kp_ledger::{Genesis, MemStore, TxReceipt, WriteSet};
use kp_types::{
    Block, CommitCertificate, CommitSignature, Hash, Payload, PublicKey, ResolutionAction,
    SigningKey, Timestamp, Vote, VoteKind,
};
use std::collections::BTreeMap;

/// A chain in memory: the ledger's blocks, receipts and commit certificates.
pub struct TestChain {
    pub h: Harness,
    pub blocks: Vec<Block>,
    pub receipts: Vec<Vec<TxReceipt>>,
    pub commits: Vec<CommitCertificate>,
    pub keys: BTreeMap<PublicKey, SigningKey>,
    pub genesis: Genesis,
}

impl Chain for TestChain {
    fn last_height(&self) -> Result<u64, String> {
        Ok(self.blocks.len() as u64)
    }
    fn block(&self, height: u64) -> Result<Option<Block>, String> {
        Ok(self.blocks.get((height as usize).wrapping_sub(1)).cloned())
    }
    fn commit(&self, height: u64) -> Result<Option<CommitCertificate>, String> {
        Ok(self.commits.get((height as usize).wrapping_sub(1)).cloned())
    }
    fn receipts(&self, height: u64) -> Result<Option<Vec<TxReceipt>>, String> {
        Ok(self
            .receipts
            .get((height as usize).wrapping_sub(1))
            .cloned())
    }
}

pub fn commit_for(block: &Block, signers: &[&SigningKey]) -> CommitCertificate {
    let header = &block.header;
    CommitCertificate {
        chain_id: header.chain_id.clone(),
        height: header.height,
        round: 0,
        block_hash: header.hash(),
        signatures: signers
            .iter()
            .map(|k| {
                let vote = Vote {
                    chain_id: header.chain_id.clone(),
                    height: header.height,
                    round: 0,
                    kind: VoteKind::Precommit,
                    block: Some(header.hash()),
                    validator: k.public(),
                };
                CommitSignature {
                    validator: k.public(),
                    signature: k.sign(&vote.signing_hash()),
                }
            })
            .collect(),
    }
}

impl TestChain {
    pub fn new() -> TestChain {
        TestChain::with_genesis(genesis_at(Timestamp(now().0 - 3_600_000)), &GOVERNMENTS)
    }

    /// A chain from `genesis`, whose validators are the node keys of
    /// `governments` (`testkit::node_key`).
    pub fn with_genesis(genesis: Genesis, governments: &[&str]) -> TestChain {
        let mut h = Harness::with_genesis(genesis.clone());
        h.ledger.prepare_records().unwrap();
        let keys = governments
            .iter()
            .map(|c| (node_key(c).public(), node_key(c)))
            .collect();
        TestChain {
            h,
            blocks: Vec::new(),
            receipts: Vec::new(),
            commits: Vec::new(),
            keys,
            genesis,
        }
    }

    pub fn know(&mut self, key: SigningKey) {
        self.keys.insert(key.public(), key);
    }

    /// Applies a block of `txs` (a byzantine proposer may include refused
    /// ones: they stay in the block with their rejection), signed by every
    /// validator of its height.
    pub fn apply(&mut self, txs: Vec<kp_types::SignedTransaction>) -> Vec<TxReceipt> {
        let validators = self.h.ledger.validators();
        let block = block_with(&self.h.ledger, self.h.time, txs);
        let receipt = self
            .h
            .ledger
            .apply_block(&block, WriteSet::default())
            .unwrap();
        self.h.time = self.h.time.plus_ms(1_000);
        let signers: Vec<&SigningKey> = validators.iter().map(|k| &self.keys[k]).collect();
        self.commits.push(commit_for(&block, &signers));
        self.blocks.push(block);
        self.receipts.push(receipt.receipts.clone());
        receipt.receipts
    }

    pub fn run(&mut self, tx: kp_types::SignedTransaction) {
        let r = self.apply(vec![tx]);
        assert_eq!(r[0].result, Ok(()), "fixture transaction refused");
    }

    /// The prover the node runs, over this chain and the ledger's store.
    pub fn with_prover<R>(&self, f: impl FnOnce(&Prover<'_, TestChain, MemStore>) -> R) -> R {
        let versions = self.h.ledger.record_versions();
        f(&Prover {
            chain: self,
            store: self.h.ledger.store(),
            versions: &versions,
        })
    }

    pub fn prove(&self, n: &str) -> CertificateProof {
        self.with_prover(|prover| prover.certificate(&number(n)))
            .unwrap()
    }

    pub fn prove_participant(&self, c: &str) -> RecordsProof {
        self.with_prover(|prover| prover.participant(&code(c)))
            .unwrap()
    }

    pub fn prove_resolution(&self, id: &Hash) -> RecordsProof {
        self.with_prover(|prover| prover.resolution(id)).unwrap()
    }

    pub fn participant_verdict(
        &self,
        proof: &RecordsProof,
        c: &str,
    ) -> RecordVerdict<kp_api::ParticipantRecord> {
        let genesis = self.genesis_hash();
        self.records_verdict(proof, |p| verify_participant(p, &code(c), &genesis))
    }

    pub fn resolution_verdict(
        &self,
        proof: &RecordsProof,
        id: &Hash,
    ) -> RecordVerdict<kp_api::ResolutionRecord> {
        let genesis = self.genesis_hash();
        self.records_verdict(proof, |p| verify_resolution(p, id, &genesis))
    }

    fn records_verdict<T>(
        &self,
        proof: &RecordsProof,
        verify: impl FnOnce(&RecordsProof) -> Result<Proven<T>, ProofError>,
    ) -> RecordVerdict<T> {
        let mut light = self.light();
        let mut fetch = |h: u64| Ok(self.light_block(h));
        judge_records(
            proof,
            &mut light,
            &self.genesis_hash(),
            Freshness {
                now: now(),
                max_age_ms: 2 * 3_600_000,
            },
            &mut fetch,
            "the node",
            verify,
        )
    }

    pub fn light_block(&self, height: u64) -> LightBlock {
        self.with_prover(|prover| prover.light_block(Some(height)))
            .unwrap()
    }

    pub fn light(&self) -> LightClient {
        LightClient::new(
            TrustedState::from_genesis(&self.genesis),
            TrustOptions::default(),
            None,
        )
        .unwrap()
    }

    pub fn genesis_time(&self) -> Timestamp {
        self.genesis.genesis_time
    }

    pub fn genesis_hash(&self) -> Hash {
        self.genesis.hash()
    }

    pub fn verdict(&self, proof: &CertificateProof, n: &str) -> Verdict {
        self.verdict_at(proof, n, now(), 2 * 3_600_000)
    }

    pub fn verdict_at(
        &self,
        proof: &CertificateProof,
        n: &str,
        at: Timestamp,
        max_age_ms: u64,
    ) -> Verdict {
        let mut light = self.light();
        let mut fetch = |h: u64| Ok(self.light_block(h));
        judge(
            proof,
            &number(n),
            &mut light,
            &self.genesis_hash(),
            Freshness {
                now: at,
                max_age_ms,
            },
            &mut fetch,
            "the node",
        )
    }

    /// One more (empty) block, so the last acts are under an anchor.
    pub fn seal(&mut self) {
        self.apply(vec![]);
    }

    pub fn issue(&mut self, n: &str, from: &str, to: &str) {
        let c = certificate(n, from, to, self.h.today());
        let tx = self.h.by_authority(from, Payload::IssueCertificate(c));
        self.run(tx);
    }

    pub fn confirm(&mut self, n: &str, by: &str) {
        let c = certificate(n, "BW", "EU", self.h.today());
        let tx = self.h.by_authority(
            by,
            Payload::ConfirmImport(kp_types::ImportConfirmation {
                number: number(n),
                authority: authority_id(by),
                carats: c.total_carats(),
                parcels: c.lines.iter().map(|l| l.parcels).sum(),
                received_on: self.h.today(),
            }),
        );
        self.run(tx);
    }

    pub fn void_tx(&mut self, n: &str, by: &str) -> kp_types::SignedTransaction {
        self.h.by_authority(
            by,
            Payload::VoidCertificate(kp_types::VoidCertificate {
                number: number(n),
                authority: authority_id(by),
                reason: "withdrawn".into(),
            }),
        )
    }

    pub fn seizure_tx(
        &mut self,
        n: &str,
        key: &SigningKey,
        by: &str,
    ) -> kp_types::SignedTransaction {
        self.h.tx(
            key,
            Payload::ReportSeizure(kp_types::SeizureReport {
                authority: authority_id(by),
                territory: territory("DE"),
                location: "Frankfurt airport".into(),
                carats: kp_types::Carats(1_000),
                value_usd: None,
                reason: kp_types::SeizureReason::ContentsMismatch,
                certificate: Some(number(n)),
                seized_on: self.h.today(),
            }),
        )
    }

    /// Has every government adopt `action` (proposal and signatures in one
    /// block each); the resolution's id.
    pub fn adopt(&mut self, action: ResolutionAction) -> Hash {
        let codes: Vec<String> = self
            .h
            .ledger
            .next_validator_codes()
            .into_iter()
            .map(|(c, _)| c.to_string())
            .collect();
        let p = kp_types::ResolutionProposal {
            title: "fixture".into(),
            action,
            deadline: None,
        };
        let tx = self.h.by_node(&codes[0], Payload::ProposeResolution(p));
        let id = tx.hash();
        self.run(tx);
        let txs = codes[1..]
            .iter()
            .map(|c| {
                self.h
                    .by_node(c, Payload::SignResolution { resolution: id })
            })
            .collect();
        for r in self.apply(txs) {
            assert_eq!(r.result, Ok(()));
        }
        id
    }
}

pub fn now() -> Timestamp {
    Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64,
    )
}
