//! State layout: every ledger key is `[table, version, ...]` with `table`
//! below 0x80 (the host owns 0x80 and up) and `version` the layout version of
//! that table, so that a table can change its encoding by bumping its version
//! and migrating, without touching the others.
//!
//! | table | key after `[table, 1]` | value |
//! |---|---|---|
//! | 0x01 meta | name | per name (height, last hash, time, chair, params, genesis hash, seizure counter) |
//! | 0x02 participant | code | `ParticipantRecord` (authorities empty) |
//! | 0x03 node key | key (32) | code |
//! | 0x04 authority | id | `AuthorityRecord` |
//! | 0x05 authority by participant | code, 0x00, id | empty |
//! | 0x06 authority key | key (32) | id |
//! | 0x07 certificate | number | `CertificateRecord` |
//! | 0x08 certificates by expiry, **version 2** | expiry date (4, BE), height (8, BE) | the numbers a block issued |
//! | 0x09 resolution | id (32) | `ResolutionRecord` |
//! | 0x0A pending resolution by deadline | deadline (8, BE), id | empty |
//! | 0x0B seizure | sequence (8, BE) | `SeizureRecord` |
//! | 0x0C executed transaction | hash (32) | expiry (8, BE) |
//! | 0x0D executed transactions by expiry, **version 2** | latest expiry (8, BE), height (8, BE) | the hashes (32 each) |
//! | 0x0E evidence | id (32) | `EvidenceRecord` |
//! | 0x0F production | code, 0x00, period | `ProductionReport` |
//! | 0x10 participant quarter statistics | code, 0x00, year (4), quarter (1) | `QuarterStats` |
//! | 0x11 global quarter statistics | year (4), quarter (1) | `GlobalQuarterStats` |
//! | 0x12 territory | alpha-2 code | owning member's code |
//! | 0x13 block hash | height (8, BE) | the hash of the block applied at that height |
//! | 0x14 seizures by certificate | number | `SeizureIndex`: the seizure reports naming it |
//! | 0x15 validator set | its hash (32) | the set: codes and node keys, by code |
//! | 0x16 government key | key (32) | code |
//! | 0x17 recovery key | key (32) | code |
//! | 0x18 pending key change by time | effective time (8, BE), code | empty |
//! | 0x19 certificates by authority (retired, not committed) | authority id, 0x00, number | empty |
//! | 0x1B territories by authority (not committed) | authority id, 0x00, territory (2) | empty: the number prefixes an authority has issued under |
//! | 0x7D root meta (not committed) | `root` / `lattice` | root (32) / state hash (2,048) |
//! | 0x7E bucket index (retired, not committed) | bucket (2), key | entry hash (32) |
//! | 0x7F bucket digest (retired, not committed) | bucket (2) | digest (32) |
//!
//! Every committed table except the ledger's own schedules (0x08, 0x0A, 0x18),
//! replay memory (0x0C, 0x0D) and the authority search aids (0x19, 0x1B)
//! is also a record of the authenticated map
//! (`kp_types::smt`) whose root block headers carry as `records_root`
//! ([`is_provable`]): one record, or its absence, can be proven to a light
//! client. The schedules and the replay memory are left out: they change
//! with every transaction or block, are pruned as time passes, and say
//! nothing a client asks (a certificate's or resolution's record holds its
//! own dates). The authority search aids are for nodes: a single key of
//! them proves nothing a client needs, and the sparse tree cannot prove
//! that a list of them is complete.
//!
//! What an authority issued is found through 0x1B: the territories whose
//! prefix its certificate numbers carry (a number's first two letters are a
//! territory of its exporter), then those territories' certificates in
//! 0x07, in number order, keeping the authority's. One entry per authority
//! and territory instead of one per certificate: 0x19, its predecessor,
//! cost every issued certificate a store insert (about a quarter of a
//! block's commit). A store written before is converted on open
//! (`Ledger::open`).
//!
//! Tables 0x7D..0x7F hold the state-root machinery itself: they are derived
//! from the committed tables and excluded from the root. Tables 0x7E and 0x7F
//! belonged to the earlier bucket-tree root and are no longer written; a store
//! holding 0x7E entries is refused on open (its chain's roots are of that
//! scheme).

use kp_types::{CertificateNumber, Date, Hash, ParticipantCode, Period, PublicKey, Timestamp};

/// Layout version of every table so far, except where noted.
pub const V1: u8 = 1;
/// Layout version 2 (tables 0x08 and 0x0D: entries grouped per block).
pub const V2: u8 = 2;

/// Ledger tables.
pub mod table {
    /// Chain metadata.
    pub const META: u8 = 0x01;
    /// Members.
    pub const PARTICIPANT: u8 = 0x02;
    /// Node key to member.
    pub const NODE_KEY: u8 = 0x03;
    /// Authorities.
    pub const AUTHORITY: u8 = 0x04;
    /// Authorities of a member.
    pub const AUTHORITY_BY_PARTICIPANT: u8 = 0x05;
    /// Authority key to authority.
    pub const AUTHORITY_KEY: u8 = 0x06;
    /// Certificates.
    pub const CERTIFICATE: u8 = 0x07;
    /// Certificates by expiry date (version 1: one entry per open
    /// certificate; version 2: one entry per block and expiry date).
    pub const CERTIFICATE_EXPIRY: u8 = 0x08;
    /// Resolutions.
    pub const RESOLUTION: u8 = 0x09;
    /// Pending resolutions by deadline.
    pub const RESOLUTION_DEADLINE: u8 = 0x0A;
    /// Seizures.
    pub const SEIZURE: u8 = 0x0B;
    /// Executed transaction hashes.
    pub const EXECUTED: u8 = 0x0C;
    /// Executed transaction hashes by expiry (version 1: one entry per
    /// hash; version 2: one entry per block and expiry window).
    pub const EXECUTED_EXPIRY: u8 = 0x0D;
    /// Evidence.
    pub const EVIDENCE: u8 = 0x0E;
    /// Production reports.
    pub const PRODUCTION: u8 = 0x0F;
    /// Per-member quarter statistics.
    pub const STATS: u8 = 0x10;
    /// Global quarter statistics.
    pub const GLOBAL_STATS: u8 = 0x11;
    /// Territory to owner.
    pub const TERRITORY: u8 = 0x12;
    /// Block hash by height.
    pub const BLOCK_HASH: u8 = 0x13;
    /// Seizure reports by the certificate number they name.
    pub const SEIZURES_BY_CERTIFICATE: u8 = 0x14;
    /// Every validator set the chain has had, by hash.
    pub const VALIDATOR_SET: u8 = 0x15;
    /// Government key to member.
    pub const GOVERNMENT_KEY: u8 = 0x16;
    /// Recovery key to member.
    pub const RECOVERY_KEY: u8 = 0x17;
    /// Pending recoveries and recovery-key rotations by the time they take effect.
    pub const KEY_CHANGE_SCHEDULE: u8 = 0x18;
    /// Certificates by their issuing authority (retired: no longer written;
    /// a store holding it is converted to [`AUTHORITY_TERRITORY`] on open).
    pub const CERTIFICATE_BY_AUTHORITY: u8 = 0x19;
    /// How many authorities a member has registered (revoked ones included):
    /// proven beside the member's authorities, it shows a list complete.
    pub const AUTHORITY_COUNT: u8 = 0x1A;
    /// The territories whose prefix an authority's certificate numbers carry
    /// (a search aid: committed to by neither root, see
    /// [`super::is_committed`]).
    pub const AUTHORITY_TERRITORY: u8 = 0x1B;
    /// First table of the (uncommitted) state-root machinery.
    pub const ROOT_MACHINERY_MIN: u8 = 0x7D;
    /// Stored root, for the check on open.
    pub const ROOT_META: u8 = 0x7D;
    /// Bucket index (retired: a store holding it predates the lattice root).
    pub const BUCKET_INDEX: u8 = 0x7E;
    /// Bucket digests (retired: no longer written or read).
    pub const BUCKET_DIGEST: u8 = 0x7F;
}

fn key(table: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len = 2 + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut k = Vec::with_capacity(len);
    k.push(table);
    k.push(V1);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

/// Prefix of a whole table.
pub fn prefix(table: u8) -> Vec<u8> {
    vec![table, V1]
}

/// A metadata entry.
pub fn meta(name: &str) -> Vec<u8> {
    key(table::META, &[name.as_bytes()])
}

/// A member.
pub fn participant(code: &ParticipantCode) -> Vec<u8> {
    key(table::PARTICIPANT, &[code.as_str().as_bytes()])
}

/// A node key.
pub fn node_key(k: &PublicKey) -> Vec<u8> {
    key(table::NODE_KEY, &[&k.0])
}

/// A government key.
pub fn government_key(k: &PublicKey) -> Vec<u8> {
    key(table::GOVERNMENT_KEY, &[&k.0])
}

/// A recovery key.
pub fn recovery_key(k: &PublicKey) -> Vec<u8> {
    key(table::RECOVERY_KEY, &[&k.0])
}

/// A member's pending key change, in the schedule by the time it takes effect.
pub fn key_change_schedule(effective_at: Timestamp, code: &ParticipantCode) -> Vec<u8> {
    key(
        table::KEY_CHANGE_SCHEDULE,
        &[&effective_at.0.to_be_bytes(), code.as_str().as_bytes()],
    )
}

/// An authority.
pub fn authority(id: &str) -> Vec<u8> {
    key(table::AUTHORITY, &[id.as_bytes()])
}

/// The authorities of a member (prefix).
pub fn authority_by_participant_prefix(code: &ParticipantCode) -> Vec<u8> {
    key(
        table::AUTHORITY_BY_PARTICIPANT,
        &[code.as_str().as_bytes(), &[0]],
    )
}

/// One authority of a member.
pub fn authority_by_participant(code: &ParticipantCode, id: &str) -> Vec<u8> {
    key(
        table::AUTHORITY_BY_PARTICIPANT,
        &[code.as_str().as_bytes(), &[0], id.as_bytes()],
    )
}

/// How many authorities a member has registered.
pub fn authority_count(code: &ParticipantCode) -> Vec<u8> {
    key(table::AUTHORITY_COUNT, &[code.as_str().as_bytes()])
}

/// An authority key.
pub fn authority_key(k: &PublicKey) -> Vec<u8> {
    key(table::AUTHORITY_KEY, &[&k.0])
}

/// A certificate.
pub fn certificate(number: &CertificateNumber) -> Vec<u8> {
    key(table::CERTIFICATE, &[number.as_str().as_bytes()])
}

/// An open certificate in the version-1 expiry index (no longer written;
/// what earlier builds left is still worked through).
pub fn certificate_expiry(expires_on: Date, number: &CertificateNumber) -> Vec<u8> {
    key(
        table::CERTIFICATE_EXPIRY,
        &[&expires_on.0.to_be_bytes(), number.as_str().as_bytes()],
    )
}

/// A resolution.
pub fn resolution(id: &Hash) -> Vec<u8> {
    key(table::RESOLUTION, &[&id.0])
}

/// A pending resolution in the deadline index.
pub fn resolution_deadline(deadline: Timestamp, id: &Hash) -> Vec<u8> {
    key(
        table::RESOLUTION_DEADLINE,
        &[&deadline.0.to_be_bytes(), &id.0],
    )
}

/// A seizure.
pub fn seizure(sequence: u64) -> Vec<u8> {
    key(table::SEIZURE, &[&sequence.to_be_bytes()])
}

/// An executed transaction.
pub fn executed(hash: &Hash) -> Vec<u8> {
    key(table::EXECUTED, &[&hash.0])
}

/// An executed transaction in the version-1 expiry index (no longer
/// written; what earlier builds left is still pruned).
pub fn executed_expiry(expires_at: Timestamp, hash: &Hash) -> Vec<u8> {
    key(
        table::EXECUTED_EXPIRY,
        &[&expires_at.0.to_be_bytes(), &hash.0],
    )
}

/// Prefix of the version-2 expiry index of certificates.
pub fn certificates_by_expiry_prefix() -> Vec<u8> {
    vec![table::CERTIFICATE_EXPIRY, V2]
}

/// The certificates issued in the block at `height` that expire on
/// `expires_on` (version 2).
pub fn certificates_by_expiry(expires_on: Date, height: u64) -> Vec<u8> {
    let mut k = certificates_by_expiry_prefix();
    k.extend_from_slice(&expires_on.0.to_be_bytes());
    k.extend_from_slice(&height.to_be_bytes());
    k
}

/// Prefix of the version-2 expiry index of executed transactions.
pub fn executed_by_expiry_prefix() -> Vec<u8> {
    vec![table::EXECUTED_EXPIRY, V2]
}

/// The hashes executed in the block at `height` whose expiries fall in one
/// window and are at most `expiry_max` (version 2).
pub fn executed_by_expiry(expiry_max: Timestamp, height: u64) -> Vec<u8> {
    let mut k = executed_by_expiry_prefix();
    k.extend_from_slice(&expiry_max.0.to_be_bytes());
    k.extend_from_slice(&height.to_be_bytes());
    k
}

/// Evidence.
pub fn evidence(id: &Hash) -> Vec<u8> {
    key(table::EVIDENCE, &[&id.0])
}

/// A production report.
pub fn production(code: &ParticipantCode, period: Period) -> Vec<u8> {
    key(
        table::PRODUCTION,
        &[
            code.as_str().as_bytes(),
            &[0],
            period.to_string().as_bytes(),
        ],
    )
}

/// A member's statistics for a quarter.
pub fn stats(code: &ParticipantCode, year: u32, quarter: u8) -> Vec<u8> {
    key(
        table::STATS,
        &[
            code.as_str().as_bytes(),
            &[0],
            &year.to_be_bytes(),
            &[quarter],
        ],
    )
}

/// Global statistics for a quarter.
pub fn global_stats(year: u32, quarter: u8) -> Vec<u8> {
    key(table::GLOBAL_STATS, &[&year.to_be_bytes(), &[quarter]])
}

/// A territory.
pub fn territory(t: &kp_types::Territory) -> Vec<u8> {
    key(table::TERRITORY, &[t.as_str().as_bytes()])
}

/// The hash of the block applied at `height`.
pub fn block_hash(height: u64) -> Vec<u8> {
    key(table::BLOCK_HASH, &[&height.to_be_bytes()])
}

/// The seizure reports naming a certificate number.
pub fn seizures_by_certificate(number: &CertificateNumber) -> Vec<u8> {
    key(
        table::SEIZURES_BY_CERTIFICATE,
        &[number.as_str().as_bytes()],
    )
}

/// A validator set, by its hash (`kp_types::validator_set_hash`).
pub fn validator_set(hash: &Hash) -> Vec<u8> {
    key(table::VALIDATOR_SET, &[&hash.0])
}

/// The certificates whose numbers carry a territory's prefix (prefix of
/// the certificate table), in number order.
pub fn certificates_of_territory_prefix(t: &kp_types::Territory) -> Vec<u8> {
    key(table::CERTIFICATE, &[t.as_str().as_bytes()])
}

/// The territories an authority has issued under (prefix), in code order.
pub fn authority_territories_prefix(id: &str) -> Vec<u8> {
    key(table::AUTHORITY_TERRITORY, &[id.as_bytes(), &[0]])
}

/// A territory an authority has issued under.
pub fn authority_territory(id: &str, t: &kp_types::Territory) -> Vec<u8> {
    key(
        table::AUTHORITY_TERRITORY,
        &[id.as_bytes(), &[0], t.as_str().as_bytes()],
    )
}

/// Whether a key is a record of the authenticated map (`records_root`):
/// every committed key but the replay memory.
pub fn is_provable(key: &[u8]) -> bool {
    is_committed(key)
        && !matches!(
            key.first(),
            Some(&table::CERTIFICATE_EXPIRY)
                | Some(&table::RESOLUTION_DEADLINE)
                | Some(&table::KEY_CHANGE_SCHEDULE)
                | Some(&table::EXECUTED)
                | Some(&table::EXECUTED_EXPIRY)
        )
}

/// Whether a key is committed to by the state root: every table below the
/// root machinery but the authority search aids (0x19, 0x1B), derived from
/// the certificate records, which no rule reads.
pub fn is_committed(key: &[u8]) -> bool {
    matches!(key.first(), Some(&t) if t < table::ROOT_MACHINERY_MIN
        && t != table::CERTIFICATE_BY_AUTHORITY
        && t != table::AUTHORITY_TERRITORY)
}

/// The stored root (not committed).
pub fn root_meta() -> Vec<u8> {
    key(table::ROOT_META, &[b"root"])
}

/// The stored root of the authenticated map of records (not committed).
pub fn records_root_meta() -> Vec<u8> {
    key(table::ROOT_META, &[b"records"])
}

/// The stored state hash (not committed).
pub fn state_hash_meta() -> Vec<u8> {
    key(table::ROOT_META, &[b"lattice"])
}
