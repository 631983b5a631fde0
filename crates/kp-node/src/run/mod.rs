//! The running node: one task owns the ledger, the consensus core and the
//! mempool and reacts to network events, RPC requests and timers. Everything
//! that touches consensus state happens on that task, in order, so the core's
//! actions are executed exactly as it emitted them: a `PersistSafety` is
//! flushed to disk before any later broadcast of the same batch leaves.
//!
//! Block flow: the proposer builds a block from the mempool; validators check
//! it (`Ledger::validate_block`) when the core asks; a decided block is applied
//! and stored with its commit certificate in one atomic write; the proposer
//! then gossips the decided block with its certificate on the blocks topic so
//! that observers follow. A node that is behind (restart, late observer,
//! healed partition) asks a peer for the blocks it misses and checks each
//! certificate against the validator set of its height before applying it.

use crate::backend::{NodeBackend, Request, Shared};
use crate::config::NodeConfig;
use crate::keys;
use kp_chain::BlockStore;
use kp_consensus::{Consensus, ConsensusConfig, ConsensusMessage, SafetyRecord, SafetyState};
use kp_ledger::{BlockReceipt, Genesis, Ledger};
use kp_network::{NetClient, NetEvent, NetworkConfig, Topic};
use kp_replica::{Event, MempoolError, Replica, ReplicaConfig};
use kp_rpc::{ApiError, Backend, Status, Submitted};
use kp_storage::{SafetyStore, SavedSafety, SledStore};
use kp_types::{
    Block, CommitCertificate, PublicKey, SignedTransaction, SigningKey, Timestamp, TxHash,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

mod commit;
mod consensus;
mod intake;
mod next_key;
mod sync;
#[cfg(test)]
mod tests;

use consensus::*;

/// How recently synced blocks must have arrived for the node to count as
/// catching up (`/v1/health`).
const CATCHING_UP_WINDOW: Duration = Duration::from_secs(10);
/// How far behind the wall clock the last block must be for a syncing node
/// to count as catching up rather than following the tip.
const CATCHING_UP_LAG_MS: u64 = 30_000;

/// Block sync answers read from the store at once (each up to
/// [`SYNC_BYTES_MAX`]).
const SYNC_SERVE_CONCURRENT: usize = 2;
/// Most blocks asked for in one sync request. Answers are also cut to the
/// peers' message size limit, which is what bounds them for full blocks.
const SYNC_BATCH_MAX: u32 = 128;
/// Pending RPC requests the node task holds before refusing more.
const REQUEST_QUEUE: usize = 1024;
/// Transactions a client may wait on at once.
const WAITERS_MAX: usize = 10_000;
/// How far ahead of the local clock a proposed block's time may be.
const CLOCK_DRIFT_MAX_MS: u64 = 10_000;
/// Lifetime the node gives the evidence transactions it signs.
const EVIDENCE_TX_LIFETIME_MS: u64 = 60 * 60 * 1000;
/// Inputs the consensus core handles for one event at most.
const INPUTS_PER_EVENT_MAX: usize = 256;
/// Transactions gossiped together in one message at most: one libp2p
/// message (its signature, framing and queue slot) per batch, not per
/// transaction.
const TX_GOSSIP_BATCH_MAX: usize = 256;
/// How long a transaction waits for others before its batch is gossiped.
const TX_GOSSIP_DELAY_MS: u64 = 10;
/// Pending transactions re-checked against the state after each block.
const MEMPOOL_RECHECK_PER_BLOCK: usize = 256;
/// Bytes of transactions gossiped together in one message at most.
const TX_GOSSIP_BYTES_MAX: usize = 1024 * 1024;
/// Consensus messages in one direct message at most.
const DIRECT_MESSAGES_MAX: usize = 512;
/// Least time between two direct broadcasts of the same consensus message
/// (see `broadcast_due`); gossip used to suppress identical re-sends for 6 s.
const RESEND_MS: u64 = 6_000;
/// How long a restart of the network (a rotated consensus key) waits for
/// the old network to stop.
const NETWORK_STOP_WAIT: Duration = Duration::from_secs(10);
/// Largest encoded decided-block gossip message or sync answer.
const SYNC_BYTES_MAX: usize = 32 * 1024 * 1024;

// The store takes every safety state the consensus core may produce (a
// smaller limit stopped validators once blocks held about a thousand
// certificates).
const _: () = assert!(kp_storage::SAFETY_STATE_BYTES_MAX >= kp_consensus::safety::SAFETY_BYTES_MAX);

/// Why the node stopped.
#[derive(Debug, Error)]
pub enum NodeError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The genesis file is unusable.
    #[error("genesis {path}: {detail}")]
    Genesis {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The node key is unusable.
    #[error(transparent)]
    Key(#[from] keys::KeyFileError),
    /// The store failed or is inconsistent (fatal).
    #[error("storage: {0}")]
    Storage(#[from] kp_ledger::StoreError),
    /// The ledger failed (a storage failure underneath: fatal).
    #[error("ledger: {0}")]
    Ledger(#[from] kp_ledger::LedgerError),
    /// The persisted consensus safety state does not decode.
    #[error(
        "the consensus safety state on disk is corrupt: {source}; restore the data directory \
         from a backup (starting without this state risks signing twice in a round)"
    )]
    CorruptSafetyState {
        /// The decoder's complaint.
        source: kp_types::EncodingError,
    },
    /// The persisted safety record names a block not saved with it.
    #[error(
        "the consensus safety state on disk names a block it does not hold; restore the data \
         directory from a backup (starting without this state risks signing twice in a round)"
    )]
    SafetyBlockMissing,
    /// The RPC's token file is unusable.
    #[error("[rpc] tokens_file: {0}")]
    Tokens(#[from] kp_rpc::access::TokenError),
    /// The RPC's TLS certificate or key is unusable.
    #[error("[rpc] tls_cert/tls_key: {0}")]
    Tls(#[from] kp_rpc::tls::TlsError),
    /// The network could not start.
    #[error("network: {0}")]
    Network(#[from] kp_network::NetworkError),
    /// An address in the configuration is malformed.
    #[error("{field} {address:?}: {detail} (expected a libp2p address such as /ip4/127.0.0.1/tcp/26600)")]
    Address {
        /// The configuration field.
        field: &'static str,
        /// The address.
        address: String,
        /// What is wrong.
        detail: String,
    },
    /// An address in the configuration cannot be listened on.
    #[error("cannot listen on {address} ({what}): {source}")]
    Bind {
        /// The configuration field.
        what: &'static str,
        /// The address.
        address: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The OS refused something (runtime, socket).
    #[error("{action}: {source}")]
    Io {
        /// What was attempted.
        action: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Runs a node until SIGINT or SIGTERM.
pub fn run_node(config_path: &Path) -> Result<(), NodeError> {
    run_node_with(config_path, None)
}

/// [`run_node`], with the log format of `kpledger node --log-format` over
/// the configuration's.
pub fn run_node_with(
    config_path: &Path,
    log_format: Option<crate::config::LogFormat>,
) -> Result<(), NodeError> {
    let mut config = NodeConfig::load(config_path)?;
    if let Some(format) = log_format {
        config.node.log_format = format;
    }
    init_tracing(config.node.log_format);
    let genesis_text =
        std::fs::read_to_string(&config.node.genesis).map_err(|e| NodeError::Genesis {
            path: config.node.genesis.clone(),
            detail: e.to_string(),
        })?;
    let genesis = Genesis::from_toml(&genesis_text).map_err(|e| NodeError::Genesis {
        path: config.node.genesis.clone(),
        detail: e.to_string(),
    })?;
    let key = keys::read(&config.node.key_file)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.node.threads)
        .enable_all()
        .build()
        .map_err(|source| NodeError::Io {
            action: "start the async runtime",
            source,
        })?;
    runtime.block_on(async move { Node::start(config, genesis, key).await?.run().await })
}

fn init_tracing(format: crate::config::LogFormat) {
    // gossipsub warns once per message when a peer's send queue is full or a
    // rebroadcast is a duplicate: under overload that is thousands of lines a
    // second (formatting peer ids cost 3 % of a 60-validator node's CPU),
    // while the node's own counters already report what was dropped.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,libp2p_gossipsub=error"));
    // Colours only for a person at a terminal: a log file (the devnet's
    // node.log, journald, docker) gets plain text.
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match format {
        crate::config::LogFormat::Text => builder
            .with_ansi(std::io::stdout().is_terminal())
            .try_init(),
        crate::config::LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
}

/// Timers the node task keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    /// One the replica asked for.
    Replica(kp_replica::Timer),
    FlushTxs,
}

struct Node {
    chain_id: String,
    code: String,
    key: SigningKey,
    config: NodeConfig,
    /// Consensus core, ledger and pool: every decision is the replica's;
    /// this task feeds it and carries out what it returns.
    replica: Replica<SledStore>,
    safety: SafetyStore,
    net: NetClient,
    net_events: mpsc::Receiver<NetEvent>,
    requests: mpsc::Receiver<Request>,
    shared: Arc<Shared>,
    timers: BTreeMap<(Instant, u64), Timer>,
    timer_seq: u64,
    waiters: BTreeMap<TxHash, Vec<oneshot::Sender<Result<Submitted, ApiError>>>>,
    allowed: Vec<PublicKey>,
    /// When blocks fetched from peers were last applied.
    last_synced: Option<Instant>,
    /// The last catch-up progress line: when, and the height and block
    /// time then (`sync::CatchUpProgress`).
    catch_up_progress: Option<sync::CatchUpMark>,
    /// The last height whose applied commit certificate each validator
    /// signed (`/v1/status` `validators_seen`); only current validators.
    validators_seen: BTreeMap<PublicKey, u64>,
    sync_replies: mpsc::Sender<(PublicKey, Result<Vec<u8>, kp_network::NetworkError>)>,
    sync_results: mpsc::Receiver<(PublicKey, Result<Vec<u8>, kp_network::NetworkError>)>,
    /// Permits for block sync answers being read (`serve_blocks`).
    sync_serving: Arc<tokio::sync::Semaphore>,
    rpc_shutdown: Option<oneshot::Sender<()>>,
    tx_outbox: Vec<SignedTransaction>,
    tx_outbox_bytes: usize,
    /// Consensus messages for one peer each, sent together at the end of
    /// the input that produced them.
    direct_outbox: BTreeMap<PublicKey, Vec<ConsensusMessage>>,
    /// Consensus messages for every validator, sent when the input is done.
    broadcast_outbox: Vec<ConsensusMessage>,
    /// Our broadcast messages sent lately, and when (see `broadcast_due`).
    recently_sent: ResendGate,
    /// Hashes of the blocks last saved with the safety record (`None`:
    /// none saved by this process yet, so the next save writes them).
    safety_blocks: Option<Vec<kp_types::Hash>>,
}

/// The consensus safety state saved on disk, in either format: a record and
/// its blocks, or (written by earlier builds) the whole state in one value.
fn load_safety(safety: &SafetyStore) -> Result<Option<SafetyState>, NodeError> {
    let limit = kp_consensus::safety::SAFETY_BYTES_MAX;
    let corrupt = |e| NodeError::CorruptSafetyState { source: e };
    match safety.load_parts()? {
        SavedSafety::None => Ok(None),
        SavedSafety::Whole(bytes) => kp_types::decode(&bytes, limit).map(Some).map_err(corrupt),
        SavedSafety::Parts { record, blocks } => {
            let record: SafetyRecord = kp_types::decode(&record, limit).map_err(corrupt)?;
            // No blocks saved: the record may name none.
            let blocks: Vec<kp_consensus::SharedBlock> = match blocks {
                Some(bytes) => kp_types::decode(&bytes, limit).map_err(corrupt)?,
                None => Vec::new(),
            };
            SafetyState::from_record(record, &blocks)
                .map(Some)
                .ok_or(NodeError::SafetyBlockMissing)
        }
    }
}

/// The network's configuration: this node's key is its identity.
fn network_config(
    config: &NodeConfig,
    chain_id: &str,
    key: &SigningKey,
    allowed: &[PublicKey],
) -> Result<NetworkConfig, NodeError> {
    let mut net_config = NetworkConfig::new(
        chain_id,
        key.clone(),
        parse_multiaddr("[network] listen", &config.network.listen)?,
    );
    net_config.bootstrap = config
        .network
        .peers
        .iter()
        .map(|p| parse_multiaddr("[network] peers", p))
        .collect::<Result<Vec<_>, _>>()?;
    net_config.allowed = allowed.to_vec();
    net_config.message_bytes_max = config.network.message_bytes_max;
    net_config.response_bytes_max = config.network.message_bytes_max;
    Ok(net_config)
}

fn now_ms() -> Timestamp {
    kp_types::time::wall_clock()
}

fn parse_multiaddr(field: &'static str, text: &str) -> Result<kp_network::Multiaddr, NodeError> {
    text.parse::<kp_network::Multiaddr>()
        .map_err(|e| NodeError::Address {
            field,
            address: text.to_string(),
            detail: e.to_string(),
        })
}

impl Node {
    async fn start(
        config: NodeConfig,
        genesis: Genesis,
        key: SigningKey,
    ) -> Result<Node, NodeError> {
        std::fs::create_dir_all(&config.node.data_dir).map_err(|source| NodeError::Io {
            action: "create the data directory",
            source,
        })?;
        let store = SledStore::open_with_cache(
            &config.node.data_dir,
            config.storage.cache_mb.saturating_mul(1024 * 1024),
        )?;
        let mut ledger = Ledger::open(&genesis, store.clone())?;
        // The records tree is rebuilt from the state (and checked against
        // its stored root) before the node serves or proposes anything.
        let built = std::time::Instant::now();
        ledger.prepare_records()?;
        tracing::info!(
            ms = built.elapsed().as_millis() as u64,
            "records tree built"
        );
        let consistent = kp_chain::check_consistency_with(
            &store,
            ledger.height(),
            kp_chain::CheckDepth::Recent(16),
        )?;
        let safety = SafetyStore::open(&store)?;
        let restored = load_safety(&safety)?;
        // A rotated consensus key the operator put beside the key file
        // becomes the node's key once the ledger lists it (the safety
        // state carries over: no height is listed for both keys).
        let members = ledger.participants()?;
        let (key, next) = next_key::promote_if_listed(&config.node.key_file, key, |k| {
            members.iter().any(|p| p.participant.node_key == *k)
        })?;
        match next {
            next_key::NextKey::None => {}
            next_key::NextKey::Waiting(next) => tracing::info!(
                next = %next.to_hex(),
                "a next node key waits beside the key file until the ledger lists it (kpledger keys rotate consensus)"
            ),
            next_key::NextKey::Promoted { old, new } => tracing::warn!(
                old = %old.to_hex(),
                new = %new.to_hex(),
                "switched to the rotated node key the ledger lists; the old key is kept beside it as .retired"
            ),
        }
        let me = key.public();
        let code = ledger
            .participants()?
            .into_iter()
            .find(|p| p.participant.node_key == me)
            .map(|p| p.participant.code.to_string())
            .unwrap_or_else(|| "unlisted".to_string());
        tracing::info!(
            chain_id = ledger.chain_id(),
            node = %code,
            height = consistent.height,
            block_hash = %consistent.block_hash,
            "store opened"
        );

        let mut consensus_config = ConsensusConfig::new(ledger.chain_id(), key.clone());
        consensus_config.timeout_propose_ms = config.consensus.timeout_propose_ms;
        consensus_config.timeout_prevote_ms = config.consensus.timeout_prevote_ms;
        consensus_config.timeout_precommit_ms = config.consensus.timeout_precommit_ms;
        consensus_config.timeout_delta_ms = config.consensus.timeout_delta_ms;
        let consensus = Consensus::new(consensus_config, restored);

        let allowed = ledger.network_members();
        let net_config = network_config(&config, ledger.chain_id(), &key, &allowed)?;
        let (net, net_events) = kp_network::start(net_config).await?;

        let (request_tx, requests) = mpsc::channel(REQUEST_QUEUE);
        let (events, _) = tokio::sync::broadcast::channel(crate::backend::EVENT_QUEUE);
        let shared = Arc::new(Shared {
            status: RwLock::new(Status::default()),
            // rpc: served at /v1/genesis so clients can compare it with theirs.
            genesis: genesis.clone(),
            store: store.clone(),
            ledger: Ledger::open(&genesis, store.clone())?,
            records: ledger.record_versions(),
            requests: request_tx,
            events,
            recent_events: Default::default(),
            ready_block_age_max_ms: config.rpc.ready_block_age_max_s.saturating_mul(1000),
            metrics: crate::backend::Metrics::new(Some(net.clone())),
        });
        let listener = tokio::net::TcpListener::bind(&config.rpc.listen)
            .await
            .map_err(|source| NodeError::Bind {
                what: "[rpc] listen",
                address: config.rpc.listen.clone(),
                source,
            })?;
        let (rpc_shutdown, rpc_stop) = oneshot::channel::<()>();
        let backend: Arc<dyn Backend> = Arc::new(NodeBackend::new(shared.clone()));
        let access = Arc::new(access_policy(&config.rpc)?);
        let tls = match (&config.rpc.tls_cert, &config.rpc.tls_key) {
            (Some(cert), Some(key)) => Some(kp_rpc::tls::server_config(
                cert,
                key,
                config.rpc.tls_client_ca.as_deref(),
            )?),
            _ => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        tokio::spawn(async move {
            let stop = async move {
                let _ = rpc_stop.await;
            };
            if let Err(e) = kp_rpc::serve(listener, backend, access, tls, stop).await {
                tracing::error!(error = %e, "RPC server stopped");
            }
        });
        tracing::info!(
            rpc = %format!("{scheme}://{}", config.rpc.listen),
            anonymous = %config.rpc.anonymous,
            p2p = %config.network.listen,
            "listening"
        );

        let (sync_replies, sync_results) = mpsc::channel(4);
        let replica_config = ReplicaConfig {
            block_interval_ms: config.consensus.block_interval_ms,
            empty_block_interval_ms: config.consensus.empty_block_interval_ms,
            clock_drift_max_ms: CLOCK_DRIFT_MAX_MS,
            mempool_size_max: config.mempool.size_max,
            recheck_per_block: MEMPOOL_RECHECK_PER_BLOCK,
            evidence_tx_lifetime_ms: EVIDENCE_TX_LIFETIME_MS,
            inputs_per_event_max: INPUTS_PER_EVENT_MAX,
            sync: kp_replica::SyncConfig {
                batch_max: SYNC_BATCH_MAX,
                ..kp_replica::SyncConfig::default()
            },
        };
        let chain_id = ledger.chain_id().to_string();
        let indexed = std::time::Instant::now();
        let replica = Replica::new(replica_config, key.clone(), consensus, ledger)?;
        tracing::info!(
            ms = indexed.elapsed().as_millis() as u64,
            "transaction index filter built"
        );
        Ok(Node {
            chain_id,
            code,
            key,
            config,
            replica,
            safety,
            net,
            net_events,
            requests,
            shared,
            timers: BTreeMap::new(),
            timer_seq: 0,
            waiters: BTreeMap::new(),
            allowed,
            last_synced: None,
            catch_up_progress: None,
            validators_seen: BTreeMap::new(),
            sync_replies,
            sync_results,
            sync_serving: Arc::new(tokio::sync::Semaphore::new(SYNC_SERVE_CONCURRENT)),
            rpc_shutdown: Some(rpc_shutdown),
            tx_outbox: Vec::new(),
            tx_outbox_bytes: 0,
            direct_outbox: BTreeMap::new(),
            broadcast_outbox: Vec::new(),
            recently_sent: ResendGate::default(),
            safety_blocks: None,
        })
    }

    async fn publish(&self, topic: Topic, bytes: Vec<u8>) {
        if let Err(e) = self.net.publish(topic, bytes).await {
            // Gossip with no peers yet, or a full queue: consensus re-sends.
            tracing::debug!(?topic, error = %e, "publish failed");
        }
    }

    fn ledger(&self) -> &Ledger<SledStore> {
        self.replica.ledger()
    }

    fn is_validator(&self) -> bool {
        self.replica.is_validator()
    }

    fn role(&self) -> &'static str {
        if self.is_validator() {
            "validator"
        } else {
            match self.ledger().member_kind(&self.key.public()) {
                Some(kp_types::ParticipantKind::Observer) => "observer",
                Some(_) => "member",
                None => "unlisted",
            }
        }
    }

    /// Replaying blocks fetched from peers, still far behind the network:
    /// synced blocks arrived within [`CATCHING_UP_WINDOW`] and the last one
    /// is older than [`CATCHING_UP_LAG_MS`].
    fn catching_up(&self) -> bool {
        let behind_ms = now_ms().0.saturating_sub(self.ledger().last_block_time().0);
        self.last_synced
            .is_some_and(|at| at.elapsed() < CATCHING_UP_WINDOW)
            && behind_ms > CATCHING_UP_LAG_MS
    }

    fn refresh_status(&self) {
        let ledger = self.ledger();
        let status = Status {
            chain_id: self.chain_id.clone(),
            node: self.code.clone(),
            role: self.role().to_string(),
            height: ledger.height(),
            block_hash: ledger.last_block_hash(),
            state_root: ledger.state_root(),
            block_time: ledger.last_block_time().to_string(),
            peers: self.replica.peers(),
            validators: ledger.validators().len(),
            mempool: self.replica.mempool().len(),
            round: self.replica.consensus().round(),
            block_time_ms: ledger.last_block_time().0,
            catching_up: self.catching_up(),
            validators_seen: ledger
                .validator_codes()
                .into_iter()
                .map(|(code, key)| kp_api::answers::ValidatorSeen {
                    participant: code.to_string(),
                    last_signed_height: self.validators_seen.get(&key).copied(),
                })
                .collect(),
        };
        if let Ok(mut slot) = self.shared.status.write() {
            *slot = status;
        }
    }

    fn schedule(&mut self, after: Duration, timer: Timer) {
        if let Timer::Replica(kp_replica::Timer::StartHeight(height)) = &timer {
            tracing::debug!(
                height,
                after_ms = after.as_millis() as u64,
                "next height scheduled"
            );
        }
        self.timer_seq += 1;
        self.timers
            .insert((Instant::now() + after, self.timer_seq), timer);
    }

    async fn run(mut self) -> Result<(), NodeError> {
        self.refresh_status();
        self.replica.handle(Event::Start, now_ms());
        self.drain().await?;
        let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|source| NodeError::Io {
                action: "install the SIGTERM handler",
                source,
            })?;
        loop {
            let deadline = self
                .timers
                .first_key_value()
                .map(|((at, _), _)| *at)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = sigterm.recv() => break,
                event = self.net_events.recv() => match event {
                    Some(event) => self.on_net(event).await?,
                    None => {
                        tracing::error!("network task stopped");
                        break;
                    }
                },
                Some(request) = self.requests.recv() => self.on_request(request).await?,
                Some((peer, answer)) = self.sync_results.recv() => {
                    self.on_sync_answer(peer, answer).await?;
                }
                _ = tokio::time::sleep_until(deadline) => self.fire_timers().await?,
            }
        }
        tracing::info!(height = self.ledger().height(), "stopping");
        if let Some(stop) = self.rpc_shutdown.take() {
            let _ = stop.send(());
        }
        let _ = self.net.shutdown().await;
        Ok(())
    }

    async fn fire_timers(&mut self) -> Result<(), NodeError> {
        let now = Instant::now();
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let timer = entry.remove();
            match timer {
                Timer::Replica(timer) => {
                    if let kp_replica::Timer::StartHeight(height) = &timer {
                        tracing::debug!(height, "height start due");
                    }
                    self.replica.handle(Event::Timer(timer), now_ms());
                    self.drain().await?;
                }
                Timer::FlushTxs => self.flush_txs().await,
            }
        }
        Ok(())
    }
}

/// The RPC's access policy from `[rpc]` (the config was validated: the
/// anonymous scope parses).
fn access_policy(
    rpc: &crate::config::RpcSection,
) -> Result<kp_rpc::access::AccessPolicy, NodeError> {
    use kp_rpc::access::{AccessPolicy, Anonymous, RateLimit, Scope, TokenStore};
    let anonymous = rpc
        .anonymous
        .parse::<Anonymous>()
        .unwrap_or(Anonymous::Scope(Scope::Public));
    Ok(AccessPolicy {
        anonymous,
        tokens: TokenStore::open(rpc.tokens_file.clone())?,
        rate: (rpc.rate_per_second > 0).then_some(RateLimit {
            per_second: rpc.rate_per_second,
            burst: rpc.rate_burst,
        }),
        search_scan_max: rpc.search_scan_max,
        public_statistics: rpc.public_statistics,
    })
}
