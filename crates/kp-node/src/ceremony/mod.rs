//! The genesis ceremony: a draft genesis that the coordinator starts
//! (`genesis init`), to which each government adds its own entry with its
//! own public keys (`genesis add-participant`, `genesis add-authority`),
//! and whose final hash every government signs (`genesis sign`) before any
//! node starts. `genesis verify-signatures` says whether every government
//! signed: one missing signature and the genesis is not agreed, as with
//! every other act of absolute consensus.
//!
//! A draft is a genesis file that may not validate yet (no government, a
//! chair not yet added); each command reads it, changes one thing, checks
//! what it can, and writes it back whole (comments are not kept). Only
//! public keys ever enter the file: a key argument is a key file (its
//! public half is taken) or 64 hex digits of a public key, so a government
//! whose keys stay offline passes their public halves.

use kp_api::genesis::AUTHORITIES_PER_PARTICIPANT_MAX;
use kp_api::{Genesis, Params};
use kp_types::{
    Authority, DecryptionKey, Domain, EncryptionKey, Hash, Participant, ParticipantCode,
    ParticipantKind, PublicKey, Signature, SigningKey, Territory, Timestamp,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Largest genesis or signature file read.
const FILE_BYTES_MAX: u64 = 16 * 1024 * 1024;
/// Most signature files one check reads.
pub const SIGNATURES_MAX: usize = 1_000;

/// What a ceremony step can fail on.
#[derive(Debug, Error)]
pub enum CeremonyError {
    /// A file cannot be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is larger than any genesis or signature.
    #[error("{path}: {len} bytes; at most {FILE_BYTES_MAX}")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        len: u64,
    },
    /// A file does not parse.
    #[error("{path}: {detail}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// An argument is wrong.
    #[error("{0}")]
    Usage(String),
    /// The genesis breaks a rule a node applies.
    #[error("the genesis is not valid yet: {0}")]
    Invalid(#[from] kp_api::genesis::GenesisError),
}

fn usage(text: impl Into<String>) -> CeremonyError {
    CeremonyError::Usage(text.into())
}

fn read_text(path: &Path) -> Result<String, CeremonyError> {
    let io = |action, source| CeremonyError::Io {
        action,
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(|e| io("read", e))?.len();
    if len > FILE_BYTES_MAX {
        return Err(CeremonyError::TooLarge {
            path: path.to_path_buf(),
            len,
        });
    }
    std::fs::read_to_string(path).map_err(|e| io("read", e))
}

/// Reads a TOML file of the ceremony (a draft, a sign-off).
fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, CeremonyError> {
    let text = read_text(path)?;
    toml::from_str(&text).map_err(|e| CeremonyError::Parse {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

/// Reads a draft genesis: parsed, not validated.
pub fn read_draft(path: &Path) -> Result<Genesis, CeremonyError> {
    read_toml(path)
}

/// Writes a draft genesis (through a temporary file, then a rename).
pub fn write_draft(path: &Path, genesis: &Genesis) -> Result<(), CeremonyError> {
    let text = toml::to_string(genesis).map_err(|e| usage(format!("genesis to TOML: {e}")))?;
    let tmp = path.with_extension("toml.tmp");
    let io = |action, source| CeremonyError::Io {
        action,
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, text).map_err(|e| io("write", e))?;
    std::fs::rename(&tmp, path).map_err(|e| io("write", e))
}

/// A public key from a key file or from 64 hex digits.
pub fn public_key(arg: &str) -> Result<PublicKey, CeremonyError> {
    let path = Path::new(arg);
    if !path.exists() {
        if let Some(key) = PublicKey::from_hex(arg) {
            return Ok(key);
        }
        return Err(usage(format!(
            "{arg}: neither a key file nor 64 hex digits of a public key"
        )));
    }
    crate::keys::public_of(path).map_err(|e| usage(format!("{arg}: {e}")))
}

/// An authority's encryption (X25519) key from its key file or 64 hex digits.
pub fn encryption_key(arg: &str) -> Result<EncryptionKey, CeremonyError> {
    let path = Path::new(arg);
    let key = if path.exists() {
        let key = crate::keys::read(path).map_err(|e| usage(format!("{arg}: {e}")))?;
        DecryptionKey::from_seed(&key.seed()).public()
    } else {
        EncryptionKey::from_hex(arg).ok_or_else(|| {
            usage(format!(
                "{arg}: neither a key file nor 64 hex digits of an encryption key"
            ))
        })?
    };
    if key.is_weak() {
        return Err(usage(format!("{arg}: a weak (small-order) encryption key")));
    }
    Ok(key)
}

/// `genesis init`: a draft with the network's identity and default
/// parameters, and no member yet.
pub fn init(
    chain_id: &str,
    genesis_time: Timestamp,
    chair: ParticipantCode,
    vice_chair: Option<ParticipantCode>,
) -> Genesis {
    Genesis {
        chain_id: chain_id.to_string(),
        genesis_time,
        chair,
        vice_chair,
        params: Params::default(),
        participants: Vec::new(),
        authorities: Vec::new(),
    }
}

/// A member's entry for `genesis add-participant`.
#[derive(Clone, Debug)]
pub struct NewParticipant {
    /// Its code.
    pub code: ParticipantCode,
    /// Its kind.
    pub kind: ParticipantKind,
    /// Its name.
    pub name: String,
    /// Its territories (none for an observer).
    pub territories: Vec<Territory>,
    /// Its node's (consensus) key.
    pub node_key: PublicKey,
    /// Its government key (else the node key).
    pub government_key: Option<PublicKey>,
    /// Its cold recovery key.
    pub recovery_key: Option<PublicKey>,
}

/// `genesis add-participant`: adds one member. Refuses a code, key or
/// territory already in the draft; the other rules are checked when the
/// draft validates.
pub fn add_participant(genesis: &mut Genesis, p: NewParticipant) -> Result<(), CeremonyError> {
    if genesis.participants.iter().any(|q| q.code == p.code) {
        return Err(usage(format!(
            "{} is already in this genesis; to change its entry, edit the file or start again",
            p.code
        )));
    }
    let keys: Vec<PublicKey> = [Some(p.node_key), p.government_key, p.recovery_key]
        .into_iter()
        .flatten()
        .collect();
    for q in &genesis.participants {
        let theirs = [Some(q.node_key), Some(q.government_key), q.recovery_key];
        if let Some(k) = keys.iter().find(|k| theirs.contains(&Some(**k))) {
            return Err(usage(format!("key {k} is already {}'s", q.code)));
        }
        if let Some(t) = p.territories.iter().find(|t| q.territories.contains(t)) {
            return Err(usage(format!("territory {t} is already {}'s", q.code)));
        }
    }
    if p.recovery_key
        .is_some_and(|r| r == p.government_key.unwrap_or(p.node_key))
    {
        return Err(usage(
            "the recovery key must differ from the government key: it replaces that key when it is lost",
        ));
    }
    genesis.participants.push(Participant {
        code: p.code,
        kind: p.kind,
        name: p.name,
        territories: p.territories,
        node_key: p.node_key,
        government_key: p.government_key.unwrap_or(p.node_key),
        recovery_key: p.recovery_key,
    });
    Ok(())
}

/// `genesis add-authority`: registers one KP Authority of a member already
/// in the draft.
pub fn add_authority(genesis: &mut Genesis, a: Authority) -> Result<(), CeremonyError> {
    let Some(owner) = genesis
        .participants
        .iter()
        .find(|p| p.code == a.participant)
    else {
        return Err(usage(format!(
            "{} is not in this genesis yet: add the participant first",
            a.participant
        )));
    };
    if !owner.kind.trades() {
        return Err(usage(format!(
            "{} is an observer: only trading members have KP Authorities",
            a.participant
        )));
    }
    if genesis.authorities.iter().any(|b| b.id == a.id) {
        return Err(usage(format!(
            "authority {} is already in this genesis",
            a.id
        )));
    }
    let owned = genesis
        .authorities
        .iter()
        .filter(|b| b.participant == a.participant)
        .count();
    if owned >= AUTHORITIES_PER_PARTICIPANT_MAX {
        return Err(usage(format!(
            "{} has {owned} authorities; at most {AUTHORITIES_PER_PARTICIPANT_MAX}",
            a.participant
        )));
    }
    genesis.authorities.push(a);
    Ok(())
}

/// A government's sign-off of a genesis: its signature over the genesis
/// hash, with who signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignOff {
    /// The network.
    pub chain_id: String,
    /// The genesis signed.
    pub genesis_hash: Hash,
    /// The government that signs.
    pub participant: ParticipantCode,
    /// Its government key in the genesis.
    pub key: PublicKey,
    /// The signature over [`sign_off_message`].
    pub signature: Signature,
}

/// What a government signs: the genesis hash, in a domain of its own.
pub fn sign_off_message(genesis_hash: &Hash) -> Hash {
    Hash::of_parts(
        Domain::Document,
        &[b"kpledger genesis sign-off v1", &genesis_hash.0],
    )
}

/// `genesis sign`: the sign-off of `participant` with `key`, which must be
/// its government key in this genesis. The genesis must validate.
pub fn sign(
    genesis: &Genesis,
    participant: &ParticipantCode,
    key: &SigningKey,
) -> Result<SignOff, CeremonyError> {
    genesis.validate()?;
    let member = genesis
        .participants
        .iter()
        .find(|p| &p.code == participant)
        .ok_or_else(|| usage(format!("{participant} is not in this genesis")))?;
    if member.kind != ParticipantKind::Government {
        return Err(usage(format!(
            "{participant} is not a government: only governments sign the genesis"
        )));
    }
    if member.government_key != key.public() {
        return Err(usage(format!(
            "this key ({}) is not {participant}'s government key in this genesis ({})",
            key.public(),
            member.government_key
        )));
    }
    let genesis_hash = genesis.hash();
    Ok(SignOff {
        chain_id: genesis.chain_id.clone(),
        genesis_hash,
        participant: participant.clone(),
        key: key.public(),
        signature: key.sign(&sign_off_message(&genesis_hash)),
    })
}

/// Reads a sign-off file.
pub fn read_sign_off(path: &Path) -> Result<SignOff, CeremonyError> {
    read_toml(path)
}

/// Writes a sign-off file.
pub fn write_sign_off(path: &Path, s: &SignOff) -> Result<(), CeremonyError> {
    let text = toml::to_string(s).map_err(|e| usage(format!("sign-off to TOML: {e}")))?;
    std::fs::write(path, text).map_err(|source| CeremonyError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    })
}

/// What `genesis verify-signatures` found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// The genesis hash.
    pub genesis_hash: Hash,
    /// Governments whose valid sign-off was given.
    pub signed: Vec<ParticipantCode>,
    /// Governments that have not signed.
    pub missing: Vec<ParticipantCode>,
    /// Sign-offs refused, with why.
    pub refused: Vec<String>,
}

impl Tally {
    /// Whether every government signed and no sign-off was refused.
    pub fn agreed(&self) -> bool {
        self.missing.is_empty() && self.refused.is_empty() && !self.signed.is_empty()
    }
}

/// Checks `sign_offs` against the genesis: each must be a government's,
/// with its government key, over this genesis hash, with a valid
/// signature. A refused one is listed, never counted.
pub fn tally(genesis: &Genesis, sign_offs: &[(String, SignOff)]) -> Result<Tally, CeremonyError> {
    genesis.validate()?;
    let genesis_hash = genesis.hash();
    let message = sign_off_message(&genesis_hash);
    let mut tally = Tally {
        genesis_hash,
        ..Tally::default()
    };
    for (source, s) in sign_offs.iter().take(SIGNATURES_MAX) {
        let refuse = |why: String| format!("{source}: {why}");
        if s.chain_id != genesis.chain_id || s.genesis_hash != genesis_hash {
            tally.refused.push(refuse(format!(
                "signs genesis {} of chain {}, not this one ({genesis_hash})",
                s.genesis_hash, s.chain_id
            )));
            continue;
        }
        let Some(member) = genesis
            .participants
            .iter()
            .find(|p| p.code == s.participant && p.kind == ParticipantKind::Government)
        else {
            tally.refused.push(refuse(format!(
                "{} is not a government of this genesis",
                s.participant
            )));
            continue;
        };
        if member.government_key != s.key {
            tally.refused.push(refuse(format!(
                "signed with {}, not {}'s government key",
                s.key, s.participant
            )));
            continue;
        }
        if s.key.verify(&message, &s.signature).is_err() {
            tally
                .refused
                .push(refuse("the signature does not verify".into()));
            continue;
        }
        if !tally.signed.contains(&s.participant) {
            tally.signed.push(s.participant.clone());
        }
    }
    tally.missing = genesis
        .participants
        .iter()
        .filter(|p| p.kind == ParticipantKind::Government && !tally.signed.contains(&p.code))
        .map(|p| p.code.clone())
        .collect();
    tally.signed.sort();
    Ok(tally)
}

#[cfg(test)]
mod tests;
