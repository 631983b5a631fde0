//! Why a node stops.

use crate::keys;
use std::path::PathBuf;
use thiserror::Error;

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
