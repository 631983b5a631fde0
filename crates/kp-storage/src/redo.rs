//! The redo file: how a large [`WriteSet`] is committed crash-atomically
//! without sled's batch, whose process-wide write lock stops every read of
//! the store while it applies (ADR 0017).
//!
//! A commit of [`REDO_ENTRIES_MIN`] entries or more first writes the whole
//! write set to `<store>/kp-redo` (written to a temporary name, fsynced,
//! renamed, the directory fsynced: the file is there whole or not at all),
//! then applies the entries one by one (sled's single writes share the lock
//! with readers), the entries that announce how far the store has come last
//! and together, flushes and fsyncs, and only then takes the file away,
//! durably, before the commit returns: renamed back to the temporary name,
//! where the next large commit writes again. So commits create and delete no
//! file (on a file system without a journal, ext4 reads the inode table for
//! each file it creates; ADR 0017's changelog). On open, a redo file that is
//! there is applied again: the writes are absolute (a value or a removal per
//! key), so applying them twice, or over a part already applied, gives the
//! same store. A store whose redo file does not check is refused: some of its
//! entries may have been applied and the rest cannot be known.

use kp_ledger::{StoreError, WriteSet};
use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Write sets of at least this many entries are committed through the redo
/// file; smaller ones (a block decided by consensus, most of a validator's
/// commits) as one sled batch, which holds the lock only briefly.
pub const REDO_ENTRIES_MIN: usize = 1_024;

/// The redo file inside the store's directory.
pub(crate) const REDO_FILE: &str = "kp-redo";
/// Where it is written before the rename that makes it count, and where it
/// goes back after its commit, to be written over by the next one.
const REDO_TMP_FILE: &str = "kp-redo.tmp";
/// The file's first bytes (format version 1).
const MAGIC: &[u8; 8] = b"KPREDO01";
const TAG_REMOVE: u8 = 0;
const TAG_PUT: u8 = 1;

/// One entry: a key and its new value, or `None` for a removal.
pub(crate) type Entry = (Vec<u8>, Option<Vec<u8>>);

fn io(operation: &'static str) -> impl Fn(std::io::Error) -> StoreError {
    move |e| StoreError::Backend {
        operation,
        detail: e.to_string(),
    }
}

fn corrupt(detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        key_hex: REDO_FILE.to_string(),
        detail: detail.into(),
    }
}

/// The file's bytes: magic, entry count, entries (tag, key length, key, and
/// for a put the value's length and value; lengths are little-endian `u32`),
/// then the blake3 hash of everything before it.
pub(crate) fn encode(writes: &WriteSet) -> Vec<u8> {
    let size: usize = writes
        .entries
        .iter()
        .map(|(k, v)| 9 + k.len() + v.as_ref().map_or(0, Vec::len))
        .sum();
    let mut out = Vec::with_capacity(MAGIC.len() + 8 + size + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(writes.entries.len() as u64).to_le_bytes());
    for (key, value) in &writes.entries {
        out.push(if value.is_some() { TAG_PUT } else { TAG_REMOVE });
        out.extend_from_slice(&(key.len() as u32).to_le_bytes());
        out.extend_from_slice(key);
        if let Some(value) = value {
            out.extend_from_slice(&(value.len() as u32).to_le_bytes());
            out.extend_from_slice(value);
        }
    }
    let hash = blake3::hash(&out);
    out.extend_from_slice(hash.as_bytes());
    out
}

/// Reads back what [`encode`] wrote; any other bytes are refused.
pub(crate) fn decode(bytes: &[u8]) -> Result<Vec<Entry>, StoreError> {
    let body_len = bytes
        .len()
        .checked_sub(32)
        .filter(|n| *n >= MAGIC.len() + 8)
        .ok_or_else(|| corrupt(format!("{} bytes, too short", bytes.len())))?;
    let (body, hash) = bytes.split_at(body_len);
    if blake3::hash(body).as_bytes() != hash {
        return Err(corrupt("its hash does not match its contents"));
    }
    let rest = body
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| corrupt("not a redo file of this format"))?;
    let mut cursor = Cursor(rest);
    let count = cursor.u64()?;
    let mut entries = Vec::new();
    for _ in 0..count {
        let tag = cursor.take(1)?[0];
        let key_len = cursor.u32()?;
        let key = cursor.take(key_len as usize)?.to_vec();
        let value = match tag {
            TAG_REMOVE => None,
            TAG_PUT => {
                let len = cursor.u32()?;
                Some(cursor.take(len as usize)?.to_vec())
            }
            other => return Err(corrupt(format!("unknown entry tag {other}"))),
        };
        entries.push((key, value));
    }
    if !cursor.0.is_empty() {
        return Err(corrupt("bytes after the last entry"));
    }
    Ok(entries)
}

/// Reads a redo file's body from the front, never past its end.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        if self.0.len() < n {
            return Err(corrupt("an entry runs past the end"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, StoreError> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn u64(&mut self) -> Result<u64, StoreError> {
        let bytes = self.take(8)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(array))
    }
}

fn sync_dir(dir: &Path, operation: &'static str) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(operation))
}

/// Makes the redo file of `writes` durable in `dir`, whole.
pub(crate) fn write(dir: &Path, writes: &WriteSet) -> Result<(), StoreError> {
    let bytes = encode(writes);
    let tmp = dir.join(REDO_TMP_FILE);
    // Over the previous commit's file when it is there (truncated first):
    // no new inode.
    let mut file = File::create(&tmp).map_err(io("write redo file"))?;
    file.write_all(&bytes).map_err(io("write redo file"))?;
    file.sync_all().map_err(io("fsync redo file"))?;
    drop(file);
    std::fs::rename(&tmp, dir.join(REDO_FILE)).map_err(io("rename redo file"))?;
    sync_dir(dir, "fsync store directory")
}

/// Takes the redo file away, durably: a later commit may change the same
/// keys, and a redo file that came back after a crash would undo it. It is
/// renamed to the temporary name, which never counts, and the next large
/// commit writes over it.
pub(crate) fn remove(dir: &Path) -> Result<(), StoreError> {
    std::fs::rename(dir.join(REDO_FILE), dir.join(REDO_TMP_FILE))
        .map_err(io("remove redo file"))?;
    sync_dir(dir, "fsync store directory")
}

/// The entries of a redo file left in `dir` by a commit that did not finish,
/// if there is one. A temporary file is removed: either a finished commit's
/// or one cut short before its rename, of which no entry was applied. A
/// damaged redo file refuses the store
/// ([`StoreError::Open`], naming the file).
pub(crate) fn pending(dir: &Path) -> Result<Option<Vec<Entry>>, StoreError> {
    match std::fs::remove_file(dir.join(REDO_TMP_FILE)) {
        Ok(()) => sync_dir(dir, "fsync store directory")?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("remove redo file")(e)),
    }
    let path = dir.join(REDO_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => decode(&bytes).map(Some).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            detail: format!(
                "the redo file of an interrupted commit is damaged ({e}); some of its \
                 writes may be in the store: restore from a backup or by state sync"
            ),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("read redo file")(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> WriteSet {
        let mut ws = WriteSet::default();
        ws.put(vec![1, 2], vec![3; 300]);
        ws.put(vec![0x86], vec![]);
        ws.delete(vec![5]);
        ws
    }

    #[test]
    fn encode_then_decode_gives_the_entries() {
        let ws = sample();
        let entries = decode(&encode(&ws)).unwrap();
        let expected: Vec<Entry> = ws.entries.into_iter().collect();
        assert_eq!(entries, expected);
        assert!(decode(&encode(&WriteSet::default())).unwrap().is_empty());
    }

    #[test]
    fn any_changed_or_cut_byte_is_refused() {
        let bytes = encode(&sample());
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x01;
            assert!(
                matches!(decode(&bad), Err(StoreError::Corrupt { .. })),
                "byte {at} flipped"
            );
        }
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_err(), "cut at {len}");
        }
    }

    #[test]
    fn lengths_past_the_end_are_refused_even_with_a_matching_hash() {
        // A file whose hash matches but whose count promises more entries
        // than it holds (written by something else) is refused, not read
        // past its end.
        let mut body = MAGIC.to_vec();
        body.extend_from_slice(&u64::MAX.to_le_bytes());
        body.push(TAG_PUT);
        body.extend_from_slice(&u32::MAX.to_le_bytes());
        let hash = blake3::hash(&body);
        body.extend_from_slice(hash.as_bytes());
        assert!(matches!(decode(&body), Err(StoreError::Corrupt { .. })));
    }

    use crate::SledStore;
    use kp_ledger::StateStore;

    /// A write set large enough to go through the redo file: `n` puts,
    /// the ledger's height among them, and a removal of `gone`.
    fn large(n: u32, tag: u8, gone: &[u8]) -> WriteSet {
        let mut ws = WriteSet::default();
        for i in 0..n {
            ws.put([&[0x07, 1][..], &i.to_be_bytes()].concat(), vec![tag; 40]);
        }
        ws.put(kp_ledger::keys::meta("height"), vec![tag]);
        ws.delete(gone.to_vec());
        ws
    }

    /// A new store in a temporary directory (kept while the first is alive).
    fn fresh() -> (tempfile::TempDir, std::path::PathBuf, SledStore) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = SledStore::open(&path).unwrap();
        (dir, path, store)
    }

    fn assert_holds(store: &SledStore, ws: &WriteSet) {
        for (key, value) in &ws.entries {
            assert_eq!(&store.get(key).unwrap(), value, "key {key:02x?}");
        }
    }

    #[test]
    fn a_large_commit_is_applied_whole_and_leaves_no_redo_file() {
        use std::os::unix::fs::MetadataExt;
        let (_dir, path, store) = fresh();
        let mut before = WriteSet::default();
        before.put(vec![0x42], vec![1]);
        store.commit(&before).unwrap();
        let ws = large(REDO_ENTRIES_MIN as u32 + 10, 7, &[0x42]);
        store.commit(&ws).unwrap();
        assert_holds(&store, &ws);
        assert!(!path.join(REDO_FILE).exists());
        // The next large commit writes over the same file: no file is
        // created or deleted per commit.
        let inode = std::fs::metadata(path.join(REDO_TMP_FILE)).unwrap().ino();
        let ws = large(REDO_ENTRIES_MIN as u32 + 20, 8, &[0x42]);
        store.commit(&ws).unwrap();
        assert_holds(&store, &ws);
        assert!(!path.join(REDO_FILE).exists());
        let again = std::fs::metadata(path.join(REDO_TMP_FILE)).unwrap().ino();
        assert_eq!(inode, again);
        drop(store);
        let store = SledStore::open(&path).unwrap();
        assert_holds(&store, &ws);
        assert!(!path.join(REDO_TMP_FILE).exists());
    }

    #[test]
    fn a_commit_interrupted_after_its_redo_file_is_finished_on_open() {
        // What a crash leaves: the redo file durable, part of the entries
        // applied (here the first half, over older values), the rest not.
        let (_dir, path, store) = fresh();
        let old = large(REDO_ENTRIES_MIN as u32 + 100, 1, &[0x43]);
        store.commit(&old).unwrap();
        let mut keep = WriteSet::default();
        keep.put(vec![0x43], vec![9]);
        store.commit(&keep).unwrap();
        let new = large(REDO_ENTRIES_MIN as u32 + 100, 2, &[0x43]);
        write(&path, &new).unwrap();
        for (key, value) in new.entries.iter().take(new.entries.len() / 2) {
            match value {
                Some(v) => store.db().insert(key.as_slice(), v.as_slice()),
                None => store.db().remove(key.as_slice()),
            }
            .unwrap();
        }
        store.db().flush().unwrap();
        drop(store);
        let store = SledStore::open(&path).unwrap();
        assert_holds(&store, &new);
        assert!(!path.join(REDO_FILE).exists());
        // Applying it once more changes nothing: a second open finds none.
        drop(store);
        let store = SledStore::open(&path).unwrap();
        assert_holds(&store, &new);
    }

    #[test]
    fn a_redo_file_left_before_its_rename_is_dropped_and_changes_nothing() {
        let (_dir, path, store) = fresh();
        let ws = large(REDO_ENTRIES_MIN as u32, 3, &[0x44]);
        store.commit(&ws).unwrap();
        drop(store);
        let other = large(REDO_ENTRIES_MIN as u32, 4, &[0x44]);
        let bytes = encode(&other);
        // Cut short, as a crash during its write leaves it.
        std::fs::write(path.join(REDO_TMP_FILE), &bytes[..bytes.len() / 2]).unwrap();
        let store = SledStore::open(&path).unwrap();
        assert_holds(&store, &ws);
        assert!(!path.join(REDO_TMP_FILE).exists());
    }

    #[test]
    fn a_damaged_redo_file_refuses_the_store() {
        let (_dir, path, store) = fresh();
        drop(store);
        let mut bytes = encode(&large(REDO_ENTRIES_MIN as u32, 5, &[0x45]));
        let at = bytes.len() / 2;
        bytes[at] ^= 0xff;
        std::fs::write(path.join(REDO_FILE), &bytes).unwrap();
        let error = SledStore::open(&path).unwrap_err();
        assert!(matches!(error, StoreError::Open { .. }), "{error:?}");
        let text = error.to_string();
        assert!(
            text.contains("kp-redo") && text.contains("damaged"),
            "{text}"
        );
        // Nothing was removed: an operator can look at it.
        assert!(path.join(REDO_FILE).exists());
    }
}
