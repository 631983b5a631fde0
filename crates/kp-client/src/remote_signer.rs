//! A remote signer over a local socket: the government key stays in a
//! process of its own (`kpledger signer`), on a machine or under a user the
//! node and the operator's shell cannot read, and the CLI asks it to sign
//! (`--remote-signer SOCKET`), as a key-management service signs for a
//! validator.
//!
//! The protocol is one request and one answer per frame, over a Unix stream
//! socket: a 4-byte big-endian length, then the canonical encoding
//! ([`kp_types::encode`]) of a [`SignerRequest`] or a [`SignerAnswer`].
//! Frames are bounded ([`SIGNER_FRAME_BYTES_MAX`]) and decoded defensively.
//!
//! The signer signs only decoded [`Transaction`]s, through
//! [`Transaction::sign`] (the transaction domain), never raw bytes, so it
//! cannot be made to sign a vote or anything else. Before signing it checks
//! its [`SignerPolicy`]: the transaction names its key as the signer, the
//! chain it serves, a kind of act it allows, and an expiry not too far
//! ahead. Each answer, signed or refused, is logged by the serving process.
//! The client verifies the signature it gets back before using it.

use kp_types::{PublicKey, Signature, SignedTransaction, SigningKey, Timestamp, Transaction};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;

/// Largest frame either side reads (a transaction encodes to at most 64 KiB).
pub const SIGNER_FRAME_BYTES_MAX: usize = 256 * 1024;
/// Requests served on one connection before the signer closes it.
pub const SIGNER_REQUESTS_PER_CONNECTION_MAX: usize = 64;
/// How long either side waits for the other's frame.
pub const SIGNER_IO_TIMEOUT: Duration = Duration::from_secs(10);

/// What the CLI asks the signer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignerRequest {
    /// The public key it signs with.
    PublicKey,
    /// A signature of this transaction.
    Sign(Box<Transaction>),
}

/// What the signer answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignerAnswer {
    /// Its public key.
    PublicKey(PublicKey),
    /// The signature of the transaction asked for.
    Signature(Signature),
    /// It will not sign: why.
    Refused(String),
}

/// Why the remote signer could not be used.
#[derive(Debug, Error)]
pub enum SignerError {
    /// Nothing listens at the socket, or it cannot be opened.
    #[error("cannot reach the signer at {path}: {source}")]
    Connect {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The connection failed or timed out mid-frame.
    #[error("the signer connection failed: {0}")]
    Io(#[from] std::io::Error),
    /// A frame longer than the bound.
    #[error("a signer frame of {len} bytes; at most {max}")]
    TooLarge {
        /// Announced length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// A frame that does not decode as the message expected.
    #[error("a malformed signer frame: {0}")]
    Malformed(String),
    /// The signer refused, with its reason.
    #[error("the signer refused: {0}")]
    Refused(String),
    /// The signer answered something else than what was asked.
    #[error("the signer answered {0} to the request")]
    Unexpected(&'static str),
    /// The signer's key is not the one the transaction names.
    #[error("the signer holds key {holds}, the transaction is for {wanted}")]
    WrongKey {
        /// The signer's.
        holds: PublicKey,
        /// The transaction's.
        wanted: PublicKey,
    },
    /// The signature returned does not verify.
    #[error("the signer's signature does not verify against {signer}")]
    BadSignature {
        /// The key it should verify against.
        signer: PublicKey,
    },
}

/// Writes one frame.
pub fn write_frame(w: &mut impl Write, payload: &[u8]) -> Result<(), SignerError> {
    if payload.len() > SIGNER_FRAME_BYTES_MAX {
        return Err(SignerError::TooLarge {
            len: payload.len(),
            max: SIGNER_FRAME_BYTES_MAX,
        });
    }
    let len = u32::try_from(payload.len()).map_err(|_| SignerError::TooLarge {
        len: payload.len(),
        max: SIGNER_FRAME_BYTES_MAX,
    })?;
    w.write_all(&len.to_be_bytes())?;
    w.write_all(payload)?;
    w.flush()?;
    Ok(())
}

/// Reads one frame; `Ok(None)` at a clean end of stream before a frame.
pub fn read_frame(r: &mut impl Read) -> Result<Option<Vec<u8>>, SignerError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < len.len() {
        match r.read(&mut len[got..])? {
            0 if got == 0 => return Ok(None),
            0 => {
                return Err(SignerError::Malformed(
                    "the stream ended in a length".into(),
                ))
            }
            n => got += n,
        }
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > SIGNER_FRAME_BYTES_MAX {
        return Err(SignerError::TooLarge {
            len,
            max: SIGNER_FRAME_BYTES_MAX,
        });
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    Ok(Some(payload))
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, SignerError> {
    kp_types::decode(bytes, SIGNER_FRAME_BYTES_MAX)
        .map_err(|e| SignerError::Malformed(e.to_string()))
}

/// The CLI's side: a signer reached at a socket path.
#[derive(Clone, Debug)]
pub struct RemoteSigner {
    path: PathBuf,
}

impl RemoteSigner {
    /// The signer listening at `path`.
    pub fn new(path: impl Into<PathBuf>) -> RemoteSigner {
        RemoteSigner { path: path.into() }
    }

    /// The socket.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn ask(&self, request: &SignerRequest) -> Result<SignerAnswer, SignerError> {
        let mut stream =
            UnixStream::connect(&self.path).map_err(|source| SignerError::Connect {
                path: self.path.clone(),
                source,
            })?;
        stream.set_read_timeout(Some(SIGNER_IO_TIMEOUT))?;
        stream.set_write_timeout(Some(SIGNER_IO_TIMEOUT))?;
        write_frame(&mut stream, &kp_types::encode(request))?;
        let answer = read_frame(&mut stream)?
            .ok_or_else(|| SignerError::Malformed("the signer closed without answering".into()))?;
        decode(&answer)
    }

    /// The key the signer signs with.
    pub fn public_key(&self) -> Result<PublicKey, SignerError> {
        match self.ask(&SignerRequest::PublicKey)? {
            SignerAnswer::PublicKey(key) => Ok(key),
            SignerAnswer::Refused(reason) => Err(SignerError::Refused(reason)),
            SignerAnswer::Signature(_) => Err(SignerError::Unexpected("a signature")),
        }
    }

    /// `tx` signed by the signer, checked before it is returned.
    pub fn sign(&self, tx: Transaction) -> Result<SignedTransaction, SignerError> {
        let signature = match self.ask(&SignerRequest::Sign(Box::new(tx.clone())))? {
            SignerAnswer::Signature(signature) => signature,
            SignerAnswer::Refused(reason) => return Err(SignerError::Refused(reason)),
            SignerAnswer::PublicKey(_) => return Err(SignerError::Unexpected("a public key")),
        };
        let signer = tx.signer;
        let signed = SignedTransaction { tx, signature };
        signed
            .verify_signature()
            .map_err(|_| SignerError::BadSignature { signer })?;
        Ok(signed)
    }
}

/// What the signer agrees to sign.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignerPolicy {
    /// The only chain it signs for (`None`: any).
    pub chain_id: Option<String>,
    /// The kinds of act it signs ([`kp_types::Payload::kind`]; `None`: any).
    pub allow: Option<BTreeSet<String>>,
    /// How far ahead of now an expiry may lie (a transaction signed now
    /// cannot be held back and used much later).
    pub expiry_ahead_max_ms: u64,
}

/// The longest the CLI's own transactions live (signed offline: 50 minutes),
/// with room for clocks apart.
pub const EXPIRY_AHEAD_MAX_MS_DEFAULT: u64 = 2 * 60 * 60 * 1000;

impl SignerPolicy {
    /// Why `tx` must not be signed by `key` at `now`, if so.
    pub fn refusal(&self, key: &PublicKey, tx: &Transaction, now: Timestamp) -> Option<String> {
        if &tx.signer != key {
            return Some(format!(
                "the transaction names signer {}, this signer holds {}",
                tx.signer.to_hex(),
                key.to_hex()
            ));
        }
        if let Some(chain) = &self.chain_id {
            if &tx.chain_id != chain {
                return Some(format!(
                    "the transaction is for chain {}, this signer signs for {chain}",
                    tx.chain_id
                ));
            }
        }
        let kind = tx.payload.kind();
        if let Some(allow) = &self.allow {
            if !allow.contains(kind) {
                let allowed: Vec<&str> = allow.iter().map(String::as_str).collect();
                return Some(format!(
                    "{kind} is not allowed (this signer signs {})",
                    allowed.join(", ")
                ));
            }
        }
        if tx.expires_at.0 > now.0.saturating_add(self.expiry_ahead_max_ms) {
            return Some(format!(
                "the transaction expires more than {} minutes from now",
                self.expiry_ahead_max_ms / 60_000
            ));
        }
        None
    }
}

/// The signer's answer to one request frame (pure: the serving loop does
/// the IO). A frame that does not decode is refused, not answered with an
/// error the client could mistake for a signature.
pub fn answer(
    key: &SigningKey,
    policy: &SignerPolicy,
    request: &[u8],
    now: Timestamp,
) -> SignerAnswer {
    match decode::<SignerRequest>(request) {
        Err(e) => SignerAnswer::Refused(e.to_string()),
        Ok(SignerRequest::PublicKey) => SignerAnswer::PublicKey(key.public()),
        Ok(SignerRequest::Sign(tx)) => match policy.refusal(&key.public(), &tx, now) {
            Some(reason) => SignerAnswer::Refused(reason),
            None => SignerAnswer::Signature((*tx).sign(key).signature),
        },
    }
}

/// One line for the signer's log: what it answered.
pub fn describe(request: &[u8], answer: &SignerAnswer) -> String {
    let what = match decode::<SignerRequest>(request) {
        Ok(SignerRequest::Sign(tx)) => format!(
            "{} {} on chain {}",
            tx.payload.kind(),
            tx.hash(),
            tx.chain_id
        ),
        Ok(SignerRequest::PublicKey) => "public key".to_string(),
        Err(_) => format!("a malformed request of {} bytes", request.len()),
    };
    match answer {
        SignerAnswer::Signature(_) => format!("signed {what}"),
        SignerAnswer::PublicKey(_) => format!("gave its {what}"),
        SignerAnswer::Refused(reason) => format!("refused {what}: {reason}"),
    }
}

/// Serves one connection: up to [`SIGNER_REQUESTS_PER_CONNECTION_MAX`]
/// requests, each answered and logged with `log`. `now` reads the clock.
pub fn serve_connection(
    mut stream: UnixStream,
    key: &SigningKey,
    policy: &SignerPolicy,
    now: &dyn Fn() -> Timestamp,
    log: &mut dyn FnMut(String),
) -> Result<(), SignerError> {
    stream.set_read_timeout(Some(SIGNER_IO_TIMEOUT))?;
    stream.set_write_timeout(Some(SIGNER_IO_TIMEOUT))?;
    for _ in 0..SIGNER_REQUESTS_PER_CONNECTION_MAX {
        let Some(request) = read_frame(&mut stream)? else {
            return Ok(());
        };
        let reply = answer(key, policy, &request, now());
        log(describe(&request, &reply));
        write_frame(&mut stream, &kp_types::encode(&reply))?;
    }
    Ok(())
}

/// Binds the signer's socket at `path`, readable and writable by its owner
/// only. A socket file left by an earlier signer is replaced; any other
/// file there is an error.
pub fn bind(path: &Path) -> Result<UnixListener, SignerError> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            std::fs::remove_file(path)?;
        } else {
            return Err(SignerError::Connect {
                path: path.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "a file that is not a socket is in the way",
                ),
            });
        }
    }
    let listener = UnixListener::bind(path).map_err(|source| SignerError::Connect {
        path: path.to_path_buf(),
        source,
    })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kp_types::{ParticipantCode, Payload};

    fn key() -> SigningKey {
        SigningKey::from_seed([9; 32])
    }

    fn tx(signer: PublicKey, chain: &str) -> Transaction {
        Transaction {
            chain_id: chain.into(),
            signer,
            nonce: 1,
            expires_at: Timestamp(1_000 + 60_000),
            payload: Payload::CancelRecovery {
                participant: ParticipantCode::new("BW").expect("code"),
            },
        }
    }

    fn policy() -> SignerPolicy {
        SignerPolicy {
            chain_id: Some("kp-a".into()),
            allow: Some(["cancel-recovery".to_string()].into()),
            expiry_ahead_max_ms: EXPIRY_AHEAD_MAX_MS_DEFAULT,
        }
    }

    fn ask(request: &SignerRequest) -> SignerAnswer {
        answer(
            &key(),
            &policy(),
            &kp_types::encode(request),
            Timestamp(1_000),
        )
    }

    #[test]
    fn signs_what_the_policy_allows_and_refuses_the_rest() {
        let k = key();
        let signed = match ask(&SignerRequest::Sign(Box::new(tx(k.public(), "kp-a")))) {
            SignerAnswer::Signature(s) => s,
            other => panic!("{other:?}"),
        };
        let stx = SignedTransaction {
            tx: tx(k.public(), "kp-a"),
            signature: signed,
        };
        assert!(stx.verify_signature().is_ok());

        let other = SigningKey::from_seed([8; 32]).public();
        let refused = |t: Transaction, needle: &str| match ask(&SignerRequest::Sign(Box::new(t))) {
            SignerAnswer::Refused(reason) => assert!(reason.contains(needle), "{reason}"),
            a => panic!("expected a refusal, got {a:?}"),
        };
        refused(tx(other, "kp-a"), "names signer");
        refused(tx(k.public(), "kp-b"), "this signer signs for kp-a");
        let mut propose = tx(k.public(), "kp-a");
        propose.payload = Payload::RevokeAuthority {
            participant: ParticipantCode::new("BW").expect("code"),
            authority: kp_types::AuthorityId::new("BW-KPA").expect("id"),
            compromised_since: None,
        };
        refused(propose, "revoke-authority is not allowed");
        let mut late = tx(k.public(), "kp-a");
        late.expires_at = Timestamp(1_000 + EXPIRY_AHEAD_MAX_MS_DEFAULT + 1);
        refused(late, "expires more than");
        assert_eq!(
            ask(&SignerRequest::PublicKey),
            SignerAnswer::PublicKey(k.public())
        );
    }

    #[test]
    fn malformed_and_oversized_frames_are_refused() {
        let reply = answer(&key(), &policy(), &[0xff, 0x00, 0x13], Timestamp(1_000));
        assert!(matches!(reply, SignerAnswer::Refused(_)), "{reply:?}");
        let mut big = Vec::new();
        big.extend_from_slice(&(SIGNER_FRAME_BYTES_MAX as u32 + 1).to_be_bytes());
        assert!(matches!(
            read_frame(&mut big.as_slice()),
            Err(SignerError::TooLarge { .. })
        ));
        let cut = [0u8, 0, 0, 9, 1, 2];
        assert!(matches!(
            read_frame(&mut cut.as_slice()),
            Err(SignerError::Io(_))
        ));
        assert!(matches!(
            read_frame(&mut [0u8, 0].as_slice()),
            Err(SignerError::Malformed(_))
        ));
        assert!(matches!(read_frame(&mut [].as_slice()), Ok(None)));
    }

    #[test]
    fn a_round_trip_over_a_real_socket_and_a_signer_that_lies() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("signer.sock");
        let listener = bind(&path).expect("bind");
        let server = std::thread::spawn(move || {
            let k = key();
            let policy = SignerPolicy {
                expiry_ahead_max_ms: u64::MAX,
                ..SignerPolicy::default()
            };
            let mut lines = Vec::new();
            // Two honest connections, then one that answers a wrong signature.
            for _ in 0..2 {
                let (stream, _) = listener.accept().expect("accept");
                serve_connection(stream, &k, &policy, &|| Timestamp(0), &mut |l| {
                    lines.push(l)
                })
                .expect("serve");
            }
            let (mut stream, _) = listener.accept().expect("accept");
            let _ = read_frame(&mut stream).expect("request");
            let forged = SigningKey::from_seed([7; 32]).sign(&kp_types::Hash::ZERO);
            write_frame(
                &mut stream,
                &kp_types::encode(&SignerAnswer::Signature(forged)),
            )
            .expect("reply");
            lines
        });
        let remote = RemoteSigner::new(&path);
        let public = remote.public_key().expect("public key");
        assert_eq!(public, key().public());
        let signed = remote.sign(tx(public, "kp-a")).expect("signed");
        assert!(signed.verify_signature().is_ok());
        let lied = remote.sign(tx(public, "kp-a"));
        assert!(
            matches!(lied, Err(SignerError::BadSignature { .. })),
            "{lied:?}"
        );
        let lines = server.join().expect("server");
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[1].starts_with("signed cancel-recovery"), "{lines:?}");
        drop(dir);
        let gone = RemoteSigner::new(&path).public_key();
        assert!(matches!(gone, Err(SignerError::Connect { .. })), "{gone:?}");
    }
}
