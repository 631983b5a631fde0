//! Node configuration (`node.toml`). Relative paths are resolved against the
//! directory of the configuration file, so a node directory can be moved whole.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Prefix of the environment variables that set configuration values
/// (`KPLEDGER_RPC_LISTEN`; see [`NodeConfig::load_with`]).
pub const ENV_PREFIX: &str = "KPLEDGER_";

/// The sections of a node's configuration file.
pub const CONFIG_SECTIONS: [&str; 7] = [
    "node",
    "network",
    "rpc",
    "consensus",
    "mempool",
    "storage",
    "state_sync",
];

/// Why a configuration could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for a node configuration.
    #[error("config {path} is invalid: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser reported.
        source: toml::de::Error,
    },
    /// A value is out of range.
    #[error("config {path}: {field} {problem}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

/// A node's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Identity and files.
    pub node: NodeSection,
    /// Peer-to-peer network.
    pub network: NetworkSection,
    /// HTTP API.
    pub rpc: RpcSection,
    /// Consensus timeouts.
    #[serde(default)]
    pub consensus: ConsensusSection,
    /// Transaction pool.
    #[serde(default)]
    pub mempool: MempoolSection,
    /// The database.
    #[serde(default)]
    pub storage: StorageSection,
    /// State snapshots: taking them for late joiners, and starting from one
    /// (ADR 0016).
    #[serde(default)]
    pub state_sync: StateSyncSection,
}

/// Identity and files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// The genesis file shared by every node of the network.
    pub genesis: PathBuf,
    /// The node key (mode 0600).
    pub key_file: PathBuf,
    /// Where the node keeps its database.
    pub data_dir: PathBuf,
    /// Worker threads of the node's runtime, which runs the network, the
    /// RPC server and the consensus host (default 2; more lets a larger
    /// server answer more RPC readers at once).
    #[serde(default = "default_threads")]
    pub threads: usize,
    /// How the node writes its log on stdout: `text` (default; colours only
    /// at a terminal) or `json` (one object per line, for a log shipper).
    #[serde(default)]
    pub log_format: LogFormat,
}

/// The node's log format (`[node] log_format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Lines for a person to read.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `fields` (with
    /// `message`), and `span`/`spans` when inside one.
    Json,
}

/// Runtime worker threads when the config names none.
pub const THREADS_DEFAULT: usize = 2;

fn default_threads() -> usize {
    THREADS_DEFAULT
}

/// Peer-to-peer network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    /// libp2p listen address, e.g. `/ip4/0.0.0.0/tcp/26600`.
    pub listen: String,
    /// Addresses of other nodes to dial, e.g. `/ip4/10.0.0.2/tcp/26600`.
    #[serde(default)]
    pub peers: Vec<String>,
    /// Largest gossip or sync message accepted, in bytes.
    #[serde(default = "default_message_bytes_max")]
    pub message_bytes_max: usize,
}

/// HTTP API: address, who may read what, rates, TLS.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RpcSection {
    /// Listen address, e.g. `127.0.0.1:8600`.
    pub listen: String,
    /// What a caller without a token gets: `public` (the default), `none`,
    /// `participant:CODE` or `operator` (only where every caller is
    /// trusted, as on a loopback devnet).
    #[serde(default = "default_anonymous")]
    pub anonymous: String,
    /// The token file (`kpledger rpc token create|list|revoke`): hashes of
    /// the bearer tokens the operator issued, with their scopes.
    #[serde(default = "default_tokens_file")]
    pub tokens_file: PathBuf,
    /// Requests per second one client (a token, or an address without one)
    /// may sustain; 0: no per-client limit.
    #[serde(default = "default_rate_per_second")]
    pub rate_per_second: u32,
    /// Requests one client may send at once before the rate applies.
    #[serde(default = "default_rate_burst")]
    pub rate_burst: u32,
    /// Most records one certificate search reads (1 to 10000); the page
    /// then ends early with a `next` cursor.
    #[serde(default = "default_search_scan_max")]
    pub search_scan_max: usize,
    /// The finest statistics period served to callers other than the
    /// Participant itself: `half-year` (what the KP publishes), `year` or
    /// `quarter`.
    #[serde(default = "default_public_statistics")]
    pub public_statistics: kp_rpc::access::PublicPeriod,
    /// PEM certificate chain: with `tls_key`, the API is served over TLS only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert` (mode 0600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// PEM certificate authority of client certificates (mTLS): a client
    /// may prove a scope with a certificate it signed and the operator
    /// registered (`kpledger rpc token create --client-cert`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_ca: Option<PathBuf>,
    /// How old the last block may be, in seconds, for `/v1/health/ready`
    /// to answer 200 (default 120; an idle network writes an empty block every
    /// minute by default, `[consensus] empty_block_interval_ms`).
    #[serde(default = "default_ready_block_age_max_s")]
    pub ready_block_age_max_s: u64,
}

impl RpcSection {
    /// A section listening on `listen` with every other field at its default.
    pub fn listening_on(listen: String) -> RpcSection {
        RpcSection {
            listen,
            anonymous: default_anonymous(),
            tokens_file: default_tokens_file(),
            rate_per_second: default_rate_per_second(),
            rate_burst: default_rate_burst(),
            search_scan_max: default_search_scan_max(),
            public_statistics: default_public_statistics(),
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            ready_block_age_max_s: default_ready_block_age_max_s(),
        }
    }
}

fn default_anonymous() -> String {
    "public".into()
}

fn default_tokens_file() -> PathBuf {
    PathBuf::from("rpc-tokens.toml")
}

/// Default of `[rpc] rate_per_second`.
pub const RATE_PER_SECOND_DEFAULT: u32 = 100;

fn default_rate_per_second() -> u32 {
    RATE_PER_SECOND_DEFAULT
}

fn default_rate_burst() -> u32 {
    2 * RATE_PER_SECOND_DEFAULT
}

fn default_search_scan_max() -> usize {
    kp_rpc::access::SEARCH_SCAN_MAX_DEFAULT
}

fn default_public_statistics() -> kp_rpc::access::PublicPeriod {
    kp_rpc::access::PublicPeriod::HalfYear
}

fn default_ready_block_age_max_s() -> u64 {
    kp_rpc::HEALTH_BLOCK_AGE_MAX_MS / 1000
}

/// Consensus timeouts, in milliseconds. Each grows by `delta_ms` per round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsensusSection {
    /// Waiting for a proposal.
    pub timeout_propose_ms: u64,
    /// Waiting for prevotes after a quorum of any prevotes.
    pub timeout_prevote_ms: u64,
    /// Waiting for precommits after a quorum of any precommits.
    pub timeout_precommit_ms: u64,
    /// Added to each timeout per round.
    pub timeout_delta_ms: u64,
    /// Pause after a commit before the next height starts, so that a block
    /// collects transactions.
    pub block_interval_ms: u64,
    /// The idle network's heartbeat: after an empty block, when no
    /// transaction is waiting either, the next height starts after this
    /// long, or as soon as a transaction arrives, another validator starts
    /// it, or the ledger has time-driven work (a resolution's deadline, a
    /// certificate's expiry, a key change, the Chair's rotation), whichever
    /// comes first. An idle network thus writes one block a minute by
    /// default instead of one per `block_interval_ms`, while neither a
    /// transaction nor a deadline waits for it. Keep it well under the
    /// light client's `--max-age` (300 s), which reads an older newest block
    /// as a stale node.
    pub empty_block_interval_ms: u64,
}

impl Default for ConsensusSection {
    fn default() -> Self {
        ConsensusSection {
            timeout_propose_ms: 1500,
            timeout_prevote_ms: 500,
            timeout_precommit_ms: 500,
            timeout_delta_ms: 500,
            block_interval_ms: 200,
            empty_block_interval_ms: 60_000,
        }
    }
}

/// Validators above which a network on one machine gets the slower timing
/// of [`ConsensusSection::for_one_machine`].
pub const ONE_MACHINE_VALIDATORS_FAST_MAX: usize = 16;

impl ConsensusSection {
    /// Timing for `validators` validators that all run on one machine (a
    /// `kpledger devnet`): up to [`ONE_MACHINE_VALIDATORS_FAST_MAX`] the
    /// defaults; above, rounds long enough for every node to hear a round's
    /// votes while all of them share a few cores.
    ///
    /// With the defaults, 60 validators on 2 cores spent the machine on
    /// idle rounds: a node in a debug build fell behind its peers' votes,
    /// dropped them from its full event queue, and the rounds timed out
    /// again and again without a first block. A real network, one node per
    /// server, keeps the defaults.
    pub fn for_one_machine(validators: usize) -> ConsensusSection {
        if validators <= ONE_MACHINE_VALIDATORS_FAST_MAX {
            return ConsensusSection::default();
        }
        ConsensusSection {
            timeout_propose_ms: 4000,
            timeout_prevote_ms: 2000,
            timeout_precommit_ms: 2000,
            timeout_delta_ms: 1000,
            block_interval_ms: 500,
            empty_block_interval_ms: 60_000,
        }
    }
}

/// Transaction pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MempoolSection {
    /// Most transactions held.
    pub size_max: usize,
}

impl Default for MempoolSection {
    fn default() -> Self {
        MempoolSection { size_max: 20_000 }
    }
}

/// The database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSection {
    /// Page cache of the database, in MiB: the most memory it keeps of
    /// pages read or written. A cache smaller than the hot part of the state
    /// (the replay memory and the transaction index grow with the chain)
    /// makes every block read pages back from disk.
    pub cache_mb: u64,
}

impl Default for StorageSection {
    fn default() -> Self {
        StorageSection {
            cache_mb: CACHE_MB_DEFAULT,
        }
    }
}

/// State snapshots (ADR 0016): a node takes them for late joiners, and a
/// late joiner starts from one instead of replaying every block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateSyncSection {
    /// Take a snapshot of the state after every block whose height is a
    /// multiple of this (0: never). The node pauses while it is taken (a
    /// walk of the state: about a second per 200 MB).
    pub snapshot_interval: u64,
    /// How many recent snapshots to keep (under `<data_dir>/snapshots`).
    pub snapshot_keep: usize,
    /// Start from a snapshot when the data directory holds no chain yet.
    pub enable: bool,
    /// RPC addresses of nodes to take the snapshot from
    /// (`http://host:port`). The first one's latest snapshot is restored;
    /// every one's header of that height must agree (two headers with valid
    /// commits at one height are a fork, and the start is refused).
    pub rpc_servers: Vec<String>,
    /// A file holding the bearer token for the servers (their snapshots
    /// need the operator scope, as their blocks do); none: anonymous.
    pub rpc_token_file: Option<PathBuf>,
    /// `HEIGHT:HASH` of a header to trust instead of the genesis (needed
    /// once the genesis is older than the light client's trust period, 14
    /// days), as `cert verify --trust-header` takes it.
    pub trust_header: Option<String>,
}

impl Default for StateSyncSection {
    fn default() -> Self {
        StateSyncSection {
            snapshot_interval: 0,
            snapshot_keep: 2,
            enable: false,
            rpc_servers: Vec::new(),
            rpc_token_file: None,
            trust_header: None,
        }
    }
}

/// Default page cache of the database, in MiB.
pub const CACHE_MB_DEFAULT: u64 = 512;

/// Range of `storage.cache_mb`.
const CACHE_MB_RANGE: std::ops::RangeInclusive<u64> = 16..=65_536;

fn default_message_bytes_max() -> usize {
    kp_types::block::BLOCK_BYTES_MAX + 64 * 1024
}

impl NodeConfig {
    /// Reads `path`, applies the `KPLEDGER_<SECTION>_<KEY>` environment
    /// variables over it ([`NodeConfig::load_with`]) and resolves relative
    /// paths against the file's directory.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        NodeConfig::load_with(path, std::env::vars())
    }

    /// [`NodeConfig::load`] with the given environment. A variable
    /// `KPLEDGER_<SECTION>_<KEY>` whose section is one of the file's
    /// (`node`, `network`, `rpc`, `consensus`, `mempool`, `storage`) sets
    /// `[section] key`, e.g. `KPLEDGER_RPC_LISTEN=0.0.0.0:8600` or
    /// `KPLEDGER_NETWORK_PEERS='["/ip4/10.0.0.2/tcp/26600"]'`; its value is
    /// read as a TOML value, or as a string if it is not one. A key the
    /// section does not have is an error, as in the file. Other `KPLEDGER_`
    /// variables (`KPLEDGER_BIN` of the tests) are not the node's.
    pub fn load_with(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let parse = |source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        };
        let mut table: toml::Table = toml::from_str(&text).map_err(parse)?;
        for (name, raw) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let rest = rest.to_ascii_lowercase();
            // The section is the longest one the name starts with
            // (`KPLEDGER_STATE_SYNC_ENABLE` is `[state_sync] enable`).
            let Some((section, key)) = CONFIG_SECTIONS
                .iter()
                .filter_map(|s| {
                    rest.strip_prefix(s)
                        .and_then(|k| k.strip_prefix('_'))
                        .filter(|k| !k.is_empty())
                        .map(|k| (s.to_string(), k.to_string()))
                })
                .max_by_key(|(s, _)| s.len())
            else {
                continue;
            };
            let value = toml::from_str::<toml::Table>(&format!("value = {raw}"))
                .ok()
                .and_then(|mut t| t.remove("value"))
                .unwrap_or(toml::Value::String(raw));
            let entry = table
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(fields) => {
                    fields.insert(key.to_ascii_lowercase(), value);
                }
                _ => {
                    return Err(ConfigError::Invalid {
                        path: path.to_path_buf(),
                        field: "a section",
                        problem: format!("[{section}] is not a table"),
                    })
                }
            }
        }
        let mut config: NodeConfig = toml::Value::Table(table).try_into().map_err(parse)?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut config.node.genesis,
            &mut config.node.key_file,
            &mut config.node.data_dir,
            &mut config.rpc.tokens_file,
        ]
        .into_iter()
        .chain(config.rpc.tls_cert.as_mut())
        .chain(config.rpc.tls_key.as_mut())
        .chain(config.rpc.tls_client_ca.as_mut())
        .chain(config.state_sync.rpc_token_file.as_mut())
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        config.validate(path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |field, problem: &str| ConfigError::Invalid {
            path: path.to_path_buf(),
            field,
            problem: problem.to_string(),
        };
        if !(1..=100).contains(&self.state_sync.snapshot_keep) {
            return Err(invalid(
                "state_sync.snapshot_keep",
                "must be between 1 and 100",
            ));
        }
        if self.state_sync.enable && self.state_sync.rpc_servers.is_empty() {
            return Err(invalid(
                "state_sync.rpc_servers",
                "must name at least one node's RPC address when state_sync.enable is true",
            ));
        }
        if !(1..=256).contains(&self.node.threads) {
            return Err(invalid("node.threads", "must be between 1 and 256"));
        }
        if self.mempool.size_max == 0 || self.mempool.size_max > 1_000_000 {
            return Err(invalid("mempool.size_max", "must be between 1 and 1000000"));
        }
        if !CACHE_MB_RANGE.contains(&self.storage.cache_mb) {
            return Err(invalid("storage.cache_mb", "must be between 16 and 65536"));
        }
        if self.network.message_bytes_max < 1024 {
            return Err(invalid(
                "network.message_bytes_max",
                "must be at least 1024",
            ));
        }
        if self.rpc.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(invalid(
                "rpc.listen",
                "must be an address like 127.0.0.1:8600",
            ));
        }
        if !(1..=86_400).contains(&self.rpc.ready_block_age_max_s) {
            return Err(invalid(
                "rpc.ready_block_age_max_s",
                "must be between 1 and 86400",
            ));
        }
        if let Err(e) = self.rpc.anonymous.parse::<kp_rpc::access::Anonymous>() {
            return Err(invalid("rpc.anonymous", &format!("{e}, or none")));
        }
        if !(1..=10_000).contains(&self.rpc.search_scan_max) {
            return Err(invalid(
                "rpc.search_scan_max",
                "must be between 1 and 10000",
            ));
        }
        if self.rpc.rate_per_second > 0 && self.rpc.rate_burst < kp_rpc::access::SEARCH_COST {
            return Err(invalid(
                "rpc.rate_burst",
                "must be at least 5 (what a search costs) when rate_per_second is set",
            ));
        }
        if self.rpc.tls_client_ca.is_some() && self.rpc.tls_cert.is_none() {
            return Err(invalid(
                "rpc.tls_client_ca",
                "needs tls_cert and tls_key: client certificates are asked for over TLS",
            ));
        }
        if self.rpc.tls_cert.is_some() != self.rpc.tls_key.is_some() {
            return Err(invalid(
                "rpc.tls_cert",
                "and rpc.tls_key go together: set both to serve TLS, or neither",
            ));
        }
        if self.consensus.timeout_propose_ms == 0 {
            return Err(invalid("consensus.timeout_propose_ms", "must be positive"));
        }
        Ok(())
    }

    /// The configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../node-config/node.toml");
        let config = NodeConfig::load(&path).unwrap();
        assert!(config.node.genesis.is_absolute() || config.node.genesis.starts_with(".."));
        assert_eq!(config.mempool.size_max, 20_000);
        assert_eq!(config.storage.cache_mb, CACHE_MB_DEFAULT);
    }

    #[test]
    fn a_cache_out_of_range_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        let base = "[node]\ngenesis='g'\nkey_file='k'\ndata_dir='d'\n[network]\nlisten='/ip4/127.0.0.1/tcp/1'\n[rpc]\nlisten='127.0.0.1:1'\n";
        std::fs::write(&path, format!("{base}[storage]\ncache_mb = 4\n")).unwrap();
        assert!(matches!(
            NodeConfig::load(&path),
            Err(ConfigError::Invalid {
                field: "storage.cache_mb",
                ..
            })
        ));
        std::fs::write(&path, base).unwrap();
        let config = NodeConfig::load(&path).unwrap();
        assert_eq!(config.storage.cache_mb, CACHE_MB_DEFAULT);
    }

    #[test]
    fn rpc_access_settings_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        let base = "[node]\ngenesis='g'\nkey_file='k'\ndata_dir='d'\n[network]\nlisten='/ip4/127.0.0.1/tcp/1'\n[rpc]\nlisten='127.0.0.1:1'\n";
        std::fs::write(&path, base).unwrap();
        let config = NodeConfig::load(&path).unwrap();
        assert_eq!(config.rpc.anonymous, "public");
        assert_eq!(config.rpc.tokens_file, dir.path().join("rpc-tokens.toml"));
        assert_eq!(config.rpc.tls_cert, None);
        for (extra, field) in [
            ("anonymous = 'everyone'\n", "rpc.anonymous"),
            ("tls_cert = 'c.pem'\n", "rpc.tls_cert"),
            ("search_scan_max = 0\n", "rpc.search_scan_max"),
            ("rate_burst = 0\n", "rpc.rate_burst"),
        ] {
            std::fs::write(&path, format!("{base}{extra}")).unwrap();
            match NodeConfig::load(&path) {
                Err(ConfigError::Invalid { field: f, .. }) => assert_eq!(f, field, "{extra}"),
                other => panic!("{extra}: {other:?}"),
            }
        }
        std::fs::write(
            &path,
            format!("{base}anonymous = 'participant:BW'\ntls_cert = 'c.pem'\ntls_key = 'k.pem'\n"),
        )
        .unwrap();
        let config = NodeConfig::load(&path).unwrap();
        assert_eq!(config.rpc.tls_key, Some(dir.path().join("k.pem")));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(
            &path,
            "[node]\ngenesis='g'\nkey_file='k'\ndata_dir='d'\ncolour='blue'\n[network]\nlisten='/ip4/127.0.0.1/tcp/1'\n[rpc]\nlisten='127.0.0.1:1'\n",
        )
        .unwrap();
        assert!(matches!(
            NodeConfig::load(&path),
            Err(ConfigError::Parse { .. })
        ));
    }
}
