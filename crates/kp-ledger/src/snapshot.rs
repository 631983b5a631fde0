//! State snapshots: the committed state of one height, cut into chunks, and
//! its restoration into an empty store, verified against a state root the
//! caller trusts (ADR 0016).
//!
//! A late joiner does not replay every block from genesis: it restores the
//! state of a recent height `h` from a snapshot and follows blocks from
//! `h + 1`. What makes a snapshot trustworthy is not its source: the header
//! of `h + 1`, verified by its commit certificate (a light client's work),
//! carries the state root and the records root after `h`, and a restored
//! state must hash to both. A node that serves a snapshot can waste the
//! joiner's time (it then asks another), never make it accept another
//! state.
//!
//! * A snapshot is every committed entry (`kp_api::keys::is_committed`) in
//!   key order, cut into chunks of at most [`Manifest::chunk_bytes_max`]
//!   encoded bytes. The [`Manifest`] names the chain, the height, the roots
//!   and each chunk's hash and size.
//! * [`Restore`] takes the chunks in order. Each must hash as the manifest
//!   says, decode within its size, hold only committed keys, and follow on
//!   from the previous chunk's last key (strictly increasing: no entry
//!   twice). Its entries are written at once, one commit per chunk, and
//!   added to the state hash.
//! * [`Restore::finish`] compares the state hash's root with the trusted
//!   root, rebuilds what the state root leaves out (the territories
//!   each authority issued under), writes the root machinery, and opens the
//!   ledger, which rebuilds the records tree and checks it against the
//!   trusted records root: a second, independent check of the same state.
//!
//! Restore into a store nobody else uses (a directory beside the data
//! directory, moved into place on success): a restore that stops half-way
//! leaves a store without a state hash, which [`Ledger::open`] refuses.

use crate::keys;
use crate::ledger::Ledger;
use crate::overlay::hex_of;
use crate::root::StateHash;
use crate::store::{StateStore, StoreError, WriteSet};
use crate::Genesis;
use crate::LedgerError;
use kp_api::records::CertificateRecord;
use kp_types::{Domain, Hash};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Default largest encoded chunk (1 MiB): well under the network's message
/// limit, and a few thousand records.
pub const CHUNK_BYTES_DEFAULT: usize = 1024 * 1024;

/// Largest chunk a restore accepts, whatever a manifest says (16 MiB).
pub const CHUNK_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Most chunks one manifest may list (a state of 64 GiB at the largest
/// chunks: far beyond the ledger's scale).
pub const CHUNKS_MAX: usize = 4096;

/// Largest encoded manifest.
pub const MANIFEST_BYTES_MAX: usize = 4096 * 64 + 4096;

/// Page size of the walk that cuts chunks.
const PAGE: usize = 1024;

/// What a snapshot holds and how it is cut.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The chain.
    pub chain_id: String,
    /// The genesis the chain started from.
    pub genesis_hash: Hash,
    /// The height whose state this is (every block up to it applied).
    pub height: u64,
    /// The hash of the block at `height`.
    pub block_hash: Hash,
    /// The state root after `height`: the header of `height + 1` carries it.
    pub state_root: Hash,
    /// The records root after `height`: the header of `height + 1` carries it.
    pub records_root: Hash,
    /// The largest encoded chunk.
    pub chunk_bytes_max: u64,
    /// The chunks, in order.
    pub chunks: Vec<ChunkInfo>,
}

/// One chunk of a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkInfo {
    /// [`chunk_hash`] of its bytes.
    pub hash: Hash,
    /// Its encoded size.
    pub bytes: u64,
    /// How many entries it holds.
    pub entries: u64,
}

impl Manifest {
    /// The manifest's identity (what a joiner names when it asks for a chunk).
    pub fn hash(&self) -> Hash {
        Hash::of_parts(
            Domain::Document,
            &[b"kpledger state snapshot manifest", &kp_types::encode(self)],
        )
    }

    /// The manifest from its encoding, within [`MANIFEST_BYTES_MAX`].
    pub fn decode(bytes: &[u8]) -> Result<Manifest, SnapshotError> {
        let manifest: Manifest = kp_types::decode(bytes, MANIFEST_BYTES_MAX)
            .map_err(|e| SnapshotError::Malformed(format!("manifest: {e}")))?;
        if manifest.chunks.len() > CHUNKS_MAX {
            return Err(SnapshotError::Malformed(format!(
                "manifest lists {} chunks, more than {CHUNKS_MAX}",
                manifest.chunks.len()
            )));
        }
        Ok(manifest)
    }

    /// Every entry's bytes together.
    pub fn total_bytes(&self) -> u64 {
        self.chunks.iter().map(|c| c.bytes).sum()
    }
}

/// The hash of a chunk's bytes.
pub fn chunk_hash(bytes: &[u8]) -> Hash {
    Hash::of_parts(Domain::Document, &[b"kpledger state snapshot chunk", bytes])
}

/// Why a snapshot was not taken or not restored.
#[derive(Debug, Error)]
pub enum SnapshotError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ledger refused the restored state.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The manifest is not of this chain or not the one trusted.
    #[error("the snapshot is not the one trusted: {0}")]
    Untrusted(String),
    /// A chunk's bytes are not the ones the manifest names.
    #[error("chunk {index}: its hash is {found}, the manifest says {expected}")]
    ChunkHash {
        /// The chunk.
        index: usize,
        /// What the manifest says.
        expected: Hash,
        /// What the bytes hash to.
        found: Hash,
    },
    /// A chunk came out of order.
    #[error("chunk {found} came while chunk {expected} was due")]
    OutOfOrder {
        /// The chunk due.
        expected: usize,
        /// The chunk that came.
        found: usize,
    },
    /// Bytes that are not a snapshot's.
    #[error("malformed snapshot: {0}")]
    Malformed(String),
    /// The restored state does not hash to the trusted root.
    #[error("the restored state hashes to {computed}, the trusted header says {trusted}")]
    RootMismatch {
        /// The root of what was restored.
        computed: Hash,
        /// The trusted root.
        trusted: Hash,
    },
    /// The store to restore into is not empty.
    #[error("the store to restore into already holds data")]
    NotEmpty,
}

/// Cuts the committed state of `store` into chunks (`chunk_bytes_max`
/// encoded bytes at most, however large one entry is: an entry larger than
/// that is a chunk of its own), handing each to `sink` in order, and
/// returns the manifest. The caller keeps the store from changing
/// meanwhile. The state hash of what was cut is checked against the
/// ledger's stored root, so a snapshot of a damaged store is refused.
pub fn take<S: StateStore>(
    ledger: &Ledger<S>,
    chunk_bytes_max: usize,
    mut sink: impl FnMut(usize, &[u8]) -> Result<(), SnapshotError>,
) -> Result<Manifest, SnapshotError> {
    let store = ledger.store();
    let mut hash = StateHash::empty();
    let mut chunks = Vec::new();
    let mut chunk: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    // The length prefix of an encoded list.
    let mut chunk_bytes = 8usize;
    let mut emit = |chunk: &mut Vec<(Vec<u8>, Vec<u8>)>,
                    chunks: &mut Vec<ChunkInfo>|
     -> Result<(), SnapshotError> {
        if chunk.is_empty() {
            return Ok(());
        }
        let bytes = kp_types::encode(&*chunk);
        sink(chunks.len(), &bytes)?;
        chunks.push(ChunkInfo {
            hash: chunk_hash(&bytes),
            bytes: bytes.len() as u64,
            entries: chunk.len() as u64,
        });
        chunk.clear();
        Ok(())
    };
    for table in 0..keys::table::ROOT_MACHINERY_MIN {
        if !keys::is_committed(&[table]) {
            continue;
        }
        let mut cursor: Option<Vec<u8>> = None;
        loop {
            let page = store.scan_prefix(&[table], cursor.as_deref(), PAGE)?;
            let full = page.len() == PAGE;
            cursor = page.last().map(|(k, _)| k.clone());
            for (k, v) in page {
                hash.insert(&k, &v);
                let size = kp_types::encoding::encoded_len(&(&k, &v));
                if chunk_bytes + size > chunk_bytes_max && !chunk.is_empty() {
                    emit(&mut chunk, &mut chunks)?;
                    chunk_bytes = 8;
                }
                chunk_bytes += size;
                chunk.push((k, v));
            }
            if !full {
                break;
            }
        }
    }
    emit(&mut chunk, &mut chunks)?;
    if chunks.len() > CHUNKS_MAX {
        return Err(SnapshotError::Malformed(format!(
            "the state needs {} chunks, more than {CHUNKS_MAX}: use larger chunks",
            chunks.len()
        )));
    }
    if hash.root() != ledger.state_root() {
        return Err(SnapshotError::RootMismatch {
            computed: hash.root(),
            trusted: ledger.state_root(),
        });
    }
    Ok(Manifest {
        chain_id: ledger.chain_id().to_string(),
        genesis_hash: ledger.genesis_hash(),
        height: ledger.height(),
        block_hash: ledger.last_block_hash(),
        state_root: ledger.state_root(),
        records_root: ledger.records_root(),
        chunk_bytes_max: chunk_bytes_max as u64,
        chunks,
    })
}

/// The roots a restore must reach, from a header the caller verified: the
/// header of `height + 1` (its `state_root`, `records_root` and
/// `prev_hash`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trusted {
    /// The height whose state is restored.
    pub height: u64,
    /// The hash of the block at `height` (the next header's `prev_hash`).
    pub block_hash: Hash,
    /// The state root after `height`.
    pub state_root: Hash,
    /// The records root after `height`.
    pub records_root: Hash,
}

/// A restore in progress: chunks in, in order, into an empty store.
pub struct Restore<'g, S: StateStore> {
    genesis: &'g Genesis,
    store: S,
    manifest: Manifest,
    next: usize,
    last_key: Option<Vec<u8>>,
    hash: StateHash,
}

impl<'g, S: StateStore> Restore<'g, S> {
    /// Starts a restore of `manifest` into `store`, which must hold no
    /// ledger entry.
    /// The manifest must be of `genesis`'s chain and name exactly the
    /// `trusted` height, block and roots.
    pub fn new(
        genesis: &'g Genesis,
        store: S,
        manifest: Manifest,
        trusted: Trusted,
    ) -> Result<Self, SnapshotError> {
        if manifest.chain_id != genesis.chain_id {
            return Err(SnapshotError::Untrusted(format!(
                "it is of chain {:?}, this node runs {:?}",
                manifest.chain_id, genesis.chain_id
            )));
        }
        if manifest.genesis_hash != genesis.hash() {
            return Err(SnapshotError::Untrusted(
                "it starts from another genesis".into(),
            ));
        }
        let named = Trusted {
            height: manifest.height,
            block_hash: manifest.block_hash,
            state_root: manifest.state_root,
            records_root: manifest.records_root,
        };
        if named != trusted {
            return Err(SnapshotError::Untrusted(format!(
                "it names height {} (block {}, state root {}), the trusted header height {} (block {}, state root {})",
                named.height,
                named.block_hash,
                named.state_root,
                trusted.height,
                trusted.block_hash,
                trusted.state_root
            )));
        }
        if manifest.chunks.len() > CHUNKS_MAX || manifest.chunk_bytes_max as usize > CHUNK_BYTES_MAX
        {
            return Err(SnapshotError::Malformed(
                "more chunks, or larger ones, than a restore takes".into(),
            ));
        }
        // No ledger entry yet (a host's own marks, such as the store's
        // schema, sort after every ledger table).
        if store
            .scan_prefix(&[], None, 1)?
            .first()
            .is_some_and(|(k, _)| k.first().is_some_and(|t| *t < crate::HOST_KEY_PREFIX_MIN))
        {
            return Err(SnapshotError::NotEmpty);
        }
        Ok(Restore {
            genesis,
            store,
            manifest,
            next: 0,
            last_key: None,
            hash: StateHash::empty(),
        })
    }

    /// The manifest being restored.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The index of the chunk due next (`None`: all applied).
    pub fn next_chunk(&self) -> Option<usize> {
        (self.next < self.manifest.chunks.len()).then_some(self.next)
    }

    /// Checks chunk `index` and writes its entries. Nothing is written for
    /// a refused chunk, and the restore can go on with the right bytes.
    pub fn apply(&mut self, index: usize, bytes: &[u8]) -> Result<(), SnapshotError> {
        if index != self.next {
            return Err(SnapshotError::OutOfOrder {
                expected: self.next,
                found: index,
            });
        }
        let Some(info) = self.manifest.chunks.get(index).copied() else {
            return Err(SnapshotError::OutOfOrder {
                expected: self.next,
                found: index,
            });
        };
        let found = chunk_hash(bytes);
        if found != info.hash || bytes.len() as u64 != info.bytes {
            return Err(SnapshotError::ChunkHash {
                index,
                expected: info.hash,
                found,
            });
        }
        let limit = (self.manifest.chunk_bytes_max as usize)
            .max(bytes.len())
            .min(CHUNK_BYTES_MAX);
        let entries: Vec<(Vec<u8>, Vec<u8>)> = kp_types::decode(bytes, limit)
            .map_err(|e| SnapshotError::Malformed(format!("chunk {index}: {e}")))?;
        if entries.len() as u64 != info.entries || entries.is_empty() {
            return Err(SnapshotError::Malformed(format!(
                "chunk {index} holds {} entries, the manifest says {}",
                entries.len(),
                info.entries
            )));
        }
        let mut last = self.last_key.clone();
        let mut writes = WriteSet::default();
        let mut hash = self.hash.clone();
        for (k, v) in entries {
            if !keys::is_committed(&k) {
                return Err(SnapshotError::Malformed(format!(
                    "chunk {index} holds a key outside the committed state ({})",
                    hex_of(&k)
                )));
            }
            if last.as_ref().is_some_and(|l| *l >= k) {
                return Err(SnapshotError::Malformed(format!(
                    "chunk {index}: keys out of order at {}",
                    hex_of(&k)
                )));
            }
            hash.insert(&k, &v);
            last = Some(k.clone());
            writes.put(k, v);
        }
        self.store.commit_owned(writes)?;
        self.hash = hash;
        self.last_key = last;
        self.next += 1;
        Ok(())
    }

    /// Ends the restore: the state must hash to the trusted root. Writes
    /// what the root leaves out and opens the ledger, which checks the
    /// records tree against the trusted records root.
    pub fn finish(self) -> Result<Ledger<S>, SnapshotError> {
        if self.next != self.manifest.chunks.len() {
            return Err(SnapshotError::Malformed(format!(
                "the restore ended after {} of {} chunks",
                self.next,
                self.manifest.chunks.len()
            )));
        }
        let computed = self.hash.root();
        if computed != self.manifest.state_root {
            return Err(SnapshotError::RootMismatch {
                computed,
                trusted: self.manifest.state_root,
            });
        }
        let mut writes = WriteSet::default();
        // The territories each authority issued under, from the records.
        let prefix = keys::prefix(keys::table::CERTIFICATE);
        let mut cursor: Option<Vec<u8>> = None;
        loop {
            let page = self.store.scan_prefix(&prefix, cursor.as_deref(), PAGE)?;
            let full = page.len() == PAGE;
            cursor = page.last().map(|(k, _)| k.clone());
            for (k, v) in &page {
                let record: CertificateRecord =
                    kp_types::decode(v, kp_types::encoding::DECODE_BYTES_MAX).map_err(|e| {
                        StoreError::Corrupt {
                            key_hex: hex_of(k),
                            detail: e.to_string(),
                        }
                    })?;
                writes.put(
                    keys::authority_territory(
                        record.certificate.issuing_authority.as_str(),
                        &record.certificate.number.territory_prefix(),
                    ),
                    Vec::new(),
                );
            }
            if !full {
                break;
            }
        }
        writes.put(keys::root_meta(), computed.0.to_vec());
        writes.put(keys::state_hash_meta(), self.hash.to_bytes());
        writes.put(
            keys::records_root_meta(),
            self.manifest.records_root.0.to_vec(),
        );
        self.store.commit_owned(writes)?;
        let mut ledger = Ledger::open(self.genesis, self.store)?;
        if ledger.height() != self.manifest.height
            || ledger.last_block_hash() != self.manifest.block_hash
        {
            return Err(SnapshotError::Untrusted(format!(
                "the restored state is at height {} (block {}), the manifest says {} ({})",
                ledger.height(),
                ledger.last_block_hash(),
                self.manifest.height,
                self.manifest.block_hash
            )));
        }
        ledger.prepare_records()?;
        Ok(ledger)
    }
}
