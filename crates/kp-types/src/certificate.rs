//! The KP certificate (Core Document, Annex I) and the acts that follow it:
//! import confirmation, void, monitor approval, seizure and production reports.

use crate::amount::{Carats, UsdCents};
use crate::participant::{AuthorityId, ParticipantCode, Territory};
use crate::sealed::Parties;
use crate::time::{Date, Period};
use serde::{Deserialize, Serialize};
use std::fmt;

pub use crate::participant::ParseCodeError;

/// A certificate number: the alpha-2 code of the issuing territory, then 1 to
/// 30 characters of `A-Z`, `0-9` and `-`: `BW0012345`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct CertificateNumber(String);

// As a string, without the copy `into = "String"` makes per encoding.
impl Serialize for CertificateNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl CertificateNumber {
    /// Parses and validates a number's shape (not its prefix's owner).
    pub fn new(text: &str) -> Result<Self, ParseCodeError> {
        let bytes = text.as_bytes();
        let ok = (3..=32).contains(&bytes.len())
            && bytes[..2].iter().all(|b| b.is_ascii_uppercase())
            && bytes[2..]
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'-');
        if ok {
            Ok(CertificateNumber(text.to_string()))
        } else {
            Err(ParseCodeError::certificate_number(text))
        }
    }

    /// The territory named by the first two letters.
    pub fn territory_prefix(&self) -> Territory {
        // The constructor guarantees two upper-case letters.
        Territory::new(&self.0[..2]).unwrap_or_else(|_| unreachable_prefix())
    }

    /// The number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cold]
#[allow(clippy::panic)]
fn unreachable_prefix() -> Territory {
    panic!("certificate number invariant broken: prefix is not two letters")
}

impl ParseCodeError {
    fn certificate_number(text: &str) -> Self {
        ParseCodeError::custom(
            "certificate number",
            text,
            "the issuing territory's alpha-2 code then 1-30 of A-Z, 0-9, '-'",
        )
    }
}

impl TryFrom<String> for CertificateNumber {
    type Error = ParseCodeError;
    fn try_from(text: String) -> Result<Self, ParseCodeError> {
        CertificateNumber::new(&text)
    }
}

impl From<CertificateNumber> for String {
    fn from(n: CertificateNumber) -> String {
        n.0
    }
}

impl std::str::FromStr for CertificateNumber {
    type Err = ParseCodeError;
    fn from_str(text: &str) -> Result<Self, ParseCodeError> {
        CertificateNumber::new(text)
    }
}

impl fmt::Display for CertificateNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CertificateNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Harmonized System code as written on the certificate (`7102.10`).
/// Any text is representable so that the ledger can refuse non-rough codes with
/// its own reason; [`HsCode::is_rough`] says whether the scheme covers it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct HsCode(pub String);

impl HsCode {
    /// Unsorted rough diamonds.
    pub const UNSORTED: &'static str = "7102.10";
    /// Industrial rough diamonds, unworked or simply sawn, cleaved or bruted.
    pub const INDUSTRIAL: &'static str = "7102.21";
    /// Non-industrial (gem) rough diamonds, unworked or simply sawn, cleaved or bruted.
    pub const GEM: &'static str = "7102.31";
    /// The three codes of rough diamonds under the scheme.
    pub const ROUGH: [&'static str; 3] = [Self::UNSORTED, Self::INDUSTRIAL, Self::GEM];

    /// A code from text.
    pub fn new(code: &str) -> HsCode {
        HsCode(code.to_string())
    }

    /// Whether this is one of the rough-diamond codes the scheme covers.
    pub fn is_rough(&self) -> bool {
        Self::ROUGH.contains(&self.0.as_str())
    }
}

/// An exporter or importer: name and address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Party {
    /// Legal name.
    pub name: String,
    /// Postal address.
    pub address: String,
}

/// Where the stones were mined.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// A parcel of mixed origin.
    Mixed,
    /// One or more countries of mining.
    Countries(Vec<Territory>),
}

/// One line of the certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct CertificateLine {
    /// HS code; only rough-diamond codes are accepted.
    pub hs_code: HsCode,
    /// Weight, in hundredths of a carat.
    pub carats: Carats,
    /// Value in US cents.
    pub value_usd: UsdCents,
    /// Number of parcels.
    pub parcels: u32,
}

/// A KP certificate as issued: every field of Annex I.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Certificate {
    /// Unique number, prefixed by the issuing territory's alpha-2 code.
    pub number: CertificateNumber,
    /// The exporting Participant.
    pub exporting: ParticipantCode,
    /// The issuing KP Authority (it signs the transaction).
    pub issuing_authority: AuthorityId,
    /// The importing Participant.
    pub importing: ParticipantCode,
    /// The destination territory, one of the importing Participant's.
    pub destination: Territory,
    /// Exporter's and importer's names and addresses and the parcels'
    /// commercial details: sealed to the two authorities (ADR 0011), or in
    /// the clear where they have no encryption keys.
    pub parties: Parties,
    /// Country or countries of mining, or mixed.
    pub origin: Origin,
    /// Sub-national origin zones (needed where a sanction lists green zones).
    #[serde(default)]
    pub origin_zones: Vec<String>,
    /// One or more lines.
    pub lines: Vec<CertificateLine>,
    /// Date of issue.
    pub issued_on: Date,
    /// Date of expiry.
    pub expires_on: Date,
}

impl Certificate {
    /// Total carats over all lines (saturating).
    pub fn total_carats(&self) -> Carats {
        self.lines
            .iter()
            .fold(Carats(0), |sum, line| sum.saturating_add(line.carats))
    }

    /// Total value over all lines (saturating).
    pub fn total_value(&self) -> UsdCents {
        self.lines
            .iter()
            .fold(UsdCents(0), |sum, line| sum.saturating_add(line.value_usd))
    }

    /// Total parcels over all lines (saturating).
    pub fn total_parcels(&self) -> u32 {
        self.lines
            .iter()
            .fold(0u32, |sum, line| sum.saturating_add(line.parcels))
    }
}

/// The importing authority's return slip: what arrived.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ImportConfirmation {
    /// The certificate.
    pub number: CertificateNumber,
    /// The confirming authority of the importing Participant (the signer).
    pub authority: AuthorityId,
    /// Carats received.
    pub carats: Carats,
    /// Parcels received.
    pub parcels: u32,
    /// Date of receipt.
    pub received_on: Date,
}

/// Cancellation by the issuing side before confirmation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct VoidCertificate {
    /// The certificate.
    pub number: CertificateNumber,
    /// The voiding authority of the exporting Participant (the signer).
    pub authority: AuthorityId,
    /// Why it is voided.
    pub reason: String,
}

/// A monitoring body's approval of a certificate issued under a partial-export
/// sanction that requires one (signed by the monitor's node key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct CertificateApproval {
    /// The certificate.
    pub number: CertificateNumber,
    /// The monitoring body named by the sanction.
    pub monitor: ParticipantCode,
}

/// Why customs seized a shipment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum SeizureReason {
    /// No certificate accompanied the shipment.
    NoCertificate,
    /// The certificate presented was forged.
    ForgedCertificate,
    /// The contents did not match the certificate.
    ContentsMismatch,
    /// The stones came from a sanctioned origin.
    SanctionedOrigin,
}

/// A customs seizure of rough diamonds, reported to every Participant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SeizureReport {
    /// The reporting authority (the signer).
    pub authority: AuthorityId,
    /// Territory where the seizure took place.
    pub territory: Territory,
    /// Place (port, airport, border post).
    pub location: String,
    /// Carats seized.
    pub carats: Carats,
    /// Value if known.
    pub value_usd: Option<UsdCents>,
    /// Why.
    pub reason: SeizureReason,
    /// The certificate presented, if any.
    pub certificate: Option<CertificateNumber>,
    /// Date of the seizure.
    pub seized_on: Date,
}

/// A half-yearly production report (Annex III).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ProductionReport {
    /// The reporting authority (the signer).
    pub authority: AuthorityId,
    /// The half-year reported (`2026H1`).
    pub period: Period,
    /// Carats produced.
    pub carats: Carats,
    /// Value produced.
    pub value_usd: UsdCents,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_validate() {
        let n = CertificateNumber::new("BW0012345").unwrap();
        assert_eq!(n.territory_prefix().as_str(), "BW");
        for bad in ["BW", "bw001", "B10001", "BW 001", &"X".repeat(33)] {
            assert!(CertificateNumber::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rough_codes() {
        assert!(HsCode::new("7102.31").is_rough());
        assert!(!HsCode::new("7103.10").is_rough());
    }
}
