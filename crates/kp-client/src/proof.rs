//! Verification of a certificate proof ([`kp_api::proof::CertificateProof`])
//! without trusting the node that served it.
//!
//! The caller first verifies the proof's anchor (a decided header) with the
//! light client ([`crate::light`]): from a genesis or header it trusts, by
//! commit certificates and the validators-hash chain. [`verify`] then checks
//! everything else against that header alone:
//!
//! * every record against the header's `records_root` (the state after the
//!   block before it): the chain's genesis hash, the certificate's record or
//!   its absence, the seizure index of its number (absent: no seizure names
//!   it), each seizure report it lists, both Participants, and the
//!   authorities that signed acts;
//! * every act of the record's history and every seizure report naming it:
//!   the signed transaction (one signature rule, `kp_types::crypto`), its
//!   inclusion under its block's `txs_root`, its acceptance by the ledger
//!   under the next header's `results_root`, and both headers tied to the
//!   anchor through the block hashes the state records;
//! * that each act is what the record says (its kind, its number), that the
//!   issue's signed certificate is the record's, and that each authority's
//!   act was signed by the key that authority held at the act's height
//!   (the record keeps the keys a rotation replaced), of the right side.
//!
//! What comes out ([`Finding`]) is what the ledger held after block
//! `as_of_height`: status, history, sanctions, memberships, seizures,
//! enhanced vigilance, awaiting approval, revoked authorities. What a proof
//! cannot show is listed in `docs/light-client.md`.

use kp_api::keys;
use kp_api::proof::{
    act_authority, ActProof, CertificateProof, RecordProof, RecordsProof, PROOF_ACTS_MAX,
    PROOF_RECORDS_MAX,
};
use kp_api::{
    AuthorityRecord, CertificateEventKind, CertificateRecord, CertificateStatus, KeyStanding,
    MembershipStatus, ParticipantRecord, ResolutionRecord, SeizureIndex, SeizureRecord,
};
use kp_types::{
    result_leaf, BlockHeader, CertificateNumber, Date, Hash, ParticipantCode, Payload, Timestamp,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// Largest stored record decoded from a proof.
pub const RECORD_BYTES_MAX: usize = 1024 * 1024;

/// Why a proof does not prove what it claims. Every variant means the node
/// answered something the chain does not back.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProofError {
    /// Too many records or acts.
    #[error("the proof holds {records} records and {acts} acts; at most {PROOF_RECORDS_MAX} and {PROOF_ACTS_MAX}")]
    Size {
        /// Records.
        records: usize,
        /// Acts.
        acts: usize,
    },
    /// The proof is for another number.
    #[error("the proof is for certificate {found}, not {expected}")]
    WrongNumber {
        /// Asked.
        expected: CertificateNumber,
        /// Answered.
        found: CertificateNumber,
    },
    /// A record's path does not lead to the anchor's records root.
    #[error("record {key_hex}: {reason}")]
    BadRecord {
        /// The key.
        key_hex: String,
        /// What failed.
        reason: String,
    },
    /// A record the verdict needs is not in the proof.
    #[error("the proof lacks the record {what}")]
    MissingRecord {
        /// Which.
        what: String,
    },
    /// The chain's genesis is not the one the caller trusts.
    #[error("the node runs another genesis: {found} (yours: {expected})")]
    OtherGenesis {
        /// The caller's.
        expected: Hash,
        /// The chain's.
        found: Hash,
    },
    /// An act the record names is not proven.
    #[error("the proof lacks the act {tx} at height {height} that the record names")]
    MissingAct {
        /// The transaction.
        tx: Hash,
        /// Its height.
        height: u64,
    },
    /// An act does not hold.
    #[error("act {tx} at height {height}: {reason}")]
    BadAct {
        /// The transaction.
        tx: Hash,
        /// Its height.
        height: u64,
        /// What failed.
        reason: String,
    },
    /// The node's record differs from the certificate its authority signed.
    #[error("the record differs from the certificate its issuing authority signed: {field}")]
    TamperedCertificate {
        /// The first differing field.
        field: &'static str,
    },
}

/// An alert a customs officer must see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// `sanction`, `membership`, `seizure`, `enhanced-vigilance`,
    /// `awaiting-approval`, `authority-revoked`, `compromised-authority`,
    /// `sanctioned-origin`, `late-confirmation`, `discrepancy`.
    pub kind: String,
    /// What it says, in words.
    pub detail: String,
}

/// What a verified proof establishes about a certificate that exists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    /// The certificate as its issuing authority signed it.
    pub certificate: kp_types::Certificate,
    /// Status as the ledger held it after `as_of_height` (and `expired` when
    /// the expiry date is past `today` but no block has marked it yet).
    pub status: String,
    /// Each proven act: (event, height).
    pub history: Vec<(String, u64)>,
    /// The state the answer is of: after this block.
    pub as_of_height: u64,
    /// Time of the anchor header (the block after `as_of_height`).
    pub as_of_time: Timestamp,
    /// The anchor header's hash.
    pub anchor_hash: Hash,
    /// Alerts: sanctions, memberships, seizures, enhanced vigilance,
    /// approval, revoked authorities, discrepancies.
    pub alerts: Vec<Alert>,
    /// The seizure reports naming the certificate (proven).
    pub seizures: Vec<SeizureRecord>,
}

/// The result of a proof that verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "finding", rename_all = "kebab-case")]
pub enum Finding {
    /// The certificate is on the ledger.
    Found(Box<Verified>),
    /// No certificate of this number is on the ledger (proven absent), as of
    /// a height; seizure reports may still name the number.
    Absent {
        /// After this block.
        as_of_height: u64,
        /// Time of the anchor header.
        as_of_time: Timestamp,
        /// Seizure reports naming the number (a forged certificate).
        seizures: Vec<SeizureRecord>,
    },
}

/// The proven records of a proof, by key.
struct Records<'a> {
    by_key: BTreeMap<&'a [u8], Option<&'a [u8]>>,
}

fn hex_of(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

impl<'a> Records<'a> {
    fn check(root: Hash, records: &'a [RecordProof]) -> Result<Records<'a>, ProofError> {
        let mut by_key = BTreeMap::new();
        for r in records {
            verify_record(r, &root)?;
            if by_key
                .insert(r.key.as_slice(), r.value.as_deref())
                .is_some_and(|old| old != r.value.as_deref())
            {
                return Err(ProofError::BadRecord {
                    key_hex: hex_of(&r.key),
                    reason: "given twice with different values".into(),
                });
            }
        }
        Ok(Records { by_key })
    }

    /// The value of `key`: `Ok(None)` when proven absent.
    fn get(&self, key: &[u8], what: impl Fn() -> String) -> Result<Option<&'a [u8]>, ProofError> {
        self.by_key
            .get(key)
            .copied()
            .ok_or_else(|| ProofError::MissingRecord { what: what() })
    }

    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
        what: impl Fn() -> String,
    ) -> Result<Option<T>, ProofError> {
        self.get(key, &what)?
            .map(|bytes| {
                kp_types::decode(bytes, RECORD_BYTES_MAX).map_err(|e| ProofError::BadRecord {
                    key_hex: hex_of(key),
                    reason: format!("{} does not decode: {e}", what()),
                })
            })
            .transpose()
    }

    fn require<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
        what: impl Fn() -> String,
    ) -> Result<T, ProofError> {
        self.decode(key, &what)?
            .ok_or_else(|| ProofError::MissingRecord {
                what: format!("{} (proven absent)", what()),
            })
    }
}

fn check_genesis(records: &Records<'_>, genesis_hash: &Hash) -> Result<(), ProofError> {
    let genesis: Hash = records.require(&keys::meta("genesis"), || "genesis hash".into())?;
    if genesis != *genesis_hash {
        return Err(ProofError::OtherGenesis {
            expected: *genesis_hash,
            found: genesis,
        });
    }
    Ok(())
}

/// A record proven against an anchor the caller verified: what the ledger
/// held after block `as_of_height`, or its proven absence (`None`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proven<T> {
    /// The state the answer is of: after this block.
    pub as_of_height: u64,
    /// Time of the anchor header (the block after `as_of_height`).
    pub as_of_time: Timestamp,
    /// The anchor header's hash.
    pub anchor_hash: Hash,
    /// The record; `None` when the ledger proves there is none.
    pub value: Option<T>,
}

fn records_of<'a>(proof: &'a RecordsProof, genesis_hash: &Hash) -> Result<Records<'a>, ProofError> {
    if proof.records.len() > PROOF_RECORDS_MAX {
        return Err(ProofError::Size {
            records: proof.records.len(),
            acts: 0,
        });
    }
    let records = Records::check(proof.anchor.header.records_root, &proof.records)?;
    check_genesis(&records, genesis_hash)?;
    Ok(records)
}

fn proven<T>(proof: &RecordsProof, value: Option<T>) -> Proven<T> {
    Proven {
        as_of_height: proof.anchor.header.height.saturating_sub(1),
        as_of_time: proof.anchor.header.time,
        anchor_hash: proof.anchor.header.hash(),
        value,
    }
}

/// Verifies `proof` of Participant `code` against its anchor, which the
/// caller has verified with the light client: the Participant's record
/// (membership, sanction with scope and zones, node key) or its absence,
/// and its authorities: each must be this Participant's, and together they
/// must be as many as the proven count of its registrations, so a node can
/// neither slip in another's authority nor leave one out.
pub fn verify_participant(
    proof: &RecordsProof,
    code: &ParticipantCode,
    genesis_hash: &Hash,
) -> Result<Proven<ParticipantRecord>, ProofError> {
    let records = records_of(proof, genesis_hash)?;
    let participant_key = keys::participant(code);
    let Some(mut record): Option<ParticipantRecord> =
        records.decode(&participant_key, || format!("Participant {code}"))?
    else {
        return Ok(proven(proof, None));
    };
    if &record.participant.code != code {
        return Err(ProofError::BadRecord {
            key_hex: hex_of(&participant_key),
            reason: format!("it is the record of {}", record.participant.code),
        });
    }
    record.authorities.clear();
    let authority_table = keys::authority("");
    let mut seen = std::collections::BTreeSet::new();
    for r in &proof.records {
        // A record given twice counts once, so repeating one authority
        // cannot stand in for one left out.
        if !r.key.starts_with(&authority_table) || r.value.is_none() || !seen.insert(&r.key) {
            continue;
        }
        let id = String::from_utf8_lossy(&r.key[authority_table.len()..]).into_owned();
        let a: AuthorityRecord = records.require(&r.key, || format!("authority {id}"))?;
        if &a.authority.participant != code || a.authority.id.as_str() != id {
            return Err(ProofError::BadRecord {
                key_hex: hex_of(&r.key),
                reason: format!(
                    "authority {} of {} is listed under {code}",
                    a.authority.id, a.authority.participant
                ),
            });
        }
        record.authorities.push(a);
    }
    let count_key = keys::authority_count(code);
    let registered: u32 = records
        .decode(&count_key, || format!("the authority count of {code}"))?
        .unwrap_or(0);
    if record.authorities.len() != registered as usize {
        return Err(ProofError::MissingRecord {
            what: format!(
                "authorities of {code}: {registered} registered, {} listed",
                record.authorities.len()
            ),
        });
    }
    Ok(proven(proof, Some(record)))
}

/// Verifies `proof` of resolution `id` against its anchor, which the caller
/// has verified with the light client: the proposal, who signed, and the
/// outcome (adopted, pending, ...), or the resolution's absence.
pub fn verify_resolution(
    proof: &RecordsProof,
    id: &Hash,
    genesis_hash: &Hash,
) -> Result<Proven<ResolutionRecord>, ProofError> {
    let records = records_of(proof, genesis_hash)?;
    let key = keys::resolution(id);
    let record: Option<ResolutionRecord> = records.decode(&key, || format!("resolution {id}"))?;
    if let Some(r) = &record {
        if &r.id != id {
            return Err(ProofError::BadRecord {
                key_hex: hex_of(&key),
                reason: format!("it is the record of resolution {}", r.id),
            });
        }
    }
    Ok(proven(proof, record))
}

/// Checks one record against a records root.
pub fn verify_record(r: &RecordProof, root: &Hash) -> Result<(), ProofError> {
    r.proof
        .verify_record(root, &r.key, r.value.as_deref())
        .map_err(|e| ProofError::BadRecord {
            key_hex: hex_of(&r.key),
            reason: e.to_string(),
        })
}

/// Verifies `proof` for certificate `number` against its anchor, which the
/// caller has verified with the light client; `genesis_hash` is the genesis
/// the caller trusts; `today` decides expiry by date.
pub fn verify(
    proof: &CertificateProof,
    number: &CertificateNumber,
    genesis_hash: &Hash,
    today: Date,
) -> Result<Finding, ProofError> {
    if proof.records.len() > PROOF_RECORDS_MAX || proof.acts.len() > PROOF_ACTS_MAX {
        return Err(ProofError::Size {
            records: proof.records.len(),
            acts: proof.acts.len(),
        });
    }
    if &proof.number != number {
        return Err(ProofError::WrongNumber {
            expected: number.clone(),
            found: proof.number.clone(),
        });
    }
    let anchor = &proof.anchor.header;
    let as_of_height = anchor.height.saturating_sub(1);
    let records = Records::check(anchor.records_root, &proof.records)?;
    check_genesis(&records, genesis_hash)?;
    let index: SeizureIndex = records
        .decode(&keys::seizures_by_certificate(number), || {
            format!("seizure index of {number}")
        })?
        .unwrap_or_default();
    let mut seizures = Vec::new();
    for seq in &index.sequences {
        let s: SeizureRecord =
            records.require(&keys::seizure(*seq), || format!("seizure {seq}"))?;
        if s.report.certificate.as_ref() != Some(number) || s.sequence != *seq {
            return Err(ProofError::BadRecord {
                key_hex: hex_of(&keys::seizure(*seq)),
                reason: format!("seizure {seq} does not name {number}"),
            });
        }
        seizures.push(s);
    }
    let acts = Acts::new(proof, &records)?;
    for s in &seizures {
        acts.check(s.tx, s.height, "seized", number)?;
    }
    let Some(record): Option<CertificateRecord> = records
        .decode(&keys::certificate(number), || {
            format!("certificate {number}")
        })?
    else {
        return Ok(Finding::Absent {
            as_of_height,
            as_of_time: anchor.time,
            seizures,
        });
    };
    if &record.certificate.number != number {
        return Err(ProofError::WrongNumber {
            expected: number.clone(),
            found: record.certificate.number.clone(),
        });
    }
    let mut history = Vec::new();
    // The time of the block that issued it, from the issue act's proven
    // header: what a compromise is judged by.
    let mut issued_at = record.issued_at;
    for entry in &record.history {
        let event = event_name(entry.event);
        history.push((event.to_string(), entry.height));
        let Some(tx) = entry.tx else {
            continue;
        };
        let act = acts.check(tx, entry.height, event, number)?;
        if entry.event == CertificateEventKind::Issued {
            let Payload::IssueCertificate(signed) = &act.tx.tx.payload else {
                return Err(acts.bad(act, "the issue is not an issue"));
            };
            if let Some(field) = first_difference(signed, &record.certificate) {
                return Err(ProofError::TamperedCertificate { field });
            }
            issued_at = act.header.time;
        }
    }
    let mut alerts = Vec::new();
    let c = &record.certificate;
    for (side, code) in [("exporting", &c.exporting), ("importing", &c.importing)] {
        let p: ParticipantRecord =
            records.require(&keys::participant(code), || format!("Participant {code}"))?;
        if let Some(s) = &p.sanction {
            alerts.push(Alert {
                kind: "sanction".into(),
                detail: format!(
                    "{side} Participant {code} is under a sanction ({}) since height {}",
                    serde_json::to_value(&s.scope)
                        .map(|v| v.to_string())
                        .unwrap_or_default(),
                    s.since_height
                ),
            });
        }
        if p.status != MembershipStatus::Active {
            alerts.push(Alert {
                kind: "membership".into(),
                detail: format!("{side} Participant {code} is {:?}", p.status),
            });
        }
    }
    // Every authority's act was signed by that authority's key, of the
    // side the act belongs to.
    for act in acts.all() {
        check_signer(act, &record, &records, &acts)?;
    }
    let issuer: AuthorityRecord = records
        .require(&keys::authority(c.issuing_authority.as_str()), || {
            format!("authority {}", c.issuing_authority)
        })?;
    if let Some(revoked) = issuer.revoked_height {
        alerts.push(Alert {
            kind: "authority-revoked".into(),
            detail: format!(
                "the issuing authority {} was revoked at height {revoked}",
                c.issuing_authority
            ),
        });
    }
    if issuer.compromised_at(issued_at) {
        alerts.push(Alert {
            kind: "compromised-authority".into(),
            detail: format!(
                "the issuing authority {} was revoked as compromised since {}; this certificate was issued in a block of {}: it may be forged",
                c.issuing_authority,
                issuer
                    .compromised_since
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
                issued_at
            ),
        });
    }
    if !record.sanctioned_origin.is_empty() {
        alerts.push(Alert {
            kind: "sanctioned-origin".into(),
            detail: format!(
                "the declared origin includes {} under a sanction forbidding its exports: check the shipment closely",
                record
                    .sanctioned_origin
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    if let Some(r) = record.receipt.as_ref().filter(|r| r.late) {
        alerts.push(Alert {
            kind: "late-confirmation".into(),
            detail: format!(
                "confirmed after the expiry on {}, for goods received on {}",
                c.expires_on, r.received_on
            ),
        });
    }
    for s in &seizures {
        alerts.push(Alert {
            kind: "seizure".into(),
            detail: format!(
                "seized in {} at {} on {} ({} ct; reported by {}, height {})",
                s.report.territory,
                s.report.location,
                s.report.seized_on,
                s.report.carats,
                s.reporter,
                s.height
            ),
        });
    }
    if record.enhanced_vigilance {
        alerts.push(Alert {
            kind: "enhanced-vigilance".into(),
            detail: "importers should check this shipment closely (sanction of a declared origin or an exporter under enhanced vigilance)".into(),
        });
    }
    if record.status == CertificateStatus::AwaitingApproval {
        alerts.push(Alert {
            kind: "awaiting-approval".into(),
            detail: format!(
                "not valid for trade yet: it awaits the approval of the monitoring body{}",
                record
                    .approval
                    .as_ref()
                    .map(|a| format!(" ({})", a.monitor))
                    .unwrap_or_default()
            ),
        });
    }
    if let Some(d) = &record.discrepancy {
        alerts.push(Alert {
            kind: "discrepancy".into(),
            detail: format!(
                "received {} ct in {} parcels against {} ct in {} parcels certified",
                d.received_carats, d.received_parcels, d.certified_carats, d.certified_parcels
            ),
        });
    }
    let mut status = status_name(record.status).to_string();
    if matches!(
        record.status,
        CertificateStatus::Issued | CertificateStatus::AwaitingApproval
    ) && today > c.expires_on
    {
        status = "expired".into();
    }
    Ok(Finding::Found(Box::new(Verified {
        certificate: record.certificate.clone(),
        status,
        history,
        as_of_height,
        as_of_time: anchor.time,
        anchor_hash: anchor.hash(),
        alerts,
        seizures,
    })))
}

/// The acts of a proof by transaction hash, each checked once against the
/// anchor's records.
struct Acts<'a> {
    proof: &'a CertificateProof,
    records: &'a Records<'a>,
    by_hash: BTreeMap<Hash, &'a ActProof>,
}

impl<'a> Acts<'a> {
    fn new(proof: &'a CertificateProof, records: &'a Records<'a>) -> Result<Acts<'a>, ProofError> {
        let mut by_hash = BTreeMap::new();
        for act in &proof.acts {
            by_hash.insert(act.tx.hash(), act);
        }
        Ok(Acts {
            proof,
            records,
            by_hash,
        })
    }

    fn all(&self) -> impl Iterator<Item = &'a ActProof> + '_ {
        self.by_hash.values().copied()
    }

    fn bad(&self, act: &ActProof, reason: impl Into<String>) -> ProofError {
        ProofError::BadAct {
            tx: act.tx.hash(),
            height: act.height,
            reason: reason.into(),
        }
    }

    /// The header at `height` tied to the anchor: the anchor itself, or the
    /// block hash the anchor's state records for that height.
    fn tied(&self, act: &ActProof, header: &BlockHeader, height: u64) -> Result<(), ProofError> {
        let anchor = &self.proof.anchor.header;
        if header.height != height {
            return Err(self.bad(
                act,
                format!("a header of height {} for height {height}", header.height),
            ));
        }
        let expected = if height == anchor.height {
            anchor.hash()
        } else {
            self.records
                .require(&keys::block_hash(height), || format!("block hash {height}"))?
        };
        if header.hash() != expected {
            return Err(self.bad(
                act,
                format!("the header of height {height} is not the chain's"),
            ));
        }
        Ok(())
    }

    /// Checks the act `tx` at `height`: signature, inclusion, acceptance,
    /// and that it is the `event` of `number`.
    fn check(
        &self,
        tx: Hash,
        height: u64,
        event: &str,
        number: &CertificateNumber,
    ) -> Result<&'a ActProof, ProofError> {
        let act = *self
            .by_hash
            .get(&tx)
            .ok_or(ProofError::MissingAct { tx, height })?;
        if act.height != height {
            return Err(self.bad(act, format!("served at height {}", act.height)));
        }
        if act.tx.verify_signature().is_err() {
            return Err(self.bad(act, "its signature does not verify"));
        }
        let chain = &self.proof.anchor.header.chain_id;
        if &act.tx.tx.chain_id != chain {
            return Err(self.bad(act, format!("signed for chain {:?}", act.tx.tx.chain_id)));
        }
        self.tied(act, &act.header, height)?;
        // The leaf binds the signature checked above to the header.
        if act.tx.hash() != tx || !act.inclusion.verify(&act.tx.leaf(), &act.header.txs_root) {
            return Err(self.bad(act, "it is not in its block (inclusion path)"));
        }
        // A record naming the last possible height has no next header to
        // carry its result: refuse rather than wrap.
        let next = height
            .checked_add(1)
            .ok_or_else(|| self.bad(act, "it claims the last possible height"))?;
        self.tied(act, &act.result_header, next)?;
        if act.result.index != act.inclusion.index
            || !act
                .result
                .verify(&result_leaf(&tx, None), &act.result_header.results_root)
        {
            return Err(self.bad(
                act,
                "the ledger did not accept it (its result is not \"accepted\" under the next header's results root)",
            ));
        }
        match payload_number(&act.tx.tx.payload) {
            Some((e, n)) if e == event && n == number => Ok(act),
            _ => Err(self.bad(
                act,
                format!(
                    "it is a {} where the record names a {event} of {number}",
                    act.tx.tx.payload.kind()
                ),
            )),
        }
    }
}

/// The side whose authority must sign an act: issue and void by the
/// exporting Participant, confirmation by the importing one; a seizure by
/// any Participant's authority.
fn check_signer(
    act: &ActProof,
    record: &CertificateRecord,
    records: &Records<'_>,
    acts: &Acts<'_>,
) -> Result<(), ProofError> {
    let Some(id) = act_authority(&act.tx) else {
        // Acts signed with a node key (the monitor's approval): the ledger
        // checked the key, and the results root proves it accepted the act.
        return Ok(());
    };
    let a: AuthorityRecord =
        records.require(&keys::authority(id.as_str()), || format!("authority {id}"))?;
    // The key the authority held at the act's height, from the proven
    // record's key history: a key rotated away signs nothing after its
    // rotation's block, a new key nothing before it.
    match a.key_standing(&act.tx.tx.signer, act.height) {
        KeyStanding::Held => {}
        KeyStanding::Retired { until_height } => {
            return Err(acts.bad(
                act,
                format!("signed by a key authority {id} held only until its rotation at height {until_height}"),
            ));
        }
        KeyStanding::Foreign => {
            return Err(acts.bad(
                act,
                format!("signed by a key that was not authority {id}'s at that height"),
            ));
        }
    }
    if a.registered_height > act.height || a.revoked_height.is_some_and(|r| r <= act.height) {
        return Err(acts.bad(
            act,
            format!("authority {id} was not registered at that height"),
        ));
    }
    let c = &record.certificate;
    let side: Option<&ParticipantCode> = match &act.tx.tx.payload {
        Payload::IssueCertificate(_) | Payload::VoidCertificate(_) => Some(&c.exporting),
        Payload::ConfirmImport(_) => Some(&c.importing),
        _ => None,
    };
    if side.is_some_and(|s| *s != a.authority.participant) {
        return Err(acts.bad(
            act,
            format!("authority {id} is not of the right Participant"),
        ));
    }
    Ok(())
}

fn payload_number(payload: &Payload) -> Option<(&'static str, &CertificateNumber)> {
    match payload {
        Payload::IssueCertificate(c) => Some(("issued", &c.number)),
        Payload::ConfirmImport(c) => Some(("confirmed", &c.number)),
        Payload::VoidCertificate(v) => Some(("voided", &v.number)),
        Payload::ApproveCertificate(a) => Some(("approved", &a.number)),
        Payload::ReportSeizure(s) => s.certificate.as_ref().map(|n| ("seized", n)),
        _ => None,
    }
}

fn event_name(kind: CertificateEventKind) -> &'static str {
    match kind {
        CertificateEventKind::Issued => "issued",
        CertificateEventKind::Approved => "approved",
        CertificateEventKind::Confirmed => "confirmed",
        CertificateEventKind::Voided => "voided",
        CertificateEventKind::Expired => "expired",
        CertificateEventKind::Seized => "seized",
    }
}

fn first_difference(a: &kp_types::Certificate, b: &kp_types::Certificate) -> Option<&'static str> {
    let checks: [(&'static str, bool); 11] = [
        ("number", a.number == b.number),
        ("exporting", a.exporting == b.exporting),
        (
            "issuing_authority",
            a.issuing_authority == b.issuing_authority,
        ),
        ("importing", a.importing == b.importing),
        ("destination", a.destination == b.destination),
        ("parties", a.parties == b.parties),
        ("origin", a.origin == b.origin),
        ("origin_zones", a.origin_zones == b.origin_zones),
        ("lines", a.lines == b.lines),
        ("issued_on", a.issued_on == b.issued_on),
        ("expires_on", a.expires_on == b.expires_on),
    ];
    checks.iter().find(|(_, same)| !same).map(|(f, _)| *f)
}

/// The kebab-case name of a status.
pub fn status_name(status: CertificateStatus) -> &'static str {
    status.name()
}
