//! Large values in pieces (ADR 0019): how the sled binding keeps every
//! value it writes small enough that sled never writes a blob file.
//!
//! sled 0.34 writes a page larger than a quarter of its 512 KiB log segment
//! to a file of its own under `blobs/`, and a leaf page holds up to 16
//! entries before it splits. A stored block of thousands of transactions,
//! its receipts, or a leaf of a few such values is such a page: one file
//! created, fsynced and later deleted per block. So a value longer than
//! [`PIECE_BYTES`] is stored as a small *descriptor* under its own key and
//! its bytes as pieces of at most [`PIECE_BYTES`] under keys of the range
//! the binding reserves ([`RESERVED`]); a leaf of 17 pieces stays under
//! sled's limit.
//!
//! * Descriptor: [`MAGIC`] (16 bytes), the value's length (`u64`,
//!   little-endian), the blake3 hash of the value (32 bytes).
//! * Piece `i`: key `RESERVED || 'P' || len(key) as u32 BE || key || the
//!   first 16 bytes of the value's hash || i as u32 BE`. Pieces belong to
//!   one key *and* one value: a new value of the same key has other pieces,
//!   so writing it never touches the old ones, and the old ones are removed
//!   once the key points elsewhere. They sort as their keys do, so the
//!   pieces of blocks stored by height are appended at the end of their
//!   range, as the blocks are: sled fills leaves in order instead of
//!   rewriting leaves of 6 KiB pieces all over the range.
//! * A value that itself begins with [`MAGIC`] is stored in pieces too,
//!   whatever its length: a stored value that begins with [`MAGIC`] is
//!   always a descriptor.
//! * Reading a descriptor reads the pieces in order and checks the length
//!   and the hash: a missing, extra or changed piece is
//!   [`StoreError::Corrupt`].

use kp_ledger::StoreError;

/// Longest value stored as it is, and longest piece.
pub const PIECE_BYTES: usize = 6 * 1024;

/// First byte of every key the binding keeps for itself; the ledger's and
/// the block store's tables are all below it.
pub const RESERVED: u8 = kp_chain::keys::RESERVED_FOR_STORAGE;

/// Second byte of a piece's key.
const PIECE_TAG: u8 = b'P';

/// A descriptor's first bytes.
pub const MAGIC: [u8; 16] = *b"\xffkp-pieces-v1\x00\x00\xff";

/// Bytes of a descriptor.
const DESCRIPTOR_BYTES: usize = MAGIC.len() + 8 + 32;

/// Bytes of the value's hash in a piece's key.
const ID_BYTES: usize = 16;

/// Whether `value` is stored in pieces.
pub(crate) fn needs_pieces(value: &[u8]) -> bool {
    value.len() > PIECE_BYTES || value.starts_with(&MAGIC)
}

/// What a descriptor says: the value's length and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Descriptor {
    len: u64,
    hash: [u8; 32],
}

impl Descriptor {
    /// The descriptor of `value`.
    pub(crate) fn of(value: &[u8]) -> Descriptor {
        Descriptor {
            len: value.len() as u64,
            hash: *blake3::hash(value).as_bytes(),
        }
    }

    /// A stored value read as a descriptor: `None` when it is an ordinary
    /// value, an error when it begins as a descriptor but is not one.
    pub(crate) fn parse(key: &[u8], stored: &[u8]) -> Result<Option<Descriptor>, StoreError> {
        if !stored.starts_with(&MAGIC) {
            return Ok(None);
        }
        if stored.len() != DESCRIPTOR_BYTES {
            return Err(corrupt(
                key,
                format!(
                    "a descriptor of large-value pieces of {} bytes, expected {DESCRIPTOR_BYTES}",
                    stored.len()
                ),
            ));
        }
        let mut len = [0u8; 8];
        len.copy_from_slice(&stored[MAGIC.len()..MAGIC.len() + 8]);
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&stored[MAGIC.len() + 8..]);
        Ok(Some(Descriptor {
            len: u64::from_le_bytes(len),
            hash,
        }))
    }

    /// The stored form.
    pub(crate) fn to_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(DESCRIPTOR_BYTES);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&self.len.to_le_bytes());
        out.extend_from_slice(&self.hash);
        out
    }

    /// How many pieces the value has.
    pub(crate) fn count(self) -> u64 {
        self.len.div_ceil(PIECE_BYTES as u64)
    }

    /// The key shared by every piece of this value of `key`, without the
    /// piece's number: the prefix to scan.
    pub(crate) fn prefix(self, key: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + 4 + key.len() + ID_BYTES + 4);
        out.push(RESERVED);
        out.push(PIECE_TAG);
        // Keys are short (the longest table key is tens of bytes).
        out.extend_from_slice(&(key.len() as u32).to_be_bytes());
        out.extend_from_slice(key);
        out.extend_from_slice(&self.hash[..ID_BYTES]);
        out
    }

    /// The keys of every piece of this value of `key`, in order.
    pub(crate) fn piece_keys(self, key: &[u8]) -> impl Iterator<Item = Vec<u8>> {
        let prefix = self.prefix(key);
        (0..self.count()).map(move |i| piece_key(&prefix, i))
    }

    /// Puts `pieces` (read in key order under [`Descriptor::prefix`]) back
    /// together, checking their number, length and hash.
    pub(crate) fn assemble<P: AsRef<[u8]>>(
        self,
        key: &[u8],
        pieces: impl Iterator<Item = P>,
    ) -> Result<Vec<u8>, StoreError> {
        let len = usize::try_from(self.len)
            .map_err(|_| corrupt(key, format!("a value of {} bytes", self.len)))?;
        let mut value = Vec::with_capacity(len.min(64 * 1024 * 1024));
        let mut count = 0u64;
        for piece in pieces {
            let piece = piece.as_ref();
            count += 1;
            if piece.len() > PIECE_BYTES || value.len() + piece.len() > len {
                return Err(corrupt(key, "a piece longer than the value allows"));
            }
            value.extend_from_slice(piece);
        }
        if count != self.count() || value.len() != len {
            return Err(corrupt(
                key,
                format!(
                    "{count} pieces of {} bytes, the descriptor says {} pieces of {len}",
                    value.len(),
                    self.count()
                ),
            ));
        }
        if blake3::hash(&value).as_bytes() != &self.hash {
            return Err(corrupt(
                key,
                "its pieces do not match the descriptor's hash",
            ));
        }
        Ok(value)
    }
}

/// The key of piece `index` under `prefix`.
fn piece_key(prefix: &[u8], index: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + 4);
    key.extend_from_slice(prefix);
    // A value is at most a few MiB: far fewer than 2^32 pieces.
    key.extend_from_slice(&(index as u32).to_be_bytes());
    key
}

/// The descriptor to store under `key` for `value`, and the pieces (key and
/// bytes, borrowed from `value`) to store before it.
pub(crate) fn split<'v>(
    key: &[u8],
    value: &'v [u8],
) -> (Descriptor, impl Iterator<Item = (Vec<u8>, &'v [u8])>) {
    let descriptor = Descriptor::of(value);
    let prefix = descriptor.prefix(key);
    let pieces = value
        .chunks(PIECE_BYTES)
        .enumerate()
        .map(move |(i, chunk)| (piece_key(&prefix, i as u64), chunk));
    (descriptor, pieces)
}

fn corrupt(key: &[u8], detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        key_hex: kp_chain::key_hex(key),
        detail: detail.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_splits_into_pieces_that_assemble_to_it() {
        for len in [
            PIECE_BYTES + 1,
            2 * PIECE_BYTES,
            2 * PIECE_BYTES + 7,
            1_000_000,
        ] {
            let value: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let (descriptor, pieces) = split(b"k", &value);
            let pieces: Vec<_> = pieces.collect();
            assert_eq!(pieces.len() as u64, descriptor.count());
            assert!(pieces.iter().all(|(_, p)| p.len() <= PIECE_BYTES));
            let keys: Vec<_> = descriptor.piece_keys(b"k").collect();
            assert_eq!(
                keys,
                pieces.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>()
            );
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "pieces sort in order");
            assert!(keys.iter().all(|k| k[0] == RESERVED));
            let stored = descriptor.to_bytes();
            assert_eq!(Descriptor::parse(b"k", &stored).unwrap(), Some(descriptor));
            let back = descriptor
                .assemble(b"k", pieces.iter().map(|(_, p)| p))
                .unwrap();
            assert_eq!(back, value);
        }
    }

    #[test]
    fn pieces_belong_to_one_key_and_one_value() {
        let a = vec![1u8; PIECE_BYTES * 2];
        let b = vec![2u8; PIECE_BYTES * 2];
        let (da, _) = split(b"k", &a);
        let (db, _) = split(b"k", &b);
        let (dk, _) = split(b"other", &a);
        assert_ne!(da.prefix(b"k"), db.prefix(b"k"));
        assert_ne!(da.prefix(b"k"), dk.prefix(b"other"));
    }

    #[test]
    fn missing_extra_or_changed_pieces_are_corrupt() {
        let value: Vec<u8> = (0..3 * PIECE_BYTES + 5).map(|i| (i % 251) as u8).collect();
        let (d, pieces) = split(b"k", &value);
        let bytes: Vec<Vec<u8>> = pieces.map(|(_, p)| p.to_vec()).collect();
        let corrupt = |parts: Vec<Vec<u8>>| {
            matches!(
                d.assemble(b"k", parts.iter()),
                Err(StoreError::Corrupt { .. })
            )
        };
        assert!(corrupt(bytes[..3].to_vec()));
        let mut extra = bytes.clone();
        extra.push(vec![0]);
        assert!(corrupt(extra));
        let mut changed = bytes.clone();
        changed[1][0] ^= 1;
        assert!(corrupt(changed));
        let mut swapped = bytes.clone();
        swapped.swap(0, 1);
        assert!(corrupt(swapped));
        assert!(!corrupt(bytes));
    }

    #[test]
    fn what_begins_like_a_descriptor_is_one_or_is_refused() {
        assert!(needs_pieces(&MAGIC));
        assert!(!needs_pieces(&[0u8; PIECE_BYTES]));
        assert!(needs_pieces(&[0u8; PIECE_BYTES + 1]));
        assert_eq!(Descriptor::parse(b"k", b"plain").unwrap(), None);
        let mut short = MAGIC.to_vec();
        short.push(1);
        assert!(matches!(
            Descriptor::parse(b"k", &short),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
