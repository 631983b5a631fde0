//! The ledger: genesis, block validation and execution, admission checks,
//! the state root and queries, over any [`StateStore`].

use crate::behind::Behind;
use crate::error::LedgerError;
use crate::exec::Ctx;
use crate::filter::KeyFilter;
use crate::genesis::Genesis;
use crate::keys;
use crate::memo::ReadMemo;
use crate::overlay::{decode_stored, Changes, Overlay, Reads};
use crate::params::Params;
use crate::records::{
    AuthorityRecord, BlockReceipt, LedgerEvent, MembershipStatus, ParticipantRecord, TxReceipt,
};
use crate::records_tree::{self, RecordVersions};
use crate::rejection::Rejection;
use crate::root::StateHash;
use crate::state::meta;
use crate::store::{StateStore, StoreError, WriteSet, HOST_KEY_PREFIX_MIN};
use kp_types::{
    encoding::TX_BYTES_MAX, merkle, Block, BlockHeader, Hash, ParticipantCode, PublicKey,
    SignedTransaction, Timestamp, TxHash,
};
use std::sync::{Arc, Mutex};

mod due;
mod queries;
mod validate;

/// Most resolutions a listing returns.
pub const RESOLUTIONS_LIST_MAX: usize = 10_000;
/// Most seizures a listing returns.
pub const SEIZURES_LIST_MAX: usize = 10_000;

/// How `apply_block` verifies the transactions' signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SignatureVerification {
    /// One batch per block; on failure, one by one to find the culprit.
    #[default]
    Batch,
    /// One by one (for comparison in benchmarks).
    Individual,
}

/// The KPCS state machine over a store.
#[derive(Debug)]
pub struct Ledger<S: StateStore> {
    /// The store, with the writes of blocks applied ahead of it on top.
    store: Behind<S>,
    genesis_hash: Hash,
    chain_id: String,
    params: Params,
    height: u64,
    last_block_hash: Hash,
    last_block_time: Timestamp,
    state_hash: StateHash,
    /// Validators of height `height + 1`.
    validators: Vec<(ParticipantCode, PublicKey)>,
    /// Validators of height `height + 2`: the government members in good
    /// standing after the last applied block.
    next_validators: Vec<(ParticipantCode, PublicKey)>,
    /// Merkle root of the last applied block's transaction results.
    results_root: Hash,
    /// Root of the records tree after the last applied block (stored with
    /// every commit, so known without building the tree).
    records_root: Hash,
    /// The records tree after the last applied block, once built (see
    /// `records_tree`): built by the first `apply_block`.
    records: Option<kp_types::smt::Tree>,
    /// Recent versions of the records tree, shared with provers.
    record_versions: RecordVersions,
    verification: SignatureVerification,
    /// Digest of the last block whose signatures verified (block hash and
    /// every signature), so that `apply_block` after `validate_block` of the
    /// same block does not verify them twice. Only a cache of a pure
    /// function's result: it never changes a verdict.
    verified: Mutex<Option<Hash>>,
    /// The replay-memory keys the store may hold (see `filter`): kept up to
    /// date by `apply_block`, used only by a ledger that writes the store.
    filter: KeyFilter,
    /// Store values of the small tables, kept between admission checks
    /// (see `memo`); cleared by `apply_block` when it commits.
    memo: ReadMemo,
    /// Whether this ledger has applied a block since it was opened: then
    /// every block since the filter was built went through it.
    writer: bool,
}

fn required<T>(value: Option<T>, what: &'static str) -> Result<T, LedgerError> {
    value.ok_or(LedgerError::Missing { what })
}

/// The state hash after `changes`: `current` with every committed entry
/// that `changes` writes or deletes replaced (its previous value from
/// `reads`, the values the execution read from `store`, or else read from
/// `store`, the state before the changes, and added to `reads`).
fn next_state_hash<S: StateStore>(
    store: &S,
    reads: &mut Reads,
    current: &StateHash,
    changes: &Changes,
) -> Result<StateHash, StoreError> {
    let mut next = current.clone();
    for (k, v) in changes {
        if !keys::is_committed(k) {
            continue;
        }
        let old = match reads.get(k) {
            Some(old) => old,
            None => reads.entry(k.clone()).or_insert(store.get(k)?),
        };
        next.update(k, old.as_deref(), v.as_deref());
    }
    Ok(next)
}

/// Adds the state hash and its root to `changes`.
fn put_root(changes: &mut Changes, hash: &StateHash) -> Hash {
    let root = hash.root();
    changes.insert(keys::root_meta(), Some(root.0.to_vec()));
    changes.insert(keys::state_hash_meta(), Some(hash.to_bytes()));
    root
}

impl<S: StateStore> Ledger<S> {
    /// Empty store: writes the genesis state (one commit). Otherwise checks
    /// that the store holds this genesis's chain and resumes where it was.
    pub fn open(genesis: &Genesis, store: S) -> Result<Self, LedgerError> {
        genesis.validate()?;
        let genesis_hash = genesis.hash();
        match store.get(&keys::meta(meta::GENESIS))? {
            None => Self::write_genesis(genesis, genesis_hash, &store)?,
            Some(bytes) => {
                let stored: Hash = decode_stored(&keys::meta(meta::GENESIS), &bytes)?;
                if stored != genesis_hash {
                    return Err(LedgerError::WrongGenesis {
                        expected: genesis_hash,
                        stored,
                    });
                }
            }
        }
        convert_authority_index(&store)?;
        Self::load(store, genesis_hash)
    }

    fn write_genesis(genesis: &Genesis, genesis_hash: Hash, store: &S) -> Result<(), LedgerError> {
        let mut ov = Overlay::new(store);
        ov.meta_put(meta::GENESIS, &genesis_hash);
        ov.meta_put(meta::CHAIN_ID, &genesis.chain_id);
        ov.meta_put(meta::PARAMS, &genesis.params);
        ov.meta_put(meta::HEIGHT, &0u64);
        ov.meta_put(meta::LAST_HASH, &Hash::ZERO);
        ov.meta_put(meta::LAST_TIME, &genesis.genesis_time);
        ov.meta_put(meta::CHAIR, &genesis.chair);
        ov.meta_put(meta::VICE_CHAIR, &genesis.vice_chair);
        ov.meta_put(meta::CHAIR_YEAR, &genesis.genesis_time.date().year());
        ov.meta_put(meta::SEIZURE_SEQUENCE, &0u64);
        for p in &genesis.participants {
            ov.index_member_keys(p);
            for t in &p.territories {
                ov.put_value(keys::territory(t), &p.code);
            }
            ov.put_participant(&ParticipantRecord {
                participant: p.clone(),
                status: MembershipStatus::Active,
                sanction: None,
                authorities: Vec::new(),
                pending_key_change: None,
                node_key_rotated_at: None,
            });
        }
        for a in &genesis.authorities {
            ov.add_authority(&AuthorityRecord {
                authority: a.clone(),
                registered_height: 0,
                revoked_height: None,
                compromised_since: None,
                previous_keys: Vec::new(),
            })?;
        }
        // Heights 1 and 2 are decided by the government members of genesis.
        let validators = ov.active_governments()?;
        ov.meta_put(meta::VALIDATORS, &validators);
        ov.meta_put(meta::NEXT_VALIDATORS, &validators);
        ov.put_value(
            keys::validator_set(&kp_types::validator_set_hash(&validators)),
            &validators,
        );
        ov.meta_put(meta::RESULTS_ROOT, &merkle::root(&[]));
        let (mut changes, mut reads) = ov.into_changes_and_reads();
        let hash = next_state_hash(store, &mut reads, &StateHash::empty(), &changes)?;
        put_root(&mut changes, &hash);
        let records = kp_types::smt::Tree::new().update(&records_tree::changes_of(&changes));
        changes.insert(keys::records_root_meta(), Some(records.root().0.to_vec()));
        store.commit(&WriteSet { entries: changes })?;
        Ok(())
    }

    fn load(store: S, genesis_hash: Hash) -> Result<Self, LedgerError> {
        let ov = Overlay::new(&store);
        let chain_id: String = required(ov.meta_get(meta::CHAIN_ID)?, "chain id")?;
        let params: Params = required(ov.meta_get(meta::PARAMS)?, "params")?;
        let height: u64 = required(ov.meta_get(meta::HEIGHT)?, "height")?;
        let last_block_hash: Hash = required(ov.meta_get(meta::LAST_HASH)?, "last block hash")?;
        let last_block_time: Timestamp =
            required(ov.meta_get(meta::LAST_TIME)?, "last block time")?;
        let validators: Vec<(ParticipantCode, PublicKey)> =
            required(ov.meta_get(meta::VALIDATORS)?, "validators")?;
        let next_validators: Vec<(ParticipantCode, PublicKey)> =
            required(ov.meta_get(meta::NEXT_VALIDATORS)?, "next validators")?;
        let results_root: Hash = required(ov.meta_get(meta::RESULTS_ROOT)?, "results root")?;
        let corrupt = |key: Vec<u8>, what: &str| StoreError::Corrupt {
            key_hex: key.iter().map(|b| format!("{b:02x}")).collect(),
            detail: what.into(),
        };
        let Some(hash) = store.get(&keys::state_hash_meta())? else {
            // Stores written before the lattice state hash hold a bucket
            // index instead; their chain's roots are of the older scheme.
            if !store
                .scan_prefix(&keys::prefix(keys::table::BUCKET_INDEX), None, 1)?
                .is_empty()
            {
                return Err(LedgerError::OldRootScheme);
            }
            return Err(LedgerError::Missing { what: "state hash" });
        };
        let state_hash = StateHash::from_bytes(&hash)
            .ok_or_else(|| corrupt(keys::state_hash_meta(), "state hash"))?;
        let stored: Hash = match store.get(&keys::root_meta())? {
            Some(v) => Hash(
                <[u8; 32]>::try_from(v.as_slice())
                    .map_err(|_| corrupt(keys::root_meta(), "root"))?,
            ),
            None => return Err(LedgerError::Missing { what: "state root" }),
        };
        // Pair check: the stored state hash must be the one whose root was
        // committed with it.
        if stored != state_hash.root() {
            return Err(LedgerError::RootMismatch {
                computed: state_hash.root(),
                stored,
            });
        }
        let records_root = match store.get(&keys::records_root_meta())? {
            Some(v) => Hash(
                <[u8; 32]>::try_from(v.as_slice())
                    .map_err(|_| corrupt(keys::records_root_meta(), "records root"))?,
            ),
            None => {
                return Err(LedgerError::Missing {
                    what: "records root",
                })
            }
        };
        drop(ov);
        let filter = KeyFilter::build(&store, height)?;
        Ok(Ledger {
            store: Behind::new(store),
            genesis_hash,
            chain_id,
            params,
            height,
            last_block_hash,
            last_block_time,
            state_hash,
            validators,
            next_validators,
            results_root,
            records_root,
            records: None,
            record_versions: RecordVersions::default(),
            verification: SignatureVerification::Batch,
            verified: Mutex::new(None),
            filter,
            memo: ReadMemo::default(),
            writer: false,
        })
    }

    /// Chooses how `apply_block` verifies signatures (batch by default).
    pub fn set_signature_verification(&mut self, mode: SignatureVerification) {
        self.verification = mode;
    }

    /// The underlying store (without the writes applied ahead of it: see
    /// [`Ledger::advance_behind`]).
    pub fn store(&self) -> &S {
        self.store.inner()
    }

    /// The genesis hash this ledger was opened with.
    pub fn genesis_hash(&self) -> Hash {
        self.genesis_hash
    }

    /// The chain id.
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// Last applied height (0: genesis only).
    pub fn height(&self) -> u64 {
        self.height
    }

    /// Hash of the last applied block ([`Hash::ZERO`] at genesis).
    pub fn last_block_hash(&self) -> Hash {
        self.last_block_hash
    }

    /// Time of the last applied block (genesis time at genesis).
    pub fn last_block_time(&self) -> Timestamp {
        self.last_block_time
    }

    /// State root after the last applied block.
    pub fn state_root(&self) -> Hash {
        self.state_hash.root()
    }

    /// Root of the records tree after the last applied block: what the next
    /// block's header carries as `records_root`.
    pub fn records_root(&self) -> Hash {
        self.records_root
    }

    /// Merkle root of the last applied block's transaction results: what the
    /// next block's header carries as `results_root`.
    pub fn results_root(&self) -> Hash {
        self.results_root
    }

    /// The recent versions of the records tree (filled by a ledger that
    /// applies blocks), for proving records against decided headers.
    pub fn record_versions(&self) -> RecordVersions {
        self.record_versions.clone()
    }

    /// The records tree after the last applied block, built from the store
    /// if this ledger has not built it yet, and checked against the stored
    /// root.
    fn records_tree(&mut self) -> Result<kp_types::smt::Tree, LedgerError> {
        if let Some(tree) = &self.records {
            return Ok(tree.clone());
        }
        let tree = records_tree::build(&self.store)?;
        // Pair check: the tree the entries give must be the one whose root
        // was committed with them.
        if tree.root() != self.records_root {
            return Err(LedgerError::RecordsRootMismatch {
                computed: tree.root(),
                stored: self.records_root,
            });
        }
        self.record_versions
            .push(self.height, tree.clone(), Default::default());
        self.records = Some(tree.clone());
        Ok(tree)
    }

    /// Builds the records tree now (a node calls it when it starts, so that
    /// the first block does not wait for it, and proofs are ready).
    pub fn prepare_records(&mut self) -> Result<(), LedgerError> {
        self.records_tree().map(|_| ())
    }

    /// Recomputes the state hash from every committed entry of the store (one
    /// walk of the state: time in proportion to its size) and checks it
    /// against the one maintained block by block. Finds committed entries
    /// changed behind the ledger's back, which opening does not read.
    pub fn verify_state(&self) -> Result<(), LedgerError> {
        let full = crate::root::recompute(&self.store)?;
        if full != self.state_hash {
            return Err(LedgerError::RootMismatch {
                computed: full.root(),
                stored: self.state_hash.root(),
            });
        }
        Ok(())
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Validator node keys for height `height() + 1`, ordered by member code.
    pub fn validators(&self) -> Vec<PublicKey> {
        self.validators.iter().map(|(_, k)| *k).collect()
    }

    /// Validators for `height() + 1` with their member codes, by code.
    pub fn validator_codes(&self) -> Vec<(ParticipantCode, PublicKey)> {
        self.validators.clone()
    }

    /// Validators for `height() + 2` with their member codes, by code: the
    /// government members in good standing after the last applied block.
    pub fn next_validator_codes(&self) -> Vec<(ParticipantCode, PublicKey)> {
        self.next_validators.clone()
    }

    /// Node keys allowed to connect: governments and trading entities not
    /// expelled, observers not removed. Ordered by member code.
    pub fn network_members(&self) -> Vec<PublicKey> {
        self.participants()
            .unwrap_or_default()
            .into_iter()
            .filter(ParticipantRecord::is_active)
            .map(|r| r.participant.node_key)
            .collect()
    }

    /// Checks a transaction for admission: signature, then every rule against
    /// the current state as if executed in the next block at time `now`.
    pub fn check_tx(&self, tx: &SignedTransaction, now: Timestamp) -> Result<(), Rejection> {
        if tx.verify_signature().is_err() {
            return Err(Rejection::BadSignature);
        }
        self.check_tx_rules(tx, now)
    }

    /// [`Ledger::check_tx`] without the signature check, for a transaction
    /// whose signature was already verified (a mempool re-check after each
    /// block: the signature cannot have changed, the state can).
    pub fn check_tx_rules(&self, tx: &SignedTransaction, now: Timestamp) -> Result<(), Rejection> {
        self.check_tx_rules_hashed(tx, tx.hash(), now)
    }

    /// [`Ledger::check_tx_rules`] for a caller that holds the transaction's
    /// hash already (`hash` must be `tx.hash()`): admission and the pool's
    /// re-checks, which key transactions by it, spare hashing it again.
    pub fn check_tx_rules_hashed(
        &self,
        tx: &SignedTransaction,
        hash: TxHash,
        now: Timestamp,
    ) -> Result<(), Rejection> {
        debug_assert_eq!(hash, tx.hash());
        let mut ctx = self.ctx(now).checking();
        match ctx.execute(tx, hash) {
            Ok(result) => result,
            Err(e) => Err(Rejection::StateUnavailable {
                detail: e.to_string(),
            }),
        }
    }

    /// Builds an unsigned block for `height() + 1` at `time` from candidate
    /// transactions, in their order, skipping those that fail `check_tx` in
    /// the state left by the ones before, or that do not fit the limits.
    pub fn build_block(
        &self,
        proposer: PublicKey,
        time: Timestamp,
        candidates: &[SignedTransaction],
    ) -> Block {
        self.build_block_inner(proposer, time, candidates.iter(), true)
            .0
    }

    /// [`Ledger::build_block`] from candidates whose signatures the host has
    /// already verified (a node's pool admits only verified transactions):
    /// it does not verify them again. A candidate with a bad signature would
    /// make the block invalid at every validator, so only vouched-for
    /// candidates belong here. Also returns the hashes of the candidates the
    /// rules refused (in the state left by the ones before them), which the
    /// host may drop from its pool.
    pub fn build_block_from_verified<'a>(
        &self,
        proposer: PublicKey,
        time: Timestamp,
        candidates: impl IntoIterator<Item = &'a SignedTransaction>,
    ) -> (Block, Vec<TxHash>) {
        self.build_block_inner(proposer, time, candidates, false)
    }

    fn build_block_inner<'a>(
        &self,
        proposer: PublicKey,
        time: Timestamp,
        candidates: impl IntoIterator<Item = &'a SignedTransaction>,
        verify: bool,
    ) -> (Block, Vec<TxHash>) {
        let mut refused = Vec::new();
        let mut ctx = self.ctx(time).checking();
        let mut txs = Vec::new();
        let mut hashes = Vec::new();
        if ctx.begin_block().is_ok() {
            let bytes_max = self.params.block_bytes_max as usize;
            let mut bytes = 0usize;
            for stx in candidates {
                if txs.len() >= self.params.block_txs_max as usize {
                    break;
                }
                let (hash, size) = stx.hash_and_size();
                if size > TX_BYTES_MAX || bytes + size > bytes_max {
                    continue;
                }
                if verify && stx.tx.signer.verify(&hash, &stx.signature).is_err() {
                    continue;
                }
                match ctx.execute(stx, hash) {
                    Ok(Ok(())) => {
                        bytes += size;
                        txs.push(stx.clone());
                        hashes.push(hash);
                    }
                    Ok(Err(_)) => refused.push(hash),
                    // The store failed: propose what was gathered so far.
                    Err(_) => break,
                }
            }
        }
        let leaves: Vec<Hash> = txs.iter().map(SignedTransaction::leaf).collect();
        let block = Block {
            header: self.next_header(proposer, time, merkle::root(&leaves)),
            txs,
        };
        (block, refused)
    }

    /// The header of a block for `height() + 1` by `proposer` at `time`
    /// whose transactions have the Merkle root `txs_root` (of their leaves,
    /// `SignedTransaction::leaf`; `Block::compute_txs_root`): every other
    /// field is the ledger's own (what `validate_block` checks).
    pub fn next_header(&self, proposer: PublicKey, time: Timestamp, txs_root: Hash) -> BlockHeader {
        BlockHeader {
            chain_id: self.chain_id.clone(),
            height: self.height + 1,
            time,
            proposer,
            prev_hash: self.last_block_hash,
            txs_root,
            state_root: self.state_root(),
            validators_hash: self.validator_set_hash(),
            next_validators_hash: self.next_validator_set_hash(),
            results_root: self.results_root,
            records_root: self.records_root,
        }
    }

    /// Executes a decided block and commits its state changes together with
    /// `host_writes` (keys at or above 0x80) in one store commit. Fails only on
    /// a storage failure or a structurally invalid block; then nothing is
    /// written and the ledger is unchanged. The same as [`Ledger::execute`],
    /// [`Pending::add_host_writes`] and [`Ledger::advance`].
    pub fn apply_block(
        &mut self,
        block: &Block,
        host_writes: WriteSet,
    ) -> Result<BlockReceipt, LedgerError> {
        let mut pending = self.execute(block)?;
        pending.add_host_writes(host_writes)?;
        self.advance(pending)
    }

    /// Executes a decided block without changing the ledger: its state
    /// changes and receipts, to be completed by the host's writes (the block
    /// by height, its receipts: [`Pending::add_host_writes`]) and committed
    /// in one store commit by [`Ledger::advance`]. Fails on a storage failure
    /// or a structurally invalid block.
    pub fn execute(&mut self, block: &Block) -> Result<Pending, LedgerError> {
        self.execute_with(block, &|_, _| false)
    }

    /// [`Ledger::execute`] that skips the signature check of every
    /// transaction for which `verified(hash, signature)` holds, as
    /// [`Ledger::validate_block_with`] does: validation and execution in one
    /// pass, each transaction encoded and hashed once (a synced block is
    /// not validated first and then again here). An invalid block is
    /// [`LedgerError::InvalidBlock`] and changes nothing.
    pub fn execute_with(
        &mut self,
        block: &Block,
        verified: &dyn Fn(&TxHash, &kp_types::Signature) -> bool,
    ) -> Result<Pending, LedgerError> {
        let hashes = self.validate_block_hashes(block, verified)?;
        // On in release builds too: the applied height rises by exactly one
        // and the chain links, whatever the validation above let through.
        assert!(
            block.header.height == self.height + 1
                && block.header.prev_hash == self.last_block_hash,
            "ledger: block {} (previous {}) does not follow height {} ({})",
            block.header.height,
            block.header.prev_hash,
            self.height,
            self.last_block_hash
        );
        let records = self.records_tree()?;
        let block_hash = block.hash();
        let time = block.header.time;
        let mut ctx = self.ctx(time);
        ctx.begin_block()?;
        let mut receipts = Vec::with_capacity(block.txs.len());
        for (stx, hash) in block.txs.iter().zip(hashes) {
            let result = ctx.execute(stx, hash)?;
            receipts.push(TxReceipt {
                tx_hash: hash,
                result,
            });
        }
        ctx.end_block();
        let results: Vec<Hash> = receipts
            .iter()
            .map(|r| {
                let code = r.result.as_ref().err().map(Rejection::code);
                kp_types::result_leaf(&r.tx_hash, code)
            })
            .collect();
        let results_root = merkle::root(&results);
        ctx.ov.meta_put(meta::HEIGHT, &(self.height + 1));
        ctx.ov.meta_put(meta::LAST_HASH, &block_hash);
        ctx.ov.meta_put(meta::LAST_TIME, &time);
        ctx.ov.meta_put(meta::RESULTS_ROOT, &results_root);
        ctx.ov
            .put_value(keys::block_hash(self.height + 1), &block_hash);
        ctx.ov.commit_tx();
        // The members in good standing after this block validate the height
        // after next (the next height's set was fixed one block ago, so that
        // a header always names the set that decides its successor). They
        // follow from the member records alone: read them again (a scan of
        // the member table) only if the block wrote one.
        let next_validators = if ctx.ov.writes_under(&keys::prefix(keys::table::PARTICIPANT)) {
            ctx.ov.active_governments()?
        } else {
            self.next_validators.clone()
        };
        let validators = self.next_validators.clone();
        if validators != self.validators {
            ctx.ov.meta_put(meta::VALIDATORS, &validators);
        }
        if next_validators != self.next_validators {
            ctx.ov.meta_put(meta::NEXT_VALIDATORS, &next_validators);
            // Every set the chain has had stays readable by its hash, the
            // one headers carry, for light clients.
            ctx.ov.put_value(
                keys::validator_set(&kp_types::validator_set_hash(&next_validators)),
                &next_validators,
            );
        }
        ctx.ov.commit_tx();
        let mut events = std::mem::take(&mut ctx.events);
        if validators != self.validators {
            events.push(LedgerEvent::ValidatorSetChanged {
                validators: validators.clone(),
            });
        }
        let (mut changes, mut reads) = ctx.ov.into_changes_and_reads();
        let state_hash = next_state_hash(&self.store, &mut reads, &self.state_hash, &changes)?;
        let state_root = put_root(&mut changes, &state_hash);
        let undo = records_tree::undo_of(&changes, &reads);
        let records = records.update(&records_tree::changes_of(&changes));
        let records_root = records.root();
        changes.insert(keys::records_root_meta(), Some(records_root.0.to_vec()));
        // What the filter needs of the writes, before they move into the
        // store: `reads` holds the previous value of every ledger key written.
        let noted: Vec<(Vec<u8>, bool, bool)> = changes
            .iter()
            .filter(|(k, _)| KeyFilter::tracks(k))
            .map(|(k, v)| {
                let existed = reads.get(k).is_some_and(|old| old.is_some());
                (k.clone(), v.is_some(), existed)
            })
            .collect();
        Ok(Pending {
            writes: WriteSet { entries: changes },
            receipt: BlockReceipt {
                height: self.height + 1,
                block_hash,
                state_root,
                receipts,
                events,
            },
            next: NextState {
                prev_hash: self.last_block_hash,
                state_hash,
                time,
                validators,
                next_validators,
                results_root,
                records,
                undo,
                noted,
            },
        })
    }

    /// Commits an executed block (its state changes and the host's writes,
    /// in one store commit) and moves the ledger past it. Refused while
    /// blocks applied ahead of the store are not yet written.
    pub fn advance(&mut self, pending: Pending) -> Result<BlockReceipt, LedgerError> {
        self.advance_with(pending, |store, writes| store.commit_owned(writes))
    }

    /// Moves the ledger past an executed block whose writes the host has not
    /// made durable yet: they are kept on top of the store, read as if
    /// written, until the host takes them ([`Ledger::take_behind`]), writes
    /// them and says so ([`Ledger::behind_written`]). For replaying many
    /// blocks while the last ones are written; nothing about such a block
    /// may be acknowledged before its write is durable.
    pub fn advance_behind(&mut self, pending: Pending) -> Result<BlockReceipt, LedgerError> {
        self.advance_with(pending, |store, writes| {
            store.push(writes);
            Ok(())
        })
    }

    /// Moves the ledger past `pending` once `write` has put its writes
    /// where reads find them (the store, or the layers on top of it).
    fn advance_with(
        &mut self,
        pending: Pending,
        write: impl FnOnce(&mut Behind<S>, WriteSet) -> Result<(), StoreError>,
    ) -> Result<BlockReceipt, LedgerError> {
        self.check_follows(&pending)?;
        let Pending {
            writes,
            receipt,
            next,
        } = pending;
        let written = write(&mut self.store, writes);
        // Whatever the outcome, the memo may no longer be the store's state.
        self.memo.clear();
        written?;
        self.moved_past(&receipt, next);
        Ok(receipt)
    }

    /// The writes of the blocks applied ahead of the store since the last
    /// take, to write (in the order taken, one at a time: refused while an
    /// earlier one is not yet written). `None` if there are none.
    pub fn take_behind(&mut self) -> Result<Option<Arc<WriteSet>>, LedgerError> {
        if self.store.taken_unwritten() {
            return Err(LedgerError::WriteBehindInFlight);
        }
        Ok(self.store.take())
    }

    /// The write last taken with [`Ledger::take_behind`] is durable. Returns
    /// whether one was waiting.
    pub fn behind_written(&mut self) -> bool {
        self.store.written()
    }

    /// Writes what is applied ahead of the store, here and now (after any
    /// taken write is done).
    pub fn flush_behind(&mut self) -> Result<(), LedgerError> {
        if let Some(writes) = self.take_behind()? {
            self.store.inner().commit(&writes)?;
            self.store.written();
        }
        Ok(())
    }

    /// Whether blocks applied ahead of the store are not yet written.
    pub fn is_behind(&self) -> bool {
        self.store.holds_writes()
    }

    fn check_follows(&self, pending: &Pending) -> Result<(), LedgerError> {
        if pending.receipt.height != self.height + 1
            || pending.next.prev_hash != self.last_block_hash
        {
            return Err(LedgerError::StalePending {
                height: pending.receipt.height,
                current: self.height,
            });
        }
        Ok(())
    }

    fn moved_past(&mut self, receipt: &BlockReceipt, next: NextState) {
        self.state_hash = next.state_hash;
        self.height += 1;
        self.writer = true;
        let noted = next
            .noted
            .iter()
            .map(|(k, put, existed)| (k.as_slice(), *put, *existed));
        if self.filter.note(noted, self.height) {
            // Most of the filter is deleted keys: read the live ones anew.
            // If that read fails, the noted filter is still a correct one.
            if let Ok(rebuilt) = KeyFilter::build(&self.store, self.height) {
                self.filter = rebuilt;
            }
        }
        self.last_block_hash = receipt.block_hash;
        self.last_block_time = next.time;
        self.validators = next.validators;
        self.next_validators = next.next_validators;
        self.results_root = next.results_root;
        self.records_root = next.records.root();
        self.record_versions
            .push(self.height, next.records.clone(), next.undo);
        self.records = Some(next.records);
    }

    /// The one way a block or a check starts executing: a context for the
    /// next height at `time`, over this ledger's store, with its key filter
    /// and read memo when they describe the store.
    fn ctx(&self, time: Timestamp) -> Ctx<'_, Behind<S>> {
        Ctx::new(
            &self.store,
            &self.params,
            &self.chain_id,
            self.height + 1,
            time,
        )
        .with_filter(self.filter())
        .with_memo(self.memo())
    }

    /// The key filter if it describes the store as it is now: this ledger
    /// has applied blocks, so every block since the filter was built went
    /// through it. A second ledger over the same store (read-only, for
    /// queries) never applies one and reads the store instead.
    fn filter(&self) -> Option<&KeyFilter> {
        (self.writer && self.filter.height() == self.height).then_some(&self.filter)
    }

    /// The memo of small-table values, under the same condition as the
    /// filter: this ledger applies the blocks, so it clears the memo at
    /// every change of the store. A read-only ledger over the same store
    /// (the node's query ledger) reads the store instead.
    fn memo(&self) -> Option<&ReadMemo> {
        self.writer.then_some(&self.memo)
    }
}

/// A block executed by [`Ledger::execute`] and not yet committed: its
/// writes, its receipt, and what the ledger becomes once it advances.
#[derive(Debug)]
#[must_use = "an executed block changes nothing until the ledger advances past it"]
pub struct Pending {
    writes: WriteSet,
    receipt: BlockReceipt,
    next: NextState,
}

/// The ledger's memory after a pending block.
#[derive(Debug)]
struct NextState {
    prev_hash: Hash,
    state_hash: StateHash,
    time: Timestamp,
    validators: Vec<(ParticipantCode, PublicKey)>,
    next_validators: Vec<(ParticipantCode, PublicKey)>,
    results_root: Hash,
    records: kp_types::smt::Tree,
    undo: records_tree::Undo,
    noted: Vec<(Vec<u8>, bool, bool)>,
}

impl Pending {
    /// The block's receipt: one result per transaction, the events, the new
    /// state root.
    pub fn receipt(&self) -> &BlockReceipt {
        &self.receipt
    }

    /// Adds the host's writes (keys at or above
    /// [`crate::HOST_KEY_PREFIX_MIN`]) to the block's commit.
    pub fn add_host_writes(&mut self, host_writes: WriteSet) -> Result<(), LedgerError> {
        if let Some(k) = host_writes
            .entries
            .keys()
            .find(|k| k.first().is_none_or(|b| *b < HOST_KEY_PREFIX_MIN))
        {
            return Err(LedgerError::HostKeyInLedgerRange {
                key_hex: crate::overlay::hex_of(k),
            });
        }
        self.writes.extend(host_writes);
        Ok(())
    }

    /// Every write of the block's commit so far.
    pub fn writes(&self) -> &WriteSet {
        &self.writes
    }
}

/// Converts the index of certificates by authority that earlier builds
/// wrote (0x19, one entry per certificate: authority id, 0x00, number) into
/// the territories each authority issued under (0x1B), a page at a time,
/// each page one commit. Neither table is committed to by the state root,
/// so the root does not change; a crash between pages leaves the rest for
/// the next open. Nothing to do on a store this build started.
fn convert_authority_index<S: StateStore>(store: &S) -> Result<(), LedgerError> {
    const PAGE: usize = 4096;
    let old = keys::prefix(keys::table::CERTIFICATE_BY_AUTHORITY);
    loop {
        let page = store.scan_prefix(&old, None, PAGE)?;
        if page.is_empty() {
            return Ok(());
        }
        let mut writes = WriteSet::default();
        for (key, _) in page {
            let rest = &key[old.len()..];
            let parsed = rest.iter().position(|b| *b == 0).and_then(|split| {
                let id = std::str::from_utf8(&rest[..split]).ok()?;
                let number = std::str::from_utf8(&rest[split + 1..]).ok()?;
                let number = kp_types::CertificateNumber::new(number).ok()?;
                Some(keys::authority_territory(id, &number.territory_prefix()))
            });
            let Some(territory_key) = parsed else {
                return Err(StoreError::Corrupt {
                    key_hex: crate::overlay::hex_of(&key),
                    detail: "not an authority id, 0x00 and a certificate number".into(),
                }
                .into());
            };
            writes.put(territory_key, Vec::new());
            writes.delete(key);
        }
        store.commit_owned(writes)?;
    }
}
