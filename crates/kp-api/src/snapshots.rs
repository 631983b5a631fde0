//! What a node says of the state snapshots it keeps for late joiners
//! (`GET /v1/snapshots`, ADR 0016).

use kp_types::Hash;
use serde::{Deserialize, Serialize};

/// One snapshot a node keeps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SnapshotInfo {
    /// The height whose state it holds.
    pub height: u64,
    /// The manifest's hash.
    pub manifest_hash: Hash,
    /// The state root after `height` (the header of `height + 1` carries it).
    pub state_root: Hash,
    /// How many chunks.
    pub chunks: usize,
    /// The chunks' bytes together.
    pub bytes: u64,
}

/// Answer to `GET /v1/snapshots`: newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SnapshotList {
    /// The snapshots.
    pub snapshots: Vec<SnapshotInfo>,
}
