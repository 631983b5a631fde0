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
use crate::overlay::Overlay;
use crate::params::Params;
use crate::records::{AuthorityRecord, LedgerEvent, ParticipantRecord};
use crate::rejection::Rejection;
use crate::store::{StateStore, StoreError};
use kp_types::{
    AuthorityId, CertificateNumber, Date, ParticipantCode, ParticipantKind, Payload, PublicKey,
    SanctionScope, SignedTransaction, Timestamp, Transaction, TxHash,
};
use std::collections::BTreeMap;
use std::sync::Arc;

mod certificates;
mod housekeeping;
mod member_keys;
mod registry;
mod reports;
mod resolutions;
mod sealing;
mod statistics;

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
    /// Trade statistics records the block changed, decoded
    /// ([`statistics::Layered`]): members' by quarter, and all members'.
    member_stats: statistics::Layered<crate::records::TradeStatistics>,
    global_stats: statistics::Layered<crate::state::GlobalQuarterStats>,
    /// Transactions are only checked against the rules (admission, block
    /// building), and the overlay is then dropped: the trade statistics
    /// and the territories by authority, which no rule reads, are not kept
    /// up to date ([`Ctx::checking`]).
    checking: bool,
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
            member_stats: Default::default(),
            global_stats: Default::default(),
            checking: false,
        }
    }

    /// Only checks transactions against the rules: the caller drops the
    /// overlay (admission, block building), so effects that no rule reads
    /// are skipped. These are the trade statistics, each a record decoded
    /// and encoded again twice per certificate, about 5 % of admission's
    /// instructions. A block is always executed in full.
    pub(crate) fn checking(mut self) -> Self {
        self.checking = true;
        self
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
        self.member_stats.keep();
        self.global_stats.keep();
        self.events.append(&mut self.tx_events);
        for (expires_on, number) in self.tx_issued.drain(..) {
            self.issued.entry(expires_on).or_default().push(number);
        }
    }

    fn drop_tx(&mut self) {
        self.ov.discard_tx();
        self.member_stats.drop_tx();
        self.global_stats.drop_tx();
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
                compromised_since,
            } => self.revoke_authority(signer, participant, authority, *compromised_since),
            Payload::RotateKey {
                participant,
                role,
                new_key,
            } => self.rotate_key(signer, participant, *role, new_key),
            Payload::ProposeResolution(p) => self.propose(signer, hash, p),
            Payload::SignResolution { resolution } => self.sign_resolution(signer, resolution),
            Payload::ObjectResolution { resolution, reason } => {
                self.object_resolution(signer, resolution, reason)
            }
            Payload::SubmitEvidence(e) => self.evidence(signer, e),
            Payload::BeginRecovery {
                participant,
                new_government_key,
                new_recovery_key,
            } => self.begin_recovery(
                signer,
                participant,
                new_government_key,
                new_recovery_key.as_ref(),
            ),
            Payload::CancelRecovery { participant } => self.cancel_recovery(signer, participant),
            Payload::SetEncryptionKey {
                participant,
                authority,
                key,
            } => self.set_encryption_key(signer, participant, authority, key),
            Payload::RotateAuthorityKey {
                participant,
                authority,
                new_key,
                new_encryption_key,
            } => self.rotate_authority_key(
                signer,
                participant,
                authority,
                new_key,
                new_encryption_key.as_ref(),
            ),
        }
    }

    // ------------------------------------------------------------------ signers

    /// The authority named by an act, checked against the signer: registered,
    /// signed with its key, not revoked, its member in good standing.
    fn authority_signer(
        &self,
        id: &AuthorityId,
        signer: &PublicKey,
    ) -> Exec<(Arc<AuthorityRecord>, Arc<ParticipantRecord>)> {
        let Some(a) = self.ov.authority(id)? else {
            return reject(Rejection::UnknownAuthority {
                authority: id.clone(),
            });
        };
        if a.authority.key != *signer {
            // A key rotated away signs nothing after its rotation (acts it
            // signed before stay valid: they are already on the ledger).
            if let Some(previous) = a.previous_keys.iter().find(|p| p.key == *signer) {
                return reject(Rejection::AuthorityKeyRetired {
                    authority: id.clone(),
                    until_height: previous.until_height,
                });
            }
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
                participant: owner.participant.code.clone(),
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

    fn existing(&self, code: &ParticipantCode) -> Exec<Arc<ParticipantRecord>> {
        match self.ov.participant(code)? {
            Some(r) => Ok(r),
            None => reject(Rejection::UnknownParticipant {
                participant: code.clone(),
            }),
        }
    }

    /// The authority `id`, for an act of `participant`'s government signed
    /// by `signer`: the signer must be that government's key, and the
    /// authority must exist and belong to it (refused in that order).
    fn owned_authority(
        &self,
        signer: &PublicKey,
        participant: &ParticipantCode,
        id: &AuthorityId,
    ) -> Exec<AuthorityRecord> {
        self.government_key_of(participant, signer)?;
        let Some(a) = self.ov.authority(id)? else {
            return reject(Rejection::UnknownAuthority {
                authority: id.clone(),
            });
        };
        Self::require_owner(&a, participant)?;
        // The acts on an authority change its record: their own copy.
        Ok(Arc::unwrap_or_clone(a))
    }

    /// [`Ctx::owned_authority`], not revoked.
    fn owned_live_authority(
        &self,
        signer: &PublicKey,
        participant: &ParticipantCode,
        id: &AuthorityId,
    ) -> Exec<AuthorityRecord> {
        let a = self.owned_authority(signer, participant, id)?;
        if a.revoked_height.is_some() {
            return reject(Rejection::AuthorityRevoked {
                authority: id.clone(),
            });
        }
        Ok(a)
    }

    /// The member `code`, checked to have signed with its government key.
    fn government_key_of(
        &self,
        code: &ParticipantCode,
        signer: &PublicKey,
    ) -> Exec<Arc<ParticipantRecord>> {
        let p = self.existing(code)?;
        if p.participant.government_key != *signer {
            return reject(Rejection::SignerNotGovernmentKey {
                participant: code.clone(),
            });
        }
        Ok(p)
    }

    /// The government Participant in good standing whose government key
    /// signed. A member's node key, where it is not also its government
    /// key, is refused as `signer-not-government-key`.
    fn government_signer(&self, signer: &PublicKey) -> Exec<Arc<ParticipantRecord>> {
        let Some(code) = self.ov.participant_by_government_key(signer)? else {
            if let Some(participant) = self.ov.participant_by_node_key(signer)? {
                return reject(Rejection::SignerNotGovernmentKey { participant });
            }
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
    fn trading_member(&self, code: &ParticipantCode) -> Exec<Arc<ParticipantRecord>> {
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
}
