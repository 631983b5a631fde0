//! Trade statistics kept in state: export, import and expiry counters per quarter.

use super::{quarter_of, Ctx, Exec, EXPIRED_NUMBERS_MAX};
use crate::keys;
use crate::records::{Receipt, Totals, TradeStatistics};
use crate::state::GlobalQuarterStats;
use crate::store::{StateStore, StoreError};
use kp_types::{Carats, Certificate, ParticipantCode, UsdCents};
use std::collections::BTreeMap;

/// Decoded records of one kind that a block changes, by key, layered as the
/// overlay's writes are: those of the block so far, and those of the
/// transaction being executed, kept or dropped with it.
///
/// A block of certificates updates the same few statistics records once per
/// certificate. Each is now read and decoded once per block, updated in
/// place, and encoded into the overlay once, at the end of the block
/// ([`Ctx::end_block`]): before, every certificate decoded and encoded its
/// exporter's record and the global one again. Nothing reads a statistics
/// record between (no rule reads them; queries read committed state).
#[derive(Debug)]
pub(super) struct Layered<T> {
    block: BTreeMap<Vec<u8>, T>,
    tx: BTreeMap<Vec<u8>, T>,
}

impl<T> Default for Layered<T> {
    fn default() -> Self {
        Layered {
            block: BTreeMap::new(),
            tx: BTreeMap::new(),
        }
    }
}

impl<T: Clone> Layered<T> {
    /// The record of `key` for the transaction to change: its own copy,
    /// from the block's, or loaded.
    fn get_mut(
        &mut self,
        key: Vec<u8>,
        load: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<&mut T, StoreError> {
        Ok(match self.tx.entry(key) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let value = match self.block.get(e.key()) {
                    Some(v) => v.clone(),
                    None => load()?,
                };
                e.insert(value)
            }
        })
    }

    /// Keeps the transaction's changes.
    pub(super) fn keep(&mut self) {
        let tx = std::mem::take(&mut self.tx);
        self.block.extend(tx);
    }

    /// Drops the transaction's changes.
    pub(super) fn drop_tx(&mut self) {
        self.tx.clear();
    }

    /// Every changed record (the transaction's kept), emptying the layers.
    pub(super) fn take(&mut self) -> BTreeMap<Vec<u8>, T> {
        self.keep();
        std::mem::take(&mut self.block)
    }
}

/// Adds (or removes) a certificate's figures to totals.
fn apply_totals(t: &mut Totals, add: bool, n: u64, carats: Carats, value: UsdCents) {
    if add {
        t.add(n, carats, value)
    } else {
        t.subtract(n, carats, value)
    }
}

fn apply_keyed<K: Ord + Clone>(
    map: &mut std::collections::BTreeMap<K, Totals>,
    key: &K,
    add: bool,
    n: u64,
    carats: Carats,
    value: UsdCents,
) {
    let entry = map.entry(key.clone()).or_default();
    apply_totals(entry, add, n, carats, value);
    // Drop emptied entries so that a voided certificate leaves no trace.
    if *entry == Totals::default() {
        map.remove(key);
    }
}

impl<S: StateStore> Ctx<'_, S> {
    /// A member's statistics for a quarter, to change.
    fn member_stats(
        &mut self,
        code: &ParticipantCode,
        year: u32,
        quarter: u8,
    ) -> Result<&mut TradeStatistics, StoreError> {
        let ov = &self.ov;
        self.member_stats
            .get_mut(keys::stats(code, year, quarter), || {
                ov.quarter_stats(code, year, quarter)
            })
    }

    /// The statistics of all members for a quarter, to change.
    fn global_stats(
        &mut self,
        year: u32,
        quarter: u8,
    ) -> Result<&mut GlobalQuarterStats, StoreError> {
        let ov = &self.ov;
        self.global_stats
            .get_mut(keys::global_stats(year, quarter), || {
                ov.global_stats(year, quarter)
            })
    }

    /// Writes the statistics records the block changed into the overlay.
    pub(super) fn write_stats(&mut self) {
        for (key, s) in self.member_stats.take() {
            self.ov.put_value(key, &s);
        }
        for (key, g) in self.global_stats.take() {
            self.ov.put_value(key, &g);
        }
    }

    pub(super) fn count_export(&mut self, c: &Certificate, add: bool) -> Exec<()> {
        if self.checking {
            return Ok(());
        }
        let (y, q) = quarter_of(c.issued_on);
        let s = self.member_stats(&c.exporting, y, q)?;
        apply_totals(&mut s.exports, add, 1, c.total_carats(), c.total_value());
        apply_keyed(
            &mut s.exports_by_partner,
            &c.importing,
            add,
            1,
            c.total_carats(),
            c.total_value(),
        );
        for line in &c.lines {
            apply_keyed(
                &mut s.exports_by_hs,
                &line.hs_code,
                add,
                1,
                line.carats,
                line.value_usd,
            );
        }
        let g = self.global_stats(y, q)?;
        for line in &c.lines {
            apply_keyed(
                &mut g.exports_by_hs,
                &line.hs_code,
                add,
                1,
                line.carats,
                line.value_usd,
            );
        }
        Ok(())
    }

    pub(super) fn count_import(
        &mut self,
        c: &Certificate,
        r: &Receipt,
        discrepancy: bool,
    ) -> Exec<()> {
        if self.checking {
            return Ok(());
        }
        let (y, q) = quarter_of(r.received_on);
        let s = self.member_stats(&c.importing, y, q)?;
        s.imports.add(1, r.carats, c.total_value());
        for line in &c.lines {
            apply_keyed(
                &mut s.imports_by_hs,
                &line.hs_code,
                true,
                1,
                line.carats,
                line.value_usd,
            );
        }
        apply_keyed(
            &mut s.imports_by_partner,
            &c.exporting,
            true,
            1,
            r.carats,
            c.total_value(),
        );
        if discrepancy {
            s.discrepancies = s.discrepancies.saturating_add(1);
        }
        Ok(())
    }

    pub(super) fn count_expired(&mut self, c: &Certificate) -> Result<(), StoreError> {
        if self.checking {
            return Ok(());
        }
        let (y, q) = quarter_of(c.issued_on);
        let s = self.member_stats(&c.exporting, y, q)?;
        s.expired_unconfirmed
            .add(1, c.total_carats(), c.total_value());
        if s.expired_numbers.len() < EXPIRED_NUMBERS_MAX {
            s.expired_numbers.push(c.number.clone());
        }
        Ok(())
    }

    /// Undoes [`Ctx::count_expired`] for a certificate confirmed late.
    pub(super) fn uncount_expired(&mut self, c: &Certificate) -> Result<(), StoreError> {
        if self.checking {
            return Ok(());
        }
        let (y, q) = quarter_of(c.issued_on);
        let s = self.member_stats(&c.exporting, y, q)?;
        s.expired_unconfirmed
            .subtract(1, c.total_carats(), c.total_value());
        s.expired_numbers.retain(|n| n != &c.number);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_transactions_changes_are_gone_and_a_kept_ones_stay() {
        let mut layers: Layered<u32> = Layered::default();
        let key = b"k".to_vec();
        let mut loads = 0;
        // Loaded once, changed, kept.
        *layers
            .get_mut(key.clone(), || {
                loads += 1;
                Ok(10)
            })
            .unwrap() += 1;
        layers.keep();
        // The next transaction starts from the kept value; dropped.
        let v = layers.get_mut(key.clone(), || Ok(0)).unwrap();
        assert_eq!(*v, 11);
        *v += 100;
        layers.drop_tx();
        // The one after sees the kept value, not the dropped one, and the
        // store is not read again.
        let v = layers
            .get_mut(key.clone(), || {
                loads += 1;
                Ok(0)
            })
            .unwrap();
        assert_eq!(*v, 11);
        *v += 1;
        // `take` keeps the open transaction's changes and empties the layers.
        assert_eq!(layers.take(), BTreeMap::from([(key.clone(), 12)]));
        assert!(layers.take().is_empty());
        assert_eq!(loads, 1);
    }

    #[test]
    fn a_store_failure_while_loading_is_returned_and_nothing_is_kept() {
        let mut layers: Layered<u32> = Layered::default();
        let failed = layers.get_mut(b"k".to_vec(), || {
            Err(StoreError::Backend {
                operation: "get",
                detail: "disk".into(),
            })
        });
        assert!(failed.is_err());
        assert!(layers.take().is_empty());
    }
}
