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

use crate::backend::{NodeBackend, NodeEvent, Request, Shared};
use crate::config::NodeConfig;
use crate::keys;
use crate::mempool::{Mempool, MempoolError};
use kp_consensus::{
    Action, Consensus, ConsensusConfig, ConsensusMessage, Input, SafetyRecord, SafetyState,
};
use kp_ledger::{BlockReceipt, Genesis, Ledger, WriteSet};
use kp_network::{NetClient, NetEvent, NetworkConfig, Topic};
use kp_rpc::{ApiError, Backend, Status, Submitted};
use kp_storage::{BlockStore, SafetyStore, SavedSafety, SledStore, StagingStore, TxFilter};
use kp_types::tx::{Payload, Transaction};
use kp_types::{
    Block, CommitCertificate, Evidence, PublicKey, SignedTransaction, SigningKey, Timestamp, TxHash,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Most blocks asked for in one sync request. Answers are also cut to the
/// peers' message size limit, which is what bounds them for full blocks.
const SYNC_BATCH_MAX: u32 = 128;
/// Pending RPC requests the node task holds before refusing more.
const REQUEST_QUEUE: usize = 1024;
/// Transactions a client may wait on at once.
const WAITERS_MAX: usize = 10_000;
/// How far ahead of the local clock a proposed block's time may be.
const CLOCK_DRIFT_MAX_MS: u64 = 10_000;
/// How long without a new block before asking peers for blocks.
const STALL_MS: u64 = 2_000;
/// Lifetime the node gives the evidence transactions it signs.
const EVIDENCE_TX_LIFETIME_MS: u64 = 60 * 60 * 1000;
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
    /// The store failed or is inconsistent.
    #[error("storage: {0}")]
    Storage(#[from] kp_storage::StorageError),
    /// The ledger failed (a storage failure underneath: fatal).
    #[error("ledger: {0}")]
    Ledger(#[from] kp_ledger::LedgerError),
    /// A store commit failed (fatal).
    #[error("store: {0}")]
    Store(#[from] kp_ledger::StoreError),
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
    /// The network could not start.
    #[error("network: {0}")]
    Network(#[from] kp_network::NetworkError),
    /// An address in the configuration is malformed.
    #[error("address {address:?}: {detail}")]
    Address {
        /// The address.
        address: String,
        /// What is wrong.
        detail: String,
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
    init_tracing();
    let config = NodeConfig::load(config_path)?;
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
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| NodeError::Io {
            action: "start the async runtime",
            source,
        })?;
    runtime.block_on(async move { Node::start(config, genesis, key).await?.run().await })
}

fn init_tracing() {
    // gossipsub warns once per message when a peer's send queue is full or a
    // rebroadcast is a duplicate: under overload that is thousands of lines a
    // second (formatting peer ids cost 3 % of a 60-validator node's CPU),
    // while the node's own counters already report what was dropped.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,libp2p_gossipsub=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

/// Timers the node task keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    Consensus(kp_consensus::Timeout),
    StartHeight(u64),
    Sync,
    FlushTxs,
}

struct Node {
    chain_id: String,
    code: String,
    key: SigningKey,
    config: NodeConfig,
    ledger: Ledger<StagingStore<SledStore>>,
    safety: SafetyStore,
    consensus: Consensus,
    mempool: Mempool,
    net: NetClient,
    net_events: mpsc::Receiver<NetEvent>,
    requests: mpsc::Receiver<Request>,
    shared: Arc<Shared>,
    timers: BTreeMap<(Instant, u64), Timer>,
    timer_seq: u64,
    waiters: BTreeMap<TxHash, Vec<oneshot::Sender<Result<Submitted, ApiError>>>>,
    allowed: Vec<PublicKey>,
    peers: BTreeSet<PublicKey>,
    last_progress: Instant,
    sync_in_flight: bool,
    sync_replies: mpsc::Sender<(PublicKey, Result<Vec<u8>, kp_network::NetworkError>)>,
    sync_results: mpsc::Receiver<(PublicKey, Result<Vec<u8>, kp_network::NetworkError>)>,
    sync_peer_index: usize,
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
    /// The next height, while its start waits because the network is idle.
    idle_height: Option<u64>,
    /// The transaction hashes the block index may hold: a submitted
    /// transaction it rules out is not looked up there.
    decided: TxFilter,
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

fn now_ms() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Timestamp(ms)
}

fn parse_multiaddr(text: &str) -> Result<kp_network::Multiaddr, NodeError> {
    text.parse::<kp_network::Multiaddr>()
        .map_err(|e| NodeError::Address {
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
        // Staging lets a block's receipts join the block's own atomic commit.
        let mut ledger = Ledger::open(&genesis, StagingStore::new(store.clone()))?;
        // The records tree is rebuilt from the state (and checked against
        // its stored root) before the node serves or proposes anything.
        let built = std::time::Instant::now();
        ledger.prepare_records()?;
        tracing::info!(
            ms = built.elapsed().as_millis() as u64,
            "records tree built"
        );
        let consistent = kp_storage::check_consistency_with(
            &store,
            ledger.height(),
            kp_storage::CheckDepth::Recent(16),
        )?;
        let indexed = std::time::Instant::now();
        let decided = TxFilter::build(&store)?;
        tracing::info!(
            txs = decided.len(),
            ms = indexed.elapsed().as_millis() as u64,
            "transaction index filter built"
        );
        let safety = SafetyStore::open(&store)?;
        let restored = load_safety(&safety)?;
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
        let mut net_config = NetworkConfig::new(
            ledger.chain_id(),
            key.clone(),
            parse_multiaddr(&config.network.listen)?,
        );
        net_config.bootstrap = config
            .network
            .peers
            .iter()
            .map(|p| parse_multiaddr(p))
            .collect::<Result<Vec<_>, _>>()?;
        net_config.allowed = allowed.clone();
        net_config.message_bytes_max = config.network.message_bytes_max;
        net_config.response_bytes_max = config.network.message_bytes_max;
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
            metrics: Default::default(),
        });
        let listener = tokio::net::TcpListener::bind(&config.rpc.listen)
            .await
            .map_err(|source| NodeError::Io {
                action: "bind the RPC address",
                source,
            })?;
        let (rpc_shutdown, rpc_stop) = oneshot::channel::<()>();
        let backend: Arc<dyn Backend> = Arc::new(NodeBackend::new(shared.clone()));
        tokio::spawn(async move {
            let stop = async move {
                let _ = rpc_stop.await;
            };
            if let Err(e) = kp_rpc::serve(listener, backend, stop).await {
                tracing::error!(error = %e, "RPC server stopped");
            }
        });
        tracing::info!(rpc = %config.rpc.listen, p2p = %config.network.listen, "listening");

        let (sync_replies, sync_results) = mpsc::channel(4);
        let mempool = Mempool::new(config.mempool.size_max);
        Ok(Node {
            chain_id: ledger.chain_id().to_string(),
            code,
            key,
            config,
            ledger,
            safety,
            consensus,
            mempool,
            net,
            net_events,
            requests,
            shared,
            timers: BTreeMap::new(),
            timer_seq: 0,
            waiters: BTreeMap::new(),
            allowed,
            peers: BTreeSet::new(),
            last_progress: Instant::now(),
            sync_in_flight: false,
            sync_replies,
            sync_results,
            sync_peer_index: 0,
            rpc_shutdown: Some(rpc_shutdown),
            tx_outbox: Vec::new(),
            tx_outbox_bytes: 0,
            direct_outbox: BTreeMap::new(),
            broadcast_outbox: Vec::new(),
            recently_sent: ResendGate::default(),
            idle_height: None,
            decided,
            safety_blocks: None,
        })
    }

    async fn publish(&self, topic: Topic, bytes: Vec<u8>) {
        if let Err(e) = self.net.publish(topic, bytes).await {
            // Gossip with no peers yet, or a full queue: consensus re-sends.
            tracing::debug!(?topic, error = %e, "publish failed");
        }
    }

    fn is_validator(&self) -> bool {
        self.ledger.validators().contains(&self.key.public())
    }

    fn role(&self) -> &'static str {
        if self.is_validator() {
            "validator"
        } else {
            match self.ledger.member_kind(&self.key.public()) {
                Some(kp_types::ParticipantKind::Observer) => "observer",
                Some(_) => "member",
                None => "unlisted",
            }
        }
    }

    fn refresh_status(&self) {
        let status = Status {
            chain_id: self.chain_id.clone(),
            node: self.code.clone(),
            role: self.role().to_string(),
            height: self.ledger.height(),
            block_hash: self.ledger.last_block_hash(),
            state_root: self.ledger.state_root(),
            block_time: self.ledger.last_block_time().to_string(),
            peers: self.peers.len(),
            validators: self.ledger.validators().len(),
            mempool: self.mempool.len(),
            round: self.consensus.round(),
        };
        if let Ok(mut slot) = self.shared.status.write() {
            *slot = status;
        }
    }

    fn schedule(&mut self, after: Duration, timer: Timer) {
        self.timer_seq += 1;
        self.timers
            .insert((Instant::now() + after, self.timer_seq), timer);
    }

    async fn run(mut self) -> Result<(), NodeError> {
        self.refresh_status();
        let next = self.ledger.height() + 1;
        self.start_height(next).await?;
        self.schedule(Duration::from_millis(500), Timer::Sync);
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
                    self.sync_in_flight = false;
                    self.on_sync_answer(peer, answer).await?;
                }
                _ = tokio::time::sleep_until(deadline) => self.fire_timers().await?,
            }
        }
        tracing::info!(height = self.ledger.height(), "stopping");
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
                Timer::Consensus(timeout) => {
                    self.drive(Input::TimeoutElapsed(timeout)).await?;
                }
                Timer::StartHeight(height) => {
                    if self.idle_height == Some(height) {
                        self.idle_height = None;
                    }
                    if height == self.ledger.height() + 1 {
                        self.start_height(height).await?;
                    }
                }
                Timer::FlushTxs => self.flush_txs().await,
                Timer::Sync => {
                    if self.last_progress.elapsed() > Duration::from_millis(STALL_MS) {
                        self.request_sync();
                    }
                    self.schedule(Duration::from_millis(1000), Timer::Sync);
                }
            }
        }
        Ok(())
    }

    async fn start_height(&mut self, height: u64) -> Result<(), NodeError> {
        if !self.is_validator() {
            return Ok(());
        }
        let validators = self.ledger.validators();
        self.drive(Input::StartHeight { height, validators }).await
    }

    /// Feeds one input to the core and carries out every resulting action in
    /// order, including the inputs those actions produce.
    async fn drive(&mut self, input: Input) -> Result<(), NodeError> {
        let mut inputs = VecDeque::from([input]);
        // Each input yields a bounded number of actions, and only proposal
        // building and block validation feed back; bound the loop regardless.
        let mut budget = 256usize;
        while let Some(input) = inputs.pop_front() {
            budget = budget.saturating_sub(1);
            if budget == 0 {
                tracing::warn!("consensus input loop budget exhausted");
                break;
            }
            for action in self.consensus.handle(input) {
                if let Some(next) = self.act(action).await? {
                    inputs.push_back(next);
                }
            }
        }
        self.send_consensus().await;
        self.refresh_status();
        Ok(())
    }

    /// Sends the consensus messages the input produced: those for every
    /// validator straight to each of them, those for single peers (the votes
    /// a lagging validator needs) to that peer, each recipient's in as few
    /// direct messages as fit.
    ///
    /// Not through gossip while the peers are connected: gossip delivered
    /// each vote 5-6 times to every node (publisher flood plus mesh
    /// forwarding), each copy with its author signature checked, and with 60
    /// validators that traffic outgrew the machine and rounds timed out.
    /// Earlier, laggard answers sent as gossip put every answer on every
    /// node (an O(n³) storm). A validator without a direct connection still
    /// gets the message through gossip, which others relay.
    async fn send_consensus(&mut self) {
        let mut broadcast = std::mem::take(&mut self.broadcast_outbox);
        broadcast.retain(|message| self.broadcast_due(message));
        if !broadcast.is_empty() {
            let me = self.key.public();
            let peers: Vec<PublicKey> = self
                .consensus
                .validators()
                .iter()
                .filter(|v| **v != me)
                .copied()
                .collect();
            self.send_direct_or_gossip(&peers, broadcast).await;
        }
        let outbox = std::mem::take(&mut self.direct_outbox);
        for (peer, messages) in outbox {
            self.send_direct_or_gossip(&[peer], messages).await;
        }
    }

    /// Sends `messages` to each of `peers` in as few direct messages as fit;
    /// a chunk that some peer could not get directly (no connection) goes
    /// out as gossip, which others relay.
    async fn send_direct_or_gossip(
        &mut self,
        peers: &[PublicKey],
        messages: Vec<ConsensusMessage>,
    ) {
        let bytes_max = self.config.network.message_bytes_max;
        for chunk in direct_chunks(messages, bytes_max) {
            let bytes = kp_types::encode(&chunk);
            let reached_all = match self.net.send_to_each(peers, bytes).await {
                Ok(unreached) => unreached.is_empty(),
                Err(e) => {
                    tracing::debug!(error = %e, "direct consensus message not sent");
                    false
                }
            };
            if !reached_all {
                for message in chunk {
                    self.publish(Topic::Consensus, message.encode()).await;
                }
            }
        }
    }

    /// Whether a broadcast message goes out now: not if we sent the same
    /// one less than [`RESEND_MS`] ago. Consensus re-sends the current
    /// round's messages every rebroadcast interval in case some were lost;
    /// gossip used to suppress identical re-sends for 6 s. Sent straight to
    /// 59 validators every 2 s, the re-sends were thousands of messages per
    /// interval, and an own proposal carries its block (megabytes with
    /// thousands of certificates): hundreds of megabytes a minute that
    /// nobody needed.
    fn broadcast_due(&mut self, message: &ConsensusMessage) -> bool {
        let id = match message {
            ConsensusMessage::Proposal { signed, .. } => signed.proposal.signing_hash(),
            ConsensusMessage::Vote(v) => v.vote.signing_hash(),
        };
        self.recently_sent.due(id, Instant::now())
    }

    /// Starts the next height now if it waits only because the network was
    /// idle (see `empty_block_interval_ms`): a transaction arrived, or
    /// another validator has started that height. A start already due later
    /// is then a repeat, which the core ignores.
    fn wake_idle(&mut self) {
        if let Some(height) = self.idle_height.take() {
            if height == self.ledger.height() + 1 {
                self.schedule(Duration::ZERO, Timer::StartHeight(height));
            }
        }
    }

    /// A peer's direct consensus messages, each handled like gossip from it.
    async fn on_direct(&mut self, from: PublicKey, bytes: &[u8]) -> Result<(), NodeError> {
        if !self.is_validator() {
            return Ok(());
        }
        let limit = self.config.network.message_bytes_max;
        let messages = match kp_types::decode::<Vec<ConsensusMessage>>(bytes, limit) {
            Ok(messages) if messages.len() <= DIRECT_MESSAGES_MAX => messages,
            Ok(messages) => {
                tracing::debug!(%from, count = messages.len(), "direct message with too many parts");
                return Ok(());
            }
            Err(e) => {
                tracing::debug!(%from, error = %e, "undecodable direct message");
                return Ok(());
            }
        };
        for message in messages {
            self.on_consensus(from, message).await?;
        }
        Ok(())
    }

    /// A consensus message from `from`, by gossip or direct: a message from
    /// a later height means we missed decisions, so blocks are fetched too.
    async fn on_consensus(
        &mut self,
        from: PublicKey,
        message: ConsensusMessage,
    ) -> Result<(), NodeError> {
        if message.height() > self.ledger.height() + 1 {
            self.request_sync_from(from);
        } else if message.height() == self.ledger.height() + 1 {
            self.wake_idle();
        }
        self.drive(Input::Message { from, message }).await
    }

    async fn act(&mut self, action: Action) -> Result<Option<Input>, NodeError> {
        if matches!(
            action,
            Action::RequestProposal { .. } | Action::ValidateBlock { .. } | Action::Decide { .. }
        ) {
            // Building, checking or applying a block takes a while: the
            // messages already due (say, the precommit that completed our
            // decision, which the others may still need) go first.
            self.send_consensus().await;
        }
        match action {
            Action::PersistSafety(state) => {
                // Durable before anything after it in this batch is sent.
                // The blocks (up to ~10 MB) are written only when the set
                // the state names changes, with the record that names them.
                let (record, named) = state.to_record();
                let (hashes, blocks): (Vec<kp_types::Hash>, Vec<kp_consensus::SharedBlock>) =
                    named.into_iter().unzip();
                let blocks_bytes = (self.safety_blocks.as_ref() != Some(&hashes))
                    .then(|| kp_types::encode(&blocks));
                self.safety
                    .save_parts(&kp_types::encode(&record), blocks_bytes.as_deref())?;
                self.safety_blocks = Some(hashes);
            }
            // Collected and sent once the input is done (after any safety
            // state of this input is durable, since persistence comes first).
            Action::Broadcast(message) => self.broadcast_outbox.push(message),
            Action::SendTo(peer, message) => {
                self.direct_outbox.entry(peer).or_default().push(message);
            }
            Action::ScheduleTimeout {
                timeout,
                duration_ms,
            } => self.schedule(
                Duration::from_millis(duration_ms),
                Timer::Consensus(timeout),
            ),
            Action::RequestProposal { height, round } => {
                let time = Timestamp(
                    now_ms()
                        .0
                        .max(self.ledger.last_block_time().0.saturating_add(1)),
                );
                // The pool admits only transactions whose signature verified.
                let (block, refused) = self.ledger.build_block_from_verified(
                    self.key.public(),
                    time,
                    self.mempool.iter(),
                );
                // No longer valid in this state (a number taken, a sanction
                // adopted): not worth keeping.
                self.mempool.remove(&refused);
                return Ok(Some(Input::ProposalPayload {
                    height,
                    round,
                    block: Arc::new(block),
                }));
            }
            Action::ValidateBlock { height, block } => {
                let mempool = &self.mempool;
                let pooled = |h: &TxHash, s: &kp_types::Signature| mempool.holds_verified(h, s);
                let valid = match self.ledger.validate_block_with(&block, &pooled) {
                    Ok(()) => block.header.time.0 <= now_ms().0 + CLOCK_DRIFT_MAX_MS,
                    Err(e) => {
                        tracing::warn!(height, error = %e, "invalid proposed block");
                        false
                    }
                };
                return Ok(Some(Input::BlockValidity {
                    height,
                    block_hash: block.hash(),
                    valid,
                }));
            }
            Action::Decide { block, certificate } => {
                self.commit(&block, &certificate).await?;
                let next = self.ledger.height() + 1;
                let consensus = &self.config.consensus;
                let pause = if block.txs.is_empty() && self.mempool.is_empty() {
                    // Nothing to order: wait, unless woken (`wake_idle`).
                    self.idle_height = Some(next);
                    consensus
                        .empty_block_interval_ms
                        .max(consensus.block_interval_ms)
                } else {
                    consensus.block_interval_ms
                };
                self.schedule(Duration::from_millis(pause), Timer::StartHeight(next));
            }
            Action::Evidence(evidence) => self.submit_evidence(evidence).await,
            Action::RequestCommit { .. } => self.request_sync(),
        }
        Ok(None)
    }

    /// Applies a decided block and stores it with its certificate atomically.
    async fn commit(
        &mut self,
        block: &Block,
        certificate: &CommitCertificate,
    ) -> Result<(), NodeError> {
        let height = block.header.height;
        if height != self.ledger.height() + 1 {
            return Ok(());
        }
        let started = std::time::Instant::now();
        // One atomic, durable commit per block: the ledger's state changes,
        // the block, its certificate, the indexes, and the receipts that only
        // exist once the block has executed.
        self.ledger.store().stage()?;
        let (receipt, late) = self.apply_staged(block, certificate)?;
        self.ledger.store().commit_staged(late)?;
        self.committed(block, certificate, receipt, started.elapsed())
            .await
    }

    /// Applies `block` into the open stage and returns its receipt with the
    /// writes that complete its storage (the receipts). On an error the stage
    /// is aborted: the caller must stop the node, since blocks applied
    /// earlier in the same stage are in memory but not on disk.
    fn apply_staged(
        &mut self,
        block: &Block,
        certificate: &CommitCertificate,
    ) -> Result<(BlockReceipt, WriteSet), NodeError> {
        let applied = BlockStore::try_block_writes(block, certificate, &[])
            .map_err(NodeError::from)
            .and_then(|writes| Ok(self.ledger.apply_block(block, writes)?))
            .and_then(|receipt| {
                // Before the write is durable: the filter may hold a hash
                // the index does not yet hold, never the other way round.
                for r in &receipt.receipts {
                    self.decided.note(&r.tx_hash);
                }
                let receipts_bytes = kp_types::encode(&receipt.receipts);
                let late = BlockStore::receipts_writes(block.header.height, &receipts_bytes)?;
                Ok((receipt, late))
            });
        if applied.is_err() {
            self.ledger.store().abort_staged();
        }
        applied
    }

    /// What follows a block's durable commit: metrics, mempool, waiters,
    /// events, the allowed peers, the block gossip of its proposer.
    async fn committed(
        &mut self,
        block: &Block,
        certificate: &CommitCertificate,
        receipt: BlockReceipt,
        elapsed: Duration,
    ) -> Result<(), NodeError> {
        let height = block.header.height;
        self.shared.metrics.record_block(&receipt.receipts, elapsed);
        self.last_progress = Instant::now();
        tracing::info!(
            height,
            txs = block.txs.len(),
            block_hash = %receipt.block_hash,
            state_root = %receipt.state_root,
            "committed"
        );

        let included: BTreeSet<TxHash> = receipt.receipts.iter().map(|r| r.tx_hash).collect();
        self.mempool.remove_included(&included);
        // Re-check part of what is still pending against the new state (a
        // number the block took, a sanction it adopted, an expiry): a
        // bounded slice per block, round-robin over the pool, so that a
        // large pool does not cost more per block than the block itself.
        // Proposals drop what they find invalid meanwhile.
        let now = now_ms();
        let ledger = &self.ledger;
        // Signatures were verified on entry; only the state has changed.
        self.mempool.recheck_some(MEMPOOL_RECHECK_PER_BLOCK, |tx| {
            ledger.check_tx_rules(tx, now).is_ok()
        });
        for (position, r) in receipt.receipts.iter().enumerate() {
            // Waiters are answered before the receipt moves into the event.
            if let Some(waiters) = self.waiters.remove(&r.tx_hash) {
                let decided = serde_json::json!({
                    "height": height,
                    "position": position,
                    "receipt": r,
                });
                for w in waiters {
                    let _ = w.send(Ok(Submitted {
                        hash: r.tx_hash,
                        decided: Some(decided.clone()),
                    }));
                }
            }
        }
        let members = self.ledger.network_members();
        if members != self.allowed {
            self.allowed = members.clone();
            if let Err(e) = self.net.set_allowed(members).await {
                tracing::error!(error = %e, "cannot update the allowed peers");
            }
        }
        // Nobody listening is fine; a lagging subscriber is told it lagged.
        let _ = self.shared.events.send(NodeEvent {
            receipt: Arc::new(receipt),
        });
        if block.header.proposer == self.key.public() {
            let bytes = kp_types::encode(&(block, certificate));
            self.publish(Topic::Blocks, bytes).await;
        }
        self.refresh_status();
        Ok(())
    }

    async fn submit_evidence(&mut self, evidence: Evidence) {
        let tx = Transaction {
            chain_id: self.chain_id.clone(),
            signer: self.key.public(),
            nonce: evidence.height(),
            expires_at: now_ms().plus_ms(EVIDENCE_TX_LIFETIME_MS),
            payload: Payload::SubmitEvidence(evidence),
        }
        .sign(&self.key);
        tracing::warn!("equivocation detected; submitting evidence");
        let hash = tx.hash();
        let _ = self.accept_tx(tx, hash, true, false).await;
    }

    /// Gossips the pending outgoing transactions as one message.
    async fn flush_txs(&mut self) {
        if self.tx_outbox.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.tx_outbox);
        self.tx_outbox_bytes = 0;
        self.publish(Topic::Transactions, kp_types::encode(&batch))
            .await;
    }

    /// A batch of transactions gossiped by a peer: the new ones are verified
    /// in one batch, then checked against the rules and pooled.
    async fn on_tx_batch(&mut self, from: PublicKey, bytes: &[u8]) {
        // Only validators propose blocks, so only they need a pool of other
        // nodes' transactions; an observer verifies them when they arrive in
        // a block. (Transactions submitted to an observer's RPC are still
        // checked there and gossiped to the validators.)
        if !self.is_validator() {
            return;
        }
        let limit = self.config.network.message_bytes_max;
        let batch = match kp_types::decode::<Vec<SignedTransaction>>(bytes, limit) {
            Ok(batch) if batch.len() <= TX_GOSSIP_BATCH_MAX => batch,
            Ok(batch) => {
                tracing::debug!(%from, count = batch.len(), "oversized transaction batch dropped");
                return;
            }
            Err(e) => {
                tracing::debug!(%from, error = %e, "undecodable transaction batch");
                return;
            }
        };
        let fresh: Vec<(TxHash, SignedTransaction)> = batch
            .into_iter()
            .map(|tx| (tx.hash(), tx))
            .filter(|(hash, _)| !self.mempool.contains(hash))
            .collect();
        // One batch verification for the whole message; if it fails, each
        // transaction is verified on its own so that the good ones still enter.
        let items: Vec<_> = fresh
            .iter()
            .map(|(hash, tx)| (tx.tx.signer, *hash, tx.signature))
            .collect();
        let verified = kp_types::verify_batch(&items).is_ok();
        for (hash, tx) in fresh {
            let _ = self.accept_tx(tx, hash, false, verified).await;
        }
    }

    /// Checks a transaction (`hash` is `tx.hash()`) against the ledger and
    /// pools it; queues it for gossip if asked. With `verified`, its
    /// signature has already been verified and only the rules are checked.
    async fn accept_tx(
        &mut self,
        tx: SignedTransaction,
        hash: TxHash,
        gossip: bool,
        verified: bool,
    ) -> Result<TxHash, ApiError> {
        if self.mempool.contains(&hash) {
            return Ok(hash);
        }
        // Most submissions are new: the filter spares their index lookup.
        let indexed = self.decided.may_contain(&hash)
            && matches!(
                BlockStore::tx_location(self.ledger.store(), &hash),
                Ok(Some(_))
            );
        if indexed {
            return Err(ApiError::new(
                409,
                "already-decided",
                format!("transaction {hash} is already in a decided block"),
            ));
        }
        let checked = if verified {
            self.ledger.check_tx_rules(&tx, now_ms())
        } else {
            self.ledger.check_tx(&tx, now_ms())
        };
        checked.map_err(|r| {
            ApiError::new(
                422,
                r.code(),
                format!("the ledger refuses this transaction: {r}"),
            )
        })?;
        let outgoing = gossip.then(|| tx.clone());
        self.mempool.insert(hash, tx).map_err(|e| match e {
            MempoolError::Full { .. } => ApiError::unavailable(e.to_string()),
            MempoolError::Duplicate { .. } => ApiError::new(409, "duplicate", e.to_string()),
        })?;
        self.wake_idle();
        if let Some(tx) = outgoing {
            self.tx_outbox_bytes += kp_types::encoding::encoded_len(&tx);
            self.tx_outbox.push(tx);
            if self.tx_outbox.len() >= TX_GOSSIP_BATCH_MAX
                || self.tx_outbox_bytes >= TX_GOSSIP_BYTES_MAX
            {
                self.flush_txs().await;
            } else if self.tx_outbox.len() == 1 {
                self.schedule(Duration::from_millis(TX_GOSSIP_DELAY_MS), Timer::FlushTxs);
            }
        }
        Ok(hash)
    }

    async fn on_request(&mut self, request: Request) -> Result<(), NodeError> {
        match request {
            // The RPC handler verified the signature before sending the request.
            Request::Submit { tx, wait, reply } => {
                let hash = tx.hash();
                self.on_submit(*tx, hash, wait, reply).await
            }
            Request::SubmitBatch { txs, reply } => {
                let mut outcomes = Vec::with_capacity(txs.len());
                for tx in txs {
                    let hash = tx.hash();
                    outcomes.push(self.accept_tx(tx, hash, true, true).await);
                }
                let _ = reply.send(outcomes);
            }
        }
        self.refresh_status();
        Ok(())
    }

    async fn on_submit(
        &mut self,
        tx: SignedTransaction,
        hash: TxHash,
        wait: bool,
        reply: oneshot::Sender<Result<Submitted, ApiError>>,
    ) {
        match self.accept_tx(tx, hash, true, true).await {
            Ok(hash) if wait => {
                let waiting: usize = self.waiters.values().map(Vec::len).sum();
                if waiting >= WAITERS_MAX {
                    let _ = reply.send(Ok(Submitted {
                        hash,
                        decided: None,
                    }));
                } else {
                    self.waiters.entry(hash).or_default().push(reply);
                }
            }
            Ok(hash) => {
                let _ = reply.send(Ok(Submitted {
                    hash,
                    decided: None,
                }));
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    async fn on_net(&mut self, event: NetEvent) -> Result<(), NodeError> {
        match event {
            NetEvent::PeerConnected(peer) => {
                self.peers.insert(peer);
                self.refresh_status();
            }
            NetEvent::PeerDisconnected(peer) => {
                self.peers.remove(&peer);
                self.refresh_status();
            }
            NetEvent::Gossip { topic, from, bytes } => match topic {
                Topic::Transactions => self.on_tx_batch(from, &bytes).await,
                Topic::Consensus => {
                    if !self.is_validator() {
                        return Ok(());
                    }
                    match ConsensusMessage::decode(&bytes) {
                        Ok(message) => self.on_consensus(from, message).await?,
                        Err(e) => {
                            tracing::debug!(%from, error = %e, "undecodable consensus message")
                        }
                    }
                }
                Topic::Blocks => {
                    match kp_types::decode::<(Block, CommitCertificate)>(&bytes, SYNC_BYTES_MAX) {
                        Ok((block, certificate)) => {
                            let height = block.header.height;
                            if height > self.ledger.height() + 1 {
                                self.request_sync_from(from);
                            } else if height == self.ledger.height() + 1 {
                                self.apply_synced(block, certificate).await?;
                            }
                        }
                        Err(e) => tracing::debug!(%from, error = %e, "undecodable block"),
                    }
                }
            },
            NetEvent::Direct { from, bytes } => self.on_direct(from, &bytes).await?,
            NetEvent::BlockRequest {
                from_height,
                max,
                handle,
                ..
            } => {
                let blocks = BlockStore::blocks_from(
                    self.ledger.store(),
                    from_height,
                    max.min(SYNC_BATCH_MAX) as usize,
                )?;
                let bytes_max = self.config.network.message_bytes_max;
                let mut bytes = kp_types::encode(&blocks);
                if bytes.len() > bytes_max {
                    bytes = kp_types::encode(&sync_answer_prefix(blocks, bytes_max));
                }
                if let Err(e) = self.net.respond_blocks(handle, bytes).await {
                    tracing::debug!(error = %e, "block sync answer not sent");
                }
            }
        }
        Ok(())
    }

    fn request_sync(&mut self) {
        let peers: Vec<PublicKey> = self.peers.iter().copied().collect();
        if peers.is_empty() {
            return;
        }
        self.sync_peer_index = (self.sync_peer_index + 1) % peers.len();
        self.request_sync_from(peers[self.sync_peer_index]);
    }

    fn request_sync_from(&mut self, peer: PublicKey) {
        let from = self.ledger.height() + 1;
        self.request_sync_from_height(peer, from);
    }

    /// Asks `peer` for the blocks from `from` on, unless a request is
    /// already in flight (at most one: the pipeline is one answer deep).
    fn request_sync_from_height(&mut self, peer: PublicKey, from: u64) {
        if self.sync_in_flight {
            return;
        }
        self.sync_in_flight = true;
        let net = self.net.clone();
        let replies = self.sync_replies.clone();
        tokio::spawn(async move {
            let asked = Instant::now();
            let answer = net.request_blocks(peer, from, SYNC_BATCH_MAX).await;
            tracing::debug!(
                %peer,
                from,
                bytes = answer.as_ref().map_or(0, Vec::len),
                roundtrip_ms = asked.elapsed().as_millis() as u64,
                "sync answer arrived"
            );
            let _ = replies.send((peer, answer)).await;
        });
    }

    async fn on_sync_answer(
        &mut self,
        peer: PublicKey,
        answer: Result<Vec<u8>, kp_network::NetworkError>,
    ) -> Result<(), NodeError> {
        let bytes = match answer {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "block sync request failed");
                return Ok(());
            }
        };
        let started = std::time::Instant::now();
        let blocks: Vec<(Block, CommitCertificate)> = match kp_types::decode(&bytes, SYNC_BYTES_MAX)
        {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "peer sent an undecodable sync answer");
                return Ok(());
            }
        };
        drop(bytes);
        // Blocks this node already has (a block gossiped or decided while
        // the answer travelled) are skipped; the rest must follow on.
        let next = self.ledger.height() + 1;
        let blocks: Vec<(Block, CommitCertificate)> = blocks
            .into_iter()
            .skip_while(|(block, _)| block.header.height < next)
            .collect();
        let contiguous = blocks
            .iter()
            .enumerate()
            .all(|(i, (block, _))| block.header.height == next + i as u64);
        if blocks.is_empty() || !contiguous || blocks[0].0.header.height != next {
            if !blocks.is_empty() {
                tracing::warn!(%peer, "peer sent a sync answer that does not follow on");
            }
            return Ok(());
        }
        // Pipeline: the next answer travels (and the peer reads it from its
        // store) while this one is verified and applied. An answer smaller
        // than asked may only mean the peer's size limit cut it; an empty
        // one ends the sync. If this answer turns out invalid, the next one
        // does not follow on and is dropped, and the stall timer picks
        // another peer.
        let count = blocks.len();
        let decode_ms = started.elapsed().as_millis() as u64;
        self.request_sync_from_height(peer, next + count as u64);
        let mut waits = SyncWaits::default();
        let applied = self.apply_synced_batch(blocks, &mut waits).await?;
        tracing::info!(
            %peer,
            blocks = count,
            applied,
            height = self.ledger.height(),
            decode_ms,
            signatures_wait_ms = waits.signatures.as_millis() as u64,
            write_wait_ms = waits.write.as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "synced"
        );
        Ok(())
    }

    /// Verifies and applies consecutive blocks from a sync answer, in order,
    /// under one staged store commit: one atomic, durable write for the whole
    /// answer instead of one per block (nothing in it was acknowledged by
    /// this node, so losing all of it in a crash only means syncing it
    /// again). The answer's size bounds what the stage holds. Each block's
    /// certificate is checked against the validator set of its own height,
    /// which a block earlier in the answer may have changed. Stops at the
    /// first block that fails a check; blocks before it are kept. Returns
    /// how many blocks were applied.
    async fn apply_synced_batch(
        &mut self,
        blocks: Vec<(Block, CommitCertificate)>,
        waits: &mut SyncWaits,
    ) -> Result<usize, NodeError> {
        let mut blocks = blocks.into_iter().peekable();
        let mut applied = 0;
        // A validator whose core waits on this height lets the core decide
        // it, as for a single synced block (the core's Decide commits it).
        if let Some((block, _)) = blocks.peek() {
            let height = block.header.height;
            if self.is_validator() && self.consensus.height() == height {
                if let Some((block, certificate)) = blocks.next() {
                    if !self.apply_synced(block, certificate).await? {
                        return Ok(0);
                    }
                    applied += 1;
                }
            }
        }
        // The transactions' signatures are verified on another thread,
        // block by block, while the blocks before are applied here (catch-up
        // is otherwise one core's work: verification is about a fifth of it).
        let blocks: Vec<(Arc<Block>, CommitCertificate)> =
            blocks.map(|(b, c)| (Arc::new(b), c)).collect();
        let mut presigned = spawn_signature_checks(blocks.iter().map(|(b, _)| b.clone()).collect());
        let mut staged = Staged::default();
        // The last full stage, being written on another thread while the
        // next blocks execute (its blocks are announced once it is durable).
        let mut writing: Option<SyncedWrite> = None;
        for (block, certificate) in blocks {
            let height = block.header.height;
            let waited = std::time::Instant::now();
            let verified = presigned.recv().await.unwrap_or_default();
            waits.signatures += waited.elapsed();
            if height != self.ledger.height() + 1
                || (self.is_validator() && self.consensus.height() == height)
                || !self.verify_synced_with(&block, &certificate, &verified)
            {
                break;
            }
            if staged.blocks.is_empty() {
                self.ledger.store().stage()?;
            }
            let block_started = std::time::Instant::now();
            let (receipt, receipts_writes) = self.apply_staged(&block, &certificate)?;
            staged.late.extend(receipts_writes);
            staged.txs += block.txs.len();
            staged
                .blocks
                .push((block, certificate, receipt, block_started.elapsed()));
            if staged.txs >= SYNC_STAGE_TXS_MAX {
                let waited = std::time::Instant::now();
                applied += self.finish_synced_write(writing.take()).await?;
                waits.write += waited.elapsed();
                let mut full = std::mem::take(&mut staged);
                let pending = self
                    .ledger
                    .store()
                    .detach_staged(std::mem::take(&mut full.late))?;
                writing = Some(SyncedWrite {
                    write: tokio::task::spawn_blocking(move || pending.write()),
                    staged: full,
                    started: std::time::Instant::now(),
                });
            }
        }
        let waited = std::time::Instant::now();
        applied += self.finish_synced_write(writing.take()).await?;
        applied += self.store_synced(staged).await?;
        waits.write += waited.elapsed();
        let next = self.ledger.height() + 1;
        self.schedule(Duration::from_millis(0), Timer::StartHeight(next));
        Ok(applied)
    }

    /// Writes the staged blocks in one durable commit, then announces each.
    async fn store_synced(&mut self, mut staged: Staged) -> Result<usize, NodeError> {
        if staged.blocks.is_empty() {
            return Ok(0);
        }
        let started = std::time::Instant::now();
        self.ledger
            .store()
            .commit_staged(std::mem::take(&mut staged.late))?;
        self.announce_synced(staged, started).await
    }

    /// Waits for a detached write of synced blocks, then announces them.
    async fn finish_synced_write(
        &mut self,
        writing: Option<SyncedWrite>,
    ) -> Result<usize, NodeError> {
        let Some(SyncedWrite {
            write,
            staged,
            started,
        }) = writing
        else {
            return Ok(0);
        };
        match write.await {
            Ok(written) => written?,
            Err(e) => {
                return Err(NodeError::Storage(kp_storage::StorageError::Backend {
                    operation: "write synced blocks",
                    detail: e.to_string(),
                }))
            }
        }
        self.announce_synced(staged, started).await
    }

    /// Announces stored synced blocks (events, metrics, waiters).
    async fn announce_synced(
        &mut self,
        staged: Staged,
        started: std::time::Instant,
    ) -> Result<usize, NodeError> {
        let count = staged.blocks.len();
        tracing::debug!(
            blocks = count,
            txs = staged.txs,
            commit_ms = started.elapsed().as_millis() as u64,
            "synced blocks stored in one commit"
        );
        // Only now that the blocks are durable does anyone hear of them.
        for (block, certificate, receipt, elapsed) in staged.blocks {
            self.committed(&block, &certificate, receipt, elapsed)
                .await?;
        }
        Ok(count)
    }

    /// Whether a decided block from a peer carries a certificate for it by
    /// the validator set of its height and is valid for the next height.
    fn verify_synced(&self, block: &Block, certificate: &CommitCertificate) -> bool {
        self.verify_synced_with(block, certificate, &VerifiedSignatures::new())
    }

    /// [`Node::verify_synced`], where the signatures in `verified` (by
    /// transaction hash) are known good.
    fn verify_synced_with(
        &self,
        block: &Block,
        certificate: &CommitCertificate,
        verified: &VerifiedSignatures,
    ) -> bool {
        let height = block.header.height;
        let validators = self.ledger.validators();
        if certificate.height != height || certificate.block_hash != block.hash() {
            tracing::warn!(height, "sync: certificate does not match block");
            return false;
        }
        if let Err(e) = certificate.verify(&self.chain_id, &validators) {
            tracing::warn!(height, error = %e, "sync: commit certificate refused");
            return false;
        }
        // Transactions the pool holds with the same signature were verified
        // on entry, those in `verified` by the caller; the others are
        // verified here in one batch.
        let mempool = &self.mempool;
        let pooled = |h: &TxHash, s: &kp_types::Signature| {
            verified.get(h) == Some(s) || mempool.holds_verified(h, s)
        };
        if let Err(e) = self.ledger.validate_block_with(block, &pooled) {
            tracing::warn!(height, error = %e, "sync: block refused");
            return false;
        }
        true
    }

    /// Verifies a decided block from a peer against the validator set of its
    /// height and applies it. Returns whether it was applied.
    async fn apply_synced(
        &mut self,
        block: Block,
        certificate: CommitCertificate,
    ) -> Result<bool, NodeError> {
        let height = block.header.height;
        if !self.verify_synced(&block, &certificate) {
            return Ok(false);
        }
        if self.is_validator() && self.consensus.height() == height {
            // Let the core see the decision so that it moves on consistently.
            self.drive(Input::CommitFromSync {
                block: Arc::new(block.clone()),
                certificate: certificate.clone(),
            })
            .await?;
            if self.ledger.height() >= height {
                return Ok(true);
            }
        }
        self.commit(&block, &certificate).await?;
        let next = self.ledger.height() + 1;
        self.schedule(Duration::from_millis(0), Timer::StartHeight(next));
        Ok(true)
    }
}

/// Transaction signatures known to verify, by transaction hash.
type VerifiedSignatures = std::collections::HashMap<TxHash, kp_types::Signature>;

/// Verifies the transaction signatures of `blocks` on a blocking thread, one
/// batch per block, and hands each block's verified signatures over in
/// order (an empty set for a block whose batch failed: its validation then
/// verifies one by one and names the culprit). The channel holds at most
/// the answer's blocks; the thread stops when the receiver is dropped.
fn spawn_signature_checks(blocks: Vec<Arc<Block>>) -> mpsc::Receiver<VerifiedSignatures> {
    let (tx, rx) = mpsc::channel(blocks.len().max(1));
    tokio::task::spawn_blocking(move || {
        for block in blocks {
            let items: Vec<_> = block
                .txs
                .iter()
                .map(|stx| (stx.tx.signer, stx.hash(), stx.signature))
                .collect();
            let verified = if kp_types::verify_batch(&items).is_ok() {
                items.into_iter().map(|(_, h, s)| (h, s)).collect()
            } else {
                VerifiedSignatures::new()
            };
            if tx.blocking_send(verified).is_err() {
                break;
            }
        }
    });
    rx
}

/// Synced blocks whose detached stage is being written on another thread.
struct SyncedWrite {
    write: tokio::task::JoinHandle<Result<(), kp_storage::StorageError>>,
    staged: Staged,
    started: std::time::Instant,
}

/// Where a sync answer's event-loop time went besides applying: waiting for
/// the signature thread, and for writes (and announcing what they wrote).
#[derive(Default)]
struct SyncWaits {
    signatures: Duration,
    write: Duration,
}

/// Synced blocks applied into the open stage and not yet stored.
#[derive(Default)]
struct Staged {
    blocks: Vec<(Arc<Block>, CommitCertificate, BlockReceipt, Duration)>,
    late: WriteSet,
    txs: usize,
}

/// Transactions after which a sync answer's staged blocks are written (the
/// block that crosses it included). sled clones a leaf for every key a
/// batch inserts and frees the old copies only when the batch ends, so a
/// batch's memory grows with its keys: tens of thousands of certificates in
/// one batch take gigabytes.
const SYNC_STAGE_TXS_MAX: usize = 4_000;

/// Remembers the messages sent (by id) in the last [`RESEND_MS`], to let
/// the same one go out again only after that; a new one always goes.
#[derive(Default)]
struct ResendGate {
    sent: BTreeMap<kp_types::Hash, Instant>,
}

impl ResendGate {
    /// Bound on remembered ids (a node sends a handful per round).
    const IDS_MAX: usize = 1024;

    fn due(&mut self, id: kp_types::Hash, now: Instant) -> bool {
        let window = Duration::from_millis(RESEND_MS);
        if let Some(at) = self.sent.get(&id) {
            if now.duration_since(*at) < window {
                return false;
            }
        }
        self.sent.retain(|_, at| now.duration_since(*at) < window);
        if self.sent.len() >= Self::IDS_MAX {
            self.sent.clear();
        }
        self.sent.insert(id, now);
        true
    }
}

/// Splits `messages` into groups of at most [`DIRECT_MESSAGES_MAX`] whose
/// encoding fits `bytes_max`. A message too large on its own is dropped (the
/// core never produces one: its messages are bounded far below the network's
/// limit).
fn direct_chunks(messages: Vec<ConsensusMessage>, bytes_max: usize) -> Vec<Vec<ConsensusMessage>> {
    // The length prefix of an encoded list (8 bytes, as for sync answers).
    const PREFIX: usize = 8;
    let mut chunks = Vec::new();
    let mut chunk = Vec::new();
    let mut bytes = PREFIX;
    for message in messages {
        let size = kp_types::encoding::encoded_len(&message);
        if PREFIX + size > bytes_max {
            tracing::warn!(
                size,
                bytes_max,
                "consensus message too large for a direct message"
            );
            continue;
        }
        if chunk.len() == DIRECT_MESSAGES_MAX || bytes + size > bytes_max {
            chunks.push(std::mem::take(&mut chunk));
            bytes = PREFIX;
        }
        bytes += size;
        chunk.push(message);
    }
    if !chunk.is_empty() {
        chunks.push(chunk);
    }
    chunks
}

/// The longest prefix of `blocks` whose encoded answer fits in `bytes_max`.
/// The encoding of a list is its length (8 bytes) followed by its items, so
/// the sizes of the items add up; the assertion below keeps that honest.
fn sync_answer_prefix(
    mut blocks: Vec<(Block, CommitCertificate)>,
    bytes_max: usize,
) -> Vec<(Block, CommitCertificate)> {
    const LENGTH_BYTES: usize = 8;
    let mut total = LENGTH_BYTES;
    let mut fit = 0;
    for item in &blocks {
        let size = kp_types::encode(item).len();
        if total + size > bytes_max {
            break;
        }
        total += size;
        fit += 1;
    }
    blocks.truncate(fit);
    debug_assert_eq!(kp_types::encode(&blocks).len(), total);
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;
    use kp_types::{BlockHeader, Hash};

    fn decided(height: u64, padding: usize) -> (Block, CommitCertificate) {
        let key = SigningKey::from_seed([3; 32]);
        let block = Block {
            header: BlockHeader {
                chain_id: "x".repeat(padding),
                height,
                time: Timestamp(height),
                proposer: key.public(),
                prev_hash: Hash::ZERO,
                txs_root: Hash::ZERO,
                state_root: Hash::ZERO,
                validators_hash: Hash::ZERO,
                next_validators_hash: Hash::ZERO,
                results_root: Hash::ZERO,
                records_root: Hash::ZERO,
            },
            txs: vec![],
        };
        let certificate = CommitCertificate {
            chain_id: "x".into(),
            height,
            round: 0,
            block_hash: block.hash(),
            signatures: vec![],
        };
        (block, certificate)
    }

    #[test]
    fn the_same_message_is_resent_only_after_the_interval() {
        let mut gate = ResendGate::default();
        let (a, b) = (kp_types::Hash([1; 32]), kp_types::Hash([2; 32]));
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        assert!(gate.due(a, t0));
        assert!(!gate.due(a, at(RESEND_MS - 1)));
        // Another message goes at once, and does not free the first.
        assert!(gate.due(b, at(100)));
        assert!(!gate.due(a, at(200)));
        assert!(!gate.due(b, at(200)));
        assert!(gate.due(a, at(RESEND_MS)));
        assert!(!gate.due(a, at(2 * RESEND_MS - 1)));
        assert!(gate.due(b, at(100 + RESEND_MS)));
        // Old ids are forgotten and the memory stays bounded.
        for i in 0..5000u32 {
            let mut id = [0; 32];
            id[..4].copy_from_slice(&i.to_be_bytes());
            assert!(gate.due(kp_types::Hash(id), at(3 * RESEND_MS)));
        }
        assert!(gate.sent.len() <= ResendGate::IDS_MAX);
    }

    #[test]
    fn direct_chunks_fit_and_keep_every_message_in_order() {
        let key = SigningKey::from_seed([5; 32]);
        let messages: Vec<ConsensusMessage> = (0..1500u32)
            .map(|round| {
                let vote = kp_types::Vote {
                    chain_id: "kp".into(),
                    height: 1,
                    round,
                    kind: kp_types::VoteKind::Prevote,
                    block: None,
                    validator: key.public(),
                };
                ConsensusMessage::Vote(vote.sign(&key))
            })
            .collect();
        let one = kp_types::encoding::encoded_len(&messages[0]);
        for bytes_max in [one + 9, 10 * one, 64 * 1024, 16 << 20] {
            let chunks = direct_chunks(messages.clone(), bytes_max);
            for chunk in &chunks {
                assert!(!chunk.is_empty() && chunk.len() <= DIRECT_MESSAGES_MAX);
                assert!(kp_types::encode(chunk).len() <= bytes_max, "{bytes_max}");
            }
            let flat: Vec<_> = chunks.into_iter().flatten().collect();
            assert_eq!(flat, messages, "{bytes_max}");
        }
        // Nothing fits: nothing is sent.
        assert!(direct_chunks(messages, one).is_empty());
    }

    #[test]
    fn sync_answer_prefix_is_the_longest_that_fits() {
        let blocks: Vec<_> = (1..=20).map(|h| decided(h, 100 * h as usize)).collect();
        let whole = kp_types::encode(&blocks).len();
        for bytes_max in [0, 8, 200, 1000, 5000, 12_345, whole - 1, whole, whole + 1] {
            let fit = sync_answer_prefix(blocks.clone(), bytes_max);
            let encoded = kp_types::encode(&fit).len();
            assert!(fit.is_empty() || encoded <= bytes_max, "{bytes_max}");
            assert_eq!(fit[..], blocks[..fit.len()]);
            if fit.len() < blocks.len() {
                // One more block would not fit.
                let more = kp_types::encode(&blocks[..fit.len() + 1].to_vec()).len();
                assert!(more > bytes_max, "{bytes_max}: {} could fit", fit.len() + 1);
            }
        }
        assert_eq!(sync_answer_prefix(blocks.clone(), whole).len(), 20);
        assert!(sync_answer_prefix(blocks, 8).is_empty());
    }

    /// The safety state comes back from either format: the whole state an
    /// earlier build wrote, or a record with the blocks saved when they last
    /// changed; a record naming a block not saved is refused, not guessed.
    #[test]
    fn the_safety_state_loads_from_either_format() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path().join("db")).unwrap();
        let safety = SafetyStore::open(&store).unwrap();
        assert_eq!(load_safety(&safety).unwrap(), None);
        let block = Arc::new(decided(7, 4).0);
        let mut state = SafetyState::new(7);
        state.locked = Some(kp_consensus::RoundValue {
            round: 0,
            block: block.clone(),
        });
        state.valid = state.locked.clone();
        safety.save(&kp_types::encode(&state)).unwrap();
        assert_eq!(load_safety(&safety).unwrap().as_ref(), Some(&state));

        let (record, named) = state.to_record();
        assert_eq!(named.len(), 1, "one block locked and valid is saved once");
        let blocks: Vec<kp_consensus::SharedBlock> = named.into_iter().map(|(_, b)| b).collect();
        safety
            .save_parts(&kp_types::encode(&record), Some(&kp_types::encode(&blocks)))
            .unwrap();
        state.step = kp_consensus::Step::Precommit;
        // The blocks are unchanged: only the record is written.
        safety
            .save_parts(&kp_types::encode(&state.to_record().0), None)
            .unwrap();
        assert_eq!(load_safety(&safety).unwrap().as_ref(), Some(&state));

        let no_blocks: Vec<kp_consensus::SharedBlock> = Vec::new();
        safety
            .save_parts(
                &kp_types::encode(&record),
                Some(&kp_types::encode(&no_blocks)),
            )
            .unwrap();
        assert!(matches!(
            load_safety(&safety),
            Err(NodeError::SafetyBlockMissing)
        ));
    }
}
