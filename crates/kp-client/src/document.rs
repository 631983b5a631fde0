//! The document a customs officer holds (ADR 0011): the sealed fields as
//! printed on the paper or PDF certificate, with the commitment's salt,
//! checked against a *proven* certificate. Pure, so that the browser's
//! verifier (crates/kp-verify-wasm) runs the same check as `cert verify
//! --document`.

use kp_types::sealed::{self, Opened, SALT_BYTES};
use kp_types::{Certificate, CertificateNumber, Parties, Party, SealedFields};
use serde::{Deserialize, Serialize};

/// What a customs officer holds: the sealed fields as printed on the paper
/// or PDF certificate, with the commitment's salt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// The certificate's number.
    pub number: CertificateNumber,
    /// The commitment's salt (64 hex digits).
    pub salt: String,
    /// The parcels' commercial details.
    #[serde(default)]
    pub details: String,
    /// Exporter.
    pub exporter: Party,
    /// Importer.
    pub importer: Party,
}

impl Document {
    /// The document of opened fields.
    pub fn of(number: &CertificateNumber, opened: &Opened) -> Document {
        Document {
            number: number.clone(),
            salt: hex::encode(opened.salt),
            details: opened.fields.details.clone(),
            exporter: opened.fields.exporter.clone(),
            importer: opened.fields.importer.clone(),
        }
    }

    /// The fields as the document gives them.
    pub fn fields(&self) -> SealedFields {
        SealedFields {
            exporter: self.exporter.clone(),
            importer: self.importer.clone(),
            details: self.details.clone(),
        }
    }

    /// Whether this document matches a proven certificate; `Err` names the mismatch.
    pub fn check(&self, certificate: &Certificate) -> Result<String, String> {
        if self.number != certificate.number {
            return Err(format!(
                "the document is for certificate {}, not {}",
                self.number, certificate.number
            ));
        }
        match &certificate.parties {
            Parties::Sealed(s) => {
                let mut salt = [0u8; SALT_BYTES];
                hex::decode_to_slice(self.salt.trim(), &mut salt).map_err(|_| {
                    format!("the document's salt {:?} is not 64 hex digits", self.salt)
                })?;
                let commitment = sealed::commitment(&salt, &self.fields());
                if commitment != s.commitment {
                    return Err(format!(
                        "the document's exporter, importer, details and salt do not match the ledger's commitment (document {commitment}, ledger {}): a name, an address or the details differ from what was issued",
                        s.commitment
                    ));
                }
                Ok(format!(
                    "document: exporter, importer and details match the ledger's commitment {commitment}"
                ))
            }
            Parties::Plain(fields) => {
                for (field, same) in [
                    ("exporter", fields.exporter == self.exporter),
                    ("importer", fields.importer == self.importer),
                    ("details", fields.details == self.details),
                ] {
                    if !same {
                        return Err(format!(
                            "the document's {field} differs from the ledger's (a certificate in the clear)"
                        ));
                    }
                }
                Ok(
                    "document: exporter, importer and details match the ledger's (in the clear)"
                        .into(),
                )
            }
        }
    }
}
