//! `loadgen disk`: bytes per certificate on disk, for a validator and for an
//! observer, by key table, with and without the commit certificates.
//!
//! Deterministic: the chain is built with the library crates (no network,
//! no clock), from fixed keys and numbers, so every logical byte count is
//! the same on every run and machine. Only the physical figure (the sled
//! directory's growth) depends on sled's log and segment handling.
//!
//! For each pair of validator count V and block size B:
//!
//! * the genesis is the full KP network's (`node-config/kp-network-genesis.toml`)
//!   cut to its first V governments (BW, EU, AE, IN, … in the file's order),
//!   the trading entity and the observers, with the fixture keys of
//!   `kp_ledger::testkit` in place of the placeholder keys;
//! * blocks of B certificate issuances (`testkit::block_of_issues`: four
//!   routes between BW, EU, IN and AE, one block a minute), each with a
//!   commit certificate of a quorum (more than two thirds) of the height's validators, the
//!   fewest signatures a decision carries;
//! * the **validator** commits each block alone, as a node does when it
//!   decides one (`Ledger::execute`, the block store's writes, one durable
//!   commit), and saves the consensus safety state a validator that does not
//!   propose saves in round 0 of every height (after its prevote, and after
//!   its precommit with the block locked and valid and the quorum of
//!   prevotes as proof), in the node's form (`SafetyState::to_record`,
//!   `SafetyStore::save_parts`: the record at every save, the blocks when
//!   the set named changes);
//! * the **observer** catches up on the same blocks through the replica's
//!   own path (`Replica::catch_up_*`: executed ahead of the store, written
//!   in stages of several blocks), as a node that syncs does.
//!
//! Each store is measured after genesis and after the chain, both after a
//! durable flush: per key table, the entries, key bytes and value bytes it
//! holds (retained), the bytes the commits wrote to it (written: overwrites
//! and deletions included), and the directory's size on disk.

use crate::measure::dir_bytes;
use crate::{Json, Opts};
use kp_chain::BlockStore;
use kp_consensus::{Consensus, ConsensusConfig, RoundValue, SafetyState, SharedBlock, Step};
use kp_ledger::testkit;
use kp_ledger::{Genesis, Ledger, StateStore, WriteSet};
use kp_replica::{Replica, ReplicaConfig, VerifiedSignatures};
use kp_storage::{SafetyStore, SavedSafety, SledStore};
use kp_types::{CommitCertificate, ParticipantKind, SigningKey, Vote, VoteKind};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The full network's genesis, cut and re-keyed per run.
const KP_NETWORK_GENESIS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../node-config/kp-network-genesis.toml"
));

/// Pseudo-table of the consensus safety state (its own sled tree).
const SAFETY: u8 = 0xFF;

/// Per key table: entries, key bytes, value bytes retained, bytes written.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    entries: i64,
    key_bytes: i64,
    value_bytes: i64,
    written_bytes: i64,
}

type Tables = BTreeMap<u8, Tally>;

/// One measured configuration.
struct Run {
    validators: usize,
    block_certs: usize,
    certs: usize,
}

pub(crate) fn disk(opts: &Opts) -> Json {
    let list = |key: &str, default: &str| -> Vec<usize> {
        opts.0
            .get(key)
            .map(String::as_str)
            .unwrap_or(default)
            .split(',')
            .map(|v| v.trim().parse().expect("a whole number"))
            .collect()
    };
    let validator_counts = list("validators", "4,60");
    let block_sizes = list("block-certs", "2000,10");
    // Certificates per run for large blocks, and for small ones (whose runs
    // hold many more blocks, each with its commit certificate).
    let certs_large = opts.get_u64("certs", 20_000) as usize;
    let certs_small = opts.get_u64("small-certs", 2_000) as usize;
    let mut runs = Vec::new();
    for &validators in &validator_counts {
        for &block_certs in &block_sizes {
            let certs = if block_certs >= 100 {
                certs_large
            } else {
                certs_small
            };
            let certs = certs.div_ceil(block_certs.max(1)) * block_certs.max(1);
            let run = Run {
                validators,
                block_certs,
                certs,
            };
            eprintln!(
                "loadgen: disk: {validators} validators, blocks of {block_certs}, {certs} certificates"
            );
            runs.push(measure(&run));
        }
    }
    serde_json::json!({ "mode": "disk", "runs": runs })
}

/// The genesis of the first `validators` governments of the full network,
/// with the fixture keys.
fn genesis(validators: usize) -> Genesis {
    let mut genesis = Genesis::from_toml(KP_NETWORK_GENESIS).expect("the network's genesis");
    genesis.chain_id = testkit::CHAIN_ID.to_string();
    let mut governments = 0;
    genesis.participants.retain(|p| {
        if p.kind != ParticipantKind::Government {
            return true;
        }
        governments += 1;
        governments <= validators
    });
    assert_eq!(
        governments.min(validators),
        validators,
        "too few governments"
    );
    for p in &mut genesis.participants {
        p.node_key = testkit::node_key(p.code.as_str()).public();
        p.government_key = p.node_key;
        p.recovery_key = None;
    }
    let kept: Vec<_> = genesis
        .participants
        .iter()
        .map(|p| p.code.clone())
        .collect();
    genesis
        .authorities
        .retain(|a| kept.contains(&a.participant));
    for a in &mut genesis.authorities {
        a.key = testkit::authority_key(a.participant.as_str()).public();
    }
    genesis.validate().expect("the cut genesis is valid");
    genesis
}

fn measure(run: &Run) -> Json {
    let genesis = genesis(run.validators);
    let dir = tempfile::tempdir().expect("temp dir");
    let validator_path = dir.path().join("validator");
    let observer_path = dir.path().join("observer");
    let store = SledStore::open(&validator_path).expect("open the validator's store");
    let safety = store.safety_store().expect("safety tree");
    let mut ledger = Ledger::open(&genesis, store.clone()).expect("genesis");
    let observer_store = SledStore::open(&observer_path).expect("open the observer's store");
    let observer_key = testkit::node_key("WDC");
    let mut observer = Replica::new(
        ReplicaConfig::default(),
        observer_key.clone(),
        Consensus::new(ConsensusConfig::new(testkit::CHAIN_ID, observer_key), None),
        Ledger::open(&genesis, observer_store.clone()).expect("genesis"),
    )
    .expect("an empty store");

    let validator_before = tables(&store, Some(&safety));
    let observer_before = tables(&observer_store, None);
    let validator_disk_before = (dir_bytes(&validator_path), allocated_bytes(&validator_path));
    let observer_disk_before = (dir_bytes(&observer_path), allocated_bytes(&observer_path));

    let keys: BTreeMap<_, SigningKey> = genesis
        .participants
        .iter()
        .map(|p| {
            let k = testkit::node_key(p.code.as_str());
            (k.public(), k)
        })
        .collect();
    let mut validator_written = Tables::new();
    let mut observer_written = Tables::new();
    let mut safety_blocks_named: Option<Vec<kp_types::Hash>> = None;
    let mut blocks = 0usize;
    let mut certificate_bytes = 0usize;
    let mut made = 0usize;
    while made < run.certs {
        let set = ledger.validators();
        let quorum = kp_types::consensus::quorum(set.len());
        let signers: Vec<&SigningKey> = set.iter().take(quorum).map(|v| &keys[v]).collect();
        let block = testkit::block_of_issues(&ledger, run.block_certs);
        let height = block.header.height;
        let mut certificate = CommitCertificate {
            chain_id: testkit::CHAIN_ID.to_string(),
            height,
            round: 0,
            block_hash: block.hash(),
            signatures: Vec::new(),
        };
        certificate.sign_with(signers.iter().copied());
        certificate_bytes += kp_types::encode(&certificate).len();

        // The validator: its safety saves of the height, then the block.
        let shared: SharedBlock = Arc::new(block.clone());
        let own = &keys[&set[set.len() - 1]];
        for state in safety_states(&shared, own, &signers) {
            let (record, named) = state.to_record();
            let (hashes, named_blocks): (Vec<_>, Vec<_>) = named.into_iter().unzip();
            let record = kp_types::encode(&record);
            let blocks_bytes = (safety_blocks_named.as_ref() != Some(&hashes))
                .then(|| kp_types::encode(&named_blocks));
            let tally = validator_written.entry(SAFETY).or_default();
            tally.written_bytes += (1 + 1 + record.len()) as i64;
            if let Some(b) = &blocks_bytes {
                tally.written_bytes += (2 + 1 + b.len()) as i64;
            }
            safety
                .save_parts(&record, blocks_bytes.as_deref())
                .expect("save the safety state");
            safety_blocks_named = Some(hashes);
        }
        let mut pending = ledger.execute(&block).expect("execute");
        let receipts = kp_types::encode(&pending.receipt().receipts);
        let writes =
            BlockStore::try_block_writes(&block, &certificate, &receipts).expect("block writes");
        pending.add_host_writes(writes).expect("host keys");
        count_written(&mut validator_written, pending.writes());
        let receipt = ledger.advance(pending).expect("commit the block");
        assert!(
            receipt.receipts.iter().all(|r| r.result.is_ok()),
            "block {height}: a certificate was refused"
        );

        // The observer: the same block through catch-up.
        let verified: VerifiedSignatures = block
            .txs
            .iter()
            .map(|stx| (stx.hash(), stx.signature))
            .collect();
        let pending = observer
            .catch_up_execute(&block, &certificate, &verified)
            .expect("the observer executes the block");
        if observer
            .catch_up_advance(Arc::new(block.clone()), certificate, pending)
            .expect("the observer advances")
        {
            write_stage(&mut observer, &mut observer_written);
        }
        made += block.txs.len();
        blocks += 1;
    }
    write_stage(&mut observer, &mut observer_written);
    observer.catch_up_done();
    assert_eq!(observer.ledger().height(), ledger.height());
    assert_eq!(observer.ledger().state_root(), ledger.state_root());

    let validator_after = tables(&store, Some(&safety));
    let observer_after = tables(observer.ledger().store(), None);
    let validator_disk = dir_bytes(&validator_path) as i64 - validator_disk_before.0 as i64;
    let observer_disk = dir_bytes(&observer_path) as i64 - observer_disk_before.0 as i64;
    let validator_allocated =
        allocated_bytes(&validator_path) as i64 - validator_disk_before.1 as i64;
    let observer_allocated = allocated_bytes(&observer_path) as i64 - observer_disk_before.1 as i64;
    let quorum = kp_types::consensus::quorum(run.validators);
    serde_json::json!({
        "validators": run.validators,
        "quorum_signatures": quorum,
        "block_certs": run.block_certs,
        "blocks": blocks,
        "certs": made,
        "commit_certificate_bytes": certificate_bytes / blocks.max(1),
        "validator": report(
            (&validator_before, &validator_after, &validator_written),
            (validator_disk, validator_allocated),
            made,
            blocks,
        ),
        "observer": report(
            (&observer_before, &observer_after, &observer_written),
            (observer_disk, observer_allocated),
            made,
            blocks,
        ),
    })
}

/// The safety states a validator that does not propose persists in round 0
/// of a height whose proposal is `block`: after its prevote, and after its
/// precommit (block locked and valid, the quorum of prevotes as proof).
fn safety_states(
    block: &SharedBlock,
    own: &SigningKey,
    quorum: &[&SigningKey],
) -> Vec<SafetyState> {
    let height = block.header.height;
    let vote = |kind, key: &SigningKey| {
        Vote {
            chain_id: testkit::CHAIN_ID.to_string(),
            height,
            round: 0,
            kind,
            block: Some(block.hash()),
            validator: key.public(),
        }
        .sign(key)
    };
    let mut prevoted = SafetyState::new(height);
    prevoted.step = Step::Prevote;
    prevoted.votes = vec![vote(VoteKind::Prevote, own)];
    let mut precommitted = prevoted.clone();
    precommitted.step = Step::Precommit;
    precommitted.locked = Some(RoundValue {
        round: 0,
        block: block.clone(),
    });
    precommitted.valid = precommitted.locked.clone();
    precommitted.valid_pol = quorum.iter().map(|k| vote(VoteKind::Prevote, k)).collect();
    precommitted.votes.push(vote(VoteKind::Precommit, own));
    vec![prevoted, precommitted]
}

fn write_stage(replica: &mut Replica<SledStore>, written: &mut Tables) {
    if let Some(stage) = replica.take_stage().expect("stage") {
        count_written(written, &stage.writes);
        replica
            .ledger()
            .store()
            .commit(&stage.writes)
            .expect("stage commits");
        replica.stage_written(stage);
    }
}

fn count_written(tables: &mut Tables, writes: &WriteSet) {
    for (key, value) in &writes.entries {
        let table = key.first().copied().unwrap_or(0);
        let bytes = key.len() + value.as_ref().map_or(0, Vec::len);
        tables.entry(table).or_default().written_bytes += bytes as i64;
    }
}

/// Entries, key and value bytes of every table the store holds now.
fn tables(store: &SledStore, safety: Option<&SafetyStore>) -> Tables {
    let mut out = Tables::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = store
            .scan_prefix(&[], after.as_deref(), 4096)
            .expect("scan the store");
        let Some((last, _)) = page.last() else {
            break;
        };
        after = Some(last.clone());
        for (key, value) in &page {
            let t = out.entry(key[0]).or_default();
            t.entries += 1;
            t.key_bytes += key.len() as i64;
            t.value_bytes += value.len() as i64;
        }
    }
    if let Some(safety) = safety {
        let t = out.entry(SAFETY).or_default();
        match safety.load_parts().expect("read the safety state") {
            SavedSafety::None => {}
            SavedSafety::Whole(bytes) => {
                t.entries += 1;
                t.key_bytes += 1;
                t.value_bytes += 1 + bytes.len() as i64;
            }
            SavedSafety::Parts { record, blocks } => {
                t.entries += 1;
                t.key_bytes += 1;
                t.value_bytes += 1 + record.len() as i64;
                if let Some(blocks) = blocks {
                    t.entries += 1;
                    t.key_bytes += 2;
                    t.value_bytes += 1 + blocks.len() as i64;
                }
            }
        }
    }
    out
}

/// Bytes the files under `path` occupy on the device (allocated blocks),
/// beside their apparent sizes ([`dir_bytes`]).
fn allocated_bytes(path: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => allocated_bytes(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

/// The category and name of a key table.
fn describe(table: u8) -> (&'static str, &'static str) {
    use kp_api::keys::table as t;
    use kp_chain::keys as h;
    match table {
        t::CERTIFICATE => ("state", "certificate records (0x07)"),
        t::CERTIFICATE_EXPIRY => ("state", "certificates by expiry (0x08)"),
        t::EXECUTED => ("state", "executed transactions (0x0C)"),
        t::EXECUTED_EXPIRY => ("state", "executed by expiry (0x0D)"),
        t::STATS => ("state", "member quarter statistics (0x10)"),
        t::GLOBAL_STATS => ("state", "global quarter statistics (0x11)"),
        t::BLOCK_HASH => ("state", "block hash by height (0x13)"),
        t::META => ("state", "ledger meta (0x01)"),
        t::CERTIFICATE_BY_AUTHORITY => ("index", "certificates by authority (0x19)"),
        t::AUTHORITY_TERRITORY => ("index", "territories by authority (0x1B)"),
        t::ROOT_META => ("other", "state root and state hash (0x7D)"),
        h::TABLE_BLOCK => ("block", "blocks (0x81)"),
        h::TABLE_BLOCK_HASH => ("index", "block hash → height (0x82)"),
        h::TABLE_COMMIT => ("commit", "commit certificates (0x83)"),
        h::TABLE_TX => ("index", "transaction index (0x84)"),
        h::TABLE_RECEIPTS => ("receipts", "receipts (0x85)"),
        h::TABLE_META | h::TABLE_LAST_BLOCK => ("other", "store meta (0x80, 0x86)"),
        SAFETY => ("safety", "consensus safety state (own tree)"),
        x if x < t::ROOT_MACHINERY_MIN => ("state", "other ledger tables"),
        _ => ("other", "other"),
    }
}

/// Per certificate: what each table grew by and what was written to it.
fn report(
    (before, after, written): (&Tables, &Tables, &Tables),
    (disk, allocated): (i64, i64),
    certs: usize,
    blocks: usize,
) -> Json {
    let per = |x: i64| x as f64 / certs.max(1) as f64;
    let round = |x: f64| (x * 100.0).round() / 100.0;
    let mut rows: BTreeMap<&str, (&str, Tally)> = BTreeMap::new();
    let all: std::collections::BTreeSet<u8> = before
        .keys()
        .chain(after.keys())
        .chain(written.keys())
        .copied()
        .collect();
    for table in all {
        let (category, name) = describe(table);
        let b = before.get(&table).copied().unwrap_or_default();
        let a = after.get(&table).copied().unwrap_or_default();
        let w = written.get(&table).copied().unwrap_or_default();
        let row = &mut rows.entry(name).or_insert((category, Tally::default())).1;
        row.entries += a.entries - b.entries;
        row.key_bytes += a.key_bytes - b.key_bytes;
        row.value_bytes += a.value_bytes - b.value_bytes;
        row.written_bytes += w.written_bytes;
    }
    let mut total = Tally::default();
    let mut commit = Tally::default();
    let mut by_category: BTreeMap<&str, f64> = BTreeMap::new();
    let table_rows: Vec<Json> = rows
        .iter()
        .filter(|(_, (_, t))| {
            t.entries != 0 || t.key_bytes != 0 || t.value_bytes != 0 || t.written_bytes != 0
        })
        .map(|(name, (category, t))| {
            // The safety state is overwritten at every save: what it holds
            // does not grow with the chain, so it is not retained per
            // certificate (its row shows it; its writes count).
            if *category != "safety" {
                total.entries += t.entries;
                total.key_bytes += t.key_bytes;
                total.value_bytes += t.value_bytes;
            }
            total.written_bytes += t.written_bytes;
            if *category == "commit" {
                commit = *t;
            }
            *by_category.entry(category).or_default() += per(t.key_bytes + t.value_bytes);
            serde_json::json!({
                "table": name,
                "category": category,
                "entries": round(per(t.entries)),
                "key_bytes": round(per(t.key_bytes)),
                "value_bytes": round(per(t.value_bytes)),
                "retained_bytes": round(per(t.key_bytes + t.value_bytes)),
                "written_bytes": round(per(t.written_bytes)),
            })
        })
        .collect();
    let retained = total.key_bytes + total.value_bytes;
    let commit_retained = commit.key_bytes + commit.value_bytes;
    serde_json::json!({
        "tables": table_rows,
        "by_category": by_category.into_iter().map(|(k, v)| (k.to_string(), Json::from(round(v)))).collect::<serde_json::Map<_, _>>(),
        "entries": round(per(total.entries)),
        "retained_bytes": round(per(retained)),
        "retained_bytes_without_commit": round(per(retained - commit_retained)),
        "commit_share_pct": round(100.0 * commit_retained as f64 / retained.max(1) as f64),
        "written_bytes": round(per(total.written_bytes)),
        "written_bytes_without_commit": round(per(total.written_bytes - commit.written_bytes)),
        "disk_bytes": round(per(disk)),
        "disk_allocated_bytes": round(per(allocated)),
        "commit_bytes_per_block": round(commit_retained as f64 / blocks.max(1) as f64),
    })
}
