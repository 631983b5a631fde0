//! Participants, trading entities, observers and their KP Authorities.

use crate::crypto::PublicKey;
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// Why a code could not be parsed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("invalid {kind} {text:?}: expected {expected}")]
pub struct ParseCodeError {
    kind: &'static str,
    text: String,
    expected: &'static str,
}

impl ParseCodeError {
    pub(crate) fn custom(kind: &'static str, text: &str, expected: &'static str) -> Self {
        ParseCodeError {
            kind,
            text: text.chars().take(40).collect(),
            expected,
        }
    }
}

macro_rules! code_type {
    ($name:ident, $doc:literal, $kind:literal, $expected:literal, $valid:expr) => {
        #[doc = $doc]
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
        #[serde(try_from = "String")]
        pub struct $name(String);

        // As a string, like `into = "String"` but without a copy per
        // encoding (every certificate encodes several codes, every hash
        // encodes the certificate).
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl $name {
            /// Parses and validates a code.
            pub fn new(text: &str) -> Result<Self, ParseCodeError> {
                #[allow(clippy::redundant_closure_call)]
                if ($valid)(text) {
                    Ok($name(text.to_string()))
                } else {
                    Err(ParseCodeError {
                        kind: $kind,
                        text: text.chars().take(32).collect(),
                        expected: $expected,
                    })
                }
            }
            /// The code as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ParseCodeError;
            fn try_from(text: String) -> Result<Self, ParseCodeError> {
                $name::new(&text)
            }
        }

        impl From<$name> for String {
            fn from(code: $name) -> String {
                code.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = ParseCodeError;
            fn from_str(text: &str) -> Result<Self, ParseCodeError> {
                $name::new(text)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

fn upper_letters(text: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_uppercase())
}

code_type!(
    ParticipantCode,
    "A Participant's, trading entity's or observer's code: `BW`, `EU`, `TW`, `WDC`.",
    "participant code",
    "2 to 5 upper-case letters",
    |t: &str| upper_letters(t, 2, 5)
);

code_type!(
    Territory,
    "An ISO 3166-1 alpha-2 territory code: `BW`, `BE`.",
    "territory code",
    "2 upper-case letters (ISO 3166-1 alpha-2)",
    |t: &str| upper_letters(t, 2, 2)
);

code_type!(
    AuthorityId,
    "A KP Authority's identifier, unique on the ledger: `BW-MMGE`.",
    "authority id",
    "3 to 32 characters of A-Z, 0-9 and '-'",
    |t: &str| (3..=32).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
);

/// What a member of the scheme is, and so what it may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ParticipantKind {
    /// A government Participant: trades, validates, signs every resolution.
    Government,
    /// A trading entity (Chinese Taipei): trades, neither validates nor signs.
    TradingEntity,
    /// An observer: replicates and verifies, neither trades nor signs.
    Observer,
}

impl ParticipantKind {
    /// Whether members of this kind may issue and receive certificates.
    pub fn trades(self) -> bool {
        matches!(
            self,
            ParticipantKind::Government | ParticipantKind::TradingEntity
        )
    }
}

/// A member of the scheme as the ledger lists it.
///
/// Its keys have three roles (`docs/adr/0008-government-keys-and-recovery.md`):
/// the node key votes and identifies the node; the government key acts for
/// the government (resolutions, the authority registry, monitor approvals,
/// key rotations); the recovery key, kept cold, can only replace the
/// government key after a delay during which the government key can cancel.
///
/// In a human-readable form (a TOML genesis, JSON) `government_key` may be
/// left out and then equals `node_key`: genesis files written before the
/// roles were split keep their meaning. The binary form always carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Participant {
    /// Its code (`BW`, `EU`, `TW`, `WDC`).
    pub code: ParticipantCode,
    /// Government, trading entity or observer.
    pub kind: ParticipantKind,
    /// Its name.
    pub name: String,
    /// The territories whose alpha-2 codes prefix its certificate numbers
    /// (a country: itself; the EU: its member states). Empty for observers.
    pub territories: Vec<Territory>,
    /// The key of its node (the consensus key): signs consensus messages and
    /// is its libp2p identity.
    pub node_key: PublicKey,
    /// The key that acts for the government: proposes, signs and objects to
    /// resolutions, registers and revokes authorities, approves as monitor,
    /// rotates keys, cancels a recovery. May equal `node_key` (a genesis
    /// written before the roles were split).
    pub government_key: PublicKey,
    /// The cold key that can begin a recovery of the government key, if one
    /// is registered.
    pub recovery_key: Option<PublicKey>,
}

/// The form a participant takes in each format: the binary form is strict,
/// a human-readable one may leave `government_key` out (then the node key).
#[derive(Deserialize)]
#[serde(rename = "Participant")]
struct ParticipantStrict {
    code: ParticipantCode,
    kind: ParticipantKind,
    name: String,
    territories: Vec<Territory>,
    node_key: PublicKey,
    government_key: PublicKey,
    recovery_key: Option<PublicKey>,
}

#[derive(Deserialize)]
#[serde(rename = "Participant", deny_unknown_fields)]
struct ParticipantText {
    code: ParticipantCode,
    kind: ParticipantKind,
    name: String,
    territories: Vec<Territory>,
    node_key: PublicKey,
    #[serde(default)]
    government_key: Option<PublicKey>,
    #[serde(default)]
    recovery_key: Option<PublicKey>,
}

impl<'de> Deserialize<'de> for Participant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let p = ParticipantText::deserialize(d)?;
            Ok(Participant {
                government_key: p.government_key.unwrap_or(p.node_key),
                code: p.code,
                kind: p.kind,
                name: p.name,
                territories: p.territories,
                node_key: p.node_key,
                recovery_key: p.recovery_key,
            })
        } else {
            let p = ParticipantStrict::deserialize(d)?;
            Ok(Participant {
                code: p.code,
                kind: p.kind,
                name: p.name,
                territories: p.territories,
                node_key: p.node_key,
                government_key: p.government_key,
                recovery_key: p.recovery_key,
            })
        }
    }
}

/// The role of one of a member's keys, as a rotation names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum KeyRole {
    /// The node key: votes, identifies the node on the network.
    Consensus,
    /// The government key: acts for the government.
    Government,
    /// The cold recovery key.
    Recovery,
}

impl KeyRole {
    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            KeyRole::Consensus => "consensus",
            KeyRole::Government => "government",
            KeyRole::Recovery => "recovery",
        }
    }
}

impl std::str::FromStr for KeyRole {
    type Err = ParseCodeError;
    fn from_str(text: &str) -> Result<Self, ParseCodeError> {
        match text {
            "consensus" => Ok(KeyRole::Consensus),
            "government" => Ok(KeyRole::Government),
            "recovery" => Ok(KeyRole::Recovery),
            _ => Err(ParseCodeError::custom(
                "key role",
                text,
                "consensus, government or recovery",
            )),
        }
    }
}

/// A KP Authority: an office that issues and receives certificates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Authority {
    /// Ledger-wide identifier.
    pub id: AuthorityId,
    /// The Participant it belongs to.
    pub participant: ParticipantCode,
    /// The office's name.
    pub name: String,
    /// The key it signs certificates, confirmations, voids and reports with.
    pub key: PublicKey,
    /// The X25519 key certificates' sealed fields are encrypted to (ADR
    /// 0011). Absent: certificates it issues or receives stay in the clear.
    #[serde(default)]
    pub encryption_key: Option<crate::sealed::EncryptionKey>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_validate() {
        assert!(ParticipantCode::new("BW").is_ok());
        assert!(ParticipantCode::new("ADPA").is_ok());
        assert!(ParticipantCode::new("bw").is_err());
        assert!(ParticipantCode::new("B").is_err());
        assert!(Territory::new("BEL").is_err());
        assert!(AuthorityId::new("BW-MMGE").is_ok());
        assert!(AuthorityId::new("bw mmge").is_err());
        assert!(serde_json::from_str::<ParticipantCode>("\"x1\"").is_err());
        let bin = crate::encode(&ParticipantCode::new("EU").unwrap());
        assert!(crate::decode::<Territory>(&bin, 64).is_ok());
        let bad = crate::encode(&"e1".to_string());
        assert!(crate::decode::<Territory>(&bad, 64).is_err());
    }

    fn key(seed: u8) -> PublicKey {
        crate::SigningKey::from_seed([seed; 32]).public()
    }

    #[test]
    fn government_key_defaults_to_node_key_in_text_only() {
        let node = key(1);
        let json = format!(
            r#"{{"code":"BW","kind":"government","name":"Botswana","territories":["BW"],"node_key":"{node}"}}"#
        );
        let p: Participant = serde_json::from_str(&json).unwrap();
        assert_eq!(p.government_key, node);
        assert_eq!(p.recovery_key, None);
        let separate = Participant {
            government_key: key(2),
            recovery_key: Some(key(3)),
            ..p.clone()
        };
        let back: Participant =
            serde_json::from_str(&serde_json::to_string(&separate).unwrap()).unwrap();
        assert_eq!(back, separate);
        let bin = crate::encode(&separate);
        assert_eq!(crate::decode::<Participant>(&bin, 1024).unwrap(), separate);
        // The binary form has no default: a record without the key does not decode.
        assert!(crate::decode::<Participant>(&bin[..bin.len() - 33], 1024).is_err());
    }
}
