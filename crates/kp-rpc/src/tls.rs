//! TLS of the RPC: rustls (ring provider) with the certificate chain and key
//! that `[rpc] tls_cert` and `tls_key` name, both PEM; with `[rpc]
//! tls_client_ca`, clients may prove a scope by a certificate it signed,
//! registered with `kpledger rpc token create --client-cert` (mTLS).
//!
//! A node that serves TLS answers a client that speaks plain HTTP to it with
//! a plain `400 tls-required` that says to use `https://`, instead of
//! closing the connection without a word; the client, for its part, tells
//! an `https://` URL that reaches a plain node apart from a wrong port.

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;

/// Why the TLS configuration could not be made.
#[derive(Debug, Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("TLS {what} {path}: {detail}")]
    File {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// rustls refused the certificate and key (they do not match, say).
    #[error("TLS certificate {cert} and key {key} do not make a server configuration: {detail}")]
    Config {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        detail: String,
    },
}

/// The crypto provider of every TLS configuration of kpledger: chosen
/// explicitly, since the dependency tree holds two and rustls then picks
/// no default.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The DER encoding of the first certificate in the PEM file `path` (a
/// client certificate to register with `kpledger rpc token create
/// --client-cert`).
pub fn certificate_der(path: &Path) -> Result<Vec<u8>, TlsError> {
    CertificateDer::from_pem_file(path)
        .map(|c| c.as_ref().to_vec())
        .map_err(|e| TlsError::File {
            what: "certificate",
            path: path.to_path_buf(),
            detail: e.to_string(),
        })
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::File {
            what: "certificate",
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::File {
            what: "certificate",
            path: path.to_path_buf(),
            detail: "holds no CERTIFICATE block".into(),
        });
    }
    Ok(chain)
}

/// The server configuration of a node with the certificate chain in
/// `cert` and the private key in `key` (PEM): TLS 1.2 and 1.3, HTTP/1.1
/// and HTTP/2 offered by ALPN. With `client_ca`, clients may present a
/// certificate signed by it (mTLS; optional: a client without one is
/// served as anonymous or by its bearer token).
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = certificates(cert)?;
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::File {
        what: "key",
        path: key.to_path_buf(),
        detail: e.to_string(),
    })?;
    let config_error = |detail: String| TlsError::Config {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        detail,
    };
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(e.to_string()))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for root in certificates(ca)? {
                roots.add(root).map_err(|e| TlsError::File {
                    what: "client CA",
                    path: ca.to_path_buf(),
                    detail: e.to_string(),
                })?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider(),
            )
            .allow_unauthenticated()
            .build()
            .map_err(|e| config_error(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, private)
        .map_err(|e| config_error(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// What a TLS port answers a client that sent plain HTTP.
pub(crate) fn plain_http_answer() -> Vec<u8> {
    let body = br#"{"error":{"code":"tls-required","message":"this node serves its API over TLS only: use an https:// URL (with --ca FILE if its certificate authority is your own)"}}"#;
    let mut answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(body);
    answer
}
