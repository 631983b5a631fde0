//! The light client: which decided headers to believe, from a genesis (or a
//! header hash the user pins) and commit certificates alone.
//!
//! The model is CometBFT's. Every validator has power 1. Header `h` carries
//! `validators_hash`, the hash of the set whose precommits decide `h`, and
//! `next_validators_hash`, the hash of the set deciding `h + 1`; `prev_hash`
//! of `h + 1` is the hash of header `h` (header 1: [`Hash::ZERO`]).
//!
//! [`LightClient::verify`] checks a [`LightBlock`] from the newest trusted
//! state at or below its height:
//! * adjacent (`h + 1`): the target's set must be the announced next set,
//!   its `prev_hash` must link, and a quorum of its set must have signed;
//! * skipping (`h + k`): a quorum of the target's own set signed, and the
//!   signers that belong to the trusted set of `h + 1` (when known, else of
//!   `h`) hold more than a third of it, so at least one of them is honest
//!   under the trust assumption;
//! * when skipping lacks trust, bisection: the block halfway is fetched,
//!   verified the same way, and the target retried from it (at most
//!   [`FETCHES_MAX`] fetches);
//! * below every trusted header, backwards: the headers down to the target
//!   are fetched and each must hash to the `prev_hash` of the one above.
//!
//! A trusted state older than the trust period is refused (its validators
//! may have left and their keys be sold: pin a recent header instead), and
//! so is a header from more than the clock drift in the future. A header
//! that differs from one already verified at its height is a fork
//! ([`LightError::Conflict`]): both are evidence.
//!
//! Verified headers are kept in a [`LightStore`] on disk, so that the next
//! run starts from the newest of them rather than from genesis.

use kp_api::proof::{LightBlock, LIGHT_VALIDATORS_MAX};
use kp_api::Genesis;
use kp_types::{validator_set_hash, Hash, ParticipantCode, ParticipantKind, PublicKey, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Default trust period: 14 days.
pub const TRUST_PERIOD_MS_DEFAULT: u64 = 14 * 86_400_000;
/// Default tolerated clock drift: 60 seconds.
pub const CLOCK_DRIFT_MS_DEFAULT: u64 = 60_000;
/// Most light blocks fetched by one verification (bisection or backwards).
pub const FETCHES_MAX: usize = 64;
/// Most verified light blocks kept (the newest ones), in memory and on disk.
pub const STORE_BLOCKS_MAX: usize = 256;
/// Largest light store file read.
pub const STORE_BYTES_MAX: u64 = 128 * 1024 * 1024;
/// The format tag of a light store file.
const STORE_FORMAT: &str = "kpledger light store v1";

/// A validator set: member codes and node keys, ordered by code.
pub type ValidatorSet = Vec<(ParticipantCode, PublicKey)>;

/// How long a verified header stays a root of trust, and how far ahead of
/// the local clock a header may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustOptions {
    /// A trusted header older than this (at `now`) is no longer trusted.
    pub trust_period_ms: u64,
    /// A header whose time is more than this ahead of `now` is refused.
    pub clock_drift_ms: u64,
}

impl Default for TrustOptions {
    fn default() -> Self {
        TrustOptions {
            trust_period_ms: TRUST_PERIOD_MS_DEFAULT,
            clock_drift_ms: CLOCK_DRIFT_MS_DEFAULT,
        }
    }
}

/// What the client trusts at the start: a genesis document, or a header hash
/// the user pins (its light block is fetched and must hash to it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedState {
    /// The chain.
    pub chain_id: String,
    /// Hash of the chain's genesis document.
    pub genesis_hash: Hash,
    /// The trusted height (0 at genesis).
    pub height: u64,
    /// Hash of the trusted header (`None` at genesis).
    pub header_hash: Option<Hash>,
    /// Time of the trusted header (the genesis time at genesis).
    pub time: Timestamp,
    /// The set deciding `height` (at genesis: the genesis set).
    pub validators: ValidatorSet,
    /// Hash of the set deciding `height + 1`.
    pub next_validators_hash: Hash,
}

impl TrustedState {
    /// Trust from a genesis document: its government Participants, by code,
    /// decide heights 1 and 2.
    pub fn from_genesis(g: &Genesis) -> TrustedState {
        let by_code: BTreeMap<ParticipantCode, PublicKey> = g
            .participants
            .iter()
            .filter(|p| p.kind == ParticipantKind::Government)
            .map(|p| (p.code.clone(), p.node_key))
            .collect();
        let validators: ValidatorSet = by_code.into_iter().collect();
        TrustedState {
            chain_id: g.chain_id.clone(),
            genesis_hash: g.hash(),
            height: 0,
            header_hash: None,
            time: g.genesis_time,
            next_validators_hash: validator_set_hash(&validators),
            validators,
        }
    }

    /// Trust a light block as it is (the caller has checked that it is the
    /// one it means to trust: see [`TrustedState::from_pinned`]).
    pub fn from_light_block(chain_id: &str, genesis_hash: Hash, b: &LightBlock) -> TrustedState {
        TrustedState {
            chain_id: chain_id.to_string(),
            genesis_hash,
            height: b.header.height,
            header_hash: Some(b.header.hash()),
            time: b.header.time,
            validators: b.validators.clone(),
            next_validators_hash: b.header.next_validators_hash,
        }
    }

    /// Trust the header the user pinned by height and hash: `b` (fetched
    /// from a node) must be that header, well formed and certified by its
    /// own validator set.
    pub fn from_pinned(
        chain_id: &str,
        genesis_hash: Hash,
        height: u64,
        hash: Hash,
        b: &LightBlock,
    ) -> Result<TrustedState, LightError> {
        if b.header.height != height {
            return Err(LightError::Fetch {
                height,
                reason: format!("asked for height {height}, got {}", b.header.height),
            });
        }
        let found = b.header.hash();
        if found != hash {
            return Err(LightError::Conflict {
                height,
                trusted: hash,
                found,
            });
        }
        check_block(chain_id, b)?;
        Ok(TrustedState::from_light_block(chain_id, genesis_hash, b))
    }
}

/// Why a header is not believed, or the light client cannot go on.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LightError {
    /// The header or its commit is for another chain.
    #[error("height {height}: chain {found:?}, expected {expected:?}")]
    WrongChain {
        /// Height of the header.
        height: u64,
        /// The trusted chain.
        expected: String,
        /// The chain named.
        found: String,
    },
    /// The trust root itself is malformed.
    #[error("the trusted state is malformed: {reason}")]
    BadRoot {
        /// What is wrong.
        reason: String,
    },
    /// The header is malformed (height 0, proposer outside the set).
    #[error("height {height}: bad header: {reason}")]
    BadHeader {
        /// Height of the header.
        height: u64,
        /// What is wrong.
        reason: String,
    },
    /// The validator list does not hash to the header's, is too large, has
    /// duplicates, or is not the set the trusted header announced.
    #[error("height {height}: bad validator set: {reason}")]
    BadValidatorSet {
        /// Height of the header.
        height: u64,
        /// What is wrong.
        reason: String,
    },
    /// The commit certificate does not decide this header.
    #[error("height {height}: bad commit: {reason}")]
    BadCommit {
        /// Height of the header.
        height: u64,
        /// What is wrong.
        reason: String,
    },
    /// Too few of the trusted validators signed a header skipped to, and
    /// bisection could not bridge the gap within [`FETCHES_MAX`] fetches.
    #[error(
        "height {height}: {signed} signers belong to the set trusted at height \
         {trusted_height}; {needed} (more than a third) needed"
    )]
    NotEnoughTrust {
        /// Height of the header.
        height: u64,
        /// The trusted height it was checked from.
        trusted_height: u64,
        /// Signers in the trusted set.
        signed: usize,
        /// Signers needed.
        needed: usize,
    },
    /// The trusted state is older than the trust period.
    #[error(
        "the trusted header at height {trusted_height} ({trusted_time}) is older than the \
         trust period at {now}: its validators may have left and their keys be in other \
         hands; pin a recent header (height and hash) obtained from a source you trust"
    )]
    Expired {
        /// The trusted height.
        trusted_height: u64,
        /// Its time.
        trusted_time: Timestamp,
        /// The local time.
        now: Timestamp,
    },
    /// The header's time is ahead of the local clock by more than the drift.
    #[error("height {height}: header time {time} is in the future (now {now})")]
    FromTheFuture {
        /// Height of the header.
        height: u64,
        /// Its time.
        time: Timestamp,
        /// The local time.
        now: Timestamp,
    },
    /// The header's `prev_hash` is not the hash of the trusted header below.
    #[error("height {height}: prev_hash {found} is not the trusted header hash {expected}")]
    NotLinked {
        /// Height of the header.
        height: u64,
        /// Hash of the trusted header below.
        expected: Hash,
        /// The header's `prev_hash`.
        found: Hash,
    },
    /// Header times do not increase with height.
    #[error(
        "height {height}: time {time} is not after {trusted_time} of trusted height \
         {trusted_height}"
    )]
    NotMonotonic {
        /// Height of the header.
        height: u64,
        /// Its time.
        time: Timestamp,
        /// The trusted height compared with.
        trusted_height: u64,
        /// Its time.
        trusted_time: Timestamp,
    },
    /// A light block needed for verification could not be fetched, or the
    /// node answered with another height.
    #[error("cannot fetch the light block of height {height}: {reason}")]
    Fetch {
        /// The height asked for.
        height: u64,
        /// What failed.
        reason: String,
    },
    /// The header is more than [`FETCHES_MAX`] heights below every trusted
    /// header.
    #[error(
        "height {height} lies too far below the lowest trusted header ({lowest}): pin an \
         older header"
    )]
    TooFarBack {
        /// Height of the header.
        height: u64,
        /// Lowest trusted height above it.
        lowest: u64,
    },
    /// Another header is already verified at this height: the chain forked
    /// (or a trusted source lied). Keep both as evidence.
    #[error(
        "FORK at height {height}: header {found} conflicts with the verified header \
         {trusted}; keep both as evidence and alert the other Participants"
    )]
    Conflict {
        /// The height.
        height: u64,
        /// The verified hash.
        trusted: Hash,
        /// The conflicting hash.
        found: Hash,
    },
    /// The light store cannot be read or written, or holds inconsistent data.
    #[error("light store {}: {detail}", .path.display())]
    Store {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
}

/// A trusted point verification starts from.
#[derive(Clone, Debug)]
struct Anchor {
    height: u64,
    hash: Option<Hash>,
    time: Timestamp,
    validators: ValidatorSet,
    next_validators_hash: Hash,
}

impl Anchor {
    fn of_root(root: &TrustedState) -> Anchor {
        Anchor {
            height: root.height,
            hash: root.header_hash,
            time: root.time,
            validators: root.validators.clone(),
            next_validators_hash: root.next_validators_hash,
        }
    }

    fn of_block(b: &LightBlock) -> Anchor {
        Anchor {
            height: b.header.height,
            hash: Some(b.header.hash()),
            time: b.header.time,
            validators: b.validators.clone(),
            next_validators_hash: b.header.next_validators_hash,
        }
    }
}

/// Checks a validator list alone: not empty, bounded, no duplicate codes or
/// keys.
fn check_set(height: u64, set: &[(ParticipantCode, PublicKey)]) -> Result<(), LightError> {
    let bad = |reason: String| LightError::BadValidatorSet { height, reason };
    if set.is_empty() {
        return Err(bad("the validator set is empty".into()));
    }
    if set.len() > LIGHT_VALIDATORS_MAX {
        return Err(bad(format!(
            "{} validators listed; at most {LIGHT_VALIDATORS_MAX}",
            set.len()
        )));
    }
    let mut codes = BTreeSet::new();
    let mut keys = BTreeSet::new();
    for (code, key) in set {
        if !codes.insert(code) {
            return Err(bad(format!("member {code} listed twice")));
        }
        if !keys.insert(key) {
            return Err(bad(format!("key {key} listed twice")));
        }
    }
    Ok(())
}

/// Checks a light block alone: chain, validator list against the header,
/// proposer, and a valid quorum of its own set's precommits for the header.
/// Says nothing of whether that set is to be trusted.
fn check_block(chain_id: &str, b: &LightBlock) -> Result<(), LightError> {
    let height = b.header.height;
    for found in [&b.header.chain_id, &b.commit.chain_id] {
        if found != chain_id {
            return Err(LightError::WrongChain {
                height,
                expected: chain_id.to_string(),
                found: found.chars().take(80).collect(),
            });
        }
    }
    if height == 0 {
        return Err(LightError::BadHeader {
            height,
            reason: "heights start at 1".into(),
        });
    }
    check_set(height, &b.validators)?;
    let set_hash = validator_set_hash(&b.validators);
    if set_hash != b.header.validators_hash {
        return Err(LightError::BadValidatorSet {
            height,
            reason: format!(
                "the listed validators hash to {set_hash}, the header says {}",
                b.header.validators_hash
            ),
        });
    }
    if !b.validators.iter().any(|(_, k)| *k == b.header.proposer) {
        return Err(LightError::BadHeader {
            height,
            reason: format!("proposer {} is not a validator of it", b.header.proposer),
        });
    }
    let bad = |reason: String| LightError::BadCommit { height, reason };
    if b.commit.height != height {
        return Err(bad(format!("the commit is for height {}", b.commit.height)));
    }
    let hash = b.header.hash();
    if b.commit.block_hash != hash {
        return Err(bad(format!(
            "the commit is for block {}, the header hashes to {hash}",
            b.commit.block_hash
        )));
    }
    if b.commit.signatures.len() > b.validators.len() {
        return Err(bad(format!(
            "{} signatures for {} validators",
            b.commit.signatures.len(),
            b.validators.len()
        )));
    }
    let keys: Vec<PublicKey> = b.validators.iter().map(|(_, k)| *k).collect();
    b.commit
        .verify(chain_id, &keys)
        .map_err(|e| bad(e.to_string()))
}

/// Checks that `upper` (at `lower + 1`) follows `lower`.
fn check_link(lower: &LightBlock, upper: &LightBlock) -> Result<(), String> {
    if upper.header.prev_hash != lower.header.hash() {
        return Err(format!(
            "height {}: prev_hash does not link to height {}",
            upper.header.height, lower.header.height
        ));
    }
    if upper.header.validators_hash != lower.header.next_validators_hash {
        return Err(format!(
            "height {}: validators are not those announced at height {}",
            upper.header.height, lower.header.height
        ));
    }
    Ok(())
}

/// A light client: the headers it has verified, and how it verifies more.
#[derive(Debug)]
pub struct LightClient {
    root: TrustedState,
    options: TrustOptions,
    store: Option<LightStore>,
    blocks: BTreeMap<u64, LightBlock>,
}

impl LightClient {
    /// A client trusting `root`, with the headers `store` holds for its
    /// chain and genesis (checked as they are loaded).
    pub fn new(
        root: TrustedState,
        options: TrustOptions,
        store: Option<LightStore>,
    ) -> Result<LightClient, LightError> {
        let bad = |reason: &str| LightError::BadRoot {
            reason: reason.to_string(),
        };
        if root.chain_id.is_empty() {
            return Err(bad("empty chain id"));
        }
        if (root.height == 0) != root.header_hash.is_none() {
            return Err(bad(
                "a header hash is needed above height 0, and none at genesis",
            ));
        }
        check_set(root.height, &root.validators).map_err(|e| bad(&e.to_string()))?;
        let blocks = match &store {
            Some(s) => s.load(&root.chain_id, &root.genesis_hash)?,
            None => BTreeMap::new(),
        };
        let client = LightClient {
            root,
            options,
            store,
            blocks,
        };
        client.check_root_against_store()?;
        Ok(client)
    }

    /// The stored headers must agree with the trust root.
    fn check_root_against_store(&self) -> Result<(), LightError> {
        let root = &self.root;
        if let (Some(b), Some(trusted)) = (self.blocks.get(&root.height), root.header_hash) {
            let found = b.header.hash();
            if found != trusted {
                return Err(LightError::Conflict {
                    height: root.height,
                    trusted,
                    found,
                });
            }
        }
        if let Some(above) = self.blocks.get(&(root.height.saturating_add(1))) {
            let expected = root.header_hash.unwrap_or(Hash::ZERO);
            if above.header.prev_hash != expected {
                return Err(LightError::Conflict {
                    height: root.height,
                    trusted: expected,
                    found: above.header.prev_hash,
                });
            }
            if above.header.validators_hash != root.next_validators_hash {
                return Err(LightError::Store {
                    path: self.store_path(),
                    detail: format!(
                        "stored height {}: validators are not those the trust root announced",
                        root.height.saturating_add(1)
                    ),
                });
            }
        }
        Ok(())
    }

    fn store_path(&self) -> PathBuf {
        match &self.store {
            Some(s) => s.path_for(&self.root.chain_id, &self.root.genesis_hash),
            None => PathBuf::new(),
        }
    }

    /// The trust root.
    pub fn root(&self) -> &TrustedState {
        &self.root
    }

    /// The trust options.
    pub fn options(&self) -> TrustOptions {
        self.options
    }

    /// The newest verified light block.
    pub fn latest(&self) -> Option<&LightBlock> {
        self.blocks.values().next_back()
    }

    /// The verified light block at `height`, if kept.
    pub fn trusted_at(&self, height: u64) -> Option<&LightBlock> {
        self.blocks.get(&height)
    }

    /// The verified header hash at `height` (a kept block, or the root).
    fn trusted_hash_at(&self, height: u64) -> Option<Hash> {
        match self.blocks.get(&height) {
            Some(b) => Some(b.header.hash()),
            None if self.root.height == height => self.root.header_hash,
            None => None,
        }
    }

    /// The newest trusted point strictly below `height`.
    fn anchor_below(&self, height: u64) -> Option<Anchor> {
        let stored = self.blocks.range(..height).next_back().map(|(_, b)| b);
        match stored {
            Some(b) if b.header.height >= self.root.height => Some(Anchor::of_block(b)),
            _ if self.root.height < height => Some(Anchor::of_root(&self.root)),
            Some(b) => Some(Anchor::of_block(b)),
            None => None,
        }
    }

    /// Verifies `target`; on success remembers it (and the blocks verified
    /// on the way) and saves the store. `fetch(height)` asks a node for the
    /// light block of a height (bisection, or headers below the trusted
    /// ones). Blocks verified on the way are remembered even when the target
    /// is refused. A save failure is reported after the blocks are
    /// remembered in memory.
    pub fn verify(
        &mut self,
        target: &LightBlock,
        now: Timestamp,
        fetch: &mut dyn FnMut(u64) -> Result<LightBlock, String>,
    ) -> Result<(), LightError> {
        let chain_id = self.root.chain_id.clone();
        check_block(&chain_id, target)?;
        let height = target.header.height;
        if let Some(trusted) = self.trusted_hash_at(height) {
            let found = target.header.hash();
            if found != trusted {
                return Err(LightError::Conflict {
                    height,
                    trusted,
                    found,
                });
            }
            if self.blocks.contains_key(&height) {
                return Ok(());
            }
            return self.remember(vec![target.clone()]);
        }
        let mut verified = Vec::new();
        let outcome = match self.anchor_below(height) {
            Some(anchor) => self.verify_forward(anchor, target, now, fetch, &mut verified),
            None => self.verify_backward(target, fetch, &mut verified),
        };
        let outcome = outcome.and_then(|()| self.check_neighbours(&verified));
        match outcome {
            Ok(()) => self.remember(verified),
            Err(e) => {
                // Pivots verified before the failure are still verified;
                // the target (if it got in) is the last one.
                verified.retain(|b| b.header.height != height);
                if !verified.is_empty() && self.check_neighbours(&verified).is_ok() {
                    let _ = self.remember(verified);
                }
                Err(e)
            }
        }
    }

    /// Forward from `anchor`: adjacent or skipping steps, bisecting when a
    /// skip lacks trust. Pushes every block verified, the target last.
    fn verify_forward(
        &self,
        anchor: Anchor,
        target: &LightBlock,
        now: Timestamp,
        fetch: &mut dyn FnMut(u64) -> Result<LightBlock, String>,
        verified: &mut Vec<LightBlock>,
    ) -> Result<(), LightError> {
        if now.0.saturating_sub(anchor.time.0) > self.options.trust_period_ms {
            return Err(LightError::Expired {
                trusted_height: anchor.height,
                trusted_time: anchor.time,
                now,
            });
        }
        let mut trusted = anchor;
        let mut pending = vec![target.clone()];
        let mut fetches = 0;
        while let Some(candidate) = pending.last() {
            match self.step(&trusted, candidate, &pending, now) {
                Ok(()) => {
                    if let Some(b) = pending.pop() {
                        trusted = Anchor::of_block(&b);
                        verified.push(b);
                    }
                }
                Err(e @ LightError::NotEnoughTrust { .. }) => {
                    if fetches >= FETCHES_MAX {
                        return Err(e);
                    }
                    fetches += 1;
                    let pivot = trusted.height + (candidate.header.height - trusted.height) / 2;
                    let b = self.fetch_checked(pivot, fetch)?;
                    pending.push(b);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Fetches the light block of `height` and checks it alone.
    fn fetch_checked(
        &self,
        height: u64,
        fetch: &mut dyn FnMut(u64) -> Result<LightBlock, String>,
    ) -> Result<LightBlock, LightError> {
        let b = fetch(height).map_err(|reason| LightError::Fetch { height, reason })?;
        if b.header.height != height {
            return Err(LightError::Fetch {
                height,
                reason: format!("the node answered with height {}", b.header.height),
            });
        }
        check_block(&self.root.chain_id, &b)?;
        Ok(b)
    }

    /// One step from `trusted` to `candidate` (checked alone already).
    fn step(
        &self,
        trusted: &Anchor,
        candidate: &LightBlock,
        pending: &[LightBlock],
        now: Timestamp,
    ) -> Result<(), LightError> {
        let header = &candidate.header;
        let height = header.height;
        if header.time > now.plus_ms(self.options.clock_drift_ms) {
            return Err(LightError::FromTheFuture {
                height,
                time: header.time,
                now,
            });
        }
        if header.time <= trusted.time {
            return Err(LightError::NotMonotonic {
                height,
                time: header.time,
                trusted_height: trusted.height,
                trusted_time: trusted.time,
            });
        }
        if height == trusted.height.saturating_add(1) {
            if header.validators_hash != trusted.next_validators_hash {
                return Err(LightError::BadValidatorSet {
                    height,
                    reason: format!(
                        "validators hash {} is not {} announced by trusted height {}",
                        header.validators_hash, trusted.next_validators_hash, trusted.height
                    ),
                });
            }
            let expected = trusted.hash.unwrap_or(Hash::ZERO);
            if header.prev_hash != expected {
                return Err(LightError::NotLinked {
                    height,
                    expected,
                    found: header.prev_hash,
                });
            }
            return Ok(());
        }
        // Skipping: the set of `trusted.height + 1` if any list at hand
        // hashes to the announced one, else the trusted set itself.
        let next = trusted.height.saturating_add(1);
        let known = std::iter::once(&trusted.validators)
            .chain(self.blocks.get(&next).map(|b| &b.validators))
            .chain(pending.iter().map(|b| &b.validators))
            .find(|set| validator_set_hash(set) == trusted.next_validators_hash);
        let trust_set: BTreeSet<&PublicKey> = known
            .unwrap_or(&trusted.validators)
            .iter()
            .map(|(_, k)| k)
            .collect();
        let signed = candidate
            .commit
            .signatures
            .iter()
            .filter(|s| trust_set.contains(&s.validator))
            .count();
        let n = trust_set.len();
        if signed * 3 <= n {
            return Err(LightError::NotEnoughTrust {
                height,
                trusted_height: trusted.height,
                signed,
                needed: n / 3 + 1,
            });
        }
        Ok(())
    }

    /// Backwards from the lowest trusted header above `target`: every header
    /// down to it must hash to the `prev_hash` above.
    fn verify_backward(
        &self,
        target: &LightBlock,
        fetch: &mut dyn FnMut(u64) -> Result<LightBlock, String>,
        verified: &mut Vec<LightBlock>,
    ) -> Result<(), LightError> {
        let height = target.header.height;
        let stored = self
            .blocks
            .range(height.saturating_add(1)..)
            .next()
            .map(|(_, b)| b);
        let lowest = match stored {
            Some(b) if b.header.height <= self.root.height => b.header.height,
            _ => self.root.height,
        };
        if lowest - height > FETCHES_MAX as u64 {
            return Err(LightError::TooFarBack { height, lowest });
        }
        let mut upper = match self.blocks.get(&lowest) {
            Some(b) => b.clone(),
            None => {
                // The pinned root: its block must hash to the pinned hash.
                let b = self.fetch_checked(lowest, fetch)?;
                let found = b.header.hash();
                let trusted = self.root.header_hash.unwrap_or(Hash::ZERO);
                if found != trusted {
                    return Err(LightError::Fetch {
                        height: lowest,
                        reason: format!(
                            "the node's header hashes to {found}, not the trusted {trusted}"
                        ),
                    });
                }
                verified.push(b.clone());
                b
            }
        };
        for h in (height..lowest).rev() {
            let b = if h == height {
                target.clone()
            } else {
                self.fetch_checked(h, fetch)?
            };
            let found = b.header.hash();
            if found != upper.header.prev_hash {
                return Err(LightError::NotLinked {
                    height: h + 1,
                    expected: found,
                    found: upper.header.prev_hash,
                });
            }
            if b.header.next_validators_hash != upper.header.validators_hash {
                return Err(LightError::BadValidatorSet {
                    height: h,
                    reason: format!(
                        "next validators hash is not the validators hash of height {}",
                        h + 1
                    ),
                });
            }
            if b.header.time >= upper.header.time {
                return Err(LightError::NotMonotonic {
                    height: h + 1,
                    time: upper.header.time,
                    trusted_height: h,
                    trusted_time: b.header.time,
                });
            }
            verified.push(b.clone());
            upper = b;
        }
        Ok(())
    }

    /// New blocks must link with kept blocks (and the root) at adjacent
    /// heights: both were verified, so a mismatch is a fork.
    fn check_neighbours(&self, new: &[LightBlock]) -> Result<(), LightError> {
        let by_height: BTreeMap<u64, &LightBlock> =
            new.iter().map(|b| (b.header.height, b)).collect();
        let at = |h: u64| by_height.get(&h).copied().or_else(|| self.blocks.get(&h));
        for b in new {
            let h = b.header.height;
            if let Some(above) = at(h + 1) {
                let found = b.header.hash();
                if above.header.prev_hash != found
                    || above.header.validators_hash != b.header.next_validators_hash
                {
                    return Err(LightError::Conflict {
                        height: h,
                        trusted: above.header.prev_hash,
                        found,
                    });
                }
            }
            let below = match at(h - 1) {
                Some(below) => Some((below.header.hash(), below.header.next_validators_hash)),
                None if self.root.height == h - 1 => Some((
                    self.root.header_hash.unwrap_or(Hash::ZERO),
                    self.root.next_validators_hash,
                )),
                None => None,
            };
            if let Some((hash, next_validators_hash)) = below {
                if b.header.prev_hash != hash || b.header.validators_hash != next_validators_hash {
                    return Err(LightError::Conflict {
                        height: h - 1,
                        trusted: hash,
                        found: b.header.prev_hash,
                    });
                }
            }
        }
        Ok(())
    }

    /// Keeps verified blocks (the newest [`STORE_BLOCKS_MAX`]) and saves.
    fn remember(&mut self, blocks: Vec<LightBlock>) -> Result<(), LightError> {
        for b in blocks {
            self.blocks.insert(b.header.height, b);
        }
        while self.blocks.len() > STORE_BLOCKS_MAX {
            self.blocks.pop_first();
        }
        match &self.store {
            Some(s) => s.save(&self.root.chain_id, &self.root.genesis_hash, &self.blocks),
            None => Ok(()),
        }
    }
}

/// A light store file as written.
#[derive(Serialize)]
struct StoreFileOut<'a> {
    format: &'a str,
    chain_id: &'a str,
    genesis_hash: &'a Hash,
    blocks: Vec<&'a LightBlock>,
}

/// A light store file as read.
#[derive(Deserialize)]
struct StoreFileIn {
    format: String,
    chain_id: String,
    genesis_hash: Hash,
    blocks: Vec<LightBlock>,
}

/// Verified light blocks on disk: one JSON file per chain and genesis,
/// `<dir>/<chain_id>-<first 16 hex digits of the genesis hash>.json`,
/// holding the newest [`STORE_BLOCKS_MAX`] verified blocks, written
/// atomically (temporary file, then rename).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LightStore {
    dir: PathBuf,
}

impl LightStore {
    /// A store in `dir`, created if missing.
    pub fn open(dir: &Path) -> Result<LightStore, LightError> {
        std::fs::create_dir_all(dir).map_err(|e| LightError::Store {
            path: dir.to_path_buf(),
            detail: format!("cannot create the directory: {e}"),
        })?;
        Ok(LightStore {
            dir: dir.to_path_buf(),
        })
    }

    /// `$XDG_DATA_HOME/kpledger/light`, or `$HOME/.local/share/kpledger/light`,
    /// else `./.kpledger-light`.
    pub fn default_dir() -> PathBuf {
        let absolute = |var: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        if let Some(data) = absolute("XDG_DATA_HOME") {
            return data.join("kpledger").join("light");
        }
        if let Some(home) = absolute("HOME") {
            return home.join(".local/share/kpledger/light");
        }
        PathBuf::from(".kpledger-light")
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of one chain and genesis.
    pub fn path_for(&self, chain_id: &str, genesis_hash: &Hash) -> PathBuf {
        let name: String = chain_id
            .chars()
            .take(64)
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let hex = genesis_hash.to_hex();
        self.dir.join(format!("{name}-{}.json", &hex[..16]))
    }

    /// The stored blocks of a chain and genesis (none if there is no file),
    /// each checked alone (chain, validators against the header, commit
    /// quorum and signatures) and against its stored neighbours.
    pub fn load(
        &self,
        chain_id: &str,
        genesis_hash: &Hash,
    ) -> Result<BTreeMap<u64, LightBlock>, LightError> {
        let path = self.path_for(chain_id, genesis_hash);
        let err = |detail: String| LightError::Store {
            path: path.clone(),
            detail,
        };
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(err(format!("cannot open: {e}"))),
        };
        let mut bytes = Vec::new();
        file.take(STORE_BYTES_MAX + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| err(format!("cannot read: {e}")))?;
        if bytes.len() as u64 > STORE_BYTES_MAX {
            return Err(err(format!("larger than {STORE_BYTES_MAX} bytes")));
        }
        let stored: StoreFileIn = serde_json::from_slice(&bytes)
            .map_err(|e| err(format!("corrupt (delete it to start over): {e}")))?;
        if stored.format != STORE_FORMAT {
            return Err(err(format!("unknown format {:?}", stored.format)));
        }
        if stored.chain_id != chain_id || stored.genesis_hash != *genesis_hash {
            return Err(err(format!(
                "holds chain {:?} of genesis {}, not {chain_id:?} of {genesis_hash}",
                stored.chain_id, stored.genesis_hash
            )));
        }
        if stored.blocks.len() > STORE_BLOCKS_MAX {
            return Err(err(format!(
                "{} blocks; at most {STORE_BLOCKS_MAX}",
                stored.blocks.len()
            )));
        }
        let mut blocks: BTreeMap<u64, LightBlock> = BTreeMap::new();
        for b in stored.blocks {
            let height = b.header.height;
            check_block(chain_id, &b).map_err(|e| err(format!("tampered or corrupt: {e}")))?;
            if let Some((&h, below)) = blocks.last_key_value() {
                if h >= height {
                    return Err(err(format!("height {height} after {h}: not in order")));
                }
                if below.header.time >= b.header.time {
                    return Err(err(format!("height {height}: time does not increase")));
                }
                if h + 1 == height {
                    check_link(below, &b).map_err(|d| err(format!("tampered or corrupt: {d}")))?;
                }
            }
            blocks.insert(height, b);
        }
        Ok(blocks)
    }

    /// Writes the blocks of a chain and genesis atomically.
    pub fn save(
        &self,
        chain_id: &str,
        genesis_hash: &Hash,
        blocks: &BTreeMap<u64, LightBlock>,
    ) -> Result<(), LightError> {
        let path = self.path_for(chain_id, genesis_hash);
        let err = |detail: String| LightError::Store {
            path: path.clone(),
            detail,
        };
        let file = StoreFileOut {
            format: STORE_FORMAT,
            chain_id,
            genesis_hash,
            blocks: blocks.values().rev().take(STORE_BLOCKS_MAX).rev().collect(),
        };
        let bytes = serde_json::to_vec(&file).map_err(|e| err(format!("cannot encode: {e}")))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = self.dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&temp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&temp, &path)?;
            if let Ok(d) = std::fs::File::open(&self.dir) {
                let _ = d.sync_all();
            }
            Ok(())
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            err(format!("cannot write: {e}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kp_api::Params;
    use kp_types::{
        BlockHeader, CommitCertificate, CommitSignature, Participant, SigningKey, Territory, Vote,
        VoteKind,
    };

    const CHAIN: &str = "kp-test";
    const T0: u64 = 1_767_225_600_000; // 2026-01-01
    const BLOCK_MS: u64 = 5_000;

    /// A validator set spec: (code index, key seed), by code index.
    type Spec = Vec<(u8, u8)>;

    fn code(i: u8) -> ParticipantCode {
        ParticipantCode::new(&format!("G{}", (b'A' + i) as char)).unwrap()
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_seed([seed; 32])
    }

    fn set_of(spec: &[(u8, u8)]) -> ValidatorSet {
        spec.iter()
            .map(|&(c, s)| (code(c), key(s).public()))
            .collect()
    }

    fn time_of(height: u64) -> Timestamp {
        Timestamp(T0 + height * BLOCK_MS)
    }

    fn sign(header: &BlockHeader, chain_id: &str, signers: &[SigningKey]) -> CommitCertificate {
        let signatures = signers
            .iter()
            .map(|k| {
                let vote = Vote {
                    chain_id: chain_id.to_string(),
                    height: header.height,
                    round: 0,
                    kind: VoteKind::Precommit,
                    block: Some(header.hash()),
                    validator: k.public(),
                };
                CommitSignature {
                    validator: k.public(),
                    signature: k.sign(&vote.signing_hash()),
                }
            })
            .collect();
        CommitCertificate {
            chain_id: chain_id.to_string(),
            height: header.height,
            round: 0,
            block_hash: header.hash(),
            signatures,
        }
    }

    /// A light block decided by `spec` (all of it signing).
    fn block(height: u64, prev_hash: Hash, spec: &[(u8, u8)], next: &[(u8, u8)]) -> LightBlock {
        let validators = set_of(spec);
        let header = BlockHeader {
            chain_id: CHAIN.to_string(),
            height,
            time: time_of(height),
            proposer: validators[0].1,
            prev_hash,
            txs_root: Hash::ZERO,
            state_root: Hash([height as u8; 32]),
            validators_hash: validator_set_hash(&validators),
            next_validators_hash: validator_set_hash(&set_of(next)),
            results_root: Hash::ZERO,
            records_root: Hash::ZERO,
        };
        let keys: Vec<SigningKey> = spec.iter().map(|&(_, s)| key(s)).collect();
        let commit = sign(&header, CHAIN, &keys);
        LightBlock {
            header,
            commit,
            validators,
        }
    }

    /// Re-signs a block after its header was changed, by `signers`.
    fn resign(mut b: LightBlock, signers: &[u8]) -> LightBlock {
        let keys: Vec<SigningKey> = signers.iter().map(|&s| key(s)).collect();
        b.commit = sign(&b.header, &b.header.chain_id.clone(), &keys);
        b
    }

    struct TestChain {
        genesis: Genesis,
        blocks: Vec<LightBlock>,
    }

    impl TestChain {
        /// Heights 1..=len; `spec_at(h)` decides h (heights 1 and 2: the
        /// genesis set).
        fn new(len: u64, spec_at: impl Fn(u64) -> Spec) -> TestChain {
            let mut participants: Vec<Participant> = spec_at(1)
                .iter()
                .map(|&(c, s)| Participant {
                    code: code(c),
                    kind: ParticipantKind::Government,
                    name: format!("government {c}"),
                    territories: vec![Territory::new(code(c).as_str()).unwrap()],
                    node_key: key(s).public(),
                })
                .collect();
            participants.push(Participant {
                code: ParticipantCode::new("OBS").unwrap(),
                kind: ParticipantKind::Observer,
                name: "observer".into(),
                territories: vec![],
                node_key: key(250).public(),
            });
            participants.reverse(); // the genesis order does not matter
            let genesis = Genesis {
                chain_id: CHAIN.into(),
                genesis_time: Timestamp(T0),
                chair: code(spec_at(1)[0].0),
                vice_chair: None,
                params: Params::default(),
                participants,
                authorities: vec![],
            };
            genesis.validate().unwrap();
            let mut blocks: Vec<LightBlock> = Vec::new();
            for h in 1..=len {
                let prev = blocks.last().map_or(Hash::ZERO, |b| b.header.hash());
                blocks.push(block(h, prev, &spec_at(h), &spec_at(h + 1)));
            }
            TestChain { genesis, blocks }
        }

        fn at(&self, h: u64) -> &LightBlock {
            &self.blocks[(h - 1) as usize]
        }

        fn get(&self, h: u64) -> Result<LightBlock, String> {
            self.blocks
                .get((h as usize).wrapping_sub(1))
                .cloned()
                .ok_or_else(|| format!("no block at {h}"))
        }

        fn client(&self) -> LightClient {
            LightClient::new(
                TrustedState::from_genesis(&self.genesis),
                TrustOptions::default(),
                None,
            )
            .unwrap()
        }
    }

    fn four() -> Spec {
        vec![(0, 1), (1, 2), (2, 3), (3, 4)]
    }

    fn no_fetch(h: u64) -> Result<LightBlock, String> {
        Err(format!("no fetch expected (height {h})"))
    }

    fn now_for(h: u64) -> Timestamp {
        time_of(h).plus_ms(1_000)
    }

    #[test]
    fn genesis_trust_is_the_government_set_by_code() {
        let chain = TestChain::new(1, |_| four());
        let root = TrustedState::from_genesis(&chain.genesis);
        assert_eq!(root.height, 0);
        assert_eq!(root.validators, set_of(&four()));
        assert_eq!(
            root.next_validators_hash,
            chain.at(1).header.validators_hash
        );
        assert_eq!(root.genesis_hash, chain.genesis.hash());
    }

    #[test]
    fn adjacent_from_genesis_over_ten_heights() {
        let chain = TestChain::new(10, |_| four());
        let mut client = chain.client();
        assert!(client.latest().is_none());
        for h in 1..=10 {
            client
                .verify(chain.at(h), now_for(h), &mut no_fetch)
                .unwrap();
            assert_eq!(client.latest().unwrap().header.height, h);
        }
        assert_eq!(client.trusted_at(5), Some(chain.at(5)));
        // Verifying a known header again is a no-op.
        client
            .verify(chain.at(7), now_for(10), &mut no_fetch)
            .unwrap();
    }

    #[test]
    fn skipping_from_genesis_to_1000_in_one_step() {
        let chain = TestChain::new(1000, |_| four());
        let mut client = chain.client();
        client
            .verify(chain.at(1000), now_for(1000), &mut no_fetch)
            .unwrap();
        assert_eq!(client.latest(), Some(chain.at(1000)));
        assert!(client.trusted_at(500).is_none());
        // And a height between, from genesis again (forward from below).
        client
            .verify(chain.at(400), now_for(1000), &mut no_fetch)
            .unwrap();
        assert!(client.trusted_at(400).is_some());
    }

    #[test]
    fn rotated_key_skipping_and_adjacent() {
        // Member 0 rotates its key (seed 1 -> 11) from height 300.
        let spec = |h: u64| {
            if h < 300 {
                four()
            } else {
                vec![(0, 11), (1, 2), (2, 3), (3, 4)]
            }
        };
        let chain = TestChain::new(1000, spec);
        let mut client = chain.client();
        client
            .verify(chain.at(1000), now_for(1000), &mut no_fetch)
            .unwrap();

        let mut client = chain.client();
        client
            .verify(chain.at(298), now_for(298), &mut no_fetch)
            .unwrap();
        for h in 299..=302 {
            client
                .verify(chain.at(h), now_for(h), &mut no_fetch)
                .unwrap();
        }
        assert_eq!(client.latest().unwrap().header.height, 302);
    }

    #[test]
    fn whole_set_replaced_at_once_needs_bisection() {
        // Height 500 on: four new members with new keys.
        let spec = |h: u64| {
            if h < 500 {
                four()
            } else {
                vec![(4, 21), (5, 22), (6, 23), (7, 24)]
            }
        };
        let chain = TestChain::new(1000, spec);
        let mut client = chain.client();
        let err = client
            .verify(chain.at(1000), now_for(1000), &mut no_fetch)
            .unwrap_err();
        assert!(
            matches!(err, LightError::Fetch { height: 500, .. }),
            "{err}"
        );

        let mut client = chain.client();
        let mut calls = Vec::new();
        let mut fetch = |h: u64| {
            calls.push(h);
            chain.get(h)
        };
        client
            .verify(chain.at(1000), now_for(1000), &mut fetch)
            .unwrap();
        assert!(!calls.is_empty() && calls.len() <= FETCHES_MAX, "{calls:?}");
        assert_eq!(client.latest(), Some(chain.at(1000)));
        // The change was crossed adjacently: 499 and 500 are kept.
        assert!(client.trusted_at(499).is_some());
        assert!(client.trusted_at(500).is_some());
    }

    #[test]
    fn gradual_replacement_bisects() {
        // One key replaced every 100 heights; from 400 on, none of the
        // genesis keys is left.
        let spec = |h: u64| {
            let step = (h / 100).min(4) as u8;
            (0..4u8)
                .map(|i| if i < step { (i, 31 + i) } else { (i, 1 + i) })
                .collect()
        };
        let chain = TestChain::new(1000, spec);
        let mut client = chain.client();
        let mut calls = Vec::new();
        let mut fetch = |h: u64| {
            calls.push(h);
            chain.get(h)
        };
        client
            .verify(chain.at(1000), now_for(1000), &mut fetch)
            .unwrap();
        assert!(!calls.is_empty() && calls.len() <= FETCHES_MAX, "{calls:?}");
        for h in calls {
            assert!(client.trusted_at(h).is_some(), "pivot {h} kept");
        }
    }

    #[test]
    fn bisection_is_bounded() {
        // A new single-key set at every height (no key ever returns): only
        // adjacent steps work, and 200 of them need more fetches than allowed.
        let spec = |h: u64| vec![(0u8, h as u8)];
        let chain = TestChain::new(200, spec);
        let mut client = chain.client();
        let mut calls = 0;
        let mut fetch = |h: u64| {
            calls += 1;
            chain.get(h)
        };
        let err = client
            .verify(chain.at(200), now_for(200), &mut fetch)
            .unwrap_err();
        assert!(matches!(err, LightError::NotEnoughTrust { .. }), "{err}");
        assert_eq!(calls, FETCHES_MAX);
        assert!(client.trusted_at(200).is_none());
    }

    #[test]
    fn forged_header_of_a_lone_government_is_refused() {
        let chain = TestChain::new(1000, |_| four());
        let alone: Spec = vec![(0, 1)];
        // Skipping: one of four trusted signers is not enough; bisection
        // through the honest chain then meets the forgery adjacently.
        let forged = block(1000, chain.at(999).header.hash(), &alone, &alone);
        let mut client = chain.client();
        let mut fetch = |h: u64| chain.get(h);
        let err = client
            .verify(&forged, now_for(1000), &mut fetch)
            .unwrap_err();
        assert!(
            matches!(err, LightError::BadValidatorSet { height: 1000, .. }),
            "{err}"
        );
        assert!(client.trusted_at(1000).is_none());
        // With no node to ask, it is refused for lack of trust.
        let mut client = chain.client();
        let err = client
            .verify(&forged, now_for(1000), &mut no_fetch)
            .unwrap_err();
        assert!(matches!(err, LightError::Fetch { .. }), "{err}");
        // Adjacent: not the announced set.
        let forged = block(1, Hash::ZERO, &alone, &alone);
        let err = client
            .verify(&forged, now_for(1), &mut no_fetch)
            .unwrap_err();
        assert!(
            matches!(err, LightError::BadValidatorSet { height: 1, .. }),
            "{err}"
        );
        // The forger cannot claim the real set and sign alone.
        let mut forged = chain.at(1).clone();
        forged.header.state_root = Hash([9; 32]);
        let forged = resign(forged, &[1]);
        let err = client
            .verify(&forged, now_for(1), &mut no_fetch)
            .unwrap_err();
        assert!(
            matches!(err, LightError::BadCommit { height: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn bad_commits_and_sets_are_refused() {
        let chain = TestChain::new(10, |_| four());
        let mut client = chain.client();
        let now = now_for(10);
        let mut check = |b: &LightBlock| client.verify(b, now, &mut no_fetch).unwrap_err();

        // A commit for another block hash.
        let mut b = chain.at(1).clone();
        b.commit = chain.at(2).commit.clone();
        b.commit.height = 1;
        assert!(matches!(check(&b), LightError::BadCommit { .. }));
        let mut b = chain.at(1).clone();
        b.commit.block_hash = chain.at(2).header.hash();
        assert!(matches!(check(&b), LightError::BadCommit { .. }));

        // Another chain, signed for it.
        let mut b = chain.at(1).clone();
        b.header.chain_id = "other".into();
        let b = resign(b, &[1, 2, 3, 4]);
        assert!(matches!(check(&b), LightError::WrongChain { .. }));

        // Missing quorum: 2 of 4 (3 needed).
        let b = resign(chain.at(1).clone(), &[1, 2]);
        assert!(matches!(check(&b), LightError::BadCommit { .. }));
        // A signature that does not verify.
        let mut b = chain.at(1).clone();
        b.commit.signatures[0].signature = b.commit.signatures[1].signature;
        assert!(matches!(check(&b), LightError::BadCommit { .. }));
        // More signatures than validators (a duplicate signer).
        let mut b = chain.at(1).clone();
        let extra = b.commit.signatures[0].clone();
        b.commit.signatures.push(extra);
        assert!(matches!(check(&b), LightError::BadCommit { .. }));

        // Validators that do not hash to the header.
        let mut b = chain.at(1).clone();
        b.validators[0].1 = key(99).public();
        assert!(matches!(check(&b), LightError::BadValidatorSet { .. }));
        // A set listing one key twice, even if the header agrees.
        let mut b = chain.at(1).clone();
        b.validators[1].1 = b.validators[0].1;
        b.header.validators_hash = validator_set_hash(&b.validators);
        let b = resign(b, &[1, 3, 4]);
        assert!(matches!(check(&b), LightError::BadValidatorSet { .. }));
        // A set over the bound.
        let mut b = chain.at(1).clone();
        b.validators = (0..=LIGHT_VALIDATORS_MAX)
            .map(|i| {
                let c = format!(
                    "{}{}{}",
                    (b'A' + (i / 676) as u8) as char,
                    (b'A' + (i / 26 % 26) as u8) as char,
                    (b'A' + (i % 26) as u8) as char
                );
                let mut k = [0u8; 32];
                k[..8].copy_from_slice(&(i as u64).to_be_bytes());
                (ParticipantCode::new(&c).unwrap(), PublicKey(k))
            })
            .collect();
        let err = check(&b);
        assert!(
            matches!(&err, LightError::BadValidatorSet { reason, .. } if reason.contains("at most")),
            "{err}"
        );
        // A prev_hash that does not link (adjacent), signed by the real set.
        let mut b = chain.at(1).clone();
        b.header.prev_hash = Hash([1; 32]);
        let b = resign(b, &[1, 2, 3, 4]);
        assert!(matches!(check(&b), LightError::NotLinked { height: 1, .. }));
        // Height 0.
        let mut b = chain.at(1).clone();
        b.header.height = 0;
        assert!(matches!(check(&b), LightError::BadHeader { .. }));

        // Nothing was trusted on the way.
        assert!(client.latest().is_none());
    }

    #[test]
    fn expired_trust_and_future_headers_are_refused() {
        let chain = TestChain::new(20, |_| four());
        let mut client = chain.client();
        let late = Timestamp(T0).plus_ms(TRUST_PERIOD_MS_DEFAULT + 1);
        let err = client
            .verify(chain.at(10), late, &mut no_fetch)
            .unwrap_err();
        assert!(
            matches!(
                err,
                LightError::Expired {
                    trusted_height: 0,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("pin a recent header"));

        // A header more than the drift ahead of the clock.
        let early = time_of(10).0 - CLOCK_DRIFT_MS_DEFAULT - 1;
        let err = client
            .verify(chain.at(10), Timestamp(early), &mut no_fetch)
            .unwrap_err();
        assert!(
            matches!(err, LightError::FromTheFuture { height: 10, .. }),
            "{err}"
        );
        // Within the drift it is fine.
        let early = time_of(10).0 - CLOCK_DRIFT_MS_DEFAULT;
        client
            .verify(chain.at(10), Timestamp(early), &mut no_fetch)
            .unwrap();

        // Times must increase.
        let mut b = chain.at(11).clone();
        b.header.time = time_of(10);
        let b = resign(b, &[1, 2, 3, 4]);
        let err = client.verify(&b, now_for(20), &mut no_fetch).unwrap_err();
        assert!(matches!(err, LightError::NotMonotonic { .. }), "{err}");
    }

    #[test]
    fn a_conflicting_header_at_a_trusted_height_is_a_fork() {
        let chain = TestChain::new(20, |_| four());
        let mut client = chain.client();
        client
            .verify(chain.at(10), now_for(20), &mut no_fetch)
            .unwrap();
        let mut fork = chain.at(10).clone();
        fork.header.state_root = Hash([77; 32]);
        let fork = resign(fork, &[1, 2, 3, 4]);
        let err = client
            .verify(&fork, now_for(20), &mut no_fetch)
            .unwrap_err();
        assert_eq!(
            err,
            LightError::Conflict {
                height: 10,
                trusted: chain.at(10).header.hash(),
                found: fork.header.hash(),
            }
        );
        // A fork at 9 that 10 does not link to.
        let mut fork = chain.at(9).clone();
        fork.header.state_root = Hash([78; 32]);
        let fork = resign(fork, &[1, 2, 3, 4]);
        let err = client
            .verify(&fork, now_for(20), &mut no_fetch)
            .unwrap_err();
        assert!(
            matches!(err, LightError::Conflict { height: 9, .. }),
            "{err}"
        );
        assert!(client.trusted_at(9).is_none());
    }

    #[test]
    fn pinned_root_forward_and_backward() {
        let chain = TestChain::new(100, |_| four());
        let pinned = chain.at(80);
        let hash = pinned.header.hash();
        let genesis_hash = chain.genesis.hash();
        assert!(matches!(
            TrustedState::from_pinned(CHAIN, genesis_hash, 80, Hash([3; 32]), pinned),
            Err(LightError::Conflict { .. })
        ));
        let root = TrustedState::from_pinned(CHAIN, genesis_hash, 80, hash, pinned).unwrap();
        let mut client = LightClient::new(root, TrustOptions::default(), None).unwrap();
        // Forward from the pin (its time, not genesis, counts for expiry).
        let now = time_of(80).plus_ms(TRUST_PERIOD_MS_DEFAULT - 1);
        client.verify(chain.at(100), now, &mut no_fetch).unwrap();
        // Backward below it, through hash links.
        let mut calls = Vec::new();
        let mut fetch = |h: u64| {
            calls.push(h);
            chain.get(h)
        };
        client.verify(chain.at(75), now, &mut fetch).unwrap();
        assert_eq!(calls, vec![80, 79, 78, 77, 76]);
        assert!(client.trusted_at(75).is_some() && client.trusted_at(80).is_some());
        // A header not linking to the trusted ones is refused.
        let mut fork = chain.at(70).clone();
        fork.header.state_root = Hash([5; 32]);
        let fork = resign(fork, &[1, 2, 3, 4]);
        let mut fetch = |h: u64| chain.get(h);
        let err = client.verify(&fork, now, &mut fetch).unwrap_err();
        assert!(
            matches!(err, LightError::NotLinked { height: 71, .. }),
            "{err}"
        );
        // Too far back.
        let err = client.verify(chain.at(5), now, &mut fetch).unwrap_err();
        assert!(matches!(err, LightError::TooFarBack { .. }), "{err}");
        // The pinned block itself is accepted and kept.
        client.verify(chain.at(80), now, &mut no_fetch).unwrap();
    }

    #[test]
    fn store_round_trips_and_refuses_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let chain = TestChain::new(1000, |_| four());
        let store = LightStore::open(dir.path()).unwrap();
        let root = TrustedState::from_genesis(&chain.genesis);
        let mut client =
            LightClient::new(root.clone(), TrustOptions::default(), Some(store.clone())).unwrap();
        for h in [1, 2, 3, 500, 1000] {
            client
                .verify(chain.at(h), now_for(1000), &mut no_fetch)
                .unwrap();
        }
        let path = store.path_for(CHAIN, &chain.genesis.hash());
        assert!(path.exists());
        assert!(path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("kp-test-"));

        let reopened =
            LightClient::new(root.clone(), TrustOptions::default(), Some(store.clone())).unwrap();
        assert_eq!(reopened.latest(), Some(chain.at(1000)));
        for h in [1, 2, 3, 500] {
            assert_eq!(reopened.trusted_at(h), Some(chain.at(h)));
        }

        // The store is bounded.
        let long = TestChain::new(300, |_| four());
        let dir2 = tempfile::tempdir().unwrap();
        let store2 = LightStore::open(dir2.path()).unwrap();
        let mut c = LightClient::new(
            TrustedState::from_genesis(&long.genesis),
            TrustOptions::default(),
            Some(store2.clone()),
        )
        .unwrap();
        for h in 1..=300 {
            c.verify(long.at(h), now_for(300), &mut no_fetch).unwrap();
        }
        let loaded = store2.load(CHAIN, &long.genesis.hash()).unwrap();
        assert_eq!(loaded.len(), STORE_BLOCKS_MAX);
        assert_eq!(
            loaded.keys().next(),
            Some(&(300 - STORE_BLOCKS_MAX as u64 + 1))
        );

        // Tampering: a changed header no longer matches its commit.
        let text = std::fs::read_to_string(&path).unwrap();
        let state_root = chain.at(500).header.state_root.to_hex();
        assert!(text.contains(&state_root));
        let tampered = text.replace(&state_root, &Hash([0xee; 32]).to_hex());
        std::fs::write(&path, tampered).unwrap();
        let err = LightClient::new(root.clone(), TrustOptions::default(), Some(store.clone()))
            .unwrap_err();
        assert!(matches!(err, LightError::Store { .. }), "{err}");

        // Tampering: validators swapped for the forger's own set, with the
        // header fields changed to match, breaks the link to height 2.
        let mut blocks = chain.blocks[..3].to_vec();
        let alone = set_of(&[(0, 1)]);
        blocks[2].validators = alone.clone();
        blocks[2].header.validators_hash = validator_set_hash(&alone);
        blocks[2] = resign(blocks[2].clone(), &[1]);
        let map: BTreeMap<u64, LightBlock> =
            blocks.into_iter().map(|b| (b.header.height, b)).collect();
        store.save(CHAIN, &chain.genesis.hash(), &map).unwrap();
        let err = LightClient::new(root.clone(), TrustOptions::default(), Some(store.clone()))
            .unwrap_err();
        assert!(matches!(err, LightError::Store { .. }), "{err}");

        // Garbage.
        std::fs::write(&path, b"{not json").unwrap();
        let err = LightClient::new(root, TrustOptions::default(), Some(store)).unwrap_err();
        assert!(matches!(err, LightError::Store { .. }), "{err}");
    }

    #[test]
    fn store_of_another_root_conflicts() {
        let dir = tempfile::tempdir().unwrap();
        let chain = TestChain::new(10, |_| four());
        let store = LightStore::open(dir.path()).unwrap();
        let root = TrustedState::from_genesis(&chain.genesis);
        let mut client =
            LightClient::new(root, TrustOptions::default(), Some(store.clone())).unwrap();
        client
            .verify(chain.at(5), now_for(10), &mut no_fetch)
            .unwrap();
        // A pin at 5 that differs from the stored 5.
        let mut other = chain.at(5).clone();
        other.header.state_root = Hash([42; 32]);
        let other = resign(other, &[1, 2, 3, 4]);
        let pinned = TrustedState::from_light_block(CHAIN, chain.genesis.hash(), &other);
        let err = LightClient::new(pinned, TrustOptions::default(), Some(store)).unwrap_err();
        assert!(
            matches!(err, LightError::Conflict { height: 5, .. }),
            "{err}"
        );
    }

    #[test]
    fn default_dir_ends_in_light() {
        let dir = LightStore::default_dir();
        assert!(dir.ends_with("kpledger/light") || dir.ends_with(".kpledger-light"));
    }
}
