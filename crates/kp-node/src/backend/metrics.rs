//! The node's Prometheus metrics: gauges kept by the node task, rendered for `/metrics`.

use super::*;

/// Counters for `/metrics`, updated by the node task.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Transactions decided and accepted.
    pub txs_accepted: AtomicU64,
    /// Transactions decided and refused, by rejection code.
    pub txs_rejected: Mutex<std::collections::BTreeMap<String, u64>>,
    /// Milliseconds the last block took to apply and store.
    pub commit_ms_last: AtomicU64,
    /// Sum of commit milliseconds over all blocks (with `blocks_committed`, an average).
    pub commit_ms_total: AtomicU64,
    /// Blocks applied since start.
    pub blocks_committed: AtomicU64,
}

impl Metrics {
    /// Records one applied block.
    pub fn record_block(&self, receipts: &[TxReceipt], commit: Duration) {
        let ms = commit.as_millis() as u64;
        self.commit_ms_last.store(ms, Ordering::Relaxed);
        self.commit_ms_total.fetch_add(ms, Ordering::Relaxed);
        self.blocks_committed.fetch_add(1, Ordering::Relaxed);
        let mut rejected = self.txs_rejected.lock().unwrap_or_else(|e| e.into_inner());
        for r in receipts {
            match &r.result {
                Ok(()) => {
                    self.txs_accepted.fetch_add(1, Ordering::Relaxed);
                }
                Err(rejection) => *rejected.entry(rejection.code().to_string()).or_default() += 1,
            }
        }
    }

    /// Prometheus text exposition, with the gauges of `status`.
    pub fn render(&self, status: &Status) -> String {
        let mut out = String::new();
        let mut gauge = |name: &str, help: &str, kind: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}");
        };
        gauge(
            "kpledger_height",
            "Last applied height.",
            "gauge",
            status.height,
        );
        gauge(
            "kpledger_round",
            "Current consensus round.",
            "gauge",
            u64::from(status.round),
        );
        gauge(
            "kpledger_peers",
            "Connected peers.",
            "gauge",
            status.peers as u64,
        );
        gauge(
            "kpledger_validators",
            "Validators of the next height.",
            "gauge",
            status.validators as u64,
        );
        gauge(
            "kpledger_mempool_size",
            "Transactions pending in the pool.",
            "gauge",
            status.mempool as u64,
        );
        gauge(
            "kpledger_txs_accepted_total",
            "Transactions decided and accepted by the ledger.",
            "counter",
            self.txs_accepted.load(Ordering::Relaxed),
        );
        gauge(
            "kpledger_blocks_committed_total",
            "Blocks applied since start.",
            "counter",
            self.blocks_committed.load(Ordering::Relaxed),
        );
        gauge(
            "kpledger_block_commit_ms_last",
            "Milliseconds the last block took to apply and store.",
            "gauge",
            self.commit_ms_last.load(Ordering::Relaxed),
        );
        gauge(
            "kpledger_block_commit_ms_total",
            "Milliseconds spent applying and storing blocks since start.",
            "counter",
            self.commit_ms_total.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP kpledger_txs_rejected_total Transactions decided and refused, by rejection code."
        );
        let _ = writeln!(out, "# TYPE kpledger_txs_rejected_total counter");
        let rejected = self.txs_rejected.lock().unwrap_or_else(|e| e.into_inner());
        for (code, count) in rejected.iter() {
            let _ = writeln!(
                out,
                "kpledger_txs_rejected_total{{reason=\"{code}\"}} {count}"
            );
        }
        out
    }
}
