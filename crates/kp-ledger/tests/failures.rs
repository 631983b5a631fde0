//! Storage failures: a failed commit leaves the ledger where it was (and the
//! retry matches a replica that never failed); a failed read during
//! admission is `state-unavailable`, not a panic.

use kp_ledger::testkit::*;
use kp_ledger::{Ledger, LedgerError, MemStore, StateStore, StoreError, WriteSet};
use kp_types::Payload;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A `MemStore` whose reads or commits fail on demand.
#[derive(Clone, Default)]
struct Flaky {
    inner: MemStore,
    fail_reads: Arc<AtomicBool>,
    fail_commits: Arc<AtomicBool>,
}

fn broken(operation: &'static str) -> StoreError {
    StoreError::Backend {
        operation,
        detail: "injected".into(),
    }
}

impl StateStore for Flaky {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if self.fail_reads.load(Ordering::SeqCst) {
            return Err(broken("get"));
        }
        self.inner.get(key)
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        if self.fail_reads.load(Ordering::SeqCst) {
            return Err(broken("scan"));
        }
        self.inner.scan_prefix(prefix, start_after, limit)
    }

    fn commit(&self, writes: &WriteSet) -> Result<(), StoreError> {
        if self.fail_commits.load(Ordering::SeqCst) {
            return Err(broken("commit"));
        }
        self.inner.commit(writes)
    }
}

#[test]
fn failed_commit_changes_nothing_and_the_retry_agrees_with_a_replica() {
    let g = genesis();
    let flaky = Flaky::default();
    let mut ledger = Ledger::open(&g, flaky.clone()).unwrap();
    let mut replica = Harness::with_genesis(g);
    let c = certificate("BW1", "BW", "EU", replica.today());
    let tx = replica.by_authority("BW", Payload::IssueCertificate(c));
    let block = block_with(&replica.ledger, replica.time, vec![tx]);
    let root = ledger.state_root();

    flaky.fail_commits.store(true, Ordering::SeqCst);
    let mut host = WriteSet::default();
    host.put(vec![0x90], vec![1]);
    assert!(matches!(
        ledger.apply_block(&block, host.clone()),
        Err(LedgerError::Store(_))
    ));
    assert_eq!(ledger.height(), 0);
    assert_eq!(ledger.state_root(), root);
    assert_eq!(flaky.inner.get(&[0x90]).unwrap(), None);

    flaky.fail_commits.store(false, Ordering::SeqCst);
    let receipt = ledger.apply_block(&block, host).unwrap();
    let expected = replica
        .ledger
        .apply_block(&block, WriteSet::default())
        .unwrap();
    assert_eq!(receipt, expected);
    assert_eq!(ledger.state_root(), replica.ledger.state_root());
    assert_eq!(flaky.inner.get(&[0x90]).unwrap(), Some(vec![1]));
}

#[test]
fn failed_reads_are_reported_not_panicked() {
    let g = genesis();
    let flaky = Flaky::default();
    let mut ledger = Ledger::open(&g, flaky.clone()).unwrap();
    let time = g.genesis_time.plus_ms(MINUTE_MS);
    let c = certificate("BW1", "BW", "EU", time.date());
    let tx = sign(
        &authority_key("BW"),
        1,
        time.plus_ms(MINUTE_MS),
        Payload::IssueCertificate(c),
    );
    flaky.fail_reads.store(true, Ordering::SeqCst);
    assert_eq!(
        ledger.check_tx(&tx, time).unwrap_err().code(),
        "state-unavailable"
    );
    let block = ledger.build_block(ledger.validators()[0], time, std::slice::from_ref(&tx));
    assert!(
        block.txs.is_empty(),
        "nothing proposed from a failing store"
    );
    assert!(ledger.participants().is_err());
    assert!(matches!(
        ledger.apply_block(&block, WriteSet::default()),
        Err(LedgerError::Store(_))
    ));
    flaky.fail_reads.store(false, Ordering::SeqCst);
    assert_eq!(ledger.check_tx(&tx, time), Ok(()));
    assert_eq!(ledger.height(), 0);
    assert!(matches!(
        Ledger::open(&g, {
            flaky.fail_reads.store(true, Ordering::SeqCst);
            flaky.clone()
        }),
        Err(LedgerError::Store(_))
    ));
}
