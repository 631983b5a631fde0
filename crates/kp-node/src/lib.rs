//! A kpledger node: the wiring of ledger, consensus, storage, network and RPC
//! into one process, plus the command-line tools of the `kpledger` binary.
#![deny(missing_docs)]

pub mod backend;
// rpc: client commands and the one-command devnet.
pub mod client_cli;
pub mod config;
pub mod devnet;
pub mod keys;
pub mod mempool;
pub mod run;
pub mod table;
pub mod testnet;
