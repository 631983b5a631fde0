//! `instructions`: the per-certificate work of a node, one workload per run,
//! for `scripts/bench --instructions` to count under
//! `valgrind --tool=callgrind`. Instruction counts do not move with the
//! machine's load, so they judge a change where wall-clock time on a shared
//! machine cannot (±6 % run to run).
//!
//! ```text
//! instructions WORKLOAD BLOCKS
//! ```
//!
//! Each run prepares `BLOCKS` blocks of 1,000 certificate issuances
//! (deterministic keys and numbers) without counting, then runs the
//! workload in functions whose names start with `measured_`, which the
//! script has callgrind count alone (`--toggle-collect='*measured_*'`):
//!
//! * `admission`: what a node does with each submitted certificate:
//!   signatures verified in batches of 64 (the intake's batches), then the
//!   replica's admission (`Replica::submit`: filter, rules, pool).
//! * `apply`: a validator's commit of a decided block it already validated
//!   (signatures cached, as consensus leaves them): execute, the block
//!   store's writes, one sled commit (`kp-storage`'s `apply_sled` bench in
//!   instructions).
//! * `codec`: encoding a block of 1,000 and decoding it back, as a proposal
//!   or a sync answer travels.
//! * `catchup`: an observer catching up from a sync answer: each block
//!   decoded from its bytes, its signatures verified in one batch, the
//!   commit certificate verified, executed ahead of the store and written
//!   in stages (`Replica::catch_up_*`) to sled: the node's path without the
//!   network.
//!
//! It prints the certificates the workload covered; the script divides the
//! counted instructions by that.

use kp_chain::BlockStore;
use kp_consensus::{Consensus, ConsensusConfig};
use kp_ledger::testkit::{self, GOVERNMENTS};
use kp_ledger::{Ledger, MemStore, StateStore, WriteSet};
use kp_replica::{Replica, ReplicaConfig, VerifiedSignatures};
use kp_storage::SledStore;
use kp_types::{Block, CommitCertificate, PublicKey, SignedTransaction, SigningKey};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

/// The node's allocator (ADR 0005), so that allocation counts as it does there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CERTS: usize = 1000;
/// The intake's signature batches.
const BATCH: usize = 64;

fn usage() -> ! {
    eprintln!("usage: instructions admission|apply|codec|catchup BLOCKS");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [workload, blocks] = args.as_slice() else {
        usage()
    };
    let Ok(blocks) = blocks.parse::<usize>() else {
        usage()
    };
    // Admission runs on a ledger that has applied a block, as a running
    // node's has (its read memo is on from then).
    let extra = usize::from(workload == "admission");
    let chain = build_chain(blocks.max(1) + extra);
    let started = std::time::Instant::now();
    let certs = match workload.as_str() {
        "admission" => admission(&chain),
        "apply" => apply(&chain),
        "codec" => codec(&chain),
        "catchup" => catchup(&chain),
        _ => usage(),
    };
    // Wall-clock time of the whole workload (its uncounted setup included),
    // for orientation only: the instruction count is the figure.
    println!(
        "{workload}: {certs} certificates ({:.1} µs each natively, setup included)",
        started.elapsed().as_secs_f64() * 1e6 / certs.max(1) as f64
    );
}

/// Blocks of certificates with their commit certificates, built on a
/// ledger in memory.
struct Chain {
    blocks: Vec<(Block, CommitCertificate)>,
}

fn build_chain(blocks: usize) -> Chain {
    let keys: BTreeMap<PublicKey, SigningKey> = GOVERNMENTS
        .iter()
        .map(|c| {
            let k = testkit::node_key(c);
            (k.public(), k)
        })
        .collect();
    let mut ledger = Ledger::open(&testkit::genesis(), MemStore::new()).expect("genesis");
    let mut out = Vec::with_capacity(blocks);
    for _ in 0..blocks {
        let validators = ledger.validators();
        let block = testkit::block_of_issues(&ledger, CERTS);
        let receipt = ledger
            .apply_block(&block, WriteSet::default())
            .expect("block applies");
        assert!(receipt.receipts.iter().all(|r| r.result.is_ok()));
        let mut certificate = CommitCertificate {
            chain_id: testkit::CHAIN_ID.to_string(),
            height: block.header.height,
            round: 0,
            block_hash: block.hash(),
            signatures: Vec::new(),
        };
        certificate.sign_with(validators.iter().map(|v| &keys[v]));
        out.push((block, certificate));
    }
    Chain { blocks: out }
}

fn sled_ledger() -> (tempfile::TempDir, Ledger<SledStore>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SledStore::open(dir.path().join("db")).expect("open sled");
    let ledger = Ledger::open(&testkit::genesis(), store).expect("genesis");
    (dir, ledger)
}

fn replica(code: &str, ledger: Ledger<SledStore>) -> Replica<SledStore> {
    let key = testkit::node_key(code);
    let config = ConsensusConfig::new(testkit::CHAIN_ID, key.clone());
    Replica::new(
        ReplicaConfig::default(),
        key,
        Consensus::new(config, None),
        ledger,
    )
    .expect("empty store")
}

fn signatures(block: &Block) -> Vec<(PublicKey, kp_types::TxHash, kp_types::Signature)> {
    block
        .txs
        .iter()
        .map(|stx| (stx.tx.signer, stx.hash(), stx.signature))
        .collect()
}

fn admission(chain: &Chain) -> usize {
    let (_dir, ledger) = sled_ledger();
    let mut observer = replica("WDC", ledger);
    let (first, rest) = chain.blocks.split_first().expect("a block");
    catch_up(
        &mut observer,
        &[(kp_types::encode(&first.0), first.1.clone())],
    );
    let now = first.0.header.time;
    let txs: Vec<SignedTransaction> = rest
        .iter()
        .flat_map(|(b, _)| b.txs.iter().cloned())
        .collect();
    measured_admission(&mut observer, txs, now)
}

#[inline(never)]
fn measured_admission(
    replica: &mut Replica<SledStore>,
    txs: Vec<SignedTransaction>,
    now: kp_types::Timestamp,
) -> usize {
    let count = txs.len();
    let mut admitted = 0;
    let mut txs = txs.into_iter().peekable();
    while txs.peek().is_some() {
        let batch: Vec<SignedTransaction> = txs.by_ref().take(BATCH).collect();
        let items: Vec<_> = batch
            .iter()
            .map(|stx| (stx.tx.signer, stx.hash(), stx.signature))
            .collect();
        let verified = kp_types::verify_batch(&items).is_ok();
        for (stx, (_, hash, _)) in batch.into_iter().zip(items) {
            if replica.submit(stx, hash, verified, now).is_ok() {
                admitted += 1;
            }
        }
    }
    assert_eq!(admitted, count, "every certificate is admitted");
    count
}

fn apply(chain: &Chain) -> usize {
    let (_dir, mut ledger) = sled_ledger();
    let mut count = 0;
    for (block, certificate) in &chain.blocks {
        // As consensus does before voting: signatures verified and cached.
        ledger.validate_block(block).expect("valid block");
        count += measured_apply(&mut ledger, block, certificate);
    }
    count
}

#[inline(never)]
fn measured_apply(
    ledger: &mut Ledger<SledStore>,
    block: &Block,
    certificate: &CommitCertificate,
) -> usize {
    let mut pending = ledger.execute(block).expect("block executes");
    let receipts = &pending.receipt().receipts;
    let bytes = kp_types::encode(receipts);
    // As the replica does: the receipts hold the hashes execution computed.
    let hashes: Vec<kp_types::TxHash> = receipts.iter().map(|r| r.tx_hash).collect();
    let writes = BlockStore::try_block_writes_hashed(block, certificate, &bytes, &hashes)
        .expect("block store writes");
    pending.add_host_writes(writes).expect("host keys");
    ledger.advance(pending).expect("block commits");
    block.txs.len()
}

fn codec(chain: &Chain) -> usize {
    chain
        .blocks
        .iter()
        .map(|(block, _)| measured_codec(block))
        .sum()
}

#[inline(never)]
fn measured_codec(block: &Block) -> usize {
    let bytes = kp_types::encode(black_box(block));
    let back = Block::decode(black_box(&bytes)).expect("decodes");
    assert_eq!(back.txs.len(), block.txs.len());
    back.txs.len()
}

fn catchup(chain: &Chain) -> usize {
    let (_dir, ledger) = sled_ledger();
    let mut observer = replica("WDC", ledger);
    let answer: Vec<(Vec<u8>, CommitCertificate)> = chain
        .blocks
        .iter()
        .map(|(b, c)| (kp_types::encode(b), c.clone()))
        .collect();
    let count = measured_catchup(&mut observer, &answer);
    assert_eq!(observer.ledger().height(), chain.blocks.len() as u64);
    count
}

#[inline(never)]
fn measured_catchup(
    replica: &mut Replica<SledStore>,
    answer: &[(Vec<u8>, CommitCertificate)],
) -> usize {
    catch_up(replica, answer)
}

fn catch_up(replica: &mut Replica<SledStore>, answer: &[(Vec<u8>, CommitCertificate)]) -> usize {
    let mut count = 0;
    for (bytes, certificate) in answer {
        let block = Arc::new(Block::decode(bytes).expect("decodes"));
        let items = signatures(&block);
        let verified: VerifiedSignatures = if kp_types::verify_batch(&items).is_ok() {
            items.into_iter().map(|(_, h, s)| (h, s)).collect()
        } else {
            VerifiedSignatures::new()
        };
        let pending = replica
            .catch_up_execute(&block, certificate, &verified)
            .expect("block verifies and executes");
        count += block.txs.len();
        if replica
            .catch_up_advance(block, certificate.clone(), pending)
            .expect("advances")
        {
            write_stage(replica);
        }
    }
    write_stage(replica);
    replica.catch_up_done();
    count
}

fn write_stage(replica: &mut Replica<SledStore>) {
    if let Some(stage) = replica.take_stage().expect("stage") {
        replica
            .ledger()
            .store()
            .commit(&stage.writes)
            .expect("stage commits");
        black_box(replica.stage_written(stage));
    }
}
