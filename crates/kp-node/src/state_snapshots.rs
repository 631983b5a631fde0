//! The state snapshots a node keeps for late joiners (ADR 0016), as files:
//! `<data_dir>/snapshots/<height>/manifest` and `chunk-<index>`.
//!
//! A snapshot is written into a temporary directory beside the others and
//! renamed into place once whole, so a reader (the RPC) sees a snapshot
//! entirely or not at all, and a crash leaves at most a temporary directory,
//! removed at the next snapshot. Only the newest `keep` are kept.

use kp_ledger::snapshot::{self, SnapshotError};
pub use kp_ledger::snapshot::{Manifest, Trusted, CHUNK_BYTES_MAX, MANIFEST_BYTES_MAX};
use kp_ledger::{Ledger, StateStore};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a snapshot was not written or read.
#[derive(Debug, Error)]
pub enum SnapshotFilesError {
    /// A file could not be written or read.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was attempted.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The snapshot itself failed.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

pub use kp_api::snapshots::SnapshotInfo;

/// The snapshots directory of a data directory.
#[derive(Clone, Debug)]
pub struct SnapshotDir {
    root: PathBuf,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotFilesError {
    let path = path.to_path_buf();
    move |source| SnapshotFilesError::Io {
        action,
        path,
        source,
    }
}

impl SnapshotDir {
    /// The snapshots of the node whose data directory is `data_dir`.
    pub fn new(data_dir: &Path) -> SnapshotDir {
        SnapshotDir {
            root: data_dir.join("snapshots"),
        }
    }

    fn dir(&self, height: u64) -> PathBuf {
        self.root.join(height.to_string())
    }

    /// Writes a snapshot of `ledger`'s state (the caller keeps the store
    /// from changing meanwhile), then removes all but the newest `keep`.
    pub fn take<S: StateStore>(
        &self,
        ledger: &Ledger<S>,
        keep: usize,
    ) -> Result<Manifest, SnapshotFilesError> {
        std::fs::create_dir_all(&self.root).map_err(io("create", &self.root))?;
        let height = ledger.height();
        let tmp = self.root.join(format!(".tmp-{height}"));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io("remove", &tmp))?;
        }
        std::fs::create_dir(&tmp).map_err(io("create", &tmp))?;
        let manifest = snapshot::take(ledger, snapshot::CHUNK_BYTES_DEFAULT, |index, bytes| {
            let path = tmp.join(format!("chunk-{index}"));
            std::fs::write(&path, bytes)
                .map_err(|e| SnapshotError::Malformed(format!("write {}: {e}", path.display())))
        })?;
        let path = tmp.join("manifest");
        std::fs::write(&path, kp_types::encode(&manifest)).map_err(io("write", &path))?;
        let done = self.dir(height);
        if done.exists() {
            std::fs::remove_dir_all(&done).map_err(io("remove", &done))?;
        }
        std::fs::rename(&tmp, &done).map_err(io("rename", &tmp))?;
        self.prune(keep)?;
        Ok(manifest)
    }

    /// The heights held, newest first.
    fn heights(&self) -> Vec<u64> {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut heights: Vec<u64> = entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        heights.sort_unstable_by(|a, b| b.cmp(a));
        heights
    }

    fn prune(&self, keep: usize) -> Result<(), SnapshotFilesError> {
        for height in self.heights().into_iter().skip(keep.max(1)) {
            let dir = self.dir(height);
            std::fs::remove_dir_all(&dir).map_err(io("remove", &dir))?;
        }
        if let Ok(entries) = std::fs::read_dir(&self.root) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(".tmp-") {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        Ok(())
    }

    /// The manifest of the snapshot of `height`, as stored (`None`: none).
    pub fn manifest_bytes(&self, height: u64) -> Option<Vec<u8>> {
        std::fs::read(self.dir(height).join("manifest")).ok()
    }

    /// Chunk `index` of the snapshot of `height` (`None`: none).
    pub fn chunk(&self, height: u64, index: u32) -> Option<Vec<u8>> {
        std::fs::read(self.dir(height).join(format!("chunk-{index}"))).ok()
    }

    /// The snapshots held, newest first (a manifest that does not decode
    /// is left out).
    pub fn list(&self) -> Vec<SnapshotInfo> {
        self.heights()
            .into_iter()
            .filter_map(|height| {
                let manifest = Manifest::decode(&self.manifest_bytes(height)?).ok()?;
                Some(SnapshotInfo {
                    height,
                    manifest_hash: manifest.hash(),
                    state_root: manifest.state_root,
                    chunks: manifest.chunks.len(),
                    bytes: manifest.total_bytes(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kp_ledger::testkit::Harness;

    #[test]
    fn snapshots_are_written_whole_listed_newest_first_and_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let snapshots = SnapshotDir::new(dir.path());
        assert!(snapshots.list().is_empty());
        let mut h = Harness::new();
        let mut taken = Vec::new();
        for round in 0..3u32 {
            let txs = h.bw_issues(round * 10 + 1..=round * 10 + 10);
            h.apply(txs).unwrap();
            taken.push(snapshots.take(&h.ledger, 2).unwrap());
        }
        let list = snapshots.list();
        assert_eq!(
            list.iter().map(|s| s.height).collect::<Vec<_>>(),
            vec![taken[2].height, taken[1].height]
        );
        assert_eq!(list[0].manifest_hash, taken[2].hash());
        let manifest =
            Manifest::decode(&snapshots.manifest_bytes(list[0].height).unwrap()).unwrap();
        assert_eq!(manifest, taken[2]);
        let chunk = snapshots.chunk(list[0].height, 0).unwrap();
        assert_eq!(snapshot::chunk_hash(&chunk), manifest.chunks[0].hash);
        assert!(snapshots.manifest_bytes(taken[0].height).is_none());
        assert!(snapshots.chunk(list[0].height, 999).is_none());
        // A temporary directory left by a crash goes at the next snapshot.
        std::fs::create_dir_all(dir.path().join("snapshots/.tmp-1")).unwrap();
        snapshots.take(&h.ledger, 2).unwrap();
        assert!(!dir.path().join("snapshots/.tmp-1").exists());
    }
}

/// What a restore did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restored {
    /// The height of the restored state.
    pub height: u64,
    /// The state root reached.
    pub state_root: kp_types::Hash,
    /// Chunks applied.
    pub chunks: usize,
    /// Their bytes.
    pub bytes: u64,
}

/// How often one chunk is asked for before the restore gives up.
pub const CHUNK_ATTEMPTS_MAX: usize = 6;

/// Restores a snapshot into the data directory `data_dir`, which must hold
/// no chain (missing or empty). The store is built beside it
/// (`<data_dir>.state-sync`) and moved into place only once the state
/// reached the `trusted` roots; on any failure nothing is left but that
/// directory, which the next attempt clears. `chunk(index, attempt)` gets a
/// chunk's bytes (the caller picks a server per attempt); a chunk that is
/// not the manifest's is asked for again, at most [`CHUNK_ATTEMPTS_MAX`]
/// times. `progress(done, total)` follows the chunks.
pub fn restore_into(
    data_dir: &Path,
    genesis: &kp_ledger::Genesis,
    manifest: Manifest,
    trusted: snapshot::Trusted,
    mut chunk: impl FnMut(usize, usize) -> Result<Vec<u8>, String>,
    mut progress: impl FnMut(usize, usize),
) -> Result<Restored, SnapshotFilesError> {
    if std::fs::read_dir(data_dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(SnapshotError::NotEmpty.into());
    }
    let mut beside = data_dir.as_os_str().to_owned();
    beside.push(".state-sync");
    let work = PathBuf::from(beside);
    if work.exists() {
        std::fs::remove_dir_all(&work).map_err(io("remove", &work))?;
    }
    let store = kp_storage::SledStore::open(&work).map_err(SnapshotError::Store)?;
    let total = manifest.chunks.len();
    let bytes = manifest.total_bytes();
    let mut restore = snapshot::Restore::new(genesis, store.clone(), manifest, trusted)?;
    while let Some(index) = restore.next_chunk() {
        let mut last = String::new();
        for attempt in 0..CHUNK_ATTEMPTS_MAX {
            match chunk(index, attempt) {
                Ok(body) => match restore.apply(index, &body) {
                    Ok(()) => break,
                    Err(e) => last = e.to_string(),
                },
                Err(e) => last = e,
            }
            tracing::warn!(index, attempt, error = %last, "state sync: chunk refused, asking again");
        }
        if restore.next_chunk() == Some(index) {
            return Err(SnapshotError::Malformed(format!(
                "chunk {index} could not be had after {CHUNK_ATTEMPTS_MAX} attempts: {last}"
            ))
            .into());
        }
        progress(index + 1, total);
    }
    let ledger = restore.finish()?;
    let state_root = ledger.state_root();
    drop(ledger);
    store
        .commit(&kp_chain::BlockStore::base_writes(
            trusted.height,
            trusted.block_hash,
        ))
        .map_err(SnapshotError::Store)?;
    drop(store);
    if data_dir.exists() {
        std::fs::remove_dir(data_dir).map_err(io("remove", data_dir))?;
    }
    std::fs::rename(&work, data_dir).map_err(io("rename", &work))?;
    Ok(Restored {
        height: trusted.height,
        state_root,
        chunks: total,
        bytes,
    })
}
