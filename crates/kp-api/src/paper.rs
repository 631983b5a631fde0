//! What a printed certificate carries to tie the paper to the ledger: the
//! text of its QR code (ADR 0013).
//!
//! The QR code holds the chain id, the certificate number and the
//! certificate's digest: blake3 (the [`Domain::Document`] key derivation,
//! prefixed `kpledger certificate v1`) of the canonical encoding of the
//! [`Certificate`] as its issuing authority signed it, sealed envelope and
//! commitment included. The check page recomputes the digest from the
//! certificate it *proved* and refuses the paper when they differ, so a
//! paper whose QR code was copied onto altered figures, or that names
//! another certificate, fails.
//!
//! [`Domain::Document`]: kp_types::Domain::Document

use kp_types::{Certificate, CertificateNumber, Domain, Hash};
use thiserror::Error;

/// The scheme tag that starts every QR code of a printed certificate.
pub const QR_PREFIX: &str = "kpledger-certificate:v1";
/// Longest QR text accepted.
pub const QR_TEXT_MAX: usize = 512;

/// The digest a printed certificate's QR code carries.
pub fn certificate_digest(certificate: &Certificate) -> Hash {
    Hash::of_parts(
        Domain::Document,
        &[b"kpledger certificate v1", &kp_types::encode(certificate)],
    )
}

/// The content of a printed certificate's QR code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaperCode {
    /// The chain the certificate is on.
    pub chain_id: String,
    /// The certificate number.
    pub number: CertificateNumber,
    /// [`certificate_digest`] of the certificate.
    pub digest: Hash,
}

/// Why a QR text is not a printed certificate's code.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PaperCodeError {
    /// Longer than [`QR_TEXT_MAX`].
    #[error("the code is {len} characters long, at most {QR_TEXT_MAX}")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// It does not start with [`QR_PREFIX`] or lacks a part.
    #[error("not a kpledger certificate code (expected {QR_PREFIX}/CHAIN/NUMBER/DIGEST)")]
    Shape,
    /// A part does not parse.
    #[error("bad {part} in the certificate code: {detail}")]
    Part {
        /// Which part.
        part: &'static str,
        /// What is wrong.
        detail: String,
    },
}

impl PaperCode {
    /// The code of `certificate` on chain `chain_id`.
    pub fn of(chain_id: &str, certificate: &Certificate) -> PaperCode {
        PaperCode {
            chain_id: chain_id.to_string(),
            number: certificate.number.clone(),
            digest: certificate_digest(certificate),
        }
    }

    /// `kpledger-certificate:v1/CHAIN/NUMBER/DIGEST` (the digest in hex).
    pub fn text(&self) -> String {
        format!(
            "{QR_PREFIX}/{}/{}/{}",
            self.chain_id,
            self.number,
            self.digest.to_hex()
        )
    }

    /// Reads [`PaperCode::text`]'s form back. The chain id is what lies
    /// between the prefix and the last two parts, so it may hold `/`.
    pub fn parse(text: &str) -> Result<PaperCode, PaperCodeError> {
        let text = text.trim();
        if text.len() > QR_TEXT_MAX {
            return Err(PaperCodeError::TooLong { len: text.len() });
        }
        let rest = text
            .strip_prefix(QR_PREFIX)
            .and_then(|r| r.strip_prefix('/'))
            .ok_or(PaperCodeError::Shape)?;
        let mut parts = rest.rsplitn(3, '/');
        let (Some(digest), Some(number), Some(chain_id)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(PaperCodeError::Shape);
        };
        if chain_id.is_empty() {
            return Err(PaperCodeError::Shape);
        }
        let number = number.parse().map_err(|e| PaperCodeError::Part {
            part: "number",
            detail: format!("{e}"),
        })?;
        let digest = Hash::from_hex(digest).ok_or_else(|| PaperCodeError::Part {
            part: "digest",
            detail: "expected 64 hex digits".into(),
        })?;
        Ok(PaperCode {
            chain_id: chain_id.to_string(),
            number,
            digest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_reads_back_and_bad_codes_are_refused() {
        let code = PaperCode {
            chain_id: "kp/devnet".into(),
            number: "BW2026000001".parse().unwrap(),
            digest: Hash([7; 32]),
        };
        let text = code.text();
        assert!(text.starts_with("kpledger-certificate:v1/kp/devnet/BW2026000001/"));
        assert_eq!(PaperCode::parse(&text).unwrap(), code);
        assert_eq!(PaperCode::parse(&format!(" {text}\n")).unwrap(), code);
        for bad in [
            "",
            "BW2026000001",
            "kpledger-certificate:v1/BW2026000001/00",
            "kpledger-certificate:v2/kp/BW2026000001/0707070707070707070707070707070707070707070707070707070707070707",
            "kpledger-certificate:v1//BW2026000001/0707070707070707070707070707070707070707070707070707070707070707",
        ] {
            assert_eq!(PaperCode::parse(bad), Err(PaperCodeError::Shape), "{bad}");
        }
        assert!(matches!(
            PaperCode::parse("kpledger-certificate:v1/kp/BW2026000001/zz"),
            Err(PaperCodeError::Part { part: "digest", .. })
        ));
        assert!(matches!(
            PaperCode::parse(&"x".repeat(QR_TEXT_MAX + 1)),
            Err(PaperCodeError::TooLong { .. })
        ));
    }
}
