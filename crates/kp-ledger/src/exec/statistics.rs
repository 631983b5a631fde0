//! Trade statistics kept in state: export, import and expiry counters per quarter.

use super::{quarter_of, Ctx, Exec, EXPIRED_NUMBERS_MAX};
use crate::keys;
use crate::records::{Receipt, Totals, TradeStatistics};
use crate::store::{StateStore, StoreError};
use kp_types::{Carats, Certificate, UsdCents};

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
    pub(super) fn count_export(&mut self, c: &Certificate, add: bool) -> Exec<()> {
        if self.checking {
            return Ok(());
        }
        let (y, q) = quarter_of(c.issued_on);
        let mut s: TradeStatistics = self.ov.quarter_stats(&c.exporting, y, q)?;
        apply_totals(&mut s.exports, add, 1, c.total_carats(), c.total_value());
        apply_keyed(
            &mut s.exports_by_partner,
            &c.importing,
            add,
            1,
            c.total_carats(),
            c.total_value(),
        );
        let mut g = self.ov.global_stats(y, q)?;
        for line in &c.lines {
            apply_keyed(
                &mut s.exports_by_hs,
                &line.hs_code,
                add,
                1,
                line.carats,
                line.value_usd,
            );
            apply_keyed(
                &mut g.exports_by_hs,
                &line.hs_code,
                add,
                1,
                line.carats,
                line.value_usd,
            );
        }
        self.ov.put_value(keys::stats(&c.exporting, y, q), &s);
        self.ov.put_value(keys::global_stats(y, q), &g);
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
        let mut s = self.ov.quarter_stats(&c.importing, y, q)?;
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
        self.ov.put_value(keys::stats(&c.importing, y, q), &s);
        Ok(())
    }

    pub(super) fn count_expired(&mut self, c: &Certificate) -> Result<(), StoreError> {
        if self.checking {
            return Ok(());
        }
        let (y, q) = quarter_of(c.issued_on);
        let mut s = self.ov.quarter_stats(&c.exporting, y, q)?;
        s.expired_unconfirmed
            .add(1, c.total_carats(), c.total_value());
        if s.expired_numbers.len() < EXPIRED_NUMBERS_MAX {
            s.expired_numbers.push(c.number.clone());
        }
        self.ov.put_value(keys::stats(&c.exporting, y, q), &s);
        Ok(())
    }

    /// Undoes [`Ctx::count_expired`] for a certificate confirmed late.
    pub(super) fn uncount_expired(&mut self, c: &Certificate) -> Result<(), StoreError> {
        if self.checking {
            return Ok(());
        }
        let (y, q) = quarter_of(c.issued_on);
        let mut s = self.ov.quarter_stats(&c.exporting, y, q)?;
        s.expired_unconfirmed
            .subtract(1, c.total_carats(), c.total_value());
        s.expired_numbers.retain(|n| n != &c.number);
        self.ov.put_value(keys::stats(&c.exporting, y, q), &s);
        Ok(())
    }
}
