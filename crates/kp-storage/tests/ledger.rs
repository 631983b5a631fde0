//! The real ledger on sled: `Ledger<SledStore>` stores each
//! decided block, its receipts and its state changes in one commit, reopens
//! at the same height and state root, and survives SIGKILL at random moments.

mod common;

use common::process::{acknowledge, exclusive_round, kill_schedule_seed, run_and_kill, writer_job};
use kp_chain::{
    check_consistency, check_consistency_with, BlockStore, CheckDepth, RECEIPTS_BYTES_MAX,
};
use kp_ledger::testkit::{self, authority_key, MINUTE_MS};
use kp_ledger::{Ledger, TxReceipt};
use kp_storage::SledStore;
use kp_types::{merkle, Block, CommitCertificate, Hash, Payload, SignedTransaction};
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::time::Duration;

const WRITER_TEST: &str = "ledger_writer_child";
const CHILD_BLOCKS_MAX: u64 = 100_000;
const KILLS: usize = 10;

type Node = Ledger<SledStore>;

fn open(path: &Path) -> (SledStore, Node) {
    let store = SledStore::open(path).unwrap();
    let ledger = Ledger::open(&testkit::genesis(), store.clone()).unwrap();
    (store, ledger)
}

/// Block `height` of the test chain: one certificate issued by Botswana to
/// the EU, a minute after the block before.
fn next_block(ledger: &Node) -> Block {
    let height = ledger.height() + 1;
    let time = testkit::genesis().genesis_time.plus_ms(height * MINUTE_MS);
    let certificate = testkit::certificate(&format!("BW{height:07}"), "BW", "EU", time.date());
    let tx: SignedTransaction = testkit::sign(
        &authority_key("BW"),
        height,
        time.plus_ms(10 * MINUTE_MS),
        Payload::IssueCertificate(certificate),
    );
    let txs = vec![tx];
    let leaves: Vec<Hash> = txs.iter().map(SignedTransaction::leaf).collect();
    Block {
        header: {
            assert_eq!(height, ledger.height() + 1);
            ledger.next_header(ledger.validators()[0], time, merkle::root(&leaves))
        },
        txs,
    }
}

/// The certificate the node would get from consensus (its signatures are not
/// what this test is about; the block store checks only that it names the block).
fn commit_certificate(block: &Block) -> CommitCertificate {
    CommitCertificate {
        chain_id: block.header.chain_id.clone(),
        height: block.header.height,
        round: 0,
        block_hash: block.hash(),
        signatures: Vec::new(),
    }
}

/// What `kp-node` does with a decided block: execute it, add the block and
/// its receipts, commit once.
fn store_block(ledger: &mut Node, block: &Block) {
    let mut pending = ledger.execute(block).unwrap();
    let receipts = kp_types::encode(&pending.receipt().receipts);
    let host_writes = BlockStore::block_writes(block, &commit_certificate(block), &receipts);
    pending.add_host_writes(host_writes).unwrap();
    ledger.advance(pending).unwrap();
}

fn stored_receipts(store: &SledStore, height: u64) -> Vec<TxReceipt> {
    let bytes = BlockStore::receipts(store, height).unwrap().unwrap();
    kp_types::decode(&bytes, RECEIPTS_BYTES_MAX).unwrap()
}

/// The state root after applying stored blocks 1..=`height` to a fresh
/// in-memory ledger.
fn replay(store: &SledStore, height: u64) -> Hash {
    let mut fresh = Ledger::open(&testkit::genesis(), kp_ledger::MemStore::new()).unwrap();
    for block in (1..=height).map(|h| BlockStore::block(store, h).unwrap().unwrap()) {
        fresh
            .apply_block(&block, kp_ledger::WriteSet::default())
            .unwrap();
    }
    fresh.state_root()
}

#[test]
fn ledger_on_sled_reopens_where_it_stopped() {
    // The kill test forks children in parallel; keep its forks away from
    // this test's open stores (see `exclusive_round`).
    let _round = exclusive_round();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (state_root, last_hash) = {
        let (store, mut ledger) = open(&path);
        for _ in 0..4 {
            let block = next_block(&ledger);
            store_block(&mut ledger, &block);
        }
        assert_eq!(ledger.height(), 4);
        assert_eq!(BlockStore::last_block_height(&store).unwrap(), 4);
        (ledger.state_root(), ledger.last_block_hash())
    };
    let (store, ledger) = open(&path);
    assert_eq!(ledger.height(), 4);
    assert_eq!(ledger.state_root(), state_root);
    let resume = check_consistency(&store, ledger.height()).unwrap();
    assert_eq!(resume.block_hash, last_hash);
    for height in 1..=4 {
        let receipts = stored_receipts(&store, height);
        assert_eq!(receipts.len(), 1);
        assert_eq!(receipts[0].result, Ok(()), "block {height}");
        let block = BlockStore::block(&store, height).unwrap().unwrap();
        assert_eq!(receipts[0].tx_hash, block.txs[0].hash());
        assert_eq!(
            BlockStore::tx_location(&store, &block.txs[0].hash()).unwrap(),
            Some((height, 0))
        );
    }
    assert_eq!(replay(&store, 4), state_root);
    // The ledger saw its certificates.
    let number = testkit::number("BW0000003");
    assert!(ledger.certificate(&number).unwrap().is_some());
}

/// The child: a node that resumes and stores blocks until killed.
#[test]
fn ledger_writer_child() {
    let Some((_, dir)) = writer_job() else {
        return;
    };
    let (store, mut ledger) = open(Path::new(&dir));
    check_consistency_with(&store, ledger.height(), CheckDepth::Recent(2)).unwrap();
    for _ in 0..CHILD_BLOCKS_MAX {
        let block = next_block(&ledger);
        store_block(&mut ledger, &block);
        acknowledge(ledger.height());
    }
}

#[test]
fn ledger_killed_mid_block_resumes_with_its_blocks_and_receipts() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(kill_schedule_seed());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut acked_max = 0u64;
    let mut height_before = 0u64;
    for kill in 0..KILLS {
        // Dropped last, after this round's store.
        let _round = exclusive_round();
        let acks = rng.gen_range(0..15);
        let delay = Duration::from_micros(rng.gen_range(0..5_000));
        let acked = run_and_kill(WRITER_TEST, "ledger", &path, acks, delay);
        acked_max = acked.iter().copied().max().unwrap_or(0).max(acked_max);

        let (store, ledger) = open(&path);
        let resume = check_consistency(&store, ledger.height())
            .unwrap_or_else(|e| panic!("kill {kill}: {e}"));
        assert!(
            resume.height >= acked_max,
            "kill {kill}: acknowledged block lost"
        );
        assert!(
            resume.height >= height_before,
            "kill {kill}: went backwards"
        );
        assert_eq!(resume.block_hash, ledger.last_block_hash());
        for height in height_before.max(1)..=resume.height {
            assert_eq!(stored_receipts(&store, height)[0].result, Ok(()));
        }
        // The state on disk is exactly the state after the stored blocks:
        // replaying them on a fresh ledger reaches the same root.
        let replayed = replay(&store, resume.height);
        assert_eq!(
            replayed,
            ledger.state_root(),
            "kill {kill}: state and blocks diverge"
        );
        height_before = resume.height;
        println!(
            "kill {kill}: acked up to {acked_max}, resumed at {}",
            resume.height
        );
    }
    assert!(height_before > 0, "no block was ever stored");
}
