//! Block sync, the asking side: which peer to ask for decided blocks, from
//! which height, and when; and which blocks of an answer follow on.
//!
//! One request is in flight at a time. A node asks when it stalls (no block
//! applied for a while), when a peer shows a later height, or when its core
//! saw a decision certified that it lacks. An answer with blocks is
//! pipelined: the next range is asked of the same peer at once, while the
//! host applies this one. A request that gets no answer is forgotten after
//! a timeout. Answering is the host's (it reads its store).

use kp_types::{Block, CommitCertificate, PublicKey, Timestamp};
use std::collections::BTreeSet;

/// How a replica asks for blocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncConfig {
    /// Most blocks asked for at once (answers are also cut by size).
    pub batch_max: u32,
    /// How long without a new block before asking peers.
    pub stall_ms: u64,
    /// How often the stall is checked.
    pub check_ms: u64,
    /// How long a request may go unanswered before another is sent.
    pub timeout_ms: u64,
    /// Peers remembered at most.
    pub peers_max: usize,
    /// Transactions after which blocks applied ahead of the store in a
    /// catch-up are written (the block that crosses it included). sled
    /// clones a leaf for every key a batch inserts and frees the old copies
    /// only when the batch ends, so a batch's memory grows with its keys:
    /// tens of thousands of certificates in one batch take gigabytes.
    pub stage_txs_max: usize,
}

impl Default for SyncConfig {
    fn default() -> SyncConfig {
        SyncConfig {
            batch_max: 128,
            stall_ms: 2_000,
            check_ms: 1_000,
            timeout_ms: 30_000,
            peers_max: 1_024,
            stage_txs_max: 4_000,
        }
    }
}

/// Ask `peer` for the decided blocks from `from_height` on, at most `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncRequest {
    /// Whom to ask.
    pub peer: PublicKey,
    /// The first height wanted.
    pub from_height: u64,
    /// Most blocks wanted.
    pub max: u32,
}

/// The asking side's state.
#[derive(Debug, Default)]
pub(crate) struct Sync {
    peers: BTreeSet<PublicKey>,
    in_flight: Option<(SyncRequest, Timestamp)>,
    /// Round-robin position among the peers.
    next_peer: usize,
    /// When the ledger last grew (or the replica started).
    last_progress: Timestamp,
}

impl Sync {
    pub(crate) fn peer_connected(&mut self, peer: PublicKey, peers_max: usize) {
        if self.peers.len() < peers_max {
            self.peers.insert(peer);
        }
    }

    pub(crate) fn peer_disconnected(&mut self, peer: &PublicKey) {
        self.peers.remove(peer);
    }

    pub(crate) fn peers(&self) -> usize {
        self.peers.len()
    }

    pub(crate) fn progressed(&mut self, now: Timestamp) {
        self.last_progress = now;
    }

    pub(crate) fn in_flight(&self) -> Option<SyncRequest> {
        self.in_flight.map(|(r, _)| r)
    }

    /// Asks `peer` from `from_height`, unless a request is in flight.
    pub(crate) fn ask(
        &mut self,
        peer: PublicKey,
        from_height: u64,
        now: Timestamp,
        config: &SyncConfig,
    ) -> Option<SyncRequest> {
        if self.in_flight.is_some() {
            return None;
        }
        let request = SyncRequest {
            peer,
            from_height,
            max: config.batch_max.max(1),
        };
        self.in_flight = Some((request, now));
        Some(request)
    }

    /// Asks the next connected peer (round-robin) from `from_height`.
    pub(crate) fn ask_any(
        &mut self,
        from_height: u64,
        now: Timestamp,
        config: &SyncConfig,
    ) -> Option<SyncRequest> {
        if self.peers.is_empty() || self.in_flight.is_some() {
            return None;
        }
        self.next_peer = (self.next_peer + 1) % self.peers.len();
        let peer = *self.peers.iter().nth(self.next_peer)?;
        self.ask(peer, from_height, now, config)
    }

    /// The periodic check: forget a request unanswered for too long, and
    /// ask someone if no block came for a while.
    /// `quiet_ms` is how long the network may rightly make no block on top
    /// of `stall_ms` (an idle network's heartbeat, or 0).
    pub(crate) fn check(
        &mut self,
        from_height: u64,
        now: Timestamp,
        config: &SyncConfig,
        quiet_ms: u64,
    ) -> Option<SyncRequest> {
        if let Some((_, since)) = self.in_flight {
            if now.0.saturating_sub(since.0) >= config.timeout_ms {
                self.in_flight = None;
            }
        }
        if now.0.saturating_sub(self.last_progress.0) > config.stall_ms.saturating_add(quiet_ms) {
            return self.ask_any(from_height, now, config);
        }
        None
    }

    /// An answer (or its failure) from `peer`: the request is done. Returns
    /// the blocks that follow on from `next` (blocks the ledger already has
    /// are skipped; an answer that does not continue from `next`, or skips
    /// a height, gives none).
    pub(crate) fn answered(
        &mut self,
        peer: &PublicKey,
        answer: Option<Vec<(Block, CommitCertificate)>>,
        next: u64,
    ) -> Vec<(Block, CommitCertificate)> {
        if self.in_flight.is_some_and(|(r, _)| r.peer == *peer) {
            self.in_flight = None;
        }
        let Some(blocks) = answer else {
            return Vec::new();
        };
        let blocks: Vec<(Block, CommitCertificate)> = blocks
            .into_iter()
            .skip_while(|(block, _)| block.header.height < next)
            .collect();
        let follows = blocks
            .iter()
            .enumerate()
            .all(|(i, (block, _))| block.header.height == next + i as u64);
        if follows {
            blocks
        } else {
            Vec::new()
        }
    }
}
