//! Typed access to the ledger tables through an [`Overlay`], shared by block
//! execution, admission checks and queries.

use crate::keys;
use crate::overlay::Overlay;

use crate::records::{
    AuthorityRecord, CertificateRecord, ParticipantRecord, ResolutionRecord, TradeStatistics,
};
use crate::store::{StateStore, StoreError};
use kp_types::{
    AuthorityId, CertificateNumber, Hash, HsCode, Participant, ParticipantCode, ParticipantKind,
    PublicKey, Territory,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Most members the ledger lists (bounds every scan of the member table).
pub const PARTICIPANTS_MAX: usize = crate::genesis::PARTICIPANTS_MAX;
/// Most authorities one member may register (revoked ones included).
pub const AUTHORITIES_PER_PARTICIPANT_MAX: usize = kp_api::genesis::AUTHORITIES_PER_PARTICIPANT_MAX;

/// Names of metadata entries.
pub mod meta {
    /// Genesis hash.
    pub const GENESIS: &str = "genesis";
    /// Chain id.
    pub const CHAIN_ID: &str = "chain-id";
    /// Parameters.
    pub const PARAMS: &str = "params";
    /// Last applied height.
    pub const HEIGHT: &str = "height";
    /// Last block hash.
    pub const LAST_HASH: &str = "last-hash";
    /// Last block time.
    pub const LAST_TIME: &str = "last-time";
    /// Chair.
    pub const CHAIR: &str = "chair";
    /// Vice Chair.
    pub const VICE_CHAIR: &str = "vice-chair";
    /// Year the Chair serves.
    pub const CHAIR_YEAR: &str = "chair-year";
    /// Last seizure sequence number.
    pub const SEIZURE_SEQUENCE: &str = "seizure-sequence";
    /// The validators of height `height + 1` (codes and node keys, by code).
    pub const VALIDATORS: &str = "validators";
    /// The validators of height `height + 2`: the government members in good
    /// standing after the last applied block.
    pub const NEXT_VALIDATORS: &str = "next-validators";
    /// Merkle root of the last applied block's transaction results.
    pub const RESULTS_ROOT: &str = "results-root";
}

/// Export totals of all members per HS code for a quarter (the norm for
/// value-per-carat outliers).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalQuarterStats {
    /// By HS code.
    pub exports_by_hs: BTreeMap<HsCode, crate::records::Totals>,
}

impl<'a, S: StateStore> Overlay<'a, S> {
    pub(crate) fn meta_get<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, StoreError> {
        self.get_value(&keys::meta(name))
    }

    pub(crate) fn meta_put<T: Serialize>(&mut self, name: &str, value: &T) {
        self.put_value(keys::meta(name), value);
    }

    pub(crate) fn participant(
        &self,
        code: &ParticipantCode,
    ) -> Result<Option<Arc<ParticipantRecord>>, StoreError> {
        self.shared_record(&keys::participant(code))
    }

    pub(crate) fn put_participant(&mut self, record: &ParticipantRecord) {
        self.put_value(keys::participant(&record.participant.code), record);
    }

    pub(crate) fn participants(&self) -> Result<Vec<ParticipantRecord>, StoreError> {
        Ok(self
            .scan_values::<ParticipantRecord>(
                &keys::prefix(keys::table::PARTICIPANT),
                PARTICIPANTS_MAX,
            )?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }

    pub(crate) fn participant_by_node_key(
        &self,
        key: &PublicKey,
    ) -> Result<Option<ParticipantCode>, StoreError> {
        self.get_value(&keys::node_key(key))
    }

    pub(crate) fn authority(
        &self,
        id: &AuthorityId,
    ) -> Result<Option<Arc<AuthorityRecord>>, StoreError> {
        self.shared_record(&keys::authority(id.as_str()))
    }

    /// How many authorities `code` has registered (revoked ones included).
    pub(crate) fn authority_count(&self, code: &ParticipantCode) -> Result<u32, StoreError> {
        Ok(self.get_value(&keys::authority_count(code))?.unwrap_or(0))
    }

    /// Registers a new authority: its record, its place in its member's
    /// list and count, and its key.
    pub(crate) fn add_authority(&mut self, record: &AuthorityRecord) -> Result<(), StoreError> {
        let a = &record.authority;
        let count = self.authority_count(&a.participant)?;
        self.put_value(keys::authority_count(&a.participant), &(count + 1));
        self.put_value(keys::authority(a.id.as_str()), record);
        self.put(
            keys::authority_by_participant(&a.participant, a.id.as_str()),
            Vec::new(),
        );
        self.put_value(keys::authority_key(&a.key), &a.id);
        Ok(())
    }

    pub(crate) fn authorities_of(
        &self,
        code: &ParticipantCode,
    ) -> Result<Vec<AuthorityRecord>, StoreError> {
        let prefix = keys::authority_by_participant_prefix(code);
        let mut out = Vec::new();
        for (k, _) in self.scan(&prefix, AUTHORITIES_PER_PARTICIPANT_MAX)? {
            let id = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            if let Some(r) = self.get_value::<AuthorityRecord>(&keys::authority(&id))? {
                out.push(r);
            }
        }
        Ok(out)
    }

    pub(crate) fn participant_by_government_key(
        &self,
        key: &PublicKey,
    ) -> Result<Option<ParticipantCode>, StoreError> {
        self.get_value(&keys::government_key(key))
    }

    /// Whether a key is any member's node, government or recovery key or any
    /// authority's key (keys of a pending key change are checked again when
    /// it takes effect).
    pub(crate) fn key_in_use(&self, key: &PublicKey) -> Result<bool, StoreError> {
        Ok(self.contains(&keys::node_key(key))?
            || self.contains(&keys::government_key(key))?
            || self.contains(&keys::recovery_key(key))?
            || self.contains(&keys::authority_key(key))?)
    }

    /// Writes the key indexes of a member's node, government and recovery keys.
    pub(crate) fn index_member_keys(&mut self, p: &Participant) {
        self.put_value(keys::node_key(&p.node_key), &p.code);
        self.put_value(keys::government_key(&p.government_key), &p.code);
        if let Some(recovery) = &p.recovery_key {
            self.put_value(keys::recovery_key(recovery), &p.code);
        }
    }

    pub(crate) fn territory_owner(
        &self,
        territory: &Territory,
    ) -> Result<Option<ParticipantCode>, StoreError> {
        self.get_value(&keys::territory(territory))
    }

    pub(crate) fn certificate(
        &self,
        number: &CertificateNumber,
    ) -> Result<Option<CertificateRecord>, StoreError> {
        self.get_value(&keys::certificate(number))
    }

    pub(crate) fn put_certificate(&mut self, record: &CertificateRecord) {
        self.put_value(keys::certificate(&record.certificate.number), record);
    }

    pub(crate) fn resolution(&self, id: &Hash) -> Result<Option<ResolutionRecord>, StoreError> {
        self.get_value(&keys::resolution(id))
    }

    pub(crate) fn put_resolution(&mut self, record: &ResolutionRecord) {
        self.put_value(keys::resolution(&record.id), record);
    }

    pub(crate) fn quarter_stats(
        &self,
        code: &ParticipantCode,
        year: u32,
        quarter: u8,
    ) -> Result<TradeStatistics, StoreError> {
        Ok(self
            .get_value(&keys::stats(code, year, quarter))?
            .unwrap_or_default())
    }

    pub(crate) fn global_stats(
        &self,
        year: u32,
        quarter: u8,
    ) -> Result<GlobalQuarterStats, StoreError> {
        Ok(self
            .get_value(&keys::global_stats(year, quarter))?
            .unwrap_or_default())
    }

    /// Government members in good standing, by code: the validators of the
    /// next height and the required signers of every resolution.
    pub(crate) fn active_governments(
        &self,
    ) -> Result<Vec<(ParticipantCode, PublicKey)>, StoreError> {
        Ok(self
            .participants()?
            .into_iter()
            .filter(|r| r.participant.kind == ParticipantKind::Government && r.is_active())
            .map(|r| (r.participant.code, r.participant.node_key))
            .collect())
    }
}
