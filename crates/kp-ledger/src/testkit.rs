//! Reusable fixtures for tests, the simulator and benchmarks: a small genesis
//! (governments BW, EU, AE, IN, CF, CG; trading entity TW; observer WDC; one
//! authority each), deterministic keys from seeds, builders of valid
//! certificates and transactions, and a [`Harness`] that drives a ledger over
//! a [`MemStore`] block by block.
//!
//! Always compiled (it is small and has no extra dependencies) so that other
//! crates can use it without feature plumbing; nothing in the ledger uses it.

use crate::genesis::Genesis;
use crate::ledger::Ledger;
use crate::params::Params;
use crate::records::{BlockReceipt, ResolutionOutcome};
use crate::rejection::Rejection;
use crate::store::{MemStore, WriteSet};
use crate::LedgerError;
use kp_types::{
    merkle, Authority, AuthorityId, Block, Carats, Certificate, CertificateLine, CertificateNumber,
    Date, Domain, Hash, HsCode, Origin, Participant, ParticipantCode, ParticipantKind, Party,
    Payload, PublicKey, ResolutionAction, ResolutionId, ResolutionProposal, SignedTransaction,
    SigningKey, Territory, Timestamp, Transaction, UsdCents,
};

/// Chain id of the fixtures.
pub const CHAIN_ID: &str = "kp-test";

/// The government Participants of the fixture genesis, by code.
pub const GOVERNMENTS: [&str; 6] = ["AE", "BW", "CF", "CG", "EU", "IN"];

/// A participant code from text (panics on a bad literal: fixtures only).
#[allow(clippy::unwrap_used, clippy::panic)]
pub fn code(text: &str) -> ParticipantCode {
    ParticipantCode::new(text).unwrap_or_else(|e| panic!("fixture code {text}: {e}"))
}

/// A territory from text.
#[allow(clippy::unwrap_used, clippy::panic)]
pub fn territory(text: &str) -> Territory {
    Territory::new(text).unwrap_or_else(|e| panic!("fixture territory {text}: {e}"))
}

/// A certificate number from text.
#[allow(clippy::unwrap_used, clippy::panic)]
pub fn number(text: &str) -> CertificateNumber {
    CertificateNumber::new(text).unwrap_or_else(|e| panic!("fixture number {text}: {e}"))
}

/// The id of a member's fixture authority: `<CODE>-KPA`.
#[allow(clippy::unwrap_used, clippy::panic)]
pub fn authority_id(member: &str) -> AuthorityId {
    AuthorityId::new(&format!("{member}-KPA")).unwrap_or_else(|e| panic!("fixture id: {e}"))
}

/// A date from year, month, day.
#[allow(clippy::panic)]
pub fn date(y: u32, m: u32, d: u32) -> Date {
    Date::from_ymd(y, m, d).unwrap_or_else(|| panic!("fixture date {y}-{m}-{d}"))
}

/// Midnight UTC of a date.
pub fn at(y: u32, m: u32, d: u32) -> Timestamp {
    Timestamp::at_start_of(date(y, m, d))
}

fn seed(label: &str, member: &str) -> [u8; 32] {
    Hash::of_parts(
        Domain::Document,
        &[b"kpledger testkit ", label.as_bytes(), member.as_bytes()],
    )
    .0
}

/// A member's deterministic node key.
pub fn node_key(member: &str) -> SigningKey {
    SigningKey::from_seed(seed("node ", member))
}

/// A member's deterministic government key, for a genesis whose members
/// hold one apart from their node key ([`genesis_with_key_roles`]).
pub fn government_key(member: &str) -> SigningKey {
    SigningKey::from_seed(seed("government ", member))
}

/// A member's deterministic recovery key ([`genesis_with_key_roles`]).
pub fn recovery_key(member: &str) -> SigningKey {
    SigningKey::from_seed(seed("recovery ", member))
}

/// A member's deterministic fixture authority key.
pub fn authority_key(member: &str) -> SigningKey {
    SigningKey::from_seed(seed("authority ", member))
}

/// A deterministic key for anything else (a second authority, a rotated key).
pub fn extra_key(label: &str) -> SigningKey {
    SigningKey::from_seed(seed("extra ", label))
}

/// A member of the fixture genesis, or a new one for admissions.
pub fn member(code_text: &str, kind: ParticipantKind, territories: &[&str]) -> Participant {
    Participant {
        code: code(code_text),
        kind,
        name: format!("{code_text} (fixture)"),
        territories: territories.iter().map(|t| territory(t)).collect(),
        node_key: node_key(code_text).public(),
        // The form of a genesis written before the roles were split.
        government_key: node_key(code_text).public(),
        recovery_key: None,
    }
}

/// A member whose government and recovery keys are its own
/// ([`government_key`], [`recovery_key`]), apart from its node key.
pub fn member_with_key_roles(
    code_text: &str,
    kind: ParticipantKind,
    territories: &[&str],
) -> Participant {
    Participant {
        government_key: government_key(code_text).public(),
        recovery_key: Some(recovery_key(code_text).public()),
        ..member(code_text, kind, territories)
    }
}

/// The fixture genesis with every member's government and recovery keys
/// apart from its node key.
pub fn genesis_with_key_roles() -> Genesis {
    let mut g = genesis();
    for p in &mut g.participants {
        p.government_key = government_key(p.code.as_str()).public();
        p.recovery_key = Some(recovery_key(p.code.as_str()).public());
    }
    g
}

/// A member's fixture authority.
pub fn authority(member: &str) -> Authority {
    Authority {
        id: authority_id(member),
        participant: code(member),
        name: format!("{member} KP Authority"),
        key: authority_key(member).public(),
        encryption_key: None,
    }
}

/// A member's deterministic fixture encryption key pair for sealed fields
/// (the fixture authorities register none: [`genesis`] certificates are
/// plain; tests of sealing set them).
pub fn encryption_key(member: &str) -> kp_types::DecryptionKey {
    kp_types::DecryptionKey::from_seed(&seed("encryption ", member))
}

/// The fixture genesis at `genesis_time`: governments BW, EU (territories
/// BE, DE, NL), AE, IN, CF, CG; trading entity TW; observer WDC; one authority
/// per trading member. Chair BW, no Vice Chair, default parameters.
pub fn genesis_at(genesis_time: Timestamp) -> Genesis {
    use ParticipantKind::*;
    let participants = vec![
        member("BW", Government, &["BW"]),
        member("EU", Government, &["BE", "DE", "NL"]),
        member("AE", Government, &["AE"]),
        member("IN", Government, &["IN"]),
        member("CF", Government, &["CF"]),
        member("CG", Government, &["CG"]),
        member("TW", TradingEntity, &["TW"]),
        member("WDC", Observer, &[]),
    ];
    let authorities = ["BW", "EU", "AE", "IN", "CF", "CG", "TW"]
        .iter()
        .map(|m| authority(m))
        .collect();
    Genesis {
        chain_id: CHAIN_ID.to_string(),
        genesis_time,
        chair: code("BW"),
        vice_chair: None,
        params: Params::default(),
        participants,
        authorities,
    }
}

/// The fixture genesis at 2026-01-01T00:00:00Z.
pub fn genesis() -> Genesis {
    genesis_at(at(2026, 1, 1))
}

/// A valid certificate from `from` to `to` issued on `issued_on`, valid 30
/// days, one gem line of 100.00 ct worth 10,000.00 USD in 2 parcels, origin
/// the exporter's own first territory. The number must start with one of
/// the exporter's territories.
pub fn certificate(number_text: &str, from: &str, to: &str, issued_on: Date) -> Certificate {
    let origin_territory = territory(&number_text[..2]);
    let destination = match to {
        "EU" => territory("BE"),
        other => territory(other),
    };
    Certificate {
        number: number(number_text),
        exporting: code(from),
        issuing_authority: authority_id(from),
        importing: code(to),
        destination,
        parties: kp_types::Parties::Plain(kp_types::SealedFields {
            exporter: Party {
                name: format!("{from} Exporter Ltd"),
                address: format!("1 Mine Road, {from}"),
            },
            importer: Party {
                name: format!("{to} Importer BV"),
                address: format!("2 Bourse Street, {to}"),
            },
            details: String::new(),
        }),
        origin: Origin::Countries(vec![origin_territory]),
        origin_zones: Vec::new(),
        lines: vec![CertificateLine {
            hs_code: HsCode::new(HsCode::GEM),
            carats: Carats(10_000),         // 100.00 ct
            value_usd: UsdCents(1_000_000), // 10,000.00 USD
            parcels: 2,
        }],
        issued_on,
        expires_on: issued_on.plus_days(30),
    }
}

/// Signs a transaction for the fixture chain.
pub fn sign(
    key: &SigningKey,
    nonce: u64,
    expires_at: Timestamp,
    payload: Payload,
) -> SignedTransaction {
    Transaction {
        chain_id: CHAIN_ID.to_string(),
        signer: key.public(),
        nonce,
        expires_at,
        payload,
    }
    .sign(key)
}

/// Exporter, number prefix and importer of the issues of
/// [`block_of_issues`], in turn.
pub const ISSUE_ROUTES: [(&str, &str, &str); 4] = [
    ("BW", "BW", "EU"),
    ("EU", "BE", "IN"),
    ("IN", "IN", "AE"),
    ("AE", "AE", "IN"),
];

/// The next block of `ledger` (over any store), a minute after its last,
/// holding `count` valid certificate issuances along [`ISSUE_ROUTES`], with
/// numbers unique across the blocks of one ledger: the benchmarks' block.
pub fn block_of_issues<S: crate::StateStore>(ledger: &Ledger<S>, count: usize) -> Block {
    let height = ledger.height() + 1;
    let time = ledger.last_block_time().plus_ms(MINUTE_MS);
    let first = height as usize * count;
    let txs: Vec<SignedTransaction> = (first..first + count)
        .map(|i| {
            let (from, prefix, to) = ISSUE_ROUTES[i % ISSUE_ROUTES.len()];
            let c = certificate(&format!("{prefix}{i:08}"), from, to, time.date());
            sign(
                &authority_key(from),
                i as u64,
                time.plus_ms(10 * MINUTE_MS),
                Payload::IssueCertificate(c),
            )
        })
        .collect();
    let leaves: Vec<Hash> = txs.iter().map(SignedTransaction::leaf).collect();
    Block {
        header: ledger.next_header(
            ledger.validators()[0],
            time,
            kp_types::merkle::root(&leaves),
        ),
        txs,
    }
}

/// A block for the ledger's next height containing exactly `txs`, proposed by
/// the first validator (no filtering: rule-breaking transactions stay in the
/// block and get rejection receipts).
pub fn block_with(
    ledger: &Ledger<MemStore>,
    time: Timestamp,
    txs: Vec<SignedTransaction>,
) -> Block {
    let leaves: Vec<Hash> = txs.iter().map(SignedTransaction::leaf).collect();
    let proposer = ledger
        .validators()
        .first()
        .copied()
        .unwrap_or(PublicKey([0; 32]));
    Block {
        header: ledger.next_header(proposer, time, merkle::root(&leaves)),
        txs,
    }
}

/// Drives a ledger over a [`MemStore`]: signs with fixture keys, fresh nonces,
/// one block per call, time advancing one minute per block unless moved.
#[derive(Debug)]
pub struct Harness {
    /// The ledger.
    pub ledger: Ledger<MemStore>,
    /// Time of the next block.
    pub time: Timestamp,
    nonce: u64,
}

/// One minute in milliseconds.
pub const MINUTE_MS: u64 = 60_000;

impl Harness {
    /// A ledger opened on the fixture genesis at `genesis_time`.
    #[allow(clippy::panic)]
    pub fn new_at(genesis_time: Timestamp) -> Harness {
        Self::with_genesis(genesis_at(genesis_time))
    }

    /// A ledger opened on the given genesis.
    #[allow(clippy::panic)]
    pub fn with_genesis(genesis: Genesis) -> Harness {
        let time = genesis.genesis_time.plus_ms(MINUTE_MS);
        let ledger = Ledger::open(&genesis, MemStore::new())
            .unwrap_or_else(|e| panic!("fixture genesis: {e}"));
        Harness {
            ledger,
            time,
            nonce: 0,
        }
    }

    /// A ledger opened on the fixture genesis at 2026-01-01.
    pub fn new() -> Harness {
        Self::with_genesis(genesis())
    }

    /// Moves the next block's time to `time` (must be after the last block).
    pub fn set_time(&mut self, time: Timestamp) {
        self.time = time;
    }

    /// The next block's date.
    pub fn today(&self) -> Date {
        self.time.date()
    }

    /// A transaction signed by `key` with a fresh nonce, expiring in 10 minutes.
    pub fn tx(&mut self, key: &SigningKey, payload: Payload) -> SignedTransaction {
        self.nonce += 1;
        sign(key, self.nonce, self.time.plus_ms(10 * MINUTE_MS), payload)
    }

    /// A transaction signed by member `m`'s fixture authority.
    pub fn by_authority(&mut self, m: &str, payload: Payload) -> SignedTransaction {
        self.tx(&authority_key(m), payload)
    }

    /// A transaction signed by member `m`'s node key.
    pub fn by_node(&mut self, m: &str, payload: Payload) -> SignedTransaction {
        self.tx(&node_key(m), payload)
    }

    /// A transaction signed by member `m`'s government key: its node key
    /// where the ledger lists that as its government key (the fixture
    /// genesis), otherwise [`government_key`].
    pub fn by_government(&mut self, m: &str, payload: Payload) -> SignedTransaction {
        let listed = self
            .ledger
            .participant(&code(m))
            .ok()
            .flatten()
            .map(|r| r.participant.government_key);
        let key = if listed == Some(node_key(m).public()) {
            node_key(m)
        } else {
            government_key(m)
        };
        self.tx(&key, payload)
    }

    /// Applies one block with exactly `txs`, then advances time one minute.
    pub fn apply(&mut self, txs: Vec<SignedTransaction>) -> Result<BlockReceipt, LedgerError> {
        let block = block_with(&self.ledger, self.time, txs);
        let receipt = self.ledger.apply_block(&block, WriteSet::default())?;
        self.time = self.time.plus_ms(MINUTE_MS);
        Ok(receipt)
    }

    /// Applies one transaction in its own block and returns its verdict.
    #[allow(clippy::panic)]
    pub fn run(&mut self, tx: SignedTransaction) -> Result<(), Rejection> {
        let receipt = self
            .apply(vec![tx])
            .unwrap_or_else(|e| panic!("fixture block failed: {e}"));
        receipt
            .receipts
            .into_iter()
            .next()
            .map(|r| r.result)
            .unwrap_or(Err(Rejection::BadSignature))
    }

    /// Issues a certificate signed by its exporter's fixture authority.
    pub fn issue(&mut self, c: Certificate) -> Result<(), Rejection> {
        let from = c.exporting.to_string();
        let tx = self.by_authority(&from, Payload::IssueCertificate(c));
        self.run(tx)
    }

    /// Runs the import confirmation of certificate `n` by its importer's
    /// authority (the EU for a `BW…` number, else BW), received today, and
    /// asserts it is accepted.
    pub fn confirm_received(&mut self, n: &str, carats: u64) {
        let importer = if n.starts_with("BW") { "EU" } else { "BW" };
        let k = kp_types::ImportConfirmation {
            number: number(n),
            authority: authority_id(importer),
            carats: Carats(carats),
            parcels: 2,
            received_on: self.today(),
        };
        let tx = self.by_authority(importer, Payload::ConfirmImport(k));
        assert_eq!(self.run(tx), Ok(()), "confirmation of {n}");
    }

    /// Issues (not run) of certificates BW→EU numbered `BW{n}`, issued
    /// today, signed by Botswana's authority.
    pub fn bw_issues(&mut self, numbers: impl IntoIterator<Item = u32>) -> Vec<SignedTransaction> {
        numbers
            .into_iter()
            .map(|n| {
                let c = certificate(&format!("BW{n}"), "BW", "EU", self.today());
                self.by_authority("BW", Payload::IssueCertificate(c))
            })
            .collect()
    }
}

impl Harness {
    /// Proposes a resolution signed by `by`'s government key; returns its id (the
    /// transaction hash) and the verdict.
    pub fn propose(
        &mut self,
        by: &str,
        action: ResolutionAction,
        deadline: Option<Timestamp>,
    ) -> (ResolutionId, Result<(), Rejection>) {
        let tx = self.by_government(
            by,
            Payload::ProposeResolution(ResolutionProposal {
                title: format!("{} ({by})", action.kind()),
                action,
                deadline,
            }),
        );
        let id = tx.hash();
        (id, self.run(tx))
    }

    /// Signs a resolution with `by`'s government key.
    pub fn sign_resolution(&mut self, by: &str, id: ResolutionId) -> Result<(), Rejection> {
        let tx = self.by_government(by, Payload::SignResolution { resolution: id });
        self.run(tx)
    }

    /// Objects to a resolution with `by`'s government key.
    pub fn object(&mut self, by: &str, id: ResolutionId) -> Result<(), Rejection> {
        let tx = self.by_government(
            by,
            Payload::ObjectResolution {
                resolution: id,
                reason: "objection (fixture)".into(),
            },
        );
        self.run(tx)
    }

    /// Has every current validator (government in good standing, fixture
    /// government keys) adopt `action`: the first proposes, the others sign in one block.
    /// Panics unless it is adopted.
    #[allow(clippy::panic)]
    pub fn adopt(&mut self, action: ResolutionAction) -> ResolutionId {
        // The governments in good standing now (the validators of the
        // height after next; the next height's were fixed a block ago).
        let codes: Vec<String> = self
            .ledger
            .next_validator_codes()
            .into_iter()
            .map(|(c, _)| c.to_string())
            .collect();
        let Some((first, rest)) = codes.split_first() else {
            panic!("no validator to propose");
        };
        let (id, verdict) = self.propose(first, action, None);
        if let Err(r) = verdict {
            panic!("proposal refused: {r:?}");
        }
        let txs: Vec<_> = rest
            .iter()
            .map(|c| self.by_government(c, Payload::SignResolution { resolution: id }))
            .collect();
        let receipt = self
            .apply(txs)
            .unwrap_or_else(|e| panic!("fixture block failed: {e}"));
        for r in &receipt.receipts {
            if let Err(e) = &r.result {
                panic!("signature refused: {e:?}");
            }
        }
        match self.ledger.resolution(&id) {
            Ok(Some(r)) if matches!(r.outcome, ResolutionOutcome::Adopted { .. }) => id,
            other => panic!("resolution not adopted: {other:?}"),
        }
    }
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

/// Registers the fixture encryption key ([`encryption_key`]) of each
/// member's fixture authority (signed by its government key).
#[allow(clippy::panic)]
pub fn set_encryption_keys(h: &mut Harness, members: &[&str]) {
    for m in members {
        let payload = Payload::SetEncryptionKey {
            participant: code(m),
            authority: authority_id(m),
            key: encryption_key(m).public(),
        };
        let tx = h.by_government(m, payload);
        if let Err(r) = h.run(tx) {
            panic!("fixture encryption key of {m}: {r}");
        }
    }
}

/// Seals a plain fixture certificate to its issuing authority and the
/// fixture authority of `importing` under their fixture encryption keys.
#[allow(clippy::panic)]
pub fn seal_certificate(c: &mut Certificate, importing: &str) {
    let kp_types::Parties::Plain(fields) = &c.parties else {
        panic!("already sealed");
    };
    let exporting = c.exporting.as_str().to_string();
    let sealed = kp_types::sealed::seal(
        &c.number,
        fields,
        [7; kp_types::sealed::SALT_BYTES],
        &[
            (
                c.issuing_authority.clone(),
                encryption_key(&exporting).public(),
            ),
            (authority_id(importing), encryption_key(importing).public()),
        ],
        [11; 32],
    )
    .unwrap_or_else(|e| panic!("fixture seal: {e}"));
    c.parties = kp_types::Parties::Sealed(sealed);
}
