//! Start- and end-of-block work: Chair rotation, replay-memory pruning, certificate
//! expiry, resolution lapses and the expiry indexes.

use super::Ctx;
use crate::keys;
use crate::overlay::decode_stored;
use crate::records::{CertificateEventKind, CertificateStatus, LedgerEvent, ResolutionOutcome};
use crate::state::meta;
use crate::store::{StateStore, StoreError};
use kp_types::{CertificateNumber, Date, Hash, ParticipantCode, Timestamp};

fn be_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

fn be_u32(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?))
}

fn hash_at(bytes: &[u8]) -> Option<Hash> {
    Some(Hash(bytes.get(..32)?.try_into().ok()?))
}

/// The deadline and id of an entry of the pending-resolution index (the
/// table's prefix is `prefix_len` bytes).
pub(super) fn resolution_deadline_entry(
    key: &[u8],
    prefix_len: usize,
) -> Result<(Timestamp, Hash), StoreError> {
    let rest = key.get(prefix_len..).unwrap_or_default();
    match (be_u64(rest), rest.get(8..).and_then(hash_at)) {
        (Some(deadline), Some(id)) => Ok((Timestamp(deadline), id)),
        _ => Err(corrupt(key, "resolution-deadline key")),
    }
}

fn corrupt(key: &[u8], detail: &str) -> StoreError {
    StoreError::Corrupt {
        key_hex: key.iter().map(|b| format!("{b:02x}")).collect(),
        detail: detail.to_string(),
    }
}

impl<S: StateStore> Ctx<'_, S> {
    /// Start-of-block work: Chair rotation, then bounded amounts of
    /// executed-hash pruning, certificate expiry and resolution lapses, then
    /// the key changes (recoveries) whose time has come.
    pub(crate) fn begin_block(&mut self) -> Result<(), StoreError> {
        self.rotate_chair()?;
        self.prune_executed()?;
        self.expire_certificates()?;
        self.lapse_resolutions()?;
        self.complete_key_changes()?;
        self.keep();
        Ok(())
    }

    fn rotate_chair(&mut self) -> Result<(), StoreError> {
        let year = self.date().year();
        let chair_year: u32 = self.ov.meta_get(meta::CHAIR_YEAR)?.unwrap_or(year);
        if year <= chair_year {
            return Ok(());
        }
        // The Vice Chair elected during the year becomes Chair on 1 January;
        // without one the Chair stays on.
        let vice: Option<ParticipantCode> = self.ov.meta_get(meta::VICE_CHAIR)?.flatten();
        if let Some(vice) = vice {
            self.ov.meta_put(meta::CHAIR, &vice);
            self.ov.meta_put(meta::VICE_CHAIR, &None::<ParticipantCode>);
            self.emit(LedgerEvent::ChairRotated { chair: vice, year });
        }
        self.ov.meta_put(meta::CHAIR_YEAR, &year);
        Ok(())
    }

    fn housekeeping_limit(&self) -> usize {
        usize::try_from(self.params.housekeeping_per_block_max).unwrap_or(usize::MAX)
    }

    /// End-of-block work: the expiry indexes of what the block executed
    /// and issued, one entry per expiry window or date.
    pub(crate) fn end_block(&mut self) {
        self.write_stats();
        // Both indexes are keyed by this block's height: new keys.
        for (_, (latest, hashes)) in std::mem::take(&mut self.expiring) {
            self.ov
                .put_new(keys::executed_by_expiry(latest, self.height), hashes);
        }
        for (expires_on, numbers) in std::mem::take(&mut self.issued) {
            self.ov.put_new(
                keys::certificates_by_expiry(expires_on, self.height),
                kp_types::encode(&numbers),
            );
        }
        self.ov.commit_tx();
    }

    /// Forgets executed hashes whose expiry passed: whole groups (one block,
    /// one expiry window) whose latest expiry is before the block time, as
    /// many as fit in the housekeeping limit counted in hashes (at least one
    /// group, which holds at most one block's transactions).
    fn prune_executed(&mut self) -> Result<(), StoreError> {
        self.prune_executed_v1()?;
        let prefix = keys::executed_by_expiry_prefix();
        let bound = [prefix.as_slice(), &self.time.0.to_be_bytes()].concat();
        let limit = self.housekeeping_limit();
        let mut pruned = 0usize;
        for (k, v) in self
            .ov
            .scan_while(&prefix, limit, |k| k < bound.as_slice())?
        {
            if v.len() % 32 != 0 {
                return Err(corrupt(&k, "executed-by-expiry value"));
            }
            let count = v.len() / 32;
            if pruned > 0 && pruned.saturating_add(count) > limit {
                break;
            }
            pruned = pruned.saturating_add(count);
            for chunk in v.chunks_exact(32) {
                let hash = hash_at(chunk).ok_or_else(|| corrupt(&k, "executed hash"))?;
                self.ov.delete(keys::executed(&hash));
            }
            self.ov.delete(k);
        }
        Ok(())
    }

    /// Prunes what earlier builds left in the version-1 expiry index (one
    /// entry per hash); empty on a chain started by this build.
    fn prune_executed_v1(&mut self) -> Result<(), StoreError> {
        let prefix = keys::prefix(keys::table::EXECUTED_EXPIRY);
        let bound = keys::executed_expiry(self.time, &Hash::ZERO);
        for (k, _) in self
            .ov
            .scan_while(&prefix, self.housekeeping_limit(), |k| k < bound.as_slice())?
        {
            let rest = &k[prefix.len()..];
            let (Some(expiry), Some(hash)) = (be_u64(rest), rest.get(8..).and_then(hash_at)) else {
                return Err(corrupt(&k, "executed-expiry key"));
            };
            if Timestamp(expiry) >= self.time {
                break;
            }
            self.ov.delete(k.clone());
            self.ov.delete(keys::executed(&hash));
        }
        Ok(())
    }

    /// Expires the certificates still open after their expiry date: whole
    /// groups (one block, one expiry date) dated before the block's date, as
    /// many as fit in the housekeeping limit counted in certificates (at
    /// least one group). A group keeps every certificate its block issued;
    /// those confirmed, voided or seized since are skipped here.
    fn expire_certificates(&mut self) -> Result<(), StoreError> {
        self.expire_certificates_v1()?;
        let prefix = keys::certificates_by_expiry_prefix();
        let block_date = self.date();
        let bound = [prefix.as_slice(), &block_date.0.to_be_bytes()].concat();
        let limit = self.housekeeping_limit();
        let mut done = 0usize;
        for (k, v) in self
            .ov
            .scan_while(&prefix, limit, |k| k < bound.as_slice())?
        {
            let numbers: Vec<CertificateNumber> = decode_stored(&k, &v)?;
            if done > 0 && done.saturating_add(numbers.len()) > limit {
                break;
            }
            done = done.saturating_add(numbers.len());
            self.ov.delete(k);
            for number in &numbers {
                self.expire_if_open(number)?;
            }
        }
        Ok(())
    }

    /// Marks a certificate expired if it is still open.
    fn expire_if_open(&mut self, number: &CertificateNumber) -> Result<(), StoreError> {
        if let Some(mut rec) = self.ov.certificate(number)? {
            if matches!(
                rec.status,
                CertificateStatus::Issued | CertificateStatus::AwaitingApproval
            ) {
                self.count_expired(&rec.certificate)?;
                self.transition(
                    &mut rec,
                    CertificateStatus::Expired,
                    CertificateEventKind::Expired,
                    None,
                );
                self.ov.put_certificate(&rec);
            }
        }
        Ok(())
    }

    /// Works through what earlier builds left in the version-1 index (one
    /// entry per open certificate); empty on a chain started by this build.
    fn expire_certificates_v1(&mut self) -> Result<(), StoreError> {
        let prefix = keys::prefix(keys::table::CERTIFICATE_EXPIRY);
        let block_date = self.date();
        let bound = [prefix.as_slice(), &block_date.0.to_be_bytes()].concat();
        for (k, _) in self
            .ov
            .scan_while(&prefix, self.housekeeping_limit(), |k| k < bound.as_slice())?
        {
            let rest = &k[prefix.len()..];
            let Some(day) = be_u32(rest) else {
                return Err(corrupt(&k, "certificate-expiry key"));
            };
            // Valid through its expiry date; expired from the next day on.
            if Date(day) >= block_date {
                break;
            }
            let number = String::from_utf8_lossy(&rest[4..]).into_owned();
            let number =
                CertificateNumber::new(&number).map_err(|_| corrupt(&k, "certificate number"))?;
            self.ov.delete(k.clone());
            self.expire_if_open(&number)?;
        }
        Ok(())
    }

    fn lapse_resolutions(&mut self) -> Result<(), StoreError> {
        let prefix = keys::prefix(keys::table::RESOLUTION_DEADLINE);
        // Deadlines up to and including the block time are due.
        let bound = [
            prefix.as_slice(),
            &self.time.0.saturating_add(1).to_be_bytes(),
        ]
        .concat();
        for (k, _) in self
            .ov
            .scan_while(&prefix, self.housekeeping_limit(), |k| k < bound.as_slice())?
        {
            let (deadline, id) = resolution_deadline_entry(&k, prefix.len())?;
            // Lapses at the deadline: a signature must land strictly before.
            if deadline > self.time {
                break;
            }
            self.ov.delete(k.clone());
            if let Some(mut rec) = self.ov.resolution(&id)? {
                if rec.outcome == ResolutionOutcome::Pending {
                    rec.outcome = ResolutionOutcome::Lapsed {
                        height: self.height,
                    };
                    self.ov.put_resolution(&rec);
                    self.emit(LedgerEvent::ResolutionLapsed { id });
                }
            }
        }
        Ok(())
    }
}
