//! Client for the kpledger RPC, a light client, and verification of
//! certificate proofs.
//!
//! * [`Client`]: a blocking HTTP client for a node's `/v1` API; every answer
//!   is read with a size bound ([`RESPONSE_BYTES_MAX`]) and API errors come
//!   back as [`ClientError::Api`] with the server's stable code.
//! * [`light`]: verifies decided headers forward from a genesis (or a header)
//!   the caller trusts, by commit certificates and the validators-hash
//!   chain, and keeps the verified headers on disk.
//! * [`proof`]: checks a certificate proof against a header the light client
//!   verified: records against its records root, acts against their blocks
//!   and results.
//! * [`Client::check_certificate`] puts them together into a [`Verdict`]
//!   that depends on no node's word; [`judge`] is the same verdict for a
//!   caller that fetches on its own (the browser's verifier,
//!   `crates/kp-verify-wasm`).
//!
//! Feature `net` (on by default) holds the HTTP client, the CLI and the
//! remote signer. Without it the crate is the pure verification code (the
//! light client, [`proof`], [`judge`] and the verdicts), which builds for
//! `wasm32-unknown-unknown`.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

#[cfg(feature = "net")]
pub mod cli;
#[cfg(feature = "net")]
mod connection;
pub mod document;
#[cfg(feature = "net")]
mod http;
pub mod light;
pub mod proof;
#[cfg(feature = "net")]
pub mod remote_signer;

#[cfg(feature = "net")]
pub use connection::Connection;
#[cfg(feature = "net")]
pub use http::{
    compare_at_common_height, CertificateView, Client, ClientError, RESOLUTION_PAGES_MAX,
    RESPONSE_BYTES_MAX,
};
use kp_api::proof::{CertificateProof, LightBlock, RecordProof, RecordsProof};
use kp_types::{CertificateNumber, Hash, Timestamp};
use light::{LightClient, LightError};
use proof::{Finding, ProofError, Proven};
use serde::Serialize;

/// What `cert verify` concludes, and the exit status it maps to.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// The certificate is on the ledger as proven (exit 0).
    Authentic(Box<proof::Verified>),
    /// The answer does not prove what it claims: forged headers, records or
    /// acts (exit 1).
    NotAuthentic {
        /// Why.
        reason: String,
    },
    /// The ledger proves that no certificate of this number exists (exit 2).
    NotFound {
        /// After this block.
        as_of_height: u64,
        /// Time of the anchor header.
        as_of_time: Timestamp,
        /// Seizure reports naming the number.
        seizures: Vec<kp_api::SeizureRecord>,
    },
    /// Nothing can be concluded: the node is unreachable, its data is
    /// stale, it runs another network or genesis, or two nodes show a fork
    /// (exit 3).
    CannotDecide {
        /// Why, in words.
        reason: String,
        /// Two headers with valid commits at one height, when that is why.
        fork: Option<Box<(LightBlock, LightBlock)>>,
    },
}

impl Verdict {
    /// The exit status: 0 authentic, 1 not authentic, 2 not found, 3 cannot
    /// decide.
    pub fn exit_code(&self) -> i32 {
        match self {
            Verdict::Authentic(_) => 0,
            Verdict::NotAuthentic { .. } => 1,
            Verdict::NotFound { .. } => 2,
            Verdict::CannotDecide { .. } => 3,
        }
    }

    fn cannot(reason: impl Into<String>) -> Verdict {
        Verdict::CannotDecide {
            reason: reason.into(),
            fork: None,
        }
    }
}

/// What `participant show --verify` and `resolution show --verify`
/// conclude, with the exit statuses of [`Verdict`].
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum RecordVerdict<T> {
    /// The record is on the ledger as shown (exit 0).
    Proven(Box<Proven<T>>),
    /// The answer does not prove what it claims (exit 1).
    NotAuthentic {
        /// Why.
        reason: String,
    },
    /// The ledger proves that there is no such record (exit 2).
    NotFound {
        /// After this block.
        as_of_height: u64,
        /// Time of the anchor header.
        as_of_time: Timestamp,
    },
    /// Nothing can be concluded: the node is unreachable, its data is
    /// stale, or it runs another network or genesis (exit 3).
    CannotDecide {
        /// Why, in words.
        reason: String,
    },
}

impl<T> RecordVerdict<T> {
    /// The exit status: 0 proven, 1 not authentic, 2 not found, 3 cannot
    /// decide.
    pub fn exit_code(&self) -> i32 {
        match self {
            RecordVerdict::Proven(_) => 0,
            RecordVerdict::NotAuthentic { .. } => 1,
            RecordVerdict::NotFound { .. } => 2,
            RecordVerdict::CannotDecide { .. } => 3,
        }
    }

    fn from_anchor_refusal(v: Verdict) -> RecordVerdict<T> {
        match v {
            Verdict::NotAuthentic { reason } => RecordVerdict::NotAuthentic { reason },
            Verdict::CannotDecide { reason, .. } => RecordVerdict::CannotDecide { reason },
            other => RecordVerdict::CannotDecide {
                reason: format!("unexpected anchor verdict {other:?}"),
            },
        }
    }
}

/// How `cert verify` judges freshness.
#[derive(Clone, Copy, Debug)]
pub struct Freshness {
    /// The caller's clock.
    pub now: Timestamp,
    /// Oldest anchor accepted: its time must be at least `now - max_age_ms`.
    pub max_age_ms: u64,
}

/// The verdict on `proof` for certificate `number`: its anchor verified by
/// `light` (fetching intermediate headers with `fetch` when it must
/// bisect), its age against `freshness`, then its records and acts
/// ([`proof::verify`]). `source` names the node in the verdict's words.
pub fn judge(
    proof: &CertificateProof,
    number: &CertificateNumber,
    light: &mut LightClient,
    genesis_hash: &Hash,
    freshness: Freshness,
    fetch: &mut dyn FnMut(u64) -> Result<LightBlock, String>,
    source: &str,
) -> Verdict {
    if let Err(v) = check_anchor(
        &proof.anchor,
        &proof.records,
        light,
        genesis_hash,
        freshness,
        fetch,
        source,
    ) {
        return v;
    }
    let today = freshness.now.date();
    match proof::verify(proof, number, genesis_hash, today) {
        Ok(Finding::Found(v)) => Verdict::Authentic(v),
        Ok(Finding::Absent {
            as_of_height,
            as_of_time,
            seizures,
        }) => Verdict::NotFound {
            as_of_height,
            as_of_time,
            seizures,
        },
        Err(e @ ProofError::OtherGenesis { .. }) => {
            Verdict::cannot(format!("{source} runs another network or genesis: {e}"))
        }
        Err(e) => Verdict::NotAuthentic {
            reason: format!("the answer of {source} does not prove it: {e}"),
        },
    }
}

/// The verdict on a records proof: its anchor verified by `light` and
/// judged for age as in [`judge`], then its records by `verify`.
pub fn judge_records<T>(
    proof: &RecordsProof,
    light: &mut LightClient,
    genesis_hash: &Hash,
    freshness: Freshness,
    fetch: &mut dyn FnMut(u64) -> Result<LightBlock, String>,
    source: &str,
    verify: impl FnOnce(&RecordsProof) -> Result<Proven<T>, ProofError>,
) -> RecordVerdict<T> {
    if let Err(v) = check_anchor(
        &proof.anchor,
        &proof.records,
        light,
        genesis_hash,
        freshness,
        fetch,
        source,
    ) {
        return RecordVerdict::from_anchor_refusal(v);
    }
    match verify(proof) {
        Ok(p) if p.value.is_some() => RecordVerdict::Proven(Box::new(p)),
        Ok(p) => RecordVerdict::NotFound {
            as_of_height: p.as_of_height,
            as_of_time: p.as_of_time,
        },
        Err(e @ ProofError::OtherGenesis { .. }) => RecordVerdict::CannotDecide {
            reason: format!("{source} runs another network or genesis: {e}"),
        },
        Err(e) => RecordVerdict::NotAuthentic {
            reason: format!("the answer of {source} does not prove it: {e}"),
        },
    }
}

/// The anchor of a proof verified by `light`, then judged for age; the
/// verdict when it is refused.
fn check_anchor(
    anchor: &LightBlock,
    records: &[RecordProof],
    light: &mut LightClient,
    genesis_hash: &Hash,
    freshness: Freshness,
    fetch: &mut dyn FnMut(u64) -> Result<LightBlock, String>,
    source: &str,
) -> Result<(), Verdict> {
    if let Err(e) = light.verify(anchor, freshness.now, fetch) {
        // A node of another network fails the light client too; what it
        // says of its genesis (unproven, as its header is refused) only
        // chooses between "another network" and "forged", never authentic.
        if let Some(claimed) = claimed_genesis(records) {
            if claimed != *genesis_hash {
                return Err(Verdict::cannot(format!(
                    "{source} runs another network or genesis (it names genesis {claimed}, yours is {genesis_hash}): {e}"
                )));
            }
        }
        return Err(light_verdict(source, e));
    }
    let age = freshness.now.0.saturating_sub(anchor.header.time.0);
    if age > freshness.max_age_ms {
        return Err(Verdict::cannot(format!(
            "{source} answers as of height {} (time {}), {} s old: older than --max-age ({} s); the node is stale or the network is halted",
            anchor.header.height.saturating_sub(1),
            anchor.header.time,
            age / 1000,
            freshness.max_age_ms / 1000
        )));
    }
    Ok(())
}

/// The genesis hash a proof's records name, unverified.
fn claimed_genesis(records: &[RecordProof]) -> Option<Hash> {
    let key = kp_api::keys::meta("genesis");
    let record = records.iter().find(|r| r.key == key)?;
    kp_types::decode(record.value.as_deref()?, 64).ok()
}

/// The verdict when the light client refuses an anchor.
fn light_verdict(base: &str, e: LightError) -> Verdict {
    match e {
        LightError::WrongChain { .. } => {
            Verdict::cannot(format!("{base} runs another network or genesis: {e}"))
        }
        LightError::Expired { .. }
        | LightError::FromTheFuture { .. }
        | LightError::Fetch { .. }
        | LightError::Store { .. } => Verdict::cannot(format!("{base}: {e}")),
        LightError::Conflict { .. } => Verdict::cannot(format!(
            "FORK: {base} serves a header that conflicts with one verified before: {e}"
        )),
        other => Verdict::NotAuthentic {
            reason: format!(
                "{base} serves a header that the trusted validators did not decide: {other}"
            ),
        },
    }
}

/// The verdict of two nodes' answers together. Both proofs verified against
/// the same light client, so they are of one chain: the newer state wins.
/// A node that cannot answer, or whose answer does not verify while the
/// other's does, leaves nothing decided: say which.
pub fn combine(first: Verdict, second: Verdict, second_url: &str) -> Verdict {
    fn as_of(v: &Verdict) -> u64 {
        match v {
            Verdict::Authentic(x) => x.as_of_height,
            Verdict::NotFound { as_of_height, .. } => *as_of_height,
            _ => 0,
        }
    }
    match (&first, &second) {
        (Verdict::CannotDecide { .. }, _) => first,
        (_, Verdict::CannotDecide { reason, .. }) => {
            Verdict::cannot(format!("{second_url} could not confirm: {reason}"))
        }
        (Verdict::NotAuthentic { reason: a }, Verdict::NotAuthentic { .. }) => {
            Verdict::NotAuthentic { reason: a.clone() }
        }
        (Verdict::NotAuthentic { reason }, _) | (_, Verdict::NotAuthentic { reason }) => {
            Verdict::cannot(format!(
                "the nodes disagree and one of them serves forged data: {reason}"
            ))
        }
        _ if as_of(&second) > as_of(&first) => second,
        _ => first,
    }
}
