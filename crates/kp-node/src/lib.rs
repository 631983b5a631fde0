//! A kpledger node: the wiring of ledger, consensus, storage, network and RPC
//! into one process, plus the local-network tools (`testnet`, `devnet`) of
//! the `kpledger` binary (crate `kpledger`; its client commands are
//! `kp_client::cli`).
#![deny(missing_docs)]

pub mod backend;
pub mod ceremony;
// rpc: the one-command devnet.
pub mod config;
pub mod devnet;
pub mod devnet_tls;
pub mod keys;
pub mod rpc_tokens;
pub mod run;
pub mod snapshot;
pub mod state_snapshots;
pub mod table;
pub mod testnet;
