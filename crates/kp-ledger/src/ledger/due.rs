//! When the ledger next has time-driven work: the earliest block time at
//! which a block's housekeeping would change the state even if the block
//! carried no transaction. An idle network uses it to make no empty blocks
//! until then (or until its heartbeat), so that lapses, expiries, key
//! changes and the Chair's rotation still happen on time.

use super::Ledger;
use crate::error::LedgerError;
use crate::keys;
use crate::store::{StateStore, StoreError};
use kp_types::{Date, Timestamp};

fn be_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

fn be_u32(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?))
}

impl<S: StateStore> Ledger<S> {
    /// The earliest block time at which housekeeping has work, if any is
    /// scheduled: a pending resolution's deadline (it lapses), the day after
    /// an open certificate's expiry date (it expires), a recovery or
    /// recovery-key rotation taking effect, and 1 January of the next year
    /// (the Chair's rotation). Pruning the memory of executed transactions
    /// is not counted: it changes no verdict and waits for the next block.
    pub fn next_housekeeping_at(&self) -> Result<Option<Timestamp>, LedgerError> {
        let first = |prefix: &[u8]| -> Result<Option<Vec<u8>>, StoreError> {
            Ok(self
                .store
                .scan_prefix(prefix, None, 1)?
                .into_iter()
                .next()
                .map(|(k, _)| k[prefix.len()..].to_vec()))
        };
        let mut due: Vec<Timestamp> = Vec::new();
        // Deadlines up to and including the block time lapse.
        let deadlines = keys::prefix(keys::table::RESOLUTION_DEADLINE);
        if let Some(at) = first(&deadlines)?.as_deref().and_then(be_u64) {
            due.push(Timestamp(at));
        }
        // Changes take effect in the first block at or after their time.
        let schedule = keys::prefix(keys::table::KEY_CHANGE_SCHEDULE);
        if let Some(at) = first(&schedule)?.as_deref().and_then(be_u64) {
            due.push(Timestamp(at));
        }
        // A certificate expires in the first block dated after its expiry
        // date (both index versions lead with the date).
        for prefix in [
            keys::certificates_by_expiry_prefix(),
            keys::prefix(keys::table::CERTIFICATE_EXPIRY),
        ] {
            if let Some(date) = first(&prefix)?.as_deref().and_then(be_u32) {
                due.push(Timestamp::at_start_of(Date(date).plus_days(1)));
            }
        }
        let year = self.last_block_time().date().year();
        if let Some(new_year) = Date::from_ymd(year.saturating_add(1), 1, 1) {
            due.push(Timestamp::at_start_of(new_year));
        }
        Ok(due.into_iter().min())
    }
}
