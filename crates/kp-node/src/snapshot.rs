//! Backups: `kpledger snapshot export` writes a stopped node's decided
//! chain (every block with its commit certificate) to one file, and
//! `snapshot import` rebuilds a node's store from such a file.
//!
//! Import trusts nothing in the file: it replays the blocks through the
//! replica's catch-up path, the one a node that syncs from peers runs, so
//! each block's commit certificate is checked against the validator set of
//! its height (as the ledger derives it from the genesis and the blocks
//! before), every transaction is checked by the ledger's rules, and the
//! state reached must have the state root the file's header names. A file
//! from another network, a damaged one (blake3 of the whole file, checked
//! before anything is written), or a forged block is refused, and the data
//! directory is left as it was: the store is built in a folder beside it
//! and moved into place only when every block has been applied.
//!
//! File layout: `KPSNAP01`, then frames (a 4-byte big-endian length and
//! that many bytes): the header ([`SnapshotHeader`]), then one frame per
//! height from 1 (the block and its commit certificate, canonical
//! encoding); then the blake3 hash of every byte before it (32 bytes).

use crate::config::NodeConfig;
use kp_chain::BlockStore;
use kp_consensus::{Consensus, ConsensusConfig};
use kp_ledger::{Genesis, Ledger, StateStore};
use kp_replica::{Replica, ReplicaConfig, VerifiedSignatures};
use kp_storage::SledStore;
use kp_types::block::BLOCK_BYTES_MAX;
use kp_types::{Block, CommitCertificate, Hash, SigningKey};
use serde::{Deserialize, Serialize};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;

const MAGIC: &[u8; 8] = b"KPSNAP01";
/// Largest frame: a block of the largest size with its certificate.
const FRAME_BYTES_MAX: usize = BLOCK_BYTES_MAX + 1024 * 1024;
/// Largest header frame.
const HEADER_BYTES_MAX: usize = 4096;

/// What a snapshot says of itself (checked on import, never trusted).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotHeader {
    /// The network.
    pub chain_id: String,
    /// Its genesis.
    pub genesis_hash: Hash,
    /// Blocks 1 to `height` follow.
    pub height: u64,
    /// The hash of block `height`.
    pub block_hash: Hash,
    /// The state root after block `height`.
    pub state_root: Hash,
}

/// What went wrong with a snapshot.
#[derive(Debug, Error)]
pub enum SnapshotError {
    /// A file or folder cannot be used.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a snapshot, or is damaged.
    #[error("{path} is not a kpledger snapshot or is damaged: {detail}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The snapshot is of another network or genesis.
    #[error("the snapshot is of chain {chain_id} with genesis {genesis_hash}; this node's genesis is {expected_chain} {expected_hash}")]
    OtherNetwork {
        /// The snapshot's chain.
        chain_id: String,
        /// The snapshot's genesis.
        genesis_hash: Hash,
        /// The node's chain.
        expected_chain: String,
        /// The node's genesis.
        expected_hash: Hash,
    },
    /// A block of the snapshot does not verify or apply.
    #[error("block {height} of the snapshot is refused: {detail}")]
    Refused {
        /// Its height.
        height: u64,
        /// Why.
        detail: String,
    },
    /// The state the blocks lead to is not the one the header names.
    #[error("the snapshot's blocks lead to state root {found} at height {height}, not {claimed}")]
    StateRoot {
        /// The height.
        height: u64,
        /// What the header says.
        claimed: Hash,
        /// What the blocks give.
        found: Hash,
    },
    /// The data directory already holds a chain.
    #[error("{path} already holds a chain (height {height}); import restores into an empty data directory: move it aside first")]
    NotEmpty {
        /// The data directory.
        path: PathBuf,
        /// Its height.
        height: u64,
    },
    /// The store cannot be opened (another process holds it, or it is
    /// damaged) or written.
    #[error("store {path}: {detail}")]
    Store {
        /// The data directory.
        path: PathBuf,
        /// Why.
        detail: String,
    },
}

/// What an export or import did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SnapshotSummary {
    /// The snapshot's header.
    pub header: SnapshotHeader,
    /// Bytes of the file.
    pub bytes: u64,
    /// Transactions in its blocks.
    pub txs: u64,
}

fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> SnapshotError + 'a {
    move |source| SnapshotError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

fn store_error(path: &Path) -> impl Fn(&dyn std::fmt::Display) -> SnapshotError + '_ {
    move |e| SnapshotError::Store {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

fn open_store(config: &NodeConfig, dir: &Path) -> Result<SledStore, SnapshotError> {
    SledStore::open_with_cache(dir, config.storage.cache_mb.saturating_mul(1024 * 1024)).map_err(
        |e| SnapshotError::Store {
            path: dir.to_path_buf(),
            detail: format!("{e} (is the node still running? stop it first)"),
        },
    )
}

/// A writer that hashes what it writes.
struct Hashing<W: Write> {
    inner: W,
    hasher: blake3::Hasher,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn write_frame(w: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(bytes.len()).map_err(|_| std::io::Error::other("frame too large"))?;
    w.write_all(&len.to_be_bytes())?;
    w.write_all(bytes)
}

/// Told how far a long export or import is: (blocks done, blocks in all).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// `snapshot export`: the chain of the (stopped) node of `config`, to `out`
/// (written beside it, then renamed: a failed export leaves no file).
pub fn export(
    config: &NodeConfig,
    genesis: &Genesis,
    out: &Path,
    progress: Progress<'_>,
) -> Result<SnapshotSummary, SnapshotError> {
    let dir = &config.node.data_dir;
    if !dir.exists() {
        return Err(SnapshotError::Store {
            path: dir.clone(),
            detail: "no data directory: nothing to export".into(),
        });
    }
    let store = open_store(config, dir)?;
    let ledger = Ledger::open(genesis, store.clone()).map_err(|e| store_error(dir)(&e))?;
    let height = ledger.height();
    let header = SnapshotHeader {
        chain_id: genesis.chain_id.clone(),
        genesis_hash: genesis.hash(),
        height,
        block_hash: ledger.last_block_hash(),
        state_root: ledger.state_root(),
    };
    let tmp = out.with_extension("partial");
    let file = std::fs::File::create(&tmp).map_err(io("create", &tmp))?;
    let mut w = Hashing {
        inner: BufWriter::new(file),
        hasher: blake3::Hasher::new(),
        bytes: 0,
    };
    let mut txs = 0u64;
    let result = (|| -> Result<(), SnapshotError> {
        w.write_all(MAGIC).map_err(io("write", &tmp))?;
        write_frame(&mut w, &kp_types::encode(&header)).map_err(io("write", &tmp))?;
        for h in 1..=height {
            let missing = |what: &str| SnapshotError::Store {
                path: dir.clone(),
                detail: format!("{what} of height {h} is missing from the store"),
            };
            let block = BlockStore::block(&store, h)
                .map_err(|e| store_error(dir)(&e))?
                .ok_or_else(|| missing("the block"))?;
            let certificate = BlockStore::commit_certificate(&store, h)
                .map_err(|e| store_error(dir)(&e))?
                .ok_or_else(|| missing("the commit certificate"))?;
            txs += block.txs.len() as u64;
            write_frame(&mut w, &kp_types::encode(&(&block, &certificate)))
                .map_err(io("write", &tmp))?;
            progress(h, height);
        }
        let digest = w.hasher.finalize();
        w.inner
            .write_all(digest.as_bytes())
            .map_err(io("write", &tmp))?;
        w.inner.flush().map_err(io("write", &tmp))?;
        w.inner.get_ref().sync_all().map_err(io("write", &tmp))?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, out).map_err(io("write", out))?;
    Ok(SnapshotSummary {
        header,
        bytes: w.bytes + 32,
        txs,
    })
}

/// Checks the file's blake3 trailer before anything is read from it.
fn check_digest(path: &Path) -> Result<u64, SnapshotError> {
    let damaged = |detail: &str| SnapshotError::Damaged {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    };
    let len = std::fs::metadata(path).map_err(io("read", path))?.len();
    if len < (MAGIC.len() + 4 + 32) as u64 {
        return Err(damaged("too short"));
    }
    let mut r = BufReader::new(std::fs::File::open(path).map_err(io("read", path))?);
    let mut hasher = blake3::Hasher::new();
    let mut left = len - 32;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        r.read_exact(&mut buf[..want]).map_err(io("read", path))?;
        hasher.update(&buf[..want]);
        left -= want as u64;
    }
    let mut trailer = [0u8; 32];
    r.read_exact(&mut trailer).map_err(io("read", path))?;
    if hasher.finalize().as_bytes() != &trailer {
        return Err(damaged("its blake3 checksum does not match its contents"));
    }
    Ok(len)
}

struct FrameReader<R: Read> {
    inner: R,
    path: PathBuf,
}

impl<R: Read> FrameReader<R> {
    fn frame(&mut self, max: usize) -> Result<Vec<u8>, SnapshotError> {
        let mut len = [0u8; 4];
        self.inner
            .read_exact(&mut len)
            .map_err(io("read", &self.path))?;
        let len = u32::from_be_bytes(len) as usize;
        if len > max {
            return Err(SnapshotError::Damaged {
                path: self.path.clone(),
                detail: format!("a frame of {len} bytes; at most {max}"),
            });
        }
        let mut bytes = vec![0u8; len];
        self.inner
            .read_exact(&mut bytes)
            .map_err(io("read", &self.path))?;
        Ok(bytes)
    }
}

/// `snapshot import`: rebuilds the store of the node of `config` from
/// `input`, into an empty (or absent) data directory.
pub fn import(
    config: &NodeConfig,
    genesis: &Genesis,
    input: &Path,
    progress: Progress<'_>,
) -> Result<SnapshotSummary, SnapshotError> {
    let dir = config.node.data_dir.clone();
    if dir.exists() {
        let store = open_store(config, &dir)?;
        let height =
            kp_chain::BlockStore::last_block_height(&store).map_err(|e| store_error(&dir)(&e))?;
        if height > 0 {
            return Err(SnapshotError::NotEmpty { path: dir, height });
        }
    }
    let bytes = check_digest(input)?;
    let damaged = |detail: String| SnapshotError::Damaged {
        path: input.to_path_buf(),
        detail,
    };
    let file = std::fs::File::open(input).map_err(io("read", input))?;
    let mut r = FrameReader {
        inner: BufReader::new(file),
        path: input.to_path_buf(),
    };
    let mut magic = [0u8; 8];
    r.inner.read_exact(&mut magic).map_err(io("read", input))?;
    if &magic != MAGIC {
        return Err(damaged("it does not start with KPSNAP01".into()));
    }
    let header: SnapshotHeader = kp_types::decode(&r.frame(HEADER_BYTES_MAX)?, HEADER_BYTES_MAX)
        .map_err(|e| damaged(format!("header: {e}")))?;
    if header.chain_id != genesis.chain_id || header.genesis_hash != genesis.hash() {
        return Err(SnapshotError::OtherNetwork {
            chain_id: header.chain_id,
            genesis_hash: header.genesis_hash,
            expected_chain: genesis.chain_id.clone(),
            expected_hash: genesis.hash(),
        });
    }

    // The store is built beside the data directory and moved into place at
    // the end: a refused snapshot leaves nothing behind.
    let building = dir.with_extension("importing");
    if building.exists() {
        std::fs::remove_dir_all(&building).map_err(io("remove", &building))?;
    }
    let result = replay(config, genesis, &header, &mut r, &building, progress);
    let txs = match result {
        Ok(txs) => txs,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&building);
            return Err(e);
        }
    };
    if dir.exists() {
        // Empty (checked above): the store of a node that never applied a block.
        std::fs::remove_dir_all(&dir).map_err(io("replace", &dir))?;
    }
    std::fs::rename(&building, &dir).map_err(io("move into place", &dir))?;
    Ok(SnapshotSummary { header, bytes, txs })
}

/// Applies the snapshot's blocks to a new store at `dir` through the
/// replica's catch-up path; returns the transactions applied.
fn replay<R: Read>(
    config: &NodeConfig,
    genesis: &Genesis,
    header: &SnapshotHeader,
    r: &mut FrameReader<R>,
    dir: &Path,
    progress: Progress<'_>,
) -> Result<u64, SnapshotError> {
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    let store = open_store(config, dir)?;
    let ledger = Ledger::open(genesis, store.clone()).map_err(|e| store_error(dir)(&e))?;
    // A key of no member: the replica replays as an observer would, so no
    // height is its own consensus's (the node's key plays no part here).
    let key = SigningKey::from_seed([0x5a; 32]);
    let consensus = Consensus::new(ConsensusConfig::new(&genesis.chain_id, key.clone()), None);
    let mut replica = Replica::new(ReplicaConfig::default(), key, consensus, ledger)
        .map_err(|e| store_error(dir)(&e))?;
    let mut txs = 0u64;
    let write_stage = |replica: &mut Replica<SledStore>| -> Result<(), SnapshotError> {
        if let Some(stage) = replica.take_stage().map_err(|e| store_error(dir)(&e))? {
            store
                .commit(&stage.writes)
                .map_err(|e| store_error(dir)(&e))?;
            replica.stage_written(stage);
        }
        Ok(())
    };
    for height in 1..=header.height {
        let refused = |detail: String| SnapshotError::Refused { height, detail };
        let (block, certificate): (Block, CommitCertificate) =
            kp_types::decode(&r.frame(FRAME_BYTES_MAX)?, FRAME_BYTES_MAX)
                .map_err(|e| refused(format!("does not decode: {e}")))?;
        if block.header.height != height {
            return Err(refused(format!(
                "the frame holds block {}",
                block.header.height
            )));
        }
        let items: Vec<_> = block
            .txs
            .iter()
            .map(|tx| (tx.tx.signer, tx.hash(), tx.signature))
            .collect();
        let verified: VerifiedSignatures = if kp_types::verify_batch(&items).is_ok() {
            items.into_iter().map(|(_, h, s)| (h, s)).collect()
        } else {
            // One bad signature in the batch: the ledger checks each one.
            VerifiedSignatures::new()
        };
        let block = Arc::new(block);
        let pending = replica
            .catch_up_execute(&block, &certificate, &verified)
            .map_err(|e| refused(e.to_string()))?;
        txs += block.txs.len() as u64;
        if replica
            .catch_up_advance(block, certificate, pending)
            .map_err(|e| refused(e.to_string()))?
        {
            write_stage(&mut replica)?;
        }
        progress(height, header.height);
    }
    write_stage(&mut replica)?;
    replica.catch_up_done();
    let ledger = replica.ledger();
    if ledger.state_root() != header.state_root || ledger.last_block_hash() != header.block_hash {
        return Err(SnapshotError::StateRoot {
            height: header.height,
            claimed: header.state_root,
            found: ledger.state_root(),
        });
    }
    Ok(txs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_bounded_and_a_short_file_is_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.kpsnap");
        std::fs::write(&path, b"KPSNAP01").unwrap();
        assert!(matches!(
            check_digest(&path),
            Err(SnapshotError::Damaged { .. })
        ));
        let mut bytes = Vec::new();
        write_frame(&mut bytes, &[7; 10]).unwrap();
        let mut r = FrameReader {
            inner: &bytes[..],
            path: path.clone(),
        };
        assert!(matches!(r.frame(9), Err(SnapshotError::Damaged { .. })));
        let mut r = FrameReader {
            inner: &bytes[..],
            path,
        };
        assert_eq!(r.frame(10).unwrap(), vec![7; 10]);
    }
}
