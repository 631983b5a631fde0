//! Chain parameters, fixed at genesis and committed to by the state root.
//!
//! Every figure is an integer (days, milliseconds, counts, percentages) so that
//! nothing signed, stored or hashed depends on floating point.

use serde::{Deserialize, Serialize};

/// Longest recovery delay a genesis may set (a year).
pub const RECOVERY_DELAY_MS_MAX: u64 = 365 * 86_400_000;

/// Parameters of the chain, fixed at genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct Params {
    /// Longest allowed validity of a certificate, in days (issue to expiry).
    pub certificate_validity_days_max: u32,
    /// Most transactions in one block.
    pub block_txs_max: u32,
    /// Most bytes of encoded transactions in one block.
    pub block_bytes_max: u32,
    /// Deadline of a resolution that names none, in milliseconds after the
    /// block that proposes it.
    pub resolution_deadline_default_ms: u64,
    /// Latest allowed deadline of a resolution, in milliseconds after the block
    /// that proposes it (bounds how long a pending resolution occupies state).
    pub resolution_deadline_max_ms: u64,
    /// Longest a transaction may stay includable: `expires_at` may be at most
    /// this far beyond the block time. Bounds the executed-hash memory.
    pub tx_lifetime_max_ms: u64,
    /// Mirror mismatch anomaly: flagged when exporter's and importer's carats
    /// for one pair and period differ by more than this percent of the larger.
    pub mirror_mismatch_pct: u32,
    /// Value-per-carat anomaly: flagged when a Participant's value per carat
    /// for an HS code deviates from the period's norm by more than this percent.
    pub value_per_carat_deviation_pct: u32,
    /// Sharp-change anomaly: flagged when exported carats rise or fall by more
    /// than this percent against the previous period.
    pub sharp_change_pct: u32,
    /// Export-excess anomaly: flagged when exported carats exceed production
    /// plus imports by more than this percent.
    pub export_excess_pct: u32,
    /// Anomalies ignore figures below this many hundredths of a carat (noise).
    pub anomaly_carats_min: u64,
    /// Most certificate expiries, resolution lapses and executed-hash prunes
    /// processed at the start of one block each; the rest roll over to the
    /// next block (rules check expiry directly, so this only bounds work).
    pub housekeeping_per_block_max: u32,
    /// Most resolutions one government may have pending at once: one
    /// government cannot flood the list every other one must read and sign.
    pub pending_resolutions_per_proposer_max: u32,
    /// How long a recovery begun by a member's recovery key (or a rotation
    /// of its recovery key by its government key) waits before it takes
    /// effect, in milliseconds: the time the current key has to notice and
    /// cancel (`docs/adr/0008-government-keys-and-recovery.md`).
    pub recovery_delay_ms: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            certificate_validity_days_max: 60,
            block_txs_max: 5_000,
            block_bytes_max: 8 * 1024 * 1024,
            resolution_deadline_default_ms: 30 * 86_400_000,
            resolution_deadline_max_ms: 365 * 86_400_000,
            tx_lifetime_max_ms: 3_600_000,
            mirror_mismatch_pct: 10,
            value_per_carat_deviation_pct: 50,
            sharp_change_pct: 50,
            export_excess_pct: 10,
            anomaly_carats_min: 10_000, // 100.00 ct
            housekeeping_per_block_max: 10_000,
            pending_resolutions_per_proposer_max: 10,
            recovery_delay_ms: 7 * 86_400_000,
        }
    }
}

impl Params {
    /// The first parameter that makes no sense, if any.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.certificate_validity_days_max == 0 {
            return Err("certificate_validity_days_max must be positive");
        }
        if self.block_txs_max == 0 || self.block_bytes_max == 0 {
            return Err("block limits must be positive");
        }
        if self.tx_lifetime_max_ms == 0 {
            return Err("tx_lifetime_max_ms must be positive");
        }
        if self.resolution_deadline_default_ms == 0
            || self.resolution_deadline_default_ms > self.resolution_deadline_max_ms
        {
            return Err("resolution deadlines must be positive, default <= max");
        }
        if self.housekeeping_per_block_max == 0 {
            return Err("housekeeping_per_block_max must be positive");
        }
        if self.pending_resolutions_per_proposer_max == 0 {
            return Err("pending_resolutions_per_proposer_max must be positive");
        }
        if self.recovery_delay_ms == 0 || self.recovery_delay_ms > RECOVERY_DELAY_MS_MAX {
            return Err("recovery_delay_ms must be positive and at most 365 days");
        }
        Ok(())
    }
}
