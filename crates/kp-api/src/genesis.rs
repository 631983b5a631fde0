//! The genesis document: who is in the scheme on day one, and the parameters.
//!
//! Read from TOML (`Genesis::from_toml`), checked (`Genesis::validate`) and
//! identified by the domain-separated hash of its canonical encoding
//! (`Genesis::hash`), which the ledger stores so that a node never resumes a
//! store that belongs to another chain.

use crate::params::Params;
use kp_types::{
    Authority, Domain, Hash, Participant, ParticipantCode, ParticipantKind, PublicKey, Timestamp,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

/// Why a genesis document is refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum GenesisError {
    /// The TOML does not parse into a genesis document.
    #[error("genesis TOML does not parse: {detail}")]
    Parse {
        /// The parser's complaint.
        detail: String,
    },
    /// The chain id is empty or too long.
    #[error("chain id {chain_id:?} must be 1 to 64 bytes")]
    ChainId {
        /// The chain id.
        chain_id: String,
    },
    /// Two members share a code.
    #[error("participant code {code} listed twice")]
    DuplicateParticipant {
        /// The code.
        code: ParticipantCode,
    },
    /// Two members or authorities share a key.
    #[error("key {key} used twice")]
    DuplicateKey {
        /// The key.
        key: PublicKey,
    },
    /// A member's or authority's key is of small order or no curve point
    /// ([`kp_types::PublicKey::is_weak`]).
    #[error("key {key} is of small order or not a curve point")]
    WeakKey {
        /// The key.
        key: PublicKey,
    },
    /// An authority's encryption key is of small order or not an X25519 key.
    #[error("authority {id}'s encryption key is of small order or not an X25519 key")]
    WeakEncryptionKey {
        /// The authority.
        id: String,
    },
    /// Two members claim a territory.
    #[error("territory {territory} claimed twice")]
    DuplicateTerritory {
        /// The territory.
        territory: String,
    },
    /// A trading member lists no territory, or an observer lists some.
    #[error("participant {code}: territories do not fit its kind")]
    Territories {
        /// The member.
        code: ParticipantCode,
    },
    /// There is no government Participant, so no validator.
    #[error("genesis lists no government Participant")]
    NoGovernment,
    /// The Chair or Vice Chair is not a government Participant of the genesis.
    #[error("chair or vice chair {code} is not a government Participant")]
    Chair {
        /// The code.
        code: ParticipantCode,
    },
    /// Two authorities share an id.
    #[error("authority {id} listed twice")]
    DuplicateAuthority {
        /// The id.
        id: String,
    },
    /// An authority belongs to an unknown or non-trading member.
    #[error("authority {id} belongs to {participant}, which is not a trading member")]
    AuthorityOwner {
        /// The authority.
        id: String,
        /// Its claimed owner.
        participant: ParticipantCode,
    },
    /// A parameter makes no sense.
    #[error("parameter: {reason}")]
    Params {
        /// Which and why.
        reason: &'static str,
    },
    /// Too many members or authorities for one genesis.
    #[error("genesis lists {count} {what}; at most {max}")]
    TooMany {
        /// What is counted.
        what: &'static str,
        /// How many.
        count: usize,
        /// The bound.
        max: usize,
    },
}

/// Most members a genesis (and the ledger) lists.
pub const PARTICIPANTS_MAX: usize = 1_000;
/// Most authorities a genesis lists.
pub const GENESIS_AUTHORITIES_MAX: usize = 10_000;
/// Most authorities one member may register (revoked ones included), in
/// genesis and after. Small enough that a member's whole list fits in one
/// records proof beside its record, its count and the genesis record, so a
/// light client can see the list complete.
pub const AUTHORITIES_PER_PARTICIPANT_MAX: usize = 256;
const _: () = assert!(AUTHORITIES_PER_PARTICIPANT_MAX + 3 <= crate::proof::PROOF_RECORDS_MAX);

/// The genesis document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Genesis {
    /// The chain's identity; every transaction and block names it.
    pub chain_id: String,
    /// Time of the genesis state; the first block's time must be later.
    pub genesis_time: Timestamp,
    /// The Chair serving at genesis.
    pub chair: ParticipantCode,
    /// The Vice Chair at genesis, who becomes Chair on the next 1 January.
    #[serde(default)]
    pub vice_chair: Option<ParticipantCode>,
    /// Parameters.
    #[serde(default)]
    pub params: Params,
    /// Governments, trading entities and observers (observers are
    /// Participants of kind `observer`).
    pub participants: Vec<Participant>,
    /// KP Authorities registered at genesis.
    #[serde(default)]
    pub authorities: Vec<Authority>,
}

impl Genesis {
    /// Parses a TOML genesis document and validates it.
    pub fn from_toml(text: &str) -> Result<Genesis, GenesisError> {
        let genesis: Genesis = toml::from_str(text).map_err(|e| GenesisError::Parse {
            detail: e.to_string(),
        })?;
        genesis.validate()?;
        Ok(genesis)
    }

    /// The document as TOML (round-trips through [`Genesis::from_toml`]).
    pub fn to_toml(&self) -> String {
        // Every field serializes to TOML (strings, integers, arrays of tables);
        // a failure would be a bug in this type, so fall back to an empty text
        // that `from_toml` refuses rather than panicking.
        toml::to_string(self).unwrap_or_default()
    }

    /// The genesis identity: hash of its canonical binary encoding.
    pub fn hash(&self) -> Hash {
        Hash::of_parts(
            Domain::Document,
            &[b"kpledger genesis v1", &kp_types::encode(self)],
        )
    }

    /// Checks the document's internal consistency.
    pub fn validate(&self) -> Result<(), GenesisError> {
        if self.chain_id.is_empty() || self.chain_id.len() > 64 {
            return Err(GenesisError::ChainId {
                chain_id: self.chain_id.chars().take(80).collect(),
            });
        }
        self.params
            .check()
            .map_err(|reason| GenesisError::Params { reason })?;
        if self.participants.len() > PARTICIPANTS_MAX {
            return Err(GenesisError::TooMany {
                what: "participants",
                count: self.participants.len(),
                max: PARTICIPANTS_MAX,
            });
        }
        if self.authorities.len() > GENESIS_AUTHORITIES_MAX {
            return Err(GenesisError::TooMany {
                what: "authorities",
                count: self.authorities.len(),
                max: GENESIS_AUTHORITIES_MAX,
            });
        }
        let mut codes = BTreeSet::new();
        let mut keys = BTreeSet::new();
        let mut territories = BTreeSet::new();
        for p in &self.participants {
            if !codes.insert(p.code.clone()) {
                return Err(GenesisError::DuplicateParticipant {
                    code: p.code.clone(),
                });
            }
            if p.node_key.is_weak() {
                return Err(GenesisError::WeakKey { key: p.node_key });
            }
            if !keys.insert(p.node_key) {
                return Err(GenesisError::DuplicateKey { key: p.node_key });
            }
            // The government key may be the member's own node key (a genesis
            // written before the roles were split), never anyone else's key.
            let mut own_keys = vec![p.government_key];
            own_keys.extend(p.recovery_key);
            for (i, key) in own_keys.into_iter().enumerate() {
                let shares_node_key = i == 0 && key == p.node_key;
                if shares_node_key {
                    continue;
                }
                if key.is_weak() {
                    return Err(GenesisError::WeakKey { key });
                }
                if !keys.insert(key) {
                    return Err(GenesisError::DuplicateKey { key });
                }
            }
            if p.kind.trades() == p.territories.is_empty() {
                return Err(GenesisError::Territories {
                    code: p.code.clone(),
                });
            }
            for t in &p.territories {
                if !territories.insert(t.clone()) {
                    return Err(GenesisError::DuplicateTerritory {
                        territory: t.to_string(),
                    });
                }
            }
        }
        let is_government = |code: &ParticipantCode| {
            self.participants
                .iter()
                .any(|p| &p.code == code && p.kind == ParticipantKind::Government)
        };
        if !self
            .participants
            .iter()
            .any(|p| p.kind == ParticipantKind::Government)
        {
            return Err(GenesisError::NoGovernment);
        }
        for code in std::iter::once(&self.chair).chain(self.vice_chair.iter()) {
            if !is_government(code) {
                return Err(GenesisError::Chair { code: code.clone() });
            }
        }
        let mut ids = BTreeSet::new();
        let mut per_member: BTreeMap<&ParticipantCode, usize> = BTreeMap::new();
        for a in &self.authorities {
            let n = per_member.entry(&a.participant).or_default();
            *n += 1;
            if *n > AUTHORITIES_PER_PARTICIPANT_MAX {
                return Err(GenesisError::TooMany {
                    what: "authorities of one member",
                    count: *n,
                    max: AUTHORITIES_PER_PARTICIPANT_MAX,
                });
            }
            if !ids.insert(a.id.clone()) {
                return Err(GenesisError::DuplicateAuthority {
                    id: a.id.to_string(),
                });
            }
            if a.key.is_weak() {
                return Err(GenesisError::WeakKey { key: a.key });
            }
            if a.encryption_key.is_some_and(|k| k.is_weak()) {
                return Err(GenesisError::WeakEncryptionKey {
                    id: a.id.to_string(),
                });
            }
            if !keys.insert(a.key) {
                return Err(GenesisError::DuplicateKey { key: a.key });
            }
            let owner_trades = self
                .participants
                .iter()
                .any(|p| p.code == a.participant && p.kind.trades());
            if !owner_trades {
                return Err(GenesisError::AuthorityOwner {
                    id: a.id.to_string(),
                    participant: a.participant.clone(),
                });
            }
        }
        Ok(())
    }
}
