//! `kpledger testnet`: the files of a local network on 127.0.0.1.
//!
//! Validators take the first government Participants of the shipped table in
//! order (BW, EU, AE, IN, …), observers the observer codes (WDC, CSC, ADPA).
//! Every node gets `nodeI/node.key` and `nodeI/node.toml`; every trading
//! Participant also gets one KP Authority, whose key is `nodeI/authority.key`.

use crate::config::{
    ConsensusSection, MempoolSection, NetworkSection, NodeConfig, NodeSection, RpcSection,
    StorageSection,
};
use crate::{keys, table};
use kp_ledger::{Genesis, Params};
use kp_types::{Authority, AuthorityId, Participant, ParticipantKind, Timestamp};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why the files could not be written.
#[derive(Debug, Error)]
pub enum TestnetError {
    /// More nodes were asked for than the table has.
    #[error("asked for {asked} {kind}, the Participants table has {available}")]
    TooMany {
        /// Validators or observers.
        kind: &'static str,
        /// Requested.
        asked: usize,
        /// Available.
        available: usize,
    },
    /// At least one validator is needed.
    #[error("a network needs at least one validator")]
    NoValidators,
    /// The output folder already holds a network.
    #[error("{path} already holds a genesis; remove it or choose another --out")]
    Exists {
        /// The genesis file found.
        path: PathBuf,
    },
    /// A port would exceed 65535.
    #[error("base port {base} leaves no room for {nodes} nodes")]
    Ports {
        /// The base port.
        base: u16,
        /// Nodes asked for.
        nodes: usize,
    },
    /// The file system refused.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A key file could not be written.
    #[error(transparent)]
    Key(#[from] keys::KeyFileError),
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct TestnetSpec {
    /// Government validators.
    pub validators: usize,
    /// Observers.
    pub observers: usize,
    /// Output folder.
    pub out: PathBuf,
    /// First port: node I listens for peers on `base + 2I` and serves HTTP on `base + 2I + 1`.
    pub base_port: u16,
    /// Chain id.
    pub chain_id: String,
    /// Genesis time.
    pub genesis_time: Timestamp,
    /// Consensus timing written into every node's config.
    pub consensus: ConsensusSection,
    /// Whether each authority gets an encryption key (`nodeI/encryption.key`),
    /// so that certificates between them are sealed (ADR 0011).
    pub encryption_keys: bool,
}

/// One generated node.
#[derive(Clone, Debug)]
pub struct TestnetNode {
    /// Participant code.
    pub code: String,
    /// Kind.
    pub kind: ParticipantKind,
    /// `DIR/nodeI`.
    pub dir: PathBuf,
    /// Its `node.toml`.
    pub config: PathBuf,
    /// Its RPC address.
    pub rpc: String,
    /// Its authority key file, for trading Participants.
    pub authority_key: Option<PathBuf>,
}

/// Writes genesis, keys and configs; returns the nodes.
pub fn generate(spec: &TestnetSpec) -> Result<Vec<TestnetNode>, TestnetError> {
    let rows = table::rows();
    let governments: Vec<_> = rows
        .iter()
        .filter(|r| r.kind == ParticipantKind::Government)
        .collect();
    let observers: Vec<_> = rows
        .iter()
        .filter(|r| r.kind == ParticipantKind::Observer)
        .collect();
    if spec.validators == 0 {
        return Err(TestnetError::NoValidators);
    }
    if spec.validators > governments.len() {
        return Err(TestnetError::TooMany {
            kind: "validators",
            asked: spec.validators,
            available: governments.len(),
        });
    }
    if spec.observers > observers.len() {
        return Err(TestnetError::TooMany {
            kind: "observers",
            asked: spec.observers,
            available: observers.len(),
        });
    }
    let count = spec.validators + spec.observers;
    if usize::from(spec.base_port) + 2 * count > 65_535 {
        return Err(TestnetError::Ports {
            base: spec.base_port,
            nodes: count,
        });
    }
    let genesis_path = spec.out.join("genesis.toml");
    if genesis_path.exists() {
        return Err(TestnetError::Exists { path: genesis_path });
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TestnetError::Io { path, source }
    };
    std::fs::create_dir_all(&spec.out).map_err(io(&spec.out))?;

    let members = governments[..spec.validators]
        .iter()
        .chain(observers[..spec.observers].iter());
    let mut participants = Vec::new();
    let mut authorities = Vec::new();
    let mut nodes = Vec::new();
    for (i, row) in members.enumerate() {
        let dir = spec.out.join(format!("node{i}"));
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let node_key = keys::generate();
        keys::write(&dir.join("node.key"), &node_key)?;
        // A government's recovery key: on a real network it is generated
        // and kept offline; a local testnet keeps it beside the node. The
        // government key starts as the node key (`kpledger keys rotate
        // government` separates them).
        let recovery_key = if row.kind == ParticipantKind::Government {
            let key = keys::generate();
            keys::write(&dir.join("recovery.key"), &key)?;
            Some(key.public())
        } else {
            None
        };
        participants.push(Participant {
            code: row.code.clone(),
            kind: row.kind,
            name: row.name.clone(),
            territories: row.territories.clone(),
            node_key: node_key.public(),
            government_key: node_key.public(),
            recovery_key,
        });
        let authority_key = if row.kind.trades() {
            let key = keys::generate();
            let path = dir.join("authority.key");
            keys::write(&path, &key)?;
            // The authority's encryption key for sealed fields (ADR 0011):
            // a key file of its own beside the signing key.
            let encryption_key = if spec.encryption_keys {
                let sealing = keys::generate();
                keys::write(&dir.join("encryption.key"), &sealing)?;
                Some(kp_types::DecryptionKey::from_seed(&sealing.seed()).public())
            } else {
                None
            };
            authorities.push(Authority {
                id: authority_id(row.code.as_str()),
                participant: row.code.clone(),
                name: format!("KP Authority of {}", row.name),
                key: key.public(),
                encryption_key,
            });
            Some(path)
        } else {
            None
        };
        let p2p = spec.base_port + (2 * i) as u16;
        let rpc = format!("127.0.0.1:{}", p2p + 1);
        nodes.push((i, row, dir, p2p, rpc, authority_key));
    }
    let all_p2p: Vec<(usize, u16)> = nodes.iter().map(|n| (n.0, n.3)).collect();
    let mut out = Vec::new();
    for (i, row, dir, p2p, rpc, authority_key) in nodes {
        let config = NodeConfig {
            node: NodeSection {
                genesis: PathBuf::from("../genesis.toml"),
                key_file: PathBuf::from("node.key"),
                data_dir: PathBuf::from("data"),
                threads: crate::config::THREADS_DEFAULT,
                log_format: crate::config::LogFormat::Text,
            },
            network: NetworkSection {
                listen: format!("/ip4/127.0.0.1/tcp/{p2p}"),
                peers: all_p2p
                    .iter()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, port)| format!("/ip4/127.0.0.1/tcp/{port}"))
                    .collect(),
                message_bytes_max: kp_types::block::BLOCK_BYTES_MAX + 64 * 1024,
            },
            rpc: RpcSection {
                // A network on 127.0.0.1: every caller is on this machine
                // and trusted, so callers without a token are the operator,
                // as they were before scopes, and nothing limits their
                // rate (benchmarks and drills send from one address). A
                // real node keeps the default, public (README, "Access to
                // the RPC").
                anonymous: "operator".into(),
                rate_per_second: 0,
                ready_block_age_max_s: kp_rpc::HEALTH_BLOCK_AGE_MAX_MS / 1000,
                ..RpcSection::listening_on(rpc.clone())
            },
            consensus: spec.consensus.clone(),
            mempool: MempoolSection::default(),
            storage: StorageSection::default(),
            state_sync: crate::config::StateSyncSection::default(),
        };
        let path = dir.join("node.toml");
        let text = format!(
            "# Node {i}: {} ({}). Generated by `kpledger testnet`.\n{}",
            row.name,
            row.code,
            config.to_toml()
        );
        std::fs::write(&path, text).map_err(io(&path))?;
        out.push(TestnetNode {
            code: row.code.to_string(),
            kind: row.kind,
            dir,
            config: path,
            rpc,
            authority_key,
        });
    }

    let genesis = Genesis {
        chain_id: spec.chain_id.clone(),
        genesis_time: spec.genesis_time,
        chair: governments[0].code.clone(),
        vice_chair: governments
            .get(1)
            .filter(|_| spec.validators > 1)
            .map(|r| r.code.clone()),
        params: Params::default(),
        participants,
        authorities,
    };
    std::fs::write(&genesis_path, genesis.to_toml()).map_err(io(&genesis_path))?;
    Ok(out)
}

/// The id `kpledger testnet` gives a Participant's one authority: `BW-KPA`.
pub fn authority_id(code: &str) -> AuthorityId {
    AuthorityId::new(&format!("{code}-KPA")).unwrap_or_else(|_| {
        // Codes are 2-5 upper-case letters, so the id is always valid.
        unreachable!("authority id of a valid code")
    })
}
