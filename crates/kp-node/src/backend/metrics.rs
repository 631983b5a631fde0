//! The node's metrics (`GET /metrics`), kept with `prometheus-client` and
//! encoded in the OpenMetrics text format: counters and histograms the node
//! task updates, gauges read from the status at each scrape, the process's
//! own figures from `/proc`, and libp2p's metrics from the network.
//!
//! Names follow Prometheus's conventions: a `kpledger_` prefix, base units
//! in the name (`_seconds`, `_bytes`), `_total` on counters. The Grafana
//! dashboard `deploy/grafana/kpledger.json` reads these names.

use super::*;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use std::collections::HashMap;
use std::time::Instant;

/// Submissions whose time is remembered for the submit-to-decide histogram;
/// past it, new ones are not timed until old ones are decided or dropped.
const SUBMISSIONS_TIMED_MAX: usize = 65_536;
/// A timed submission not decided after this long is forgotten (it expired
/// or was refused before a block).
const SUBMISSION_TIMED_FOR: Duration = Duration::from_secs(600);

/// The rejection code of refused transactions.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: String,
}

/// The node's metrics.
pub struct Metrics {
    registry: Registry,
    process: Registry,
    txs_accepted: Counter,
    txs_rejected: Family<Reason, Counter>,
    blocks_committed: Counter,
    block_commit: Histogram,
    block_interval: Histogram,
    tx_decide: Histogram,
    height: Gauge,
    round: Gauge,
    peers: Gauge,
    validators: Gauge,
    mempool: Gauge,
    catching_up: Gauge,
    /// Consensus time of the last block recorded, for the interval.
    last_block_ms: AtomicU64,
    /// When each transaction submitted through this node's RPC arrived.
    submitted: Mutex<HashMap<TxHash, Instant>>,
    /// Replaced when the node restarts its network under a rotated key.
    network: std::sync::RwLock<Option<kp_network::NetClient>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(None)
    }
}

/// Exponential buckets from `start`, each `factor` times the last.
fn buckets(start: f64, factor: f64, count: u16) -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(start, factor, count)
}

impl Metrics {
    /// The node's metrics, with libp2p's from `network` when given.
    pub fn new(network: Option<kp_network::NetClient>) -> Metrics {
        let mut registry = Registry::with_prefix("kpledger");
        let txs_accepted = Counter::default();
        registry.register(
            "txs_accepted",
            "Transactions decided and accepted by the ledger",
            txs_accepted.clone(),
        );
        let txs_rejected = Family::<Reason, Counter>::default();
        registry.register(
            "txs_rejected",
            "Transactions decided and refused, by rejection code",
            txs_rejected.clone(),
        );
        let blocks_committed = Counter::default();
        registry.register(
            "blocks_committed",
            "Blocks applied since start",
            blocks_committed.clone(),
        );
        // 1 ms to about 16 s.
        let block_commit = Histogram::new(buckets(0.001, 2.0, 15));
        registry.register_with_unit(
            "block_commit",
            "Time to apply a block and store it durably",
            Unit::Seconds,
            block_commit.clone(),
        );
        // 50 ms to about 7 min: busy networks and the idle heartbeat.
        let block_interval = Histogram::new(buckets(0.05, 2.0, 14));
        registry.register_with_unit(
            "block_interval",
            "Consensus time between consecutive blocks",
            Unit::Seconds,
            block_interval.clone(),
        );
        // 10 ms to about 5.5 min.
        let tx_decide = Histogram::new(buckets(0.01, 2.0, 16));
        registry.register_with_unit(
            "tx_decide",
            "Time from a transaction's submission to this node's RPC to its block's commit here",
            Unit::Seconds,
            tx_decide.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let height = gauge(&mut registry, "height", "Last applied height");
        let round = gauge(&mut registry, "round", "Current consensus round");
        let peers = gauge(&mut registry, "peers", "Connected peers");
        let validators = gauge(&mut registry, "validators", "Validators of the next height");
        let mempool = gauge(
            &mut registry,
            "mempool_size",
            "Transactions pending in the pool",
        );
        let catching_up = gauge(
            &mut registry,
            "catching_up",
            "1 while the node replays blocks it fetched from peers, else 0",
        );
        // The `process_*` names every Prometheus client exports, unprefixed.
        let mut process = Registry::default();
        process.register_collector(Box::new(ProcessCollector {
            started: std::time::SystemTime::now(),
        }));
        Metrics {
            registry,
            process,
            txs_accepted,
            txs_rejected,
            blocks_committed,
            block_commit,
            block_interval,
            tx_decide,
            height,
            round,
            peers,
            validators,
            mempool,
            catching_up,
            last_block_ms: AtomicU64::new(0),
            submitted: Mutex::new(HashMap::new()),
            network: std::sync::RwLock::new(network),
        }
    }

    /// The network whose metrics a scrape adds, after a restart of the
    /// network under a rotated consensus key.
    pub fn set_network(&self, network: kp_network::NetClient) {
        if let Ok(mut slot) = self.network.write() {
            *slot = Some(network);
        }
    }

    /// Notes that `hash` was submitted through this node's RPC now.
    pub fn submitted(&self, hash: TxHash, now: Instant) {
        let mut map = self.submitted.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= SUBMISSIONS_TIMED_MAX {
            map.retain(|_, at| now.saturating_duration_since(*at) < SUBMISSION_TIMED_FOR);
        }
        if map.len() < SUBMISSIONS_TIMED_MAX {
            map.entry(hash).or_insert(now);
        }
    }

    /// Records one applied block: its outcome counts, how long it took to
    /// commit, the time since the block before, and the submit-to-decide
    /// time of the transactions submitted here.
    pub fn record_block(&self, block_time: Timestamp, receipts: &[TxReceipt], commit: Duration) {
        self.block_commit.observe(commit.as_secs_f64());
        self.blocks_committed.inc();
        let previous = self.last_block_ms.swap(block_time.0, Ordering::Relaxed);
        if previous != 0 && block_time.0 >= previous {
            self.block_interval
                .observe((block_time.0 - previous) as f64 / 1000.0);
        }
        let now = Instant::now();
        let mut submitted = self.submitted.lock().unwrap_or_else(|e| e.into_inner());
        for r in receipts {
            match &r.result {
                Ok(()) => {
                    self.txs_accepted.inc();
                }
                Err(rejection) => {
                    self.txs_rejected
                        .get_or_create(&Reason {
                            reason: rejection.code().to_string(),
                        })
                        .inc();
                }
            }
            if let Some(at) = submitted.remove(&r.tx_hash) {
                self.tx_decide
                    .observe(now.saturating_duration_since(at).as_secs_f64());
            }
        }
    }

    /// The metrics in the OpenMetrics text format, without the final
    /// `# EOF` (the RPC server appends its own metrics, then that line).
    pub fn render(&self, status: &Status) -> String {
        let set = |g: &Gauge, v: u64| {
            g.set(i64::try_from(v).unwrap_or(i64::MAX));
        };
        set(&self.height, status.height);
        set(&self.round, u64::from(status.round));
        set(&self.peers, status.peers as u64);
        set(&self.validators, status.validators as u64);
        set(&self.mempool, status.mempool as u64);
        set(&self.catching_up, u64::from(status.catching_up));
        let mut out = String::new();
        for registry in [&self.registry, &self.process] {
            if prometheus_client::encoding::text::encode_registry(&mut out, registry).is_err() {
                out.push_str("# the node's metrics could not be encoded\n");
            }
        }
        if let Some(net) = self.network.read().ok().as_ref().and_then(|n| n.as_ref()) {
            net.encode_metrics(&mut out);
        }
        out
    }
}

/// The process's own figures, read from `/proc/self` at each scrape (Linux;
/// elsewhere only the start time): the `process_*` metrics every
/// Prometheus client library exports.
#[derive(Debug)]
struct ProcessCollector {
    started: std::time::SystemTime,
}

/// Clock ticks per second of `/proc/*/stat` times: USER_HZ, 100 in the
/// Linux ABI on every architecture the node builds for.
const USER_HZ: f64 = 100.0;

/// What `/proc/self` tells: CPU seconds, resident and virtual bytes,
/// threads, open descriptors.
#[derive(Debug, Default, PartialEq)]
struct ProcStat {
    cpu_seconds: f64,
    resident_bytes: u64,
    virtual_bytes: u64,
    threads: u64,
}

/// Parses `/proc/self/stat` (`proc(5)`): fields after the command name,
/// which is in parentheses and may hold spaces.
fn parse_stat(text: &str, page_bytes: u64) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state): field N is rest[N - 3].
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    Some(ProcStat {
        cpu_seconds: (field(14)? + field(15)?) as f64 / USER_HZ,
        threads: field(20)?,
        virtual_bytes: field(23)?,
        resident_bytes: field(24)?.saturating_mul(page_bytes),
    })
}

impl prometheus_client::collector::Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let start = self
            .started
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        ConstGauge::new(start).encode(encoder.encode_descriptor(
            "process_start_time",
            "Start time of the process since the Unix epoch",
            Some(&Unit::Seconds),
            MetricType::Gauge,
        )?)?;
        let stat = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|t| parse_stat(&t, 4096));
        let Some(stat) = stat else {
            return Ok(());
        };
        ConstCounter::new(stat.cpu_seconds).encode(encoder.encode_descriptor(
            "process_cpu",
            "User and system CPU time spent",
            Some(&Unit::Seconds),
            MetricType::Counter,
        )?)?;
        ConstGauge::new(stat.resident_bytes as i64).encode(encoder.encode_descriptor(
            "process_resident_memory",
            "Resident memory size",
            Some(&Unit::Bytes),
            MetricType::Gauge,
        )?)?;
        ConstGauge::new(stat.virtual_bytes as i64).encode(encoder.encode_descriptor(
            "process_virtual_memory",
            "Virtual memory size",
            Some(&Unit::Bytes),
            MetricType::Gauge,
        )?)?;
        ConstGauge::new(stat.threads as i64).encode(encoder.encode_descriptor(
            "process_threads",
            "Threads of the process",
            None,
            MetricType::Gauge,
        )?)?;
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            // Bounded by the process's own descriptor limit.
            let open = dir.count() as i64;
            ConstGauge::new(open).encode(encoder.encode_descriptor(
                "process_open_fds",
                "Open file descriptors",
                None,
                MetricType::Gauge,
            )?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod metric_tests {
    use super::*;

    #[test]
    fn proc_stat_is_parsed_past_a_command_name_with_spaces() {
        let text = "4242 (kp ledger) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 \
                    7 0 12345 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 4096 17 0 0 0 0 0 0";
        let stat = parse_stat(text, 4096).unwrap();
        assert_eq!(
            stat,
            ProcStat {
                cpu_seconds: 3.0,
                resident_bytes: 2560 * 4096,
                virtual_bytes: 104_857_600,
                threads: 7,
            }
        );
        assert_eq!(parse_stat("garbage", 4096), None);
        assert_eq!(parse_stat("1 (x) S 1 2", 4096), None);
    }

    #[test]
    fn blocks_and_decisions_land_in_their_histograms() {
        let m = Metrics::default();
        let tx = Hash([1; 32]);
        m.submitted(tx, Instant::now());
        let receipts = vec![
            TxReceipt {
                tx_hash: tx,
                result: Ok(()),
            },
            TxReceipt {
                tx_hash: Hash([2; 32]),
                result: Err(kp_ledger::Rejection::TxExpired {
                    expires_at: Timestamp(1),
                    block_time: Timestamp(2),
                }),
            },
        ];
        m.record_block(Timestamp(10_000), &[], Duration::from_millis(3));
        m.record_block(Timestamp(11_500), &receipts, Duration::from_millis(5));
        let text = m.render(&Status {
            height: 2,
            ..Status::default()
        });
        for line in [
            "kpledger_height 2",
            "kpledger_txs_accepted_total 1",
            "kpledger_txs_rejected_total{reason=\"tx-expired\"} 1",
            "kpledger_blocks_committed_total 2",
            "kpledger_block_commit_seconds_count 2",
            "kpledger_block_interval_seconds_count 1",
            "kpledger_block_interval_seconds_sum 1.5",
            "kpledger_tx_decide_seconds_count 1",
            "# TYPE kpledger_block_commit_seconds histogram",
            "# UNIT kpledger_block_commit_seconds seconds",
        ] {
            assert!(text.contains(line), "{line} missing:\n{text}");
        }
        assert!(!text.contains("# EOF"));
        if cfg!(target_os = "linux") {
            assert!(text.contains("\nprocess_cpu_seconds_total "), "{text}");
            assert!(text.contains("\nprocess_resident_memory_bytes "), "{text}");
        }
    }
}
