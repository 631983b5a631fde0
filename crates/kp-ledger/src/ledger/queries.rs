//! The ledger's read-only queries: records, listings, statistics, validator sets, the Chair.

use super::{Ledger, RESOLUTIONS_LIST_MAX, SEIZURES_LIST_MAX};
use crate::error::LedgerError;
use crate::keys;
use crate::overlay::{decode_stored, hex_of, Overlay};
use crate::records::{
    Anomaly, AuthorityRecord, CertificateRecord, EvidenceRecord, ParticipantRecord,
    ResolutionOutcome, ResolutionRecord, SeizureRecord, TradeStatistics,
};
use crate::state::meta;
use crate::store::StateStore;
use kp_types::{
    AuthorityId, CertificateNumber, Hash, ParticipantCode, ParticipantKind, Period,
    ProductionReport, PublicKey, ResolutionId, Territory,
};

/// Two-letter territory codes there can be (26 x 26): the bound of an
/// authority's territories, which never reaches it.
const TERRITORY_CODES: usize = 26 * 26;

impl<S: StateStore> Ledger<S> {
    fn view(&self) -> Overlay<'_, crate::behind::Behind<S>> {
        Overlay::new(&self.store)
    }

    /// A member, with its authorities.
    pub fn participant(
        &self,
        code: &ParticipantCode,
    ) -> Result<Option<ParticipantRecord>, LedgerError> {
        let ov = self.view();
        let Some(mut r) = ov.participant(code)?.map(std::sync::Arc::unwrap_or_clone) else {
            return Ok(None);
        };
        r.authorities = ov.authorities_of(code)?;
        Ok(Some(r))
    }

    /// Every member, by code, with their authorities.
    pub fn participants(&self) -> Result<Vec<ParticipantRecord>, LedgerError> {
        let ov = self.view();
        let mut out = ov.participants()?;
        for r in &mut out {
            r.authorities = ov.authorities_of(&r.participant.code)?;
        }
        Ok(out)
    }

    /// A certificate with its status, history, receipt and flags.
    pub fn certificate(
        &self,
        number: &CertificateNumber,
    ) -> Result<Option<CertificateRecord>, LedgerError> {
        Ok(self.view().certificate(number)?)
    }

    /// The issuing authority of `record` if it was revoked as compromised
    /// since a time at or before the block that issued the certificate
    /// ([`AuthorityRecord::compromised_at`]).
    pub fn compromised_issuer(
        &self,
        record: &CertificateRecord,
    ) -> Result<Option<AuthorityRecord>, LedgerError> {
        let issuer = self
            .view()
            .authority(&record.certificate.issuing_authority)?;
        Ok(issuer
            .filter(|a| a.compromised_at(record.issued_at))
            .map(std::sync::Arc::unwrap_or_clone))
    }

    /// The territories whose prefix `authority`'s certificate numbers carry,
    /// in code order: where [`Ledger::certificates_issued_by`] looks.
    pub fn territories_issued_under(
        &self,
        authority: &AuthorityId,
    ) -> Result<Vec<Territory>, LedgerError> {
        let prefix = keys::authority_territories_prefix(authority.as_str());
        let rows = self
            .store
            .scan_prefix(&prefix, None, TERRITORY_CODES)
            .map_err(LedgerError::from)?;
        rows.into_iter()
            .map(|(key, _)| {
                let text = std::str::from_utf8(&key[prefix.len()..]).unwrap_or_default();
                Territory::new(text).map_err(|e| {
                    LedgerError::from(crate::store::StoreError::Corrupt {
                        key_hex: hex_of(&key),
                        detail: format!("no territory after the authority: {e}"),
                    })
                })
            })
            .collect()
    }

    /// The numbers of certificates `authority` issued, in number order,
    /// after `after` (exclusive), at most `limit` of them: the certificates
    /// under each territory it issued under ([`Self::territories_issued_under`]),
    /// its own kept. Reads every certificate of those territories up to the
    /// last one returned.
    pub fn certificates_issued_by(
        &self,
        authority: &AuthorityId,
        after: Option<&CertificateNumber>,
        limit: usize,
    ) -> Result<Vec<CertificateNumber>, LedgerError> {
        const PAGE: usize = 256;
        let mut out = Vec::new();
        let after_territory = after.map(CertificateNumber::territory_prefix);
        for territory in self.territories_issued_under(authority)? {
            if after_territory.as_ref().is_some_and(|a| territory < *a) {
                continue;
            }
            let prefix = keys::certificates_of_territory_prefix(&territory);
            let mut cursor = after
                .filter(|n| n.territory_prefix() == territory)
                .map(keys::certificate);
            loop {
                if out.len() >= limit {
                    return Ok(out);
                }
                let page = self
                    .store
                    .scan_prefix(&prefix, cursor.as_deref(), PAGE)
                    .map_err(LedgerError::from)?;
                let full = page.len() == PAGE;
                for (key, value) in &page {
                    let record: CertificateRecord = decode_stored(key, value)?;
                    if record.certificate.issuing_authority == *authority && out.len() < limit {
                        out.push(record.certificate.number);
                    }
                }
                cursor = page.last().map(|(k, _)| k.clone());
                if !full {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// A resolution; for a pending one, `missing` is recomputed against the
    /// current membership.
    pub fn resolution(&self, id: &ResolutionId) -> Result<Option<ResolutionRecord>, LedgerError> {
        let ov = self.view();
        let Some(mut r) = ov.resolution(id)? else {
            return Ok(None);
        };
        if r.outcome == ResolutionOutcome::Pending {
            r.missing = ov
                .active_governments()?
                .into_iter()
                .map(|(c, _)| c)
                .filter(|c| !r.signed_by.contains(c))
                .collect();
        }
        Ok(Some(r))
    }

    /// Resolutions (at most [`RESOLUTIONS_LIST_MAX`]), by id.
    pub fn resolutions(&self) -> Result<Vec<ResolutionRecord>, LedgerError> {
        let ov = self.view();
        let rows = ov.scan_values::<ResolutionRecord>(
            &keys::prefix(keys::table::RESOLUTION),
            RESOLUTIONS_LIST_MAX,
        )?;
        Ok(rows.into_iter().map(|(_, r)| r).collect())
    }

    /// The latest `limit` seizures, newest first.
    pub fn seizures(&self, limit: usize) -> Result<Vec<SeizureRecord>, LedgerError> {
        let ov = self.view();
        let last: u64 = ov.meta_get(meta::SEIZURE_SEQUENCE)?.unwrap_or(0);
        let limit = limit.min(SEIZURES_LIST_MAX) as u64;
        let mut out = Vec::new();
        let mut seq = last;
        while seq > 0 && (out.len() as u64) < limit {
            if let Some(r) = ov.get_value::<SeizureRecord>(&keys::seizure(seq))? {
                out.push(r);
            }
            seq -= 1;
        }
        Ok(out)
    }

    /// A member's trade statistics for a quarter, half-year or year.
    pub fn statistics(
        &self,
        participant: &ParticipantCode,
        period: Period,
    ) -> Result<TradeStatistics, LedgerError> {
        Ok(crate::stats::statistics(&self.view(), participant, period)?)
    }

    /// Anomalies of a period, each with the figures behind it.
    pub fn anomalies(&self, period: Period) -> Result<Vec<Anomaly>, LedgerError> {
        Ok(crate::stats::anomalies(&self.view(), &self.params, period)?)
    }

    /// An authority by id.
    pub fn authority(&self, id: &AuthorityId) -> Result<Option<AuthorityRecord>, LedgerError> {
        Ok(self
            .view()
            .authority(id)?
            .map(std::sync::Arc::unwrap_or_clone))
    }

    /// Equivocation evidence by `Evidence::id()`.
    pub fn evidence(&self, id: &Hash) -> Result<Option<EvidenceRecord>, LedgerError> {
        Ok(self.view().get_value(&keys::evidence(id))?)
    }

    /// A validator set by its hash (every set the chain has had).
    pub fn validator_set(
        &self,
        hash: &Hash,
    ) -> Result<Option<Vec<(ParticipantCode, PublicKey)>>, LedgerError> {
        Ok(self.view().get_value(&keys::validator_set(hash))?)
    }

    /// A member's production report for a half-year.
    pub fn production(
        &self,
        participant: &ParticipantCode,
        period: Period,
    ) -> Result<Option<ProductionReport>, LedgerError> {
        Ok(self
            .view()
            .get_value(&keys::production(participant, period))?)
    }

    /// Hash of the validator set for `height() + 1` (codes and keys, in
    /// order), for light clients and logs.
    pub fn validator_set_hash(&self) -> Hash {
        kp_types::validator_set_hash(&self.validators)
    }

    /// Hash of the validator set for `height() + 2`.
    pub fn next_validator_set_hash(&self) -> Hash {
        kp_types::validator_set_hash(&self.next_validators)
    }

    /// The Chair.
    pub fn chair(&self) -> ParticipantCode {
        self.view()
            .meta_get::<ParticipantCode>(meta::CHAIR)
            .ok()
            .flatten()
            .or_else(|| self.validators.first().map(|(c, _)| c.clone()))
            .unwrap_or_else(fallback_code)
    }

    /// The Vice Chair, if one is elected.
    pub fn vice_chair(&self) -> Option<ParticipantCode> {
        self.view()
            .meta_get::<Option<ParticipantCode>>(meta::VICE_CHAIR)
            .ok()
            .flatten()
            .flatten()
    }

    /// Kind of the member whose node key this is, if any.
    pub fn member_kind(&self, key: &PublicKey) -> Option<ParticipantKind> {
        let ov = self.view();
        let code = ov.participant_by_node_key(key).ok().flatten()?;
        ov.participant(&code)
            .ok()
            .flatten()
            .map(|r| r.participant.kind)
    }
}

fn fallback_code() -> ParticipantCode {
    // Genesis always stores a Chair; this is only reached on a corrupt store.
    ParticipantCode::new("XX").unwrap_or_else(|_| unreachable_code())
}

#[cold]
#[allow(clippy::panic)]
fn unreachable_code() -> ParticipantCode {
    panic!("\"XX\" is a valid participant code")
}
