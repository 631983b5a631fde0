//! The light store: verified light blocks kept on disk, checked again as
//! they are loaded.

use super::check::{check_block, check_link};
use super::{LightError, STORE_BLOCKS_MAX, STORE_BYTES_MAX};
use kp_api::proof::LightBlock;
use kp_types::Hash;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The format tag of a light store file.
const STORE_FORMAT: &str = "kpledger light store v1";

/// A light store file as written.
#[derive(Serialize)]
struct StoreFileOut<'a> {
    format: &'a str,
    chain_id: &'a str,
    genesis_hash: &'a Hash,
    blocks: Vec<&'a LightBlock>,
}

/// A light store file as read.
#[derive(Deserialize)]
struct StoreFileIn {
    format: String,
    chain_id: String,
    genesis_hash: Hash,
    blocks: Vec<LightBlock>,
}

/// Verified light blocks on disk: one JSON file per chain and genesis,
/// `<dir>/<chain_id>-<first 16 hex digits of the genesis hash>.json`,
/// holding the newest [`STORE_BLOCKS_MAX`] verified blocks, written
/// atomically (temporary file, then rename).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LightStore {
    dir: PathBuf,
}

impl LightStore {
    /// A store in `dir`, created if missing.
    pub fn open(dir: &Path) -> Result<LightStore, LightError> {
        std::fs::create_dir_all(dir).map_err(|e| LightError::Store {
            path: dir.to_path_buf(),
            detail: format!("cannot create the directory: {e}"),
        })?;
        Ok(LightStore {
            dir: dir.to_path_buf(),
        })
    }

    /// `$XDG_DATA_HOME/kpledger/light`, or `$HOME/.local/share/kpledger/light`,
    /// else `./.kpledger-light`.
    pub fn default_dir() -> PathBuf {
        let absolute = |var: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        if let Some(data) = absolute("XDG_DATA_HOME") {
            return data.join("kpledger").join("light");
        }
        if let Some(home) = absolute("HOME") {
            return home.join(".local/share/kpledger/light");
        }
        PathBuf::from(".kpledger-light")
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of one chain and genesis.
    pub fn path_for(&self, chain_id: &str, genesis_hash: &Hash) -> PathBuf {
        let name: String = chain_id
            .chars()
            .take(64)
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let hex = genesis_hash.to_hex();
        self.dir.join(format!("{name}-{}.json", &hex[..16]))
    }

    /// The stored blocks of a chain and genesis (none if there is no file),
    /// each checked alone (chain, validators against the header, commit
    /// quorum and signatures) and against its stored neighbours.
    pub fn load(
        &self,
        chain_id: &str,
        genesis_hash: &Hash,
    ) -> Result<BTreeMap<u64, LightBlock>, LightError> {
        let path = self.path_for(chain_id, genesis_hash);
        let err = |detail: String| LightError::Store {
            path: path.clone(),
            detail,
        };
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(err(format!("cannot open: {e}"))),
        };
        let mut bytes = Vec::new();
        file.take(STORE_BYTES_MAX + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| err(format!("cannot read: {e}")))?;
        if bytes.len() as u64 > STORE_BYTES_MAX {
            return Err(err(format!("larger than {STORE_BYTES_MAX} bytes")));
        }
        let stored: StoreFileIn = serde_json::from_slice(&bytes)
            .map_err(|e| err(format!("corrupt (delete it to start over): {e}")))?;
        if stored.format != STORE_FORMAT {
            return Err(err(format!("unknown format {:?}", stored.format)));
        }
        if stored.chain_id != chain_id || stored.genesis_hash != *genesis_hash {
            return Err(err(format!(
                "holds chain {:?} of genesis {}, not {chain_id:?} of {genesis_hash}",
                stored.chain_id, stored.genesis_hash
            )));
        }
        if stored.blocks.len() > STORE_BLOCKS_MAX {
            return Err(err(format!(
                "{} blocks; at most {STORE_BLOCKS_MAX}",
                stored.blocks.len()
            )));
        }
        let mut blocks: BTreeMap<u64, LightBlock> = BTreeMap::new();
        for b in stored.blocks {
            let height = b.header.height;
            check_block(chain_id, &b).map_err(|e| err(format!("tampered or corrupt: {e}")))?;
            if let Some((&h, below)) = blocks.last_key_value() {
                if h >= height {
                    return Err(err(format!("height {height} after {h}: not in order")));
                }
                if below.header.time >= b.header.time {
                    return Err(err(format!("height {height}: time does not increase")));
                }
                if h + 1 == height {
                    check_link(below, &b).map_err(|d| err(format!("tampered or corrupt: {d}")))?;
                }
            }
            blocks.insert(height, b);
        }
        Ok(blocks)
    }

    /// Writes the blocks of a chain and genesis atomically.
    pub fn save(
        &self,
        chain_id: &str,
        genesis_hash: &Hash,
        blocks: &BTreeMap<u64, LightBlock>,
    ) -> Result<(), LightError> {
        let path = self.path_for(chain_id, genesis_hash);
        let err = |detail: String| LightError::Store {
            path: path.clone(),
            detail,
        };
        let file = StoreFileOut {
            format: STORE_FORMAT,
            chain_id,
            genesis_hash,
            blocks: blocks.values().rev().take(STORE_BLOCKS_MAX).rev().collect(),
        };
        let bytes = serde_json::to_vec(&file).map_err(|e| err(format!("cannot encode: {e}")))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = self.dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&temp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&temp, &path)?;
            if let Ok(d) = std::fs::File::open(&self.dir) {
                let _ = d.sync_all();
            }
            Ok(())
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            err(format!("cannot write: {e}"))
        })
    }
}
