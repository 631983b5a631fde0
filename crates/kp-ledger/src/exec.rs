//! Execution of transactions against an overlay: the KPCS rules.
//!
//! One [`Ctx`] executes the transactions of one block (or one admission check)
//! at the block's height and time. Each rule either returns a [`Rejection`],
//! in which case the transaction's writes and events are dropped, or writes
//! its effects into the overlay's transaction layer. Checks come before
//! writes in every handler, so a handler that rejects has written nothing it
//! needs undone; the layer is discarded anyway.
//!
//! Time is only the block time: certificate expiry and resolution deadlines
//! are checked directly against it in the handlers, and the start-of-block
//! housekeeping ([`Ctx::begin_block`]) only materialises the statuses (expired,
//! lapsed) and prunes the executed-transaction memory, a bounded amount per
//! block.

use crate::filter::KeyFilter;
use crate::keys;
use crate::memo::ReadMemo;
use crate::overlay::{decode_stored, Overlay};
use crate::params::Params;
use crate::records::{
    Approval, AuthorityRecord, CertificateEventKind, CertificateHistoryEntry, CertificateRecord,
    CertificateStatus, Discrepancy, EvidenceRecord, LedgerEvent, MembershipStatus,
    ParticipantRecord, Receipt, ResolutionOutcome, ResolutionRecord, SanctionRecord, SeizureIndex,
    SeizureRecord, Totals, TradeStatistics, SEIZURE_INDEX_MAX,
};
use crate::rejection::Rejection;
use crate::state::{meta, AUTHORITIES_PER_PARTICIPANT_MAX, PARTICIPANTS_MAX};
use crate::store::{StateStore, StoreError};
use kp_types::{
    Authority, AuthorityId, Carats, Certificate, CertificateApproval, CertificateNumber, Date,
    Evidence, Hash, ImportConfirmation, Origin, Participant, ParticipantCode, ParticipantKind,
    Payload, Period, ProductionReport, PublicKey, ResolutionAction, ResolutionProposal,
    SanctionScope, SeizureReport, SignedTransaction, Timestamp, Transaction, TxHash, UsdCents,
    VoidCertificate,
};
use std::collections::BTreeMap;

/// Longest name (party, authority, member).
pub const NAME_BYTES_MAX: usize = 256;
/// Longest address.
pub const ADDRESS_BYTES_MAX: usize = 512;
/// Longest free-text reason (void, objection) or resolution title.
pub const REASON_BYTES_MAX: usize = 1024;
/// Longest origin or green zone name, or seizure location.
pub const ZONE_BYTES_MAX: usize = 128;
/// Most lines on a certificate.
pub const LINES_MAX: usize = 100;
/// Most origin countries or origin zones on a certificate.
pub const ORIGINS_MAX: usize = 64;
/// Most green zones in a sanction, territories of a member.
pub const LIST_MAX: usize = 256;
/// Most certificate numbers kept per quarter in the expired-unconfirmed list.
pub const EXPIRED_NUMBERS_MAX: usize = 16;

/// A transaction's failure: a rule (kept in the receipt) or the store (fatal).
#[derive(Debug)]
pub(crate) enum Fail {
    Rejected(Rejection),
    Store(StoreError),
}

impl From<Rejection> for Fail {
    fn from(r: Rejection) -> Self {
        Fail::Rejected(r)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

type Exec<T> = Result<T, Fail>;

fn reject<T>(r: Rejection) -> Exec<T> {
    Err(Fail::Rejected(r))
}

fn text(field: &str, value: &str, max: usize) -> Exec<()> {
    if value.is_empty() || value.len() > max {
        return reject(Rejection::BadText {
            field: field.to_string(),
            len: value.len(),
            max,
        });
    }
    Ok(())
}

fn count(field: &str, n: usize, max: usize) -> Exec<()> {
    if n > max {
        return reject(Rejection::TooManyItems {
            field: field.to_string(),
            count: n,
            max,
        });
    }
    Ok(())
}

/// The name of a sanction's kind, for rejections and events.
pub fn scope_name(scope: &SanctionScope) -> &'static str {
    match scope {
        SanctionScope::FullSuspension => "full-suspension",
        SanctionScope::ExportBan => "export-ban",
        SanctionScope::ImportBan => "import-ban",
        SanctionScope::PartialExports { .. } => "partial-exports",
        SanctionScope::EnhancedVigilance => "enhanced-vigilance",
    }
}

/// Year and quarter (1-4) of a date.
pub fn quarter_of(date: Date) -> (u32, u8) {
    let (y, m, _) = date.ymd();
    (y, ((m - 1) / 3 + 1) as u8)
}

fn be_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

fn be_u32(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?))
}

fn hash_at(bytes: &[u8]) -> Option<Hash> {
    Some(Hash(bytes.get(..32)?.try_into().ok()?))
}

fn corrupt(key: &[u8], detail: &str) -> StoreError {
    StoreError::Corrupt {
        key_hex: key.iter().map(|b| format!("{b:02x}")).collect(),
        detail: detail.to_string(),
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

/// Execution context of one block (or one admission check).
pub(crate) struct Ctx<'a, S: StateStore> {
    pub(crate) ov: Overlay<'a, S>,
    pub(crate) params: &'a Params,
    pub(crate) chain_id: &'a str,
    /// Height of the block being executed.
    pub(crate) height: u64,
    /// Its time.
    pub(crate) time: Timestamp,
    /// Events of executed transactions and housekeeping.
    pub(crate) events: Vec<LedgerEvent>,
    /// Events of the transaction being executed.
    tx_events: Vec<LedgerEvent>,
    /// Governments in good standing, read once and dropped whenever a
    /// member record is written (membership acts are rare, signatures and
    /// evidence are not).
    governments: Option<Vec<(ParticipantCode, PublicKey)>>,
    /// Hashes executed in this block, by expiry window: the window's latest
    /// expiry and the hashes, in execution order. Written at the end of the
    /// block as one index entry per window ([`Ctx::end_block`]).
    expiring: BTreeMap<u64, (Timestamp, Vec<u8>)>,
    /// Certificates issued in this block, by expiry date, in execution
    /// order; written at the end of the block as one index entry per date.
    issued: BTreeMap<Date, Vec<CertificateNumber>>,
    /// Those of the transaction being executed (kept or dropped with it).
    tx_issued: Vec<(Date, CertificateNumber)>,
    /// The replay-memory keys the store may hold, if known to be of the
    /// store's current state (a shortcut past store misses, see `filter`).
    filter: Option<&'a KeyFilter>,
}

/// Width of the expiry windows that group executed hashes into one index
/// entry. A group is pruned once its latest expiry passed, so a hash is
/// remembered at most this much longer than its own expiry; that is never
/// visible, since an expired transaction is refused for its expiry before
/// the memory is consulted.
pub const EXECUTED_WINDOW_MS: u64 = 60_000;

impl<'a, S: StateStore> Ctx<'a, S> {
    pub(crate) fn new(
        store: &'a S,
        params: &'a Params,
        chain_id: &'a str,
        height: u64,
        time: Timestamp,
    ) -> Self {
        Ctx {
            ov: Overlay::new(store),
            params,
            chain_id,
            height,
            time,
            events: Vec::new(),
            tx_events: Vec::new(),
            governments: None,
            expiring: BTreeMap::new(),
            issued: BTreeMap::new(),
            tx_issued: Vec::new(),
            filter: None,
        }
    }

    /// Uses `filter` (of the store's current state) to skip store misses.
    pub(crate) fn with_filter(mut self, filter: Option<&'a KeyFilter>) -> Self {
        self.filter = filter;
        self
    }

    /// Reads the small tables through `memo` (of the store's current state).
    pub(crate) fn with_memo(mut self, memo: Option<&'a ReadMemo>) -> Self {
        self.ov = self.ov.with_memo(memo);
        self
    }

    /// Whether `key` holds a value, past the store if the filter rules it out.
    fn holds(&self, key: &[u8]) -> Result<bool, StoreError> {
        let in_store_maybe = self.filter.is_none_or(|f| f.may_contain(key));
        self.ov.contains_hinted(key, in_store_maybe)
    }

    fn date(&self) -> Date {
        self.time.date()
    }

    fn emit(&mut self, event: LedgerEvent) {
        self.tx_events.push(event);
    }

    fn keep(&mut self) {
        self.ov.commit_tx();
        self.events.append(&mut self.tx_events);
        for (expires_on, number) in self.tx_issued.drain(..) {
            self.issued.entry(expires_on).or_default().push(number);
        }
    }

    fn drop_tx(&mut self) {
        self.ov.discard_tx();
        self.tx_events.clear();
        self.tx_issued.clear();
        self.governments = None;
    }

    /// Governments in good standing now (cached, see `governments`).
    fn active_governments(&mut self) -> Result<Vec<(ParticipantCode, PublicKey)>, StoreError> {
        if let Some(g) = &self.governments {
            return Ok(g.clone());
        }
        let g = self.ov.active_governments()?;
        self.governments = Some(g.clone());
        Ok(g)
    }

    /// Every write of a member record goes through here.
    fn write_member(&mut self, record: &ParticipantRecord) {
        self.governments = None;
        self.ov.put_participant(record);
    }

    /// Executes a transaction whose signature is already verified. The outer
    /// error is a storage failure; the inner result goes into the receipt.
    pub(crate) fn execute(
        &mut self,
        stx: &SignedTransaction,
        hash: TxHash,
    ) -> Result<Result<(), Rejection>, StoreError> {
        let tx = &stx.tx;
        let outcome = match self
            .envelope(tx, hash)
            .and_then(|()| self.payload(tx, hash))
        {
            Ok(()) => {
                self.keep();
                Ok(())
            }
            Err(Fail::Store(e)) => return Err(e),
            Err(Fail::Rejected(r)) => {
                self.drop_tx();
                Err(r)
            }
        };
        // A transaction in a block is executed whatever its verdict: remember
        // its hash until it expires so that it cannot be replayed. The memory
        // is bounded by the longest lifetime, clamped for refused ones.
        let duplicate = matches!(outcome, Err(Rejection::AlreadyExecuted { .. }));
        if !duplicate && tx.expires_at >= self.time {
            let expiry = tx
                .expires_at
                .min(self.time.plus_ms(self.params.tx_lifetime_max_ms));
            self.ov.put_value(keys::executed(&hash), &expiry);
            self.ov.commit_tx();
            let (latest, hashes) = self
                .expiring
                .entry(expiry.0 / EXECUTED_WINDOW_MS)
                .or_insert((expiry, Vec::new()));
            *latest = (*latest).max(expiry);
            hashes.extend_from_slice(&hash.0);
        }
        Ok(outcome)
    }

    fn envelope(&self, tx: &Transaction, hash: TxHash) -> Exec<()> {
        if tx.chain_id != self.chain_id {
            return reject(Rejection::WrongChain {
                expected: self.chain_id.to_string(),
                found: tx.chain_id.chars().take(80).collect(),
            });
        }
        if tx.expires_at < self.time {
            return reject(Rejection::TxExpired {
                expires_at: tx.expires_at,
                block_time: self.time,
            });
        }
        let latest = self.time.plus_ms(self.params.tx_lifetime_max_ms);
        if tx.expires_at > latest {
            return reject(Rejection::TxLifetimeTooLong {
                expires_at: tx.expires_at,
                latest,
            });
        }
        if self.holds(&keys::executed(&hash))? {
            return reject(Rejection::AlreadyExecuted { tx_hash: hash });
        }
        Ok(())
    }

    fn payload(&mut self, tx: &Transaction, hash: TxHash) -> Exec<()> {
        let signer = &tx.signer;
        match &tx.payload {
            Payload::IssueCertificate(c) => self.issue(signer, hash, c),
            Payload::ConfirmImport(k) => self.confirm(signer, hash, k),
            Payload::VoidCertificate(v) => self.void(signer, hash, v),
            Payload::ApproveCertificate(a) => self.approve(signer, hash, a),
            Payload::ReportSeizure(r) => self.seizure(signer, hash, r),
            Payload::ReportProduction(p) => self.production(signer, p),
            Payload::RegisterAuthority(a) => self.register_authority(signer, a),
            Payload::RevokeAuthority {
                participant,
                authority,
            } => self.revoke_authority(signer, participant, authority),
            Payload::RotateNodeKey {
                participant,
                new_key,
            } => self.rotate_node_key(signer, participant, new_key),
            Payload::ProposeResolution(p) => self.propose(signer, hash, p),
            Payload::SignResolution { resolution } => self.sign_resolution(signer, resolution),
            Payload::ObjectResolution { resolution, reason } => {
                self.object_resolution(signer, resolution, reason)
            }
            Payload::SubmitEvidence(e) => self.evidence(signer, e),
        }
    }

    // ------------------------------------------------------------------ signers

    /// The authority named by an act, checked against the signer: registered,
    /// signed with its key, not revoked, its member in good standing.
    fn authority_signer(
        &self,
        id: &AuthorityId,
        signer: &PublicKey,
    ) -> Exec<(AuthorityRecord, ParticipantRecord)> {
        let Some(a) = self.ov.authority(id)? else {
            return reject(Rejection::UnknownAuthority {
                authority: id.clone(),
            });
        };
        if a.authority.key != *signer {
            return reject(Rejection::SignerNotAuthority {
                authority: id.clone(),
            });
        }
        if a.revoked_height.is_some() {
            return reject(Rejection::AuthorityRevoked {
                authority: id.clone(),
            });
        }
        let owner = self.existing(&a.authority.participant)?;
        if !owner.is_active() {
            return reject(Rejection::ParticipantExpelled {
                participant: owner.participant.code,
            });
        }
        Ok((a, owner))
    }

    fn require_owner(a: &AuthorityRecord, required: &ParticipantCode) -> Exec<()> {
        if a.authority.participant != *required {
            return reject(Rejection::AuthorityNotOfParticipant {
                authority: a.authority.id.clone(),
                owner: a.authority.participant.clone(),
                required: required.clone(),
            });
        }
        Ok(())
    }

    fn existing(&self, code: &ParticipantCode) -> Exec<ParticipantRecord> {
        match self.ov.participant(code)? {
            Some(r) => Ok(r),
            None => reject(Rejection::UnknownParticipant {
                participant: code.clone(),
            }),
        }
    }

    /// The member `code`, checked to have signed with its node key.
    fn node_signer_of(
        &self,
        code: &ParticipantCode,
        signer: &PublicKey,
    ) -> Exec<ParticipantRecord> {
        let p = self.existing(code)?;
        if p.participant.node_key != *signer {
            return reject(Rejection::SignerNotNodeKey {
                participant: code.clone(),
            });
        }
        Ok(p)
    }

    /// The government Participant in good standing whose node key signed.
    fn government_signer(&self, signer: &PublicKey) -> Exec<ParticipantRecord> {
        let Some(code) = self.ov.participant_by_node_key(signer)? else {
            return reject(Rejection::UnknownSigner { signer: *signer });
        };
        let p = self.existing(&code)?;
        if p.participant.kind != ParticipantKind::Government {
            return reject(Rejection::NotAGovernment {
                participant: code,
                kind: p.participant.kind,
            });
        }
        if !p.is_active() {
            return reject(Rejection::ParticipantExpelled { participant: code });
        }
        Ok(p)
    }

    /// A member that may trade now: exists, trades, not expelled.
    fn trading_member(&self, code: &ParticipantCode) -> Exec<ParticipantRecord> {
        let p = self.existing(code)?;
        if !p.participant.kind.trades() {
            return reject(Rejection::NotTrading {
                participant: code.clone(),
                kind: p.participant.kind,
            });
        }
        if !p.is_active() {
            return reject(Rejection::ParticipantExpelled {
                participant: code.clone(),
            });
        }
        Ok(p)
    }

    // ------------------------------------------------------------ certificates

    fn check_certificate_shape(&self, c: &Certificate) -> Exec<()> {
        text("exporter.name", &c.exporter.name, NAME_BYTES_MAX)?;
        text("exporter.address", &c.exporter.address, ADDRESS_BYTES_MAX)?;
        text("importer.name", &c.importer.name, NAME_BYTES_MAX)?;
        text("importer.address", &c.importer.address, ADDRESS_BYTES_MAX)?;
        count("origin_zones", c.origin_zones.len(), ORIGINS_MAX)?;
        for z in &c.origin_zones {
            text("origin_zones", z, ZONE_BYTES_MAX)?;
        }
        if let Origin::Countries(list) = &c.origin {
            count("origin", list.len(), ORIGINS_MAX)?;
        }
        let block_date = self.date();
        if c.issued_on > block_date {
            return reject(Rejection::DateInFuture {
                field: "issued_on".into(),
                date: c.issued_on,
                block_date,
            });
        }
        if c.expires_on <= c.issued_on {
            return reject(Rejection::ExpiryNotAfterIssue {
                issued_on: c.issued_on,
                expires_on: c.expires_on,
            });
        }
        let days = c.expires_on.days_since(c.issued_on);
        if days > i64::from(self.params.certificate_validity_days_max) {
            return reject(Rejection::ValidityTooLong {
                days,
                max: self.params.certificate_validity_days_max,
            });
        }
        if c.lines.is_empty() {
            return reject(Rejection::NoLines);
        }
        count("lines", c.lines.len(), LINES_MAX)?;
        for (i, line) in c.lines.iter().enumerate() {
            if !line.hs_code.is_rough() {
                return reject(Rejection::HsCodeNotRough {
                    line: i,
                    hs_code: line.hs_code.0.chars().take(32).collect(),
                });
            }
            for (field, zero) in [
                ("carats", line.carats.0 == 0),
                ("value_usd", line.value_usd.0 == 0),
                ("parcels", line.parcels == 0),
            ] {
                if zero {
                    return reject(Rejection::ZeroAmount {
                        line: i,
                        field: field.into(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Both sides may trade with each other, the number is new and belongs
    /// to the exporter, the destination to the importer, origins are known.
    fn check_parties(&self, c: &Certificate) -> Exec<(ParticipantRecord, ParticipantRecord)> {
        let exporter = self.trading_member(&c.exporting)?;
        let importer = self.trading_member(&c.importing)?;
        if c.exporting == c.importing {
            return reject(Rejection::SameParticipant {
                participant: c.exporting.clone(),
            });
        }
        if self.holds(&keys::certificate(&c.number))? {
            return reject(Rejection::NumberTaken {
                number: c.number.clone(),
            });
        }
        let prefix = c.number.territory_prefix();
        if !exporter.participant.territories.contains(&prefix) {
            return reject(Rejection::NumberPrefixNotExporter {
                prefix,
                participant: c.exporting.clone(),
            });
        }
        if !importer.participant.territories.contains(&c.destination) {
            return reject(Rejection::DestinationNotImporter {
                destination: c.destination.clone(),
                participant: c.importing.clone(),
            });
        }
        if let Origin::Countries(list) = &c.origin {
            if list.is_empty() {
                return reject(Rejection::NoOrigin);
            }
            for t in list {
                if self.ov.territory_owner(t)?.is_none() {
                    return reject(Rejection::UnknownOrigin {
                        territory: t.clone(),
                    });
                }
            }
        }
        Ok((exporter, importer))
    }

    fn issue(&mut self, signer: &PublicKey, hash: TxHash, c: &Certificate) -> Exec<()> {
        self.check_certificate_shape(c)?;
        let (auth, _) = self.authority_signer(&c.issuing_authority, signer)?;
        Self::require_owner(&auth, &c.exporting)?;
        let (exporter, importer) = self.check_parties(c)?;
        let (vigilance, approval) = Self::sanction_checks(c, &exporter, &importer)?;
        let status = if approval.is_some() {
            CertificateStatus::AwaitingApproval
        } else {
            CertificateStatus::Issued
        };
        let counted = status == CertificateStatus::Issued;
        if counted {
            self.count_export(c, true)?;
        }
        let record = CertificateRecord {
            certificate: c.clone(),
            status,
            history: vec![CertificateHistoryEntry {
                event: CertificateEventKind::Issued,
                tx: Some(hash),
                height: self.height,
            }],
            receipt: None,
            discrepancy: None,
            enhanced_vigilance: vigilance,
            approval,
            void_reason: None,
            counted,
        };
        self.tx_issued.push((c.expires_on, c.number.clone()));
        self.ov.put_certificate(&record);
        self.emit(LedgerEvent::CertificateStatusChanged {
            number: c.number.clone(),
            from: None,
            to: status,
            tx: Some(hash),
        });
        Ok(())
    }

    /// Sanctions on either side: forbidden trade is refused; partial exports
    /// need green origin zones and possibly a monitor's approval; enhanced
    /// vigilance flags the certificate.
    fn sanction_checks(
        c: &Certificate,
        exporter: &ParticipantRecord,
        importer: &ParticipantRecord,
    ) -> Exec<(bool, Option<Approval>)> {
        let mut vigilance = false;
        let mut approval = None;
        if let Some(s) = &exporter.sanction {
            match &s.scope {
                SanctionScope::FullSuspension | SanctionScope::ExportBan => {
                    return reject(Rejection::ExportForbidden {
                        participant: c.exporting.clone(),
                        scope: scope_name(&s.scope).into(),
                    })
                }
                SanctionScope::ImportBan => {}
                SanctionScope::PartialExports {
                    green_zones,
                    monitor,
                } => {
                    if c.origin_zones.is_empty() {
                        return reject(Rejection::OriginZonesMissing {
                            participant: c.exporting.clone(),
                        });
                    }
                    for zone in &c.origin_zones {
                        if !green_zones.contains(zone) {
                            return reject(Rejection::OriginZoneNotGreen {
                                participant: c.exporting.clone(),
                                zone: zone.clone(),
                            });
                        }
                    }
                    approval = monitor.as_ref().map(|m| Approval {
                        monitor: m.clone(),
                        approved_height: None,
                    });
                }
                SanctionScope::EnhancedVigilance => vigilance = true,
            }
        }
        if let Some(s) = &importer.sanction {
            match &s.scope {
                SanctionScope::FullSuspension | SanctionScope::ImportBan => {
                    return reject(Rejection::ImportForbidden {
                        participant: c.importing.clone(),
                        scope: scope_name(&s.scope).into(),
                    })
                }
                SanctionScope::EnhancedVigilance => vigilance = true,
                SanctionScope::ExportBan | SanctionScope::PartialExports { .. } => {}
            }
        }
        Ok((vigilance, approval))
    }

    fn certificate_record(&self, number: &CertificateNumber) -> Exec<CertificateRecord> {
        match self.ov.certificate(number)? {
            Some(r) => Ok(r),
            None => reject(Rejection::UnknownCertificate {
                number: number.clone(),
            }),
        }
    }

    fn wrong_status<T>(rec: &CertificateRecord) -> Exec<T> {
        reject(Rejection::WrongCertificateStatus {
            number: rec.certificate.number.clone(),
            status: rec.status,
        })
    }

    /// An open certificate past its expiry date (whether or not this block's
    /// housekeeping has marked it yet) takes no more acts: the same verdict
    /// at admission and in the block.
    fn refuse_if_expired(&self, rec: &CertificateRecord) -> Exec<()> {
        let block_date = self.date();
        let open_or_expired = matches!(
            rec.status,
            CertificateStatus::Issued
                | CertificateStatus::AwaitingApproval
                | CertificateStatus::Expired
        );
        if open_or_expired && block_date > rec.certificate.expires_on {
            return reject(Rejection::CertificateExpired {
                number: rec.certificate.number.clone(),
                expires_on: rec.certificate.expires_on,
                block_date,
            });
        }
        Ok(())
    }

    fn transition(
        &mut self,
        rec: &mut CertificateRecord,
        to: CertificateStatus,
        event: CertificateEventKind,
        tx: Option<TxHash>,
    ) {
        let from = rec.status;
        rec.status = to;
        rec.history.push(CertificateHistoryEntry {
            event,
            tx,
            height: self.height,
        });
        if from != to {
            self.emit(LedgerEvent::CertificateStatusChanged {
                number: rec.certificate.number.clone(),
                from: Some(from),
                to,
                tx,
            });
        }
    }

    fn confirm(&mut self, signer: &PublicKey, hash: TxHash, k: &ImportConfirmation) -> Exec<()> {
        let mut rec = self.certificate_record(&k.number)?;
        let (auth, _) = self.authority_signer(&k.authority, signer)?;
        Self::require_owner(&auth, &rec.certificate.importing)?;
        match (&rec.status, &rec.approval) {
            (CertificateStatus::Issued, _) => {}
            // Same verdict whether or not the start-of-block housekeeping has
            // already marked it expired (admission checks skip housekeeping).
            (CertificateStatus::Expired, _) => self.refuse_if_expired(&rec)?,
            (CertificateStatus::AwaitingApproval, Some(a)) => {
                return reject(Rejection::AwaitingApproval {
                    number: k.number.clone(),
                    monitor: a.monitor.clone(),
                })
            }
            _ => return Self::wrong_status(&rec),
        }
        let block_date = self.date();
        let c = &rec.certificate;
        if block_date > c.expires_on {
            return reject(Rejection::CertificateExpired {
                number: k.number.clone(),
                expires_on: c.expires_on,
                block_date,
            });
        }
        if k.received_on > block_date {
            return reject(Rejection::DateInFuture {
                field: "received_on".into(),
                date: k.received_on,
                block_date,
            });
        }
        if k.received_on < c.issued_on {
            return reject(Rejection::ReceivedBeforeIssue {
                received_on: k.received_on,
                issued_on: c.issued_on,
            });
        }
        let (carats, parcels) = (c.total_carats(), c.total_parcels());
        let discrepancy = (carats != k.carats || parcels != k.parcels).then_some(Discrepancy {
            certified_carats: carats,
            received_carats: k.carats,
            certified_parcels: parcels,
            received_parcels: k.parcels,
        });
        let receipt = Receipt {
            authority: k.authority.clone(),
            carats: k.carats,
            parcels: k.parcels,
            received_on: k.received_on,
        };
        self.count_import(&rec.certificate, &receipt, discrepancy.is_some())?;
        if let Some(d) = &discrepancy {
            self.emit(LedgerEvent::DiscrepancyRecorded {
                number: k.number.clone(),
                discrepancy: d.clone(),
            });
        }
        rec.receipt = Some(receipt);
        rec.discrepancy = discrepancy;
        self.transition(
            &mut rec,
            CertificateStatus::Confirmed,
            CertificateEventKind::Confirmed,
            Some(hash),
        );
        self.ov.put_certificate(&rec);
        Ok(())
    }

    fn void(&mut self, signer: &PublicKey, hash: TxHash, v: &VoidCertificate) -> Exec<()> {
        let mut rec = self.certificate_record(&v.number)?;
        let (auth, _) = self.authority_signer(&v.authority, signer)?;
        Self::require_owner(&auth, &rec.certificate.exporting)?;
        text("reason", &v.reason, REASON_BYTES_MAX)?;
        self.refuse_if_expired(&rec)?;
        if !matches!(
            rec.status,
            CertificateStatus::Issued | CertificateStatus::AwaitingApproval
        ) {
            return Self::wrong_status(&rec);
        }
        if rec.counted {
            // A cancelled certificate never shipped: take it out of the figures.
            self.count_export(&rec.certificate, false)?;
            rec.counted = false;
        }
        rec.void_reason = Some(v.reason.clone());
        self.transition(
            &mut rec,
            CertificateStatus::Voided,
            CertificateEventKind::Voided,
            Some(hash),
        );
        self.ov.put_certificate(&rec);
        Ok(())
    }

    fn approve(&mut self, signer: &PublicKey, hash: TxHash, a: &CertificateApproval) -> Exec<()> {
        let monitor = self.node_signer_of(&a.monitor, signer)?;
        if !monitor.is_active() {
            return reject(Rejection::ParticipantExpelled {
                participant: a.monitor.clone(),
            });
        }
        let mut rec = self.certificate_record(&a.number)?;
        self.refuse_if_expired(&rec)?;
        if rec.status != CertificateStatus::AwaitingApproval {
            return Self::wrong_status(&rec);
        }
        let mut approval = match &rec.approval {
            Some(ap) if ap.monitor == a.monitor => ap.clone(),
            other => {
                return reject(Rejection::NotTheMonitor {
                    number: a.number.clone(),
                    expected: other.as_ref().map(|ap| ap.monitor.clone()),
                    found: a.monitor.clone(),
                })
            }
        };
        approval.approved_height = Some(self.height);
        rec.approval = Some(approval);
        rec.counted = true;
        self.count_export(&rec.certificate, true)?;
        self.emit(LedgerEvent::CertificateApproved {
            number: a.number.clone(),
            monitor: a.monitor.clone(),
        });
        self.transition(
            &mut rec,
            CertificateStatus::Issued,
            CertificateEventKind::Approved,
            Some(hash),
        );
        self.ov.put_certificate(&rec);
        Ok(())
    }

    fn seizure(&mut self, signer: &PublicKey, hash: TxHash, r: &SeizureReport) -> Exec<()> {
        let (_, owner) = self.authority_signer(&r.authority, signer)?;
        if !owner.participant.territories.contains(&r.territory) {
            return reject(Rejection::TerritoryNotOfParticipant {
                territory: r.territory.clone(),
                participant: owner.participant.code,
            });
        }
        text("location", &r.location, ZONE_BYTES_MAX)?;
        if r.carats.0 == 0 {
            return reject(Rejection::ZeroAmount {
                line: 0,
                field: "carats".into(),
            });
        }
        let block_date = self.date();
        if r.seized_on > block_date {
            return reject(Rejection::DateInFuture {
                field: "seized_on".into(),
                date: r.seized_on,
                block_date,
            });
        }
        let mut known = false;
        if let Some(number) = &r.certificate {
            // A forged certificate may name a number the ledger never saw:
            // the report is kept either way.
            if let Some(mut rec) = self.ov.certificate(number)? {
                known = true;
                if matches!(
                    rec.status,
                    CertificateStatus::Issued | CertificateStatus::AwaitingApproval
                ) {
                    self.transition(
                        &mut rec,
                        CertificateStatus::Seized,
                        CertificateEventKind::Seized,
                        Some(hash),
                    );
                    self.ov.put_certificate(&rec);
                }
            }
        }
        let sequence = self
            .ov
            .meta_get::<u64>(meta::SEIZURE_SEQUENCE)?
            .unwrap_or(0)
            .saturating_add(1);
        self.ov.meta_put(meta::SEIZURE_SEQUENCE, &sequence);
        let record = SeizureRecord {
            sequence,
            report: r.clone(),
            reporter: owner.participant.code.clone(),
            tx: hash,
            height: self.height,
            certificate_known: known,
        };
        self.ov.put_value(keys::seizure(sequence), &record);
        if let Some(number) = &r.certificate {
            let key = keys::seizures_by_certificate(number);
            let mut index: SeizureIndex = self.ov.get_value(&key)?.unwrap_or_default();
            index.count = index.count.saturating_add(1);
            if index.sequences.len() < SEIZURE_INDEX_MAX {
                index.sequences.push(sequence);
            }
            self.ov.put_value(key, &index);
        }
        self.emit(LedgerEvent::SeizureReported {
            sequence,
            reporter: owner.participant.code,
            territory: r.territory.clone(),
            certificate: r.certificate.clone(),
            reason: r.reason,
            carats: r.carats,
        });
        Ok(())
    }

    fn production(&mut self, signer: &PublicKey, p: &ProductionReport) -> Exec<()> {
        let (_, owner) = self.authority_signer(&p.authority, signer)?;
        let (year, half) = match p.period {
            Period::Half(y, h) if p.period.is_valid() => (y, h),
            other => return reject(Rejection::NotAHalfYear { period: other }),
        };
        let block_date = self.date();
        let start = Date::from_ymd(year, u32::from(half) * 6 - 5, 1);
        if start.is_none_or(|s| s > block_date) {
            return reject(Rejection::PeriodInFuture {
                period: p.period,
                block_date,
            });
        }
        let code = owner.participant.code;
        let key = keys::production(&code, p.period);
        if self.ov.contains(&key)? {
            return reject(Rejection::ProductionAlreadyReported {
                participant: code,
                period: p.period,
            });
        }
        self.ov.put_value(key, p);
        self.emit(LedgerEvent::ProductionReported {
            participant: code,
            period: p.period,
        });
        Ok(())
    }

    // -------------------------------------------------------------- statistics

    fn count_export(&mut self, c: &Certificate, add: bool) -> Exec<()> {
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

    fn count_import(&mut self, c: &Certificate, r: &Receipt, discrepancy: bool) -> Exec<()> {
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

    fn count_expired(&mut self, c: &Certificate) -> Result<(), StoreError> {
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

    // ---------------------------------------------------------------- registry

    fn register_authority(&mut self, signer: &PublicKey, a: &Authority) -> Exec<()> {
        let owner = self.node_signer_of(&a.participant, signer)?;
        if !owner.participant.kind.trades() {
            return reject(Rejection::NotTrading {
                participant: a.participant.clone(),
                kind: owner.participant.kind,
            });
        }
        if !owner.is_active() {
            return reject(Rejection::ParticipantExpelled {
                participant: a.participant.clone(),
            });
        }
        text("name", &a.name, NAME_BYTES_MAX)?;
        let registered = self
            .ov
            .scan(
                &keys::authority_by_participant_prefix(&a.participant),
                AUTHORITIES_PER_PARTICIPANT_MAX,
            )?
            .len();
        if registered >= AUTHORITIES_PER_PARTICIPANT_MAX {
            return reject(Rejection::TooManyItems {
                field: "authorities".into(),
                count: registered + 1,
                max: AUTHORITIES_PER_PARTICIPANT_MAX,
            });
        }
        if self.ov.authority(&a.id)?.is_some() {
            return reject(Rejection::AuthorityExists {
                authority: a.id.clone(),
            });
        }
        if self.ov.key_in_use(&a.key)? {
            return reject(Rejection::KeyInUse { key: a.key });
        }
        self.ov.put_authority(&AuthorityRecord {
            authority: a.clone(),
            registered_height: self.height,
            revoked_height: None,
        });
        self.emit(LedgerEvent::AuthorityRegistered {
            authority: a.id.clone(),
        });
        Ok(())
    }

    fn revoke_authority(
        &mut self,
        signer: &PublicKey,
        participant: &ParticipantCode,
        id: &AuthorityId,
    ) -> Exec<()> {
        self.node_signer_of(participant, signer)?;
        let Some(mut a) = self.ov.authority(id)? else {
            return reject(Rejection::UnknownAuthority {
                authority: id.clone(),
            });
        };
        Self::require_owner(&a, participant)?;
        if a.revoked_height.is_some() {
            return reject(Rejection::AuthorityRevoked {
                authority: id.clone(),
            });
        }
        a.revoked_height = Some(self.height);
        // The key index stays, so a revoked key can never be registered again.
        self.ov.put_value(keys::authority(id.as_str()), &a);
        self.emit(LedgerEvent::AuthorityRevoked {
            authority: id.clone(),
        });
        Ok(())
    }

    fn rotate_node_key(
        &mut self,
        signer: &PublicKey,
        participant: &ParticipantCode,
        new_key: &PublicKey,
    ) -> Exec<()> {
        let mut p = self.node_signer_of(participant, signer)?;
        if self.ov.key_in_use(new_key)? {
            return reject(Rejection::KeyInUse { key: *new_key });
        }
        self.ov.delete(keys::node_key(&p.participant.node_key));
        self.ov.put_value(keys::node_key(new_key), participant);
        p.participant.node_key = *new_key;
        self.write_member(&p);
        self.emit(LedgerEvent::NodeKeyRotated {
            participant: participant.clone(),
            key: *new_key,
        });
        Ok(())
    }

    // ------------------------------------------------------------- resolutions

    fn propose(&mut self, signer: &PublicKey, hash: TxHash, p: &ResolutionProposal) -> Exec<()> {
        let gov = self.government_signer(signer)?;
        text("title", &p.title, REASON_BYTES_MAX)?;
        let latest = self.time.plus_ms(self.params.resolution_deadline_max_ms);
        let deadline = match p.deadline {
            Some(d) if d <= self.time || d > latest => {
                return reject(Rejection::BadDeadline {
                    deadline: d,
                    block_time: self.time,
                    latest,
                })
            }
            Some(d) => d,
            None => self
                .time
                .plus_ms(self.params.resolution_deadline_default_ms),
        };
        self.check_action(&p.action)?;
        let code = gov.participant.code;
        self.emit(LedgerEvent::ResolutionProposed {
            id: hash,
            kind: p.action.kind().to_string(),
            proposer: code.clone(),
        });
        let record = ResolutionRecord {
            id: hash,
            proposal: p.clone(),
            proposer: code.clone(),
            proposed_height: self.height,
            deadline,
            // The proposer's proposal counts as its signature.
            signed_by: vec![code],
            missing: Vec::new(),
            outcome: ResolutionOutcome::Pending,
        };
        self.after_signature(record)
    }

    /// Every government Participant of the current membership in good
    /// standing must have signed; the block that brings the last signature
    /// adopts it.
    fn after_signature(&mut self, mut rec: ResolutionRecord) -> Exec<()> {
        rec.missing = self.missing_signers(&rec)?;
        let index = keys::resolution_deadline(rec.deadline, &rec.id);
        if rec.missing.is_empty() {
            self.ov.delete(index);
            match self.apply_action(&rec.proposal.action, rec.id) {
                Ok(()) => {
                    rec.outcome = ResolutionOutcome::Adopted {
                        height: self.height,
                    };
                    self.emit(LedgerEvent::ResolutionAdopted {
                        id: rec.id,
                        kind: rec.proposal.action.kind().to_string(),
                    });
                }
                Err(Fail::Store(e)) => return Err(Fail::Store(e)),
                Err(Fail::Rejected(reason)) => {
                    rec.outcome = ResolutionOutcome::Failed {
                        height: self.height,
                        reason: Box::new(reason.clone()),
                    };
                    self.emit(LedgerEvent::ResolutionFailed { id: rec.id, reason });
                }
            }
        } else {
            self.ov.put(index, Vec::new());
        }
        self.ov.put_resolution(&rec);
        Ok(())
    }

    /// Required signers (governments in good standing now) that have not signed.
    fn missing_signers(
        &mut self,
        rec: &ResolutionRecord,
    ) -> Result<Vec<ParticipantCode>, StoreError> {
        Ok(self
            .active_governments()?
            .into_iter()
            .map(|(code, _)| code)
            .filter(|code| !rec.signed_by.contains(code))
            .collect())
    }

    fn pending_resolution(&self, id: &Hash) -> Exec<ResolutionRecord> {
        let Some(rec) = self.ov.resolution(id)? else {
            return reject(Rejection::UnknownResolution { resolution: *id });
        };
        // A lapse is reported the same way before and after the housekeeping
        // of a block has recorded it.
        if let ResolutionOutcome::Lapsed { .. } = rec.outcome {
            return reject(Rejection::ResolutionLapsed {
                resolution: *id,
                deadline: rec.deadline,
            });
        }
        if rec.outcome != ResolutionOutcome::Pending {
            return reject(Rejection::ResolutionClosed {
                resolution: *id,
                outcome: rec.outcome,
            });
        }
        if self.time >= rec.deadline {
            return reject(Rejection::ResolutionLapsed {
                resolution: *id,
                deadline: rec.deadline,
            });
        }
        Ok(rec)
    }

    fn sign_resolution(&mut self, signer: &PublicKey, id: &Hash) -> Exec<()> {
        let gov = self.government_signer(signer)?;
        let mut rec = self.pending_resolution(id)?;
        let code = gov.participant.code;
        if rec.signed_by.contains(&code) {
            // An expulsion can remove the last missing signer after everyone
            // else signed; a repeated signature then completes it, so such a
            // resolution does not wait for its deadline.
            if self.missing_signers(&rec)?.is_empty() {
                return self.after_signature(rec);
            }
            return reject(Rejection::AlreadySigned {
                resolution: *id,
                participant: code,
            });
        }
        rec.signed_by.push(code);
        rec.signed_by.sort();
        self.after_signature(rec)
    }

    fn object_resolution(&mut self, signer: &PublicKey, id: &Hash, reason: &str) -> Exec<()> {
        let gov = self.government_signer(signer)?;
        let mut rec = self.pending_resolution(id)?;
        let code = gov.participant.code;
        if rec.signed_by.contains(&code) {
            return reject(Rejection::AlreadySigned {
                resolution: *id,
                participant: code,
            });
        }
        text("reason", reason, REASON_BYTES_MAX)?;
        self.ov
            .delete(keys::resolution_deadline(rec.deadline, &rec.id));
        rec.outcome = ResolutionOutcome::Rejected {
            height: self.height,
            by: code.clone(),
            reason: reason.to_string(),
        };
        self.ov.put_resolution(&rec);
        self.emit(LedgerEvent::ResolutionRejected { id: *id, by: code });
        Ok(())
    }

    fn check_new_member(&self, p: &Participant) -> Exec<()> {
        // Every scan of the member table reads at most this many entries.
        let members = self
            .ov
            .scan(&keys::prefix(keys::table::PARTICIPANT), PARTICIPANTS_MAX)?
            .len();
        if members >= PARTICIPANTS_MAX {
            return reject(Rejection::TooManyItems {
                field: "participants".into(),
                count: members + 1,
                max: PARTICIPANTS_MAX,
            });
        }
        if self.ov.participant(&p.code)?.is_some() {
            return reject(Rejection::ParticipantExists {
                participant: p.code.clone(),
            });
        }
        if self.ov.key_in_use(&p.node_key)? {
            return reject(Rejection::KeyInUse { key: p.node_key });
        }
        text("name", &p.name, NAME_BYTES_MAX)?;
        count("territories", p.territories.len(), LIST_MAX)?;
        Ok(())
    }

    fn check_scope(&self, scope: &SanctionScope) -> Exec<()> {
        if let SanctionScope::PartialExports {
            green_zones,
            monitor,
        } = scope
        {
            if green_zones.is_empty() {
                return reject(Rejection::NoGreenZones);
            }
            count("green_zones", green_zones.len(), LIST_MAX)?;
            for z in green_zones {
                text("green_zones", z, ZONE_BYTES_MAX)?;
            }
            if let Some(m) = monitor {
                let r = self.existing(m)?;
                if !r.is_active() {
                    return reject(Rejection::ParticipantExpelled {
                        participant: m.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    fn wrong_kind<T>(r: &ParticipantRecord, expected: &str) -> Exec<T> {
        reject(Rejection::WrongKind {
            participant: r.participant.code.clone(),
            found: r.participant.kind,
            expected: expected.to_string(),
        })
    }

    /// An existing member of the kind `is_kind` accepts, in good standing.
    fn active_of_kind(
        &self,
        code: &ParticipantCode,
        is_kind: fn(ParticipantKind) -> bool,
        expected: &str,
    ) -> Exec<ParticipantRecord> {
        let r = self.existing(code)?;
        if !is_kind(r.participant.kind) {
            return Self::wrong_kind(&r, expected);
        }
        if !r.is_active() {
            return reject(Rejection::ParticipantExpelled {
                participant: code.clone(),
            });
        }
        Ok(r)
    }

    fn check_admission(&self, p: &Participant, observer: bool) -> Exec<()> {
        let expected = if observer {
            "observer"
        } else {
            "government or trading entity"
        };
        if (p.kind == ParticipantKind::Observer) != observer {
            return reject(Rejection::WrongKind {
                participant: p.code.clone(),
                found: p.kind,
                expected: expected.into(),
            });
        }
        self.check_new_member(p)?;
        if observer {
            return count("territories", p.territories.len(), 0);
        }
        if p.territories.is_empty() {
            return reject(Rejection::NoTerritories {
                participant: p.code.clone(),
            });
        }
        for t in &p.territories {
            if let Some(owner) = self.ov.territory_owner(t)? {
                return reject(Rejection::TerritoryTaken {
                    territory: t.clone(),
                    owner,
                });
            }
        }
        Ok(())
    }

    /// Impose needs no sanction in force; amend and lift need one.
    fn check_sanction_change(
        &self,
        participant: &ParticipantCode,
        scope: Option<&SanctionScope>,
        imposing: bool,
    ) -> Exec<()> {
        let r = self.existing(participant)?;
        if imposing && !r.participant.kind.trades() {
            return Self::wrong_kind(&r, "government or trading entity");
        }
        match (imposing, r.sanction.is_some()) {
            (true, true) => {
                return reject(Rejection::SanctionInForce {
                    participant: participant.clone(),
                })
            }
            (false, false) => {
                return reject(Rejection::NoSanction {
                    participant: participant.clone(),
                })
            }
            _ => {}
        }
        match scope {
            Some(scope) => self.check_scope(scope),
            None => Ok(()),
        }
    }

    /// Whether the act applies to the current state (at proposal, and again
    /// at adoption since the state may have changed meanwhile).
    fn check_action(&self, action: &ResolutionAction) -> Exec<()> {
        use ResolutionAction as A;
        let trades: fn(ParticipantKind) -> bool = ParticipantKind::trades;
        match action {
            A::Admit { participant } => self.check_admission(participant, false),
            A::AddObserver { observer } => self.check_admission(observer, true),
            A::Expel { participant } => self
                .active_of_kind(participant, trades, "government or trading entity")
                .map(|_| ()),
            A::Readmit { participant } => {
                let r = self.existing(participant)?;
                if !matches!(r.status, MembershipStatus::Expelled { .. }) {
                    return reject(Rejection::NotExpelled {
                        participant: participant.clone(),
                    });
                }
                Ok(())
            }
            A::ImposeSanction { participant, scope } => {
                self.check_sanction_change(participant, Some(scope), true)
            }
            A::AmendSanction { participant, scope } => {
                self.check_sanction_change(participant, Some(scope), false)
            }
            A::LiftSanction { participant } => self.check_sanction_change(participant, None, false),
            A::RemoveObserver { observer } => self
                .active_of_kind(observer, |k| k == ParticipantKind::Observer, "observer")
                .map(|_| ()),
            A::ElectViceChair { participant } => self
                .active_of_kind(
                    participant,
                    |k| k == ParticipantKind::Government,
                    "government",
                )
                .map(|_| ()),
            A::AdministrativeDecision { title, .. } => text("title", title, REASON_BYTES_MAX),
        }
    }

    fn changed(&mut self, participant: &ParticipantCode, change: &str) {
        self.emit(LedgerEvent::ParticipantChanged {
            participant: participant.clone(),
            change: change.to_string(),
        });
    }

    fn add_member(&mut self, p: &Participant, change: &str) {
        self.ov.put_value(keys::node_key(&p.node_key), &p.code);
        for t in &p.territories {
            self.ov.put_value(keys::territory(t), &p.code);
        }
        self.write_member(&ParticipantRecord {
            participant: p.clone(),
            status: MembershipStatus::Active,
            sanction: None,
            authorities: Vec::new(),
        });
        self.changed(&p.code, change);
    }

    fn set_member(
        &mut self,
        code: &ParticipantCode,
        change: &str,
        edit: impl FnOnce(&mut ParticipantRecord),
    ) -> Exec<()> {
        let mut r = self.existing(code)?;
        edit(&mut r);
        self.write_member(&r);
        self.changed(code, change);
        Ok(())
    }

    /// Performs an adopted act (after checking it still applies).
    fn apply_action(&mut self, action: &ResolutionAction, id: Hash) -> Exec<()> {
        use ResolutionAction as A;
        self.check_action(action)?;
        let height = self.height;
        let sanction = |scope: &SanctionScope| SanctionRecord {
            scope: scope.clone(),
            resolution: id,
            since_height: height,
        };
        match action {
            A::Admit { participant } => self.add_member(participant, "admitted"),
            A::AddObserver { observer } => self.add_member(observer, "observer-added"),
            A::Expel { participant } => self.set_member(participant, "expelled", |r| {
                r.status = MembershipStatus::Expelled { height }
            })?,
            A::Readmit { participant } => self.set_member(participant, "readmitted", |r| {
                r.status = MembershipStatus::Active
            })?,
            A::RemoveObserver { observer } => {
                self.set_member(observer, "observer-removed", |r| {
                    r.status = MembershipStatus::Removed { height }
                })?
            }
            A::ImposeSanction { participant, scope } => {
                let s = sanction(scope);
                self.set_member(participant, "sanction-imposed", |r| r.sanction = Some(s))?
            }
            A::AmendSanction { participant, scope } => {
                let s = sanction(scope);
                self.set_member(participant, "sanction-amended", |r| r.sanction = Some(s))?
            }
            A::LiftSanction { participant } => {
                self.set_member(participant, "sanction-lifted", |r| r.sanction = None)?
            }
            A::ElectViceChair { participant } => {
                self.ov
                    .meta_put(meta::VICE_CHAIR, &Some(participant.clone()));
                self.emit(LedgerEvent::ViceChairElected {
                    vice_chair: participant.clone(),
                });
            }
            A::AdministrativeDecision { .. } => {}
        }
        Ok(())
    }

    // ---------------------------------------------------------------- evidence

    fn evidence(&mut self, signer: &PublicKey, e: &Evidence) -> Exec<()> {
        let validators = self.active_governments()?;
        if !validators.iter().any(|(_, k)| k == signer) {
            return reject(Rejection::NotAValidator { signer: *signer });
        }
        if let Err(err) = e.verify(self.chain_id) {
            return reject(Rejection::InvalidEvidence {
                reason: err.to_string(),
            });
        }
        let id = e.id();
        if self.ov.contains(&keys::evidence(&id))? {
            return reject(Rejection::DuplicateEvidence { id });
        }
        let offender = e.offender();
        let record = EvidenceRecord {
            id,
            offender,
            offender_code: self.ov.participant_by_node_key(&offender)?,
            evidence_height: e.height(),
            recorded_height: self.height,
        };
        self.ov.put_value(keys::evidence(&id), &record);
        self.emit(LedgerEvent::EvidenceRecorded { id, offender });
        Ok(())
    }

    // ------------------------------------------------------------ housekeeping

    /// Start-of-block work: Chair rotation, then bounded amounts of
    /// executed-hash pruning, certificate expiry and resolution lapses.
    pub(crate) fn begin_block(&mut self) -> Result<(), StoreError> {
        self.rotate_chair()?;
        self.prune_executed()?;
        self.expire_certificates()?;
        self.lapse_resolutions()?;
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
            let rest = &k[prefix.len()..];
            let (Some(deadline), Some(id)) = (be_u64(rest), rest.get(8..).and_then(hash_at)) else {
                return Err(corrupt(&k, "resolution-deadline key"));
            };
            // Lapses at the deadline: a signature must land strictly before.
            if Timestamp(deadline) > self.time {
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
