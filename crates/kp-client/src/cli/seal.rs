//! Sealed commercial fields in the CLI (ADR 0011): the certificate file
//! `cert issue` reads, sealing to the two authorities, `cert show --key`
//! and the document a customs officer checks with `cert verify --document`.

use super::*;
pub use crate::document::Document;
use kp_types::sealed::{self, Opened, SealError, SALT_BYTES};
use kp_types::{
    CertificateLine, DecryptionKey, EncryptionKey, Origin, Parties, Party, SealedFields,
};
use serde::{Deserialize, Serialize};

/// A certificate as its issuer writes it: every field in the clear. `cert
/// issue` seals the exporter, importer and details before it signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateDraft {
    /// Unique number.
    pub number: CertificateNumber,
    /// The exporting Participant.
    pub exporting: ParticipantCode,
    /// The issuing authority.
    pub issuing_authority: AuthorityId,
    /// The importing Participant.
    pub importing: ParticipantCode,
    /// The destination territory.
    pub destination: Territory,
    /// Exporter's name and address (sealed).
    pub exporter: Party,
    /// Importer's name and address (sealed).
    pub importer: Party,
    /// The parcels' commercial details (sealed; optional).
    #[serde(default)]
    pub details: String,
    /// Origin.
    pub origin: Origin,
    /// Origin zones.
    #[serde(default)]
    pub origin_zones: Vec<String>,
    /// Lines.
    pub lines: Vec<CertificateLine>,
    /// Date of issue.
    pub issued_on: Date,
    /// Date of expiry.
    pub expires_on: Date,
}

impl CertificateDraft {
    /// The sealed fields of the draft.
    pub fn fields(&self) -> SealedFields {
        SealedFields {
            exporter: self.exporter.clone(),
            importer: self.importer.clone(),
            details: self.details.clone(),
        }
    }

    /// The certificate with the given parties.
    pub fn certificate(self, parties: Parties) -> Certificate {
        Certificate {
            number: self.number,
            exporting: self.exporting,
            issuing_authority: self.issuing_authority,
            importing: self.importing,
            destination: self.destination,
            parties,
            origin: self.origin,
            origin_zones: self.origin_zones,
            lines: self.lines,
            issued_on: self.issued_on,
            expires_on: self.expires_on,
        }
    }
}

/// The encryption key of an authority of a member record, if registered and unrevoked.
fn key_of(record: &ParticipantRecord, id: &AuthorityId) -> Option<EncryptionKey> {
    record
        .authorities
        .iter()
        .find(|a| a.authority.id == *id && a.revoked_height.is_none())
        .and_then(|a| a.authority.encryption_key)
}

/// Seals the draft when the issuing authority and an authority of the
/// importer have encryption keys; otherwise the certificate stays plain and
/// a warning says why. The salt and HPKE's randomness come from the OS.
pub(super) fn seal_draft(
    client: &Client,
    draft: CertificateDraft,
    importing_authority: Option<&str>,
) -> Result<Certificate, CliError> {
    let exporting = client.participant(&draft.exporting)?;
    let importing = client.participant(&draft.importing)?;
    let issuer_key = key_of(&exporting, &draft.issuing_authority);
    let importer = match importing_authority {
        Some(text) => {
            let id: AuthorityId = parse("authority id", text)?;
            let key = key_of(&importing, &id).ok_or_else(|| {
                usage(format!(
                    "--importing-authority {id}: not an unrevoked authority of {} with an encryption key",
                    draft.importing
                ))
            })?;
            Some((id, key))
        }
        None => importing
            .authorities
            .iter()
            .filter(|a| a.revoked_height.is_none())
            .find_map(|a| Some((a.authority.id.clone(), a.authority.encryption_key?))),
    };
    let (Some(issuer_key), Some(importer)) = (issuer_key, importer) else {
        let missing = if issuer_key.is_none() {
            format!("the issuing authority {}", draft.issuing_authority)
        } else {
            format!("no authority of {}", draft.importing)
        };
        eprintln!(
            "warning: NOT SEALED: {missing} has an encryption key; the exporter's and importer's names and addresses will be readable by every node"
        );
        let fields = draft.fields();
        return Ok(draft.certificate(Parties::Plain(fields)));
    };
    let (salt, entropy) = fresh_randomness();
    let recipients = [(draft.issuing_authority.clone(), issuer_key), importer];
    let sealed = sealed::seal(&draft.number, &draft.fields(), salt, &recipients, entropy)
        .map_err(|e| usage(format!("cannot seal certificate {}: {e}", draft.number)))?;
    Ok(draft.certificate(Parties::Sealed(sealed)))
}

fn fresh_randomness() -> ([u8; SALT_BYTES], [u8; 32]) {
    use rand::RngCore;
    let mut salt = [0u8; SALT_BYTES];
    let mut entropy = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    rand::rngs::OsRng.fill_bytes(&mut entropy);
    (salt, entropy)
}

/// An authority's decryption key from its encryption key file.
pub(super) fn decryption_key(path: &Path) -> Result<DecryptionKey, CliError> {
    let key = keys::read(path)?;
    Ok(DecryptionKey::from_seed(&key.seed()))
}

/// Opens a certificate's sealed fields with a key file.
pub(super) fn open(certificate: &Certificate, key_file: &Path) -> Result<Opened, CliError> {
    let key = decryption_key(key_file)?;
    match &certificate.parties {
        Parties::Plain(fields) => Ok(Opened {
            salt: [0; SALT_BYTES],
            fields: fields.clone(),
        }),
        Parties::Sealed(s) => s.open(&certificate.number, &key).map_err(|e| match e {
            SealError::NotARecipient { .. } => usage(format!(
                "cannot open certificate {}: {e}",
                certificate.number
            )),
            other => usage(format!(
                "cannot open certificate {} with {}: {other}",
                certificate.number,
                key_file.display()
            )),
        }),
    }
}

/// The clear text of sealed fields.
pub(super) fn describe_opened(opened: &Opened, sealed: bool) -> String {
    let f = &opened.fields;
    let mut text = format!(
        "  exporter: {} / {}\n  importer: {} / {}",
        f.exporter.name, f.exporter.address, f.importer.name, f.importer.address
    );
    if !f.details.is_empty() {
        text.push_str(&format!("\n  details: {}", f.details));
    }
    if sealed {
        text.push_str(&format!(
            "\n  salt: {} (opened with your key; matches the envelope's commitment {})",
            hex::encode(opened.salt),
            opened.commitment()
        ));
    }
    text
}

impl Document {
    /// Reads a document file (TOML, or JSON if it ends in `.json`).
    pub fn read(path: &Path) -> Result<Document, CliError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| usage(format!("cannot read document {}: {e}", path.display())))?;
        let parsed = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| e.to_string())
        } else {
            toml::from_str(&text).map_err(|e| e.to_string())
        };
        parsed.map_err(|e| usage(format!("document {}: {e}", path.display())))
    }

    /// Writes the document as TOML.
    pub fn write(&self, path: &Path) -> Result<(), CliError> {
        let text =
            toml::to_string(self).map_err(|e| usage(format!("cannot write the document: {e}")))?;
        let text = format!(
            "# kpledger certificate document: check with `kpledger cert verify {} --document FILE`\n{text}",
            self.number
        );
        std::fs::write(path, text)
            .map_err(|e| usage(format!("cannot write {}: {e}", path.display())))
    }
}

/// The parties of a certificate without a key: the commitment and recipients only.
pub(super) fn describe_parties(parties: &Parties) -> String {
    match parties {
        Parties::Plain(f) => format!(
            "  exporter {} / importer {} (NOT SEALED: readable by every node)",
            f.exporter.name, f.importer.name
        ),
        Parties::Sealed(s) => format!(
            "  exporter, importer, details: SEALED to {} (commitment {}); open with `cert show --key FILE`",
            s.recipients
                .iter()
                .map(|c| c.authority.as_str())
                .collect::<Vec<_>>()
                .join(" and "),
            s.commitment
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed_certificate() -> (Certificate, DecryptionKey) {
        let key = DecryptionKey::from_seed(&[5; 32]);
        let other = DecryptionKey::from_seed(&[6; 32]);
        let mut c = kp_ledger::testkit::certificate(
            "BW0000001",
            "BW",
            "EU",
            kp_ledger::testkit::date(2026, 12, 1),
        );
        let Parties::Plain(fields) = &c.parties else {
            unreachable!()
        };
        let recipients = [
            (c.issuing_authority.clone(), key.public()),
            ("EU-KPA".parse().unwrap(), other.public()),
        ];
        let sealed =
            sealed::seal(&c.number, fields, [8; SALT_BYTES], &recipients, [9; 32]).unwrap();
        c.parties = Parties::Sealed(sealed);
        (c, key)
    }

    #[test]
    fn a_document_matches_its_commitment_and_a_changed_one_does_not() {
        let (c, key) = sealed_certificate();
        let opened = c.parties.sealed().unwrap().open(&c.number, &key).unwrap();
        let document = Document::of(&c.number, &opened);
        let line = document.check(&c).unwrap();
        assert!(line.contains("match the ledger's commitment"), "{line}");
        // Through its file form, as an officer would hold it.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doc.toml");
        document.write(&path).unwrap();
        assert_eq!(Document::read(&path).unwrap(), document);

        let mut renamed = document.clone();
        renamed.importer.name.push('s');
        let why = renamed.check(&c).unwrap_err();
        assert!(
            why.contains("do not match the ledger's commitment"),
            "{why}"
        );
        let mut salted = document.clone();
        salted.salt = hex::encode([0u8; SALT_BYTES]);
        assert!(salted.check(&c).is_err());
        let mut bad_salt = document.clone();
        bad_salt.salt = "zz".into();
        assert!(bad_salt.check(&c).unwrap_err().contains("64 hex digits"));
        let mut other = document;
        other.number = "BW0000002".parse().unwrap();
        assert!(other.check(&c).unwrap_err().contains("BW0000002"));
    }

    #[test]
    fn a_document_with_an_unknown_field_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doc.toml");
        std::fs::write(
            &path,
            "number = \"BW0000001\"\nsalt = \"00\"\nexporter_name = \"x\"\n",
        )
        .unwrap();
        assert!(Document::read(&path).is_err());
    }
}
