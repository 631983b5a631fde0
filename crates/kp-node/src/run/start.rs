//! Wiring: a node's configuration, genesis and key become its store,
//! ledger, consensus core, network, RPC server and replica, and the node
//! task that drives them.

use super::*;
use crate::backend::{NodeBackend, Shared};
use crate::keys;
use kp_consensus::{Consensus, ConsensusConfig, SafetyRecord, SafetyState};
use kp_ledger::Genesis;
use kp_network::NetworkConfig;
use kp_replica::ReplicaConfig;
use kp_rpc::Backend;
use kp_storage::SavedSafety;
use std::sync::RwLock;

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

/// The consensus safety state saved on disk, in either format: a record and
/// its blocks, or (written by earlier builds) the whole state in one value.
pub(super) fn load_safety(safety: &SafetyStore) -> Result<Option<SafetyState>, NodeError> {
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
pub(super) fn network_config(
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
            snapshots: crate::state_snapshots::SnapshotDir::new(&config.node.data_dir),
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
        let outbound = outbound::spawn(net.clone(), config.network.message_bytes_max);
        Ok(Node {
            chain_id,
            code,
            key,
            config,
            replica,
            safety,
            outbound,
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
            safety_blocks: None,
        })
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
