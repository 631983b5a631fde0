//! The light client: verifying headers forward (adjacent, skipping,
//! bisection) and backward from what it trusts, and remembering them.

use super::check::{check_block, check_set};
use super::trust::Anchor;
use super::{LightError, LightStore, TrustOptions, TrustedState, FETCHES_MAX, STORE_BLOCKS_MAX};
use kp_api::proof::LightBlock;
use kp_types::{validator_set_hash, Hash, PublicKey, Timestamp};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

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
