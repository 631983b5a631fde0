//! `kpledger rpc token create|list|revoke`: the operator's bearer tokens of
//! a node's RPC, kept in the node's token file (`[rpc] tokens_file`) as
//! blake3 hashes. A running node reads the file again when it changes: a
//! new token works, and a revoked one stops working, with the next request.

use crate::config::{ConfigError, NodeConfig};
pub use kp_rpc::access::{Credential, Scope};
use kp_rpc::access::{TokenError, TokenFile, TOKEN_SECRET_BYTES};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a token command failed.
#[derive(Debug, Error)]
pub enum TokenCommandError {
    /// The node's configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The token file is unusable, or no token has that id.
    #[error(transparent)]
    Tokens(#[from] TokenError),
    /// The client certificate file is unusable.
    #[error(transparent)]
    Certificate(#[from] kp_rpc::tls::TlsError),
    /// Neither `--config` nor `--file` was given.
    #[error("name the node: --config node.toml (its [rpc] tokens_file) or --file rpc-tokens.toml")]
    NoFile,
}

/// The token file of the node configured in `config`, or `file` itself.
pub fn tokens_file(
    config: Option<&Path>,
    file: Option<&Path>,
) -> Result<PathBuf, TokenCommandError> {
    match (file, config) {
        (Some(file), _) => Ok(file.to_path_buf()),
        (None, Some(config)) => Ok(NodeConfig::load(config)?.rpc.tokens_file),
        (None, None) => Err(TokenCommandError::NoFile),
    }
}

/// Issues a token of `scope` into `path` and returns it with its id: the
/// only time the token is shown.
pub fn create(
    path: &Path,
    scope: Scope,
    label: String,
) -> Result<(String, kp_rpc::access::TokenEntry), TokenCommandError> {
    use rand::RngCore;
    let mut secret = [0u8; TOKEN_SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let mut file = TokenFile::load(path)?;
    let created = kp_types::time::wall_clock().to_string();
    let (token, entry) = file.create(scope, secret, created, label);
    file.save(path)?;
    Ok((token, entry))
}

/// Gives the TLS client certificate in the PEM file `certificate` the
/// scope `scope` (mTLS; the node asks for client certificates signed by
/// `[rpc] tls_client_ca`).
pub fn register_certificate(
    path: &Path,
    certificate: &Path,
    scope: Scope,
    label: String,
) -> Result<kp_rpc::access::TokenEntry, TokenCommandError> {
    let der = kp_rpc::tls::certificate_der(certificate)?;
    let mut file = TokenFile::load(path)?;
    let created = kp_types::time::wall_clock().to_string();
    let entry = file.add_certificate(scope, &der, created, label);
    file.save(path)?;
    Ok(entry)
}

/// The tokens of `path` (ids, scopes, dates, labels; never the tokens).
pub fn list(path: &Path) -> Result<Vec<kp_rpc::access::TokenEntry>, TokenCommandError> {
    Ok(TokenFile::load(path)?.tokens)
}

/// Revokes the token `id` of `path`.
pub fn revoke(path: &Path, id: &str) -> Result<kp_rpc::access::TokenEntry, TokenCommandError> {
    let mut file = TokenFile::load(path)?;
    let entry = file.revoke(id)?;
    file.save(path)?;
    Ok(entry)
}
