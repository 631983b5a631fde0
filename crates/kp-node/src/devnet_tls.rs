//! `kpledger devnet --tls`: a local certificate authority (rcgen) and one
//! certificate per node for 127.0.0.1 and localhost, signed by it; each
//! node's `[rpc] tls_cert` and `tls_key` name them. Clients trust the
//! authority with `--ca devnet/tls/ca.pem` (or `KPLEDGER_CA`).
//!
//! The authority's key stays in `devnet/tls/ca-key.pem` (mode 0600) only so
//! that a later run can sign a node added by hand; it is a devnet's, never a
//! production authority.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use std::path::{Path, PathBuf};

/// Why the devnet's TLS files could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DevnetTlsError {
    /// rcgen could not make a key or certificate.
    #[error("cannot make the devnet's TLS certificates: {0}")]
    Certificate(#[from] rcgen::Error),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// File names in each node's folder.
pub const NODE_CERT: &str = "tls-cert.pem";
/// The node's TLS key file name.
pub const NODE_KEY: &str = "tls-key.pem";

fn write(path: &Path, text: &str, secret: bool) -> Result<(), DevnetTlsError> {
    let io = |source| DevnetTlsError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(path, text).map_err(io)?;
    if secret {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(())
}

/// Makes `dir/tls/ca.pem` (and its key) and, in each of `node_dirs`, a
/// certificate and key for 127.0.0.1 and localhost; returns the CA's path.
pub fn make(dir: &Path, node_dirs: &[PathBuf]) -> Result<PathBuf, DevnetTlsError> {
    let tls_dir = dir.join("tls");
    std::fs::create_dir_all(&tls_dir).map_err(|source| DevnetTlsError::Io {
        path: tls_dir.clone(),
        source,
    })?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "kpledger devnet certificate authority");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;
    let ca_path = tls_dir.join("ca.pem");
    write(&ca_path, &ca_cert.pem(), false)?;
    write(&tls_dir.join("ca-key.pem"), &ca_key.serialize_pem(), true)?;
    for node_dir in node_dirs {
        let mut leaf =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
        leaf.distinguished_name
            .push(DnType::CommonName, "kpledger devnet node");
        let key = KeyPair::generate()?;
        let cert = leaf.signed_by(&key, &ca_cert, &ca_key)?;
        write(&node_dir.join(NODE_CERT), &cert.pem(), false)?;
        write(&node_dir.join(NODE_KEY), &key.serialize_pem(), true)?;
    }
    Ok(ca_path)
}
