//! The block store: decided blocks, their commit certificates, receipts and
//! indexes, kept in the host key range of the state store.
//!
//! Writing is a pure function, [`BlockStore::block_writes`], that turns one
//! decided block into [`WriteSet`] entries. The node hands them to the ledger
//! as `host_writes`, and the ledger commits them together with the block's
//! state changes in one atomic [`StateStore::commit`]. So a block is never
//! stored without its state changes, nor the reverse, and the "last stored
//! block height" always equals the ledger's applied height after a crash.
//!
//! Reading goes through any [`StateStore`] (the node's `kp_storage::SledStore`,
//! or the simulator's `MemStore`). Every value read is decoded with a size
//! limit and checked against its key ("pair assertions": what was checked
//! before writing is checked again after reading); a mismatch is
//! [`StoreError::Corrupt`], never a panic.

use crate::error::key_hex;
use crate::keys::{
    block_hash_key, decode_value, encode_value, height_key, height_of_key, last_block_key,
    table_prefix, tx_key, tx_prefix, unwrap_raw, wrap_raw, BASE_KEY, TABLE_BLOCK, TABLE_COMMIT,
    TABLE_RECEIPTS, VALUE_V2_LOCATION_IN_KEY,
};
use kp_ledger::{Inconsistency, StoreError};
use kp_ledger::{StateStore, WriteSet};
use kp_types::block::BLOCK_BYTES_MAX;
use kp_types::encoding::DECODE_BYTES_MAX;
use kp_types::{Block, CommitCertificate, Hash, TxHash};

/// Largest encoded commit certificate stored. A certificate carries one
/// signature (about 100 bytes) per validator; the whole KP (about 60
/// governments) needs about 6 KiB, so this leaves room for any membership.
pub const COMMIT_CERTIFICATE_BYTES_MAX: usize = 1024 * 1024;

/// Largest receipts value stored (the decoder's own ceiling).
pub const RECEIPTS_BYTES_MAX: usize = DECODE_BYTES_MAX;

/// Most blocks [`BlockStore::blocks_from`] returns in one call.
pub const BLOCK_RANGE_MAX: usize = 256;

/// Most occurrences of one transaction hash [`BlockStore::tx_locations`] returns.
pub const TX_LOCATIONS_MAX: usize = 64;

/// The block store's writers and readers. It holds no state: readers take the
/// store to read from, so the same code serves a node and the simulator.
#[derive(Clone, Copy, Debug, Default)]
pub struct BlockStore;

impl BlockStore {
    /// The entries that store `block` with its `certificate` and the
    /// ledger's encoded `receipts_bytes`: the block by height, the height by
    /// block hash, the certificate by height, one index entry per
    /// transaction, the receipts by height, and the new last stored height.
    ///
    /// # Panics
    ///
    /// If [`BlockStore::try_block_writes`] refuses the inputs: the certificate
    /// does not certify this block, the block claims height 0, or a part is
    /// larger than its reader accepts. Consensus hands the node a block with
    /// its own certificate, already checked against [`BLOCK_BYTES_MAX`], so
    /// any of these is a bug in the caller; storing it would leave a store that
    /// fails its own consistency check.
    pub fn block_writes(
        block: &Block,
        certificate: &CommitCertificate,
        receipts_bytes: &[u8],
    ) -> WriteSet {
        match BlockStore::try_block_writes(block, certificate, receipts_bytes) {
            Ok(writes) => writes,
            // A broken invariant of the caller: see "Panics" above.
            #[allow(clippy::panic)]
            Err(error) => panic!("refusing to store block: {error}"),
        }
    }

    /// [`BlockStore::block_writes`] for callers that would rather handle a
    /// refusal than crash.
    pub fn try_block_writes(
        block: &Block,
        certificate: &CommitCertificate,
        receipts_bytes: &[u8],
    ) -> Result<WriteSet, StoreError> {
        let tx_hashes: Vec<TxHash> = block.txs.iter().map(|tx| tx.hash()).collect();
        BlockStore::try_block_writes_hashed(block, certificate, receipts_bytes, &tx_hashes)
    }

    /// [`BlockStore::try_block_writes`] with the hashes of the block's
    /// transactions, in order, already computed (the ledger's receipts hold
    /// them): each transaction is not encoded and hashed once more. A list
    /// of another length is refused.
    pub fn try_block_writes_hashed(
        block: &Block,
        certificate: &CommitCertificate,
        receipts_bytes: &[u8],
        tx_hashes: &[TxHash],
    ) -> Result<WriteSet, StoreError> {
        let height = block.header.height;
        if tx_hashes.len() != block.txs.len() {
            return Err(Inconsistency::TxHashesMismatch {
                height,
                txs: block.txs.len(),
                hashes: tx_hashes.len(),
            }
            .into());
        }
        let block_hash = block.hash();
        if height == 0 {
            return Err(Inconsistency::BlockAtGenesis.into());
        }
        if certificate.height != height || certificate.block_hash != block_hash {
            return Err(Inconsistency::CertificateMismatch {
                height,
                certified_height: certificate.height,
                certified_hash: certificate.block_hash,
                block_hash,
            }
            .into());
        }
        let block_bytes = kp_types::encode(block);
        check_len("block", block_bytes.len(), BLOCK_BYTES_MAX)?;
        let certificate_bytes = kp_types::encode(certificate);
        check_len(
            "commit certificate",
            certificate_bytes.len(),
            COMMIT_CERTIFICATE_BYTES_MAX,
        )?;
        check_len("receipts", receipts_bytes.len(), RECEIPTS_BYTES_MAX)?;

        let mut writes = WriteSet::default();
        writes.put(height_key(TABLE_BLOCK, height), wrap_raw(&block_bytes));
        writes.put(block_hash_key(&block_hash), encode_value(&height));
        writes.put(
            height_key(TABLE_COMMIT, height),
            wrap_raw(&certificate_bytes),
        );
        for (index, tx_hash) in tx_hashes.iter().enumerate() {
            let position = u32::try_from(index).map_err(|_| StoreError::TooLarge {
                what: "transactions in a block",
                len: block.txs.len(),
                limit: u32::MAX as usize,
            })?;
            debug_assert_eq!(*tx_hash, block.txs[index].hash());
            // The key ends with the location: the value repeats nothing
            // (schema 2; 12 bytes a transaction less than schema 1).
            writes.put(
                tx_key(tx_hash, height, position),
                vec![VALUE_V2_LOCATION_IN_KEY],
            );
        }
        writes.put(height_key(TABLE_RECEIPTS, height), wrap_raw(receipts_bytes));
        writes.put(last_block_key(), encode_value(&height));
        Ok(writes)
    }

    /// The block at `height`.
    pub fn block<S: StateStore + ?Sized>(
        store: &S,
        height: u64,
    ) -> Result<Option<Block>, StoreError> {
        let key = height_key(TABLE_BLOCK, height);
        let Some(value) = store.get(&key)? else {
            return Ok(None);
        };
        let block: Block = decode_value(&key, &value, BLOCK_BYTES_MAX)?;
        if block.header.height != height {
            return Err(corrupt(
                &key,
                format!(
                    "block of height {} stored at height {height}",
                    block.header.height
                ),
            ));
        }
        Ok(Some(block))
    }

    /// The height of the block whose hash is `hash`.
    pub fn height_of<S: StateStore + ?Sized>(
        store: &S,
        hash: &Hash,
    ) -> Result<Option<u64>, StoreError> {
        let key = block_hash_key(hash);
        match store.get(&key)? {
            Some(value) => Ok(Some(decode_value(&key, &value, 8)?)),
            None => Ok(None),
        }
    }

    /// The block whose hash is `hash`.
    pub fn block_by_hash<S: StateStore + ?Sized>(
        store: &S,
        hash: &Hash,
    ) -> Result<Option<Block>, StoreError> {
        let Some(height) = BlockStore::height_of(store, hash)? else {
            return Ok(None);
        };
        let Some(block) = BlockStore::block(store, height)? else {
            return Err(corrupt(
                &block_hash_key(hash),
                format!("hash index points at height {height}, which holds no block"),
            ));
        };
        if block.hash() != *hash {
            return Err(corrupt(
                &block_hash_key(hash),
                format!(
                    "hash index points at height {height}, whose block is {}",
                    block.hash()
                ),
            ));
        }
        Ok(Some(block))
    }

    /// The commit certificate of the block at `height`.
    pub fn commit_certificate<S: StateStore + ?Sized>(
        store: &S,
        height: u64,
    ) -> Result<Option<CommitCertificate>, StoreError> {
        let key = height_key(TABLE_COMMIT, height);
        let Some(value) = store.get(&key)? else {
            return Ok(None);
        };
        let certificate: CommitCertificate =
            decode_value(&key, &value, COMMIT_CERTIFICATE_BYTES_MAX)?;
        if certificate.height != height {
            return Err(corrupt(
                &key,
                format!(
                    "certificate of height {} stored at height {height}",
                    certificate.height
                ),
            ));
        }
        Ok(Some(certificate))
    }

    /// Where the transaction `tx_hash` first appears: `(height, position)`,
    /// position counting from 0 in the block's transaction list.
    pub fn tx_location<S: StateStore + ?Sized>(
        store: &S,
        tx_hash: &TxHash,
    ) -> Result<Option<(u64, u32)>, StoreError> {
        Ok(BlockStore::tx_locations(store, tx_hash, 1)?
            .into_iter()
            .next())
    }

    /// Every place the transaction `tx_hash` appears, in chain order, at most
    /// `limit` (and at most [`TX_LOCATIONS_MAX`]) of them. A hash appears more
    /// than once only when a replay was ordered and rejected by the ledger;
    /// the receipts tell which occurrence took effect.
    pub fn tx_locations<S: StateStore + ?Sized>(
        store: &S,
        tx_hash: &TxHash,
        limit: usize,
    ) -> Result<Vec<(u64, u32)>, StoreError> {
        let prefix = tx_prefix(tx_hash);
        let entries = store.scan_prefix(&prefix, None, limit.min(TX_LOCATIONS_MAX))?;
        let mut out = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let Some(in_key) = location_in_key(&prefix, &key) else {
                return Err(corrupt(&key, "malformed transaction index key".into()));
            };
            // Schema 2: the version byte alone. Schema 1 (still read): the
            // location again, which must agree with the key.
            if value.as_slice() != [VALUE_V2_LOCATION_IN_KEY] {
                let in_value: (u64, u32) = decode_value(&key, &value, 12)?;
                if in_value != in_key {
                    return Err(corrupt(
                        &key,
                        format!("index value {in_value:?} disagrees with its key"),
                    ));
                }
            }
            out.push(in_key);
        }
        Ok(out)
    }

    /// The ledger's encoded receipts of the block at `height`, as given to
    /// [`BlockStore::block_writes`].
    pub fn receipts<S: StateStore + ?Sized>(
        store: &S,
        height: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let key = height_key(TABLE_RECEIPTS, height);
        let Some(value) = store.get(&key)? else {
            return Ok(None);
        };
        if value.len() > RECEIPTS_BYTES_MAX + 1 {
            return Err(corrupt(
                &key,
                format!("receipts of {} bytes are over the limit", value.len()),
            ));
        }
        Ok(Some(unwrap_raw(&key, &value)?.to_vec()))
    }

    /// Where a store restored from a state snapshot begins: the height of
    /// the restored state and the hash of its block, which the store does
    /// not hold (nor any block below it). `None` for a store that holds its
    /// chain from genesis.
    pub fn base<S: StateStore + ?Sized>(store: &S) -> Result<Option<(u64, Hash)>, StoreError> {
        match store.get(BASE_KEY)? {
            Some(value) => {
                let base: (u64, Hash) = decode_value(BASE_KEY, &value, 64)?;
                if base.0 == 0 {
                    return Err(corrupt(BASE_KEY, "a base at genesis".into()));
                }
                Ok(Some(base))
            }
            None => Ok(None),
        }
    }

    /// The writes that make a store restored to the state of `height`
    /// (whose block hashes to `block_hash`) a chain that begins there: the
    /// base, and `height` as the last stored block, so that the next block
    /// stored is `height + 1`.
    pub fn base_writes(height: u64, block_hash: Hash) -> WriteSet {
        let mut writes = WriteSet::default();
        writes.put(BASE_KEY.to_vec(), encode_value(&(height, block_hash)));
        writes.put(last_block_key(), encode_value(&height));
        writes
    }

    /// Height of the last stored block; 0 when none is stored (height 0 is
    /// genesis, which has no block).
    pub fn last_block_height<S: StateStore + ?Sized>(store: &S) -> Result<u64, StoreError> {
        let key = last_block_key();
        match store.get(&key)? {
            Some(value) => {
                let height: u64 = decode_value(&key, &value, 8)?;
                if height == 0 {
                    return Err(corrupt(
                        &key,
                        "last stored block recorded as height 0".into(),
                    ));
                }
                Ok(height)
            }
            None => Ok(0),
        }
    }

    /// Up to `limit` (at most [`BLOCK_RANGE_MAX`]) consecutive blocks with
    /// their commit certificates, from `from_height` upwards, stopping at the
    /// first height that is not stored (for block sync).
    pub fn blocks_from<S: StateStore + ?Sized>(
        store: &S,
        from_height: u64,
        limit: usize,
    ) -> Result<Vec<(Block, CommitCertificate)>, StoreError> {
        let mut out = Vec::new();
        let mut height = from_height;
        while out.len() < limit.min(BLOCK_RANGE_MAX) {
            let Some(block) = BlockStore::block(store, height)? else {
                break;
            };
            let Some(certificate) = BlockStore::commit_certificate(store, height)? else {
                return Err(Inconsistency::MissingCommitCertificate { height }.into());
            };
            out.push((block, certificate));
            let Some(next) = height.checked_add(1) else {
                break;
            };
            height = next;
        }
        Ok(out)
    }

    /// The canonical encoding of what [`BlockStore::blocks_from`] returns
    /// (a `Vec<(Block, CommitCertificate)>`), cut to the longest prefix
    /// whose encoding fits in `bytes_max`, built from the stored bytes
    /// without decoding or re-encoding a block. Returns the bytes and how
    /// many blocks they hold.
    ///
    /// This is the block-sync server's answer. Decoding every block to
    /// re-encode it cost a validator more CPU per certificate than the
    /// catching-up node spent applying it. The encoding is additive: a list
    /// is its length (8 bytes, big-endian) followed by its items, and a pair
    /// is its two halves, which are exactly the stored bodies. Stored bytes
    /// are not checked here: the receiver verifies every block against its
    /// commit certificate and its certificate against the validator set, so
    /// a damaged store yields an answer that is refused, never one that is
    /// believed.
    pub fn encoded_blocks_from<S: StateStore + ?Sized>(
        store: &S,
        from_height: u64,
        limit: usize,
        bytes_max: usize,
    ) -> Result<(Vec<u8>, usize), StoreError> {
        const LENGTH_BYTES: usize = 8;
        let mut out = vec![0u8; LENGTH_BYTES];
        let mut count: u64 = 0;
        let mut height = from_height;
        while (count as usize) < limit.min(BLOCK_RANGE_MAX) {
            let block_key = height_key(TABLE_BLOCK, height);
            let Some(block) = store.get(&block_key)? else {
                break;
            };
            let commit_key = height_key(TABLE_COMMIT, height);
            let Some(certificate) = store.get(&commit_key)? else {
                return Err(Inconsistency::MissingCommitCertificate { height }.into());
            };
            let block = unwrap_raw(&block_key, &block)?;
            let certificate = unwrap_raw(&commit_key, &certificate)?;
            if out.len() + block.len() + certificate.len() > bytes_max {
                break;
            }
            out.extend_from_slice(block);
            out.extend_from_slice(certificate);
            count += 1;
            let Some(next) = height.checked_add(1) else {
                break;
            };
            height = next;
        }
        out[..LENGTH_BYTES].copy_from_slice(&count.to_be_bytes());
        Ok((out, count as usize))
    }

    /// The lowest stored block height above `height`, if any: a block beyond
    /// the recorded last one means the store was written outside of
    /// [`BlockStore::block_writes`].
    pub(crate) fn first_block_above<S: StateStore + ?Sized>(
        store: &S,
        height: u64,
    ) -> Result<Option<u64>, StoreError> {
        let after = height_key(TABLE_BLOCK, height);
        let page = store.scan_prefix(&table_prefix(TABLE_BLOCK), Some(&after), 1)?;
        match page.first() {
            Some((key, _)) => match height_of_key(TABLE_BLOCK, key) {
                Some(found) => Ok(Some(found)),
                None => Err(corrupt(key, "malformed block key".into())),
            },
            None => Ok(None),
        }
    }
}

/// The `(height, position)` at the end of a transaction index key.
fn location_in_key(prefix: &[u8], key: &[u8]) -> Option<(u64, u32)> {
    let rest = key.strip_prefix(prefix)?;
    let (height, position) = rest.split_first_chunk::<8>()?;
    let position: [u8; 4] = position.try_into().ok()?;
    Some((u64::from_be_bytes(*height), u32::from_be_bytes(position)))
}

fn check_len(what: &'static str, len: usize, limit: usize) -> Result<(), StoreError> {
    if len > limit {
        return Err(StoreError::TooLarge { what, len, limit });
    }
    Ok(())
}

fn corrupt(key: &[u8], detail: String) -> StoreError {
    StoreError::Corrupt {
        key_hex: key_hex(key),
        detail,
    }
}
