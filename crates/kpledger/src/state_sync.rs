//! Starting a node from a state snapshot (`[state_sync] enable`, ADR 0016):
//! where kp-node (which restores) and kp-client (whose light client decides
//! which header to believe) meet.
//!
//! 1. The first RPC server's newest snapshot is chosen: height `h`.
//! 2. The header of `h + 1` is verified by the light client from the
//!    genesis (or the configured `trust_header`), with commit certificates
//!    alone. Every other server's header of `h + 1` must be the same one:
//!    two headers with valid commits at one height are a fork, and the
//!    start is refused with both hashes.
//! 3. Its `state_root`, `records_root` and `prev_hash` are the roots the
//!    restore must reach; the manifest and the chunks are fetched from the
//!    servers (a refused chunk is asked of the next server) and checked.
//!
//! No server is trusted: a lying one makes the start fail or slower, never
//! makes the node accept another state.

use kp_client::light::{LightClient, TrustOptions, TrustedState};
use kp_client::{Client, Connection};
use kp_node::config::NodeConfig;
use kp_node::state_snapshots::{self, Manifest, Trusted};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long to wait for the header above the snapshot (the next block of a
/// network that makes empty blocks only now and then).
const NEXT_HEADER_WAIT: Duration = Duration::from_secs(300);

fn now() -> kp_types::Timestamp {
    kp_types::time::wall_clock()
}

/// Restores the newest snapshot of the configured servers into the node's
/// data directory if `[state_sync] enable` is set and the directory holds
/// no chain yet; otherwise does nothing.
pub fn restore_if_configured(config_path: &Path) -> Result<(), String> {
    let config = NodeConfig::load(config_path).map_err(|e| e.to_string())?;
    let sync = &config.state_sync;
    if !sync.enable {
        return Ok(());
    }
    let data_dir = &config.node.data_dir;
    if std::fs::read_dir(data_dir).is_ok_and(|mut d| d.next().is_some()) {
        eprintln!(
            "state sync: {} holds a chain already; the node goes on from it",
            data_dir.display()
        );
        return Ok(());
    }
    let started = Instant::now();
    let genesis_text = std::fs::read_to_string(&config.node.genesis)
        .map_err(|e| format!("genesis {}: {e}", config.node.genesis.display()))?;
    let genesis = kp_api::Genesis::from_toml(&genesis_text)
        .map_err(|e| format!("genesis {}: {e}", config.node.genesis.display()))?;
    let token = match &sync.rpc_token_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| format!("[state_sync] rpc_token_file {}: {e}", path.display()))?
                .trim()
                .to_string(),
        ),
        None => None,
    };
    let connection = Connection {
        token,
        ..Connection::default()
    };
    let servers: Vec<Client> = sync
        .rpc_servers
        .iter()
        .map(|url| Client::connect(url, &connection).map_err(|e| format!("{url}: {e}")))
        .collect::<Result<_, _>>()?;
    let Some(first) = servers.first() else {
        return Err("state sync: [state_sync] rpc_servers names no server".into());
    };

    // 1. The newest snapshot the first server keeps.
    let list: kp_api::snapshots::SnapshotList = first.get_as("/v1/snapshots").map_err(|e| {
        format!(
            "state sync: cannot list the snapshots of {}: {e}",
            first.base()
        )
    })?;
    let chosen = list.snapshots.first().ok_or_else(|| {
        format!(
            "state sync: {} keeps no snapshot yet ([state_sync] snapshot_interval on that node); \
             start without state sync to replay from genesis, or try again later",
            first.base()
        )
    })?;
    let height = chosen.height;
    eprintln!(
        "state sync: {} offers the state of height {height} ({} chunks, {} bytes)",
        first.base(),
        chosen.chunks,
        chosen.bytes
    );

    // 2. The header above it, from the genesis (or a pinned header) by the
    // light client, and the same header at every server.
    let root = match &sync.trust_header {
        None => TrustedState::from_genesis(&genesis),
        Some(pin) => {
            let (h, hash) = pin
                .split_once(':')
                .and_then(|(h, x)| Some((h.parse::<u64>().ok()?, kp_types::Hash::from_hex(x)?)))
                .ok_or_else(|| {
                    format!("[state_sync] trust_header {pin:?}: expected HEIGHT:HASH")
                })?;
            let block = first.light_block(h).map_err(|e| e.to_string())?;
            TrustedState::from_pinned(&genesis.chain_id, genesis.hash(), h, hash, &block)
                .map_err(|e| format!("[state_sync] trust_header {pin}: {e}"))?
        }
    };
    let mut light = LightClient::new(root, TrustOptions::default(), None)
        .map_err(|e| format!("state sync: light client: {e}"))?;
    let waited = Instant::now();
    let mut said_waiting = false;
    let target = loop {
        match first.light_block(height + 1) {
            Ok(block) => break block,
            Err(e) if waited.elapsed() < NEXT_HEADER_WAIT => {
                if !said_waiting {
                    said_waiting = true;
                    eprintln!(
                        "state sync: waiting for the header of height {} ({e})",
                        height + 1
                    );
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(e) => {
                return Err(format!(
                    "state sync: no header of height {} from {}: {e}",
                    height + 1,
                    first.base()
                ))
            }
        }
    };
    let mut fetch = |h: u64| first.light_block(h).map_err(|e| e.to_string());
    light.verify(&target, now(), &mut fetch).map_err(|e| {
        format!(
            "state sync: the header of height {} is not proven: {e} (a genesis older than \
             the light client's trust period of 14 days needs [state_sync] trust_header)",
            height + 1
        )
    })?;
    let verified = target.header.hash();
    for other in servers.iter().skip(1) {
        let theirs = other
            .light_block(height + 1)
            .map_err(|e| format!("state sync: {}: {e}", other.base()))?;
        if theirs.header.hash() != verified {
            return Err(format!(
                "state sync: FORK or lying server: {} shows header {} at height {}, {} shows {}; \
                 the start is refused",
                first.base(),
                verified,
                height + 1,
                other.base(),
                theirs.header.hash()
            ));
        }
    }
    let trusted = Trusted {
        height,
        block_hash: target.header.prev_hash,
        state_root: target.header.state_root,
        records_root: target.header.records_root,
    };

    // 3. The manifest and the chunks, checked against those roots.
    let manifest_bytes = first
        .get_bytes(
            &format!("/v1/snapshots/{height}/manifest"),
            state_snapshots::MANIFEST_BYTES_MAX as u64,
        )
        .map_err(|e| format!("state sync: manifest: {e}"))?;
    let manifest = Manifest::decode(&manifest_bytes).map_err(|e| format!("state sync: {e}"))?;
    let fetch_chunk = |index: usize, attempt: usize| {
        let server = &servers[attempt % servers.len()];
        server
            .get_bytes(
                &format!("/v1/snapshots/{height}/chunks/{index}"),
                state_snapshots::CHUNK_BYTES_MAX as u64,
            )
            .map_err(|e| format!("{}: {e}", server.base()))
    };
    let mut shown = Instant::now();
    let progress = |done: usize, total: usize| {
        if done == total || shown.elapsed() > Duration::from_secs(5) {
            shown = Instant::now();
            eprintln!("state sync: {done} of {total} chunks restored");
        }
    };
    let restored =
        state_snapshots::restore_into(data_dir, &genesis, manifest, trusted, fetch_chunk, progress)
            .map_err(|e| format!("state sync: {e}"))?;
    eprintln!(
        "state sync: restored the state of height {} (state root {}, {} chunks, {} bytes) in {:.1} s; \
         the node follows blocks from height {}",
        restored.height,
        restored.state_root,
        restored.chunks,
        restored.bytes,
        started.elapsed().as_secs_f64(),
        restored.height + 1
    );
    Ok(())
}
