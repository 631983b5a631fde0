//! Statistics (Annex III) and anomalies as queries over the counters that
//! execution maintains per member and quarter, so that no query scans
//! certificates: a year is four counter reads per member.
//!
//! * Exports count by the quarter of the issue date, once the certificate
//!   counts (issued, or approved where a monitor must approve); a voided
//!   certificate is taken out again.
//! * Imports count by the quarter of the receipt date, with received carats.
//! * Production is reported per half-year; a quarter or half-year query shows
//!   the half-year containing it, a year both halves.
//!
//! Anomalies compare those figures (all integer arithmetic):
//! mirror mismatch, value-per-carat outliers against the period's norm over
//! all exporters for the HS code, certificates expired without confirmation,
//! exports beyond production plus imports, and a sharp change of exported
//! carats against the previous period (only where the previous period had
//! exports: a first period is not a "change").

use crate::overlay::Overlay;
use crate::params::Params;
use crate::records::{Anomaly, Totals, TradeStatistics};
use crate::store::{StateStore, StoreError};
use kp_types::{Carats, HsCode, ParticipantCode, Period, ProductionReport};
use std::collections::{BTreeMap, BTreeSet};

fn quarters(period: Period) -> Vec<(u32, u8)> {
    match period {
        Period::Year(y) => (1..=4).map(|q| (y, q)).collect(),
        Period::Half(y, h) => vec![(y, h * 2 - 1), (y, h * 2)],
        Period::Quarter(y, q) => vec![(y, q)],
    }
}

fn halves(period: Period) -> Vec<Period> {
    match period {
        Period::Year(y) => vec![Period::Half(y, 1), Period::Half(y, 2)],
        Period::Half(..) => vec![period],
        Period::Quarter(y, q) => vec![Period::Half(y, if q <= 2 { 1 } else { 2 })],
    }
}

fn merge_map<K: Ord + Clone>(into: &mut BTreeMap<K, Totals>, from: &BTreeMap<K, Totals>) {
    for (k, t) in from {
        into.entry(k.clone()).or_default().merge(t);
    }
}

fn merge(into: &mut TradeStatistics, from: &TradeStatistics) {
    into.exports.merge(&from.exports);
    into.imports.merge(&from.imports);
    merge_map(&mut into.exports_by_hs, &from.exports_by_hs);
    merge_map(&mut into.imports_by_hs, &from.imports_by_hs);
    merge_map(&mut into.exports_by_partner, &from.exports_by_partner);
    merge_map(&mut into.imports_by_partner, &from.imports_by_partner);
    into.discrepancies = into.discrepancies.saturating_add(from.discrepancies);
    into.expired_unconfirmed.merge(&from.expired_unconfirmed);
    into.expired_numbers
        .extend(from.expired_numbers.iter().cloned());
}

/// A member's statistics for a period.
pub(crate) fn statistics<S: StateStore>(
    ov: &Overlay<'_, S>,
    code: &ParticipantCode,
    period: Period,
) -> Result<TradeStatistics, StoreError> {
    let mut out = TradeStatistics::default();
    if !period.is_valid() {
        return Ok(out);
    }
    for (y, q) in quarters(period) {
        merge(&mut out, &ov.quarter_stats(code, y, q)?);
    }
    for half in halves(period) {
        if let Some(p) = ov.get_value::<ProductionReport>(&crate::keys::production(code, half))? {
            out.production.add(1, p.carats, p.value_usd);
        }
    }
    Ok(out)
}

fn pct_diff(a: u64, b: u64) -> u64 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    if hi == 0 {
        return 0;
    }
    ((u128::from(hi - lo) * 100) / u128::from(hi)) as u64
}

/// Whether `difference` is more than `pct` percent of `base`, exactly (by
/// cross-multiplication: a 10.9 % gap is over 10 %, a 10.0 % gap is not).
fn over_pct(difference: u128, base: u128, pct: u32) -> bool {
    difference * 100 > base * u128::from(pct)
}

/// Cents per carat from cents and hundredths of a carat.
fn per_carat(value_cents: u64, carats: Carats) -> u64 {
    if carats.0 == 0 {
        return 0;
    }
    ((u128::from(value_cents) * 100) / u128::from(carats.0)).min(u128::from(u64::MAX)) as u64
}

/// Every anomaly of a period, members in code order.
pub(crate) fn anomalies<S: StateStore>(
    ov: &Overlay<'_, S>,
    params: &Params,
    period: Period,
) -> Result<Vec<Anomaly>, StoreError> {
    let mut out = Vec::new();
    if !period.is_valid() {
        return Ok(out);
    }
    let min = params.anomaly_carats_min;
    let members: Vec<ParticipantCode> = ov
        .participants()?
        .into_iter()
        .filter(|r| r.participant.kind.trades())
        .map(|r| r.participant.code)
        .collect();
    let mut stats = BTreeMap::new();
    for code in &members {
        stats.insert(code.clone(), statistics(ov, code, period)?);
    }
    let empty = TradeStatistics::default();

    // Mirror: every pair that either side reported.
    let mut pairs = BTreeSet::new();
    for (code, s) in &stats {
        for partner in s.exports_by_partner.keys() {
            pairs.insert((code.clone(), partner.clone()));
        }
        for partner in s.imports_by_partner.keys() {
            pairs.insert((partner.clone(), code.clone()));
        }
    }
    for (exporter, importer) in pairs {
        let exported = stats
            .get(&exporter)
            .unwrap_or(&empty)
            .exports_by_partner
            .get(&importer)
            .map_or(0, |t| t.carats.0);
        let imported = stats
            .get(&importer)
            .unwrap_or(&empty)
            .imports_by_partner
            .get(&exporter)
            .map_or(0, |t| t.carats.0);
        let difference_pct = pct_diff(exported, imported);
        let (lo, hi) = (exported.min(imported), exported.max(imported));
        if hi >= min
            && over_pct(
                u128::from(hi - lo),
                u128::from(hi),
                params.mirror_mismatch_pct,
            )
        {
            out.push(Anomaly::MirrorMismatch {
                period,
                exporter,
                importer,
                exported_carats: Carats(exported),
                imported_carats: Carats(imported),
                difference_pct,
            });
        }
    }

    // Value per carat against the norm over all exporters.
    let mut norm: BTreeMap<HsCode, Totals> = BTreeMap::new();
    for (y, q) in quarters(period) {
        merge_map(&mut norm, &ov.global_stats(y, q)?.exports_by_hs);
    }
    for (code, s) in &stats {
        for (hs, t) in &s.exports_by_hs {
            let Some(n) = norm.get(hs) else { continue };
            let norm_cents = per_carat(n.value_usd.0, n.carats);
            let own = per_carat(t.value_usd.0, t.carats);
            if t.carats.0 < min || norm_cents == 0 {
                continue;
            }
            let deviation_pct =
                ((u128::from(own.abs_diff(norm_cents)) * 100) / u128::from(norm_cents)) as u64;
            if over_pct(
                u128::from(own.abs_diff(norm_cents)),
                u128::from(norm_cents),
                params.value_per_carat_deviation_pct,
            ) {
                out.push(Anomaly::ValuePerCaratOutlier {
                    period,
                    participant: code.clone(),
                    hs_code: hs.clone(),
                    value_per_carat_cents: own,
                    norm_cents,
                    deviation_pct,
                });
            }
        }
    }

    for (code, s) in &stats {
        if s.expired_unconfirmed.count > 0 {
            out.push(Anomaly::ExpiredUnconfirmed {
                period,
                participant: code.clone(),
                totals: s.expired_unconfirmed,
                numbers: s.expired_numbers.clone(),
            });
        }
        let exported = u128::from(s.exports.carats.0);
        let supply = u128::from(s.production.carats.0) + u128::from(s.imports.carats.0);
        if s.exports.carats.0 >= min
            && exported * 100 > supply * (100 + u128::from(params.export_excess_pct))
        {
            out.push(Anomaly::ExportsExceedSupply {
                period,
                participant: code.clone(),
                exported_carats: s.exports.carats,
                produced_carats: s.production.carats,
                imported_carats: s.imports.carats,
            });
        }
        let previous = statistics(ov, code, period.previous())?.exports.carats.0;
        let current = s.exports.carats.0;
        if previous > 0 && previous.max(current) >= min {
            let change = (i128::from(current) - i128::from(previous)) * 100 / i128::from(previous);
            if over_pct(
                u128::from(current.abs_diff(previous)),
                u128::from(previous),
                params.sharp_change_pct,
            ) {
                out.push(Anomaly::SharpChange {
                    period,
                    participant: code.clone(),
                    previous_carats: Carats(previous),
                    current_carats: Carats(current),
                    change_pct: change.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
                });
            }
        }
    }
    Ok(out)
}
