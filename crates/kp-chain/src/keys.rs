//! The host key layout and the value envelope, in one place so that the
//! byte-level description in the crate docs has one source of truth.
//!
//! Every key starts with a table byte at or above
//! [`kp_ledger::HOST_KEY_PREFIX_MIN`] followed by the table's key-format
//! version; every value starts with a value-format version byte followed by
//! the canonical encoding ([`kp_types::encode`]) of the value. A future
//! format gets new version bytes, so old and new entries can live side by side
//! while a migration runs, and a reader never mistakes one for the other.

use crate::error::key_hex;
use kp_ledger::StoreError;
use kp_ledger::HOST_KEY_PREFIX_MIN;
use kp_types::Hash;
use serde::{de::DeserializeOwned, Serialize};

/// Table byte of store metadata (the schema marker).
pub const TABLE_META: u8 = 0x80;
/// Table byte of blocks by height.
pub const TABLE_BLOCK: u8 = 0x81;
/// Table byte of the block-hash → height index.
pub const TABLE_BLOCK_HASH: u8 = 0x82;
/// Table byte of commit certificates by height.
pub const TABLE_COMMIT: u8 = 0x83;
/// Table byte of the transaction-hash → (height, position) index.
pub const TABLE_TX: u8 = 0x84;
/// Table byte of receipts by height.
pub const TABLE_RECEIPTS: u8 = 0x85;
/// Table byte of the "last stored block height" record.
pub const TABLE_LAST_BLOCK: u8 = 0x86;

/// Key-format version of every block-store table in this build.
pub const KEY_V1: u8 = 0x01;
/// Value-format version of every value this crate writes but the
/// transaction index's.
pub const VALUE_V1: u8 = 0x01;
/// Value-format version of a transaction-index entry that is its key alone:
/// the value is this one byte, since the key already ends with the
/// location (schema 2; schema 1 wrote `VALUE_V1 || encode((height,
/// position))`, which readers still accept).
pub const VALUE_V2_LOCATION_IN_KEY: u8 = 0x02;

/// The schema marker's key: `0x80 || "schema"`.
pub const SCHEMA_KEY: &[u8] = b"\x80schema";
/// The schema this build writes. Bump it (and write a migration) when a
/// table's key or value format changes incompatibly.
///
/// Schema 2 writes transaction-index values as [`VALUE_V2_LOCATION_IN_KEY`]
/// alone (ADR 0014); everything else is as in schema 1. Schema 3: the sled
/// binding (`kp-storage`) stores a value longer than 6 KiB in pieces under
/// keys from `0xFF` on, with a descriptor under its own key (ADR 0019);
/// the tables are as in schema 2. Schema 4: the ledger finds what an
/// authority issued through table 0x1B (one entry per authority and
/// territory) instead of 0x19 (one per certificate); `Ledger::open`
/// converts a store's 0x19 entries, and the new marker keeps builds of
/// schema 3 and before, which would count 0x1B into their state root,
/// from opening the store.
pub const SCHEMA_VERSION: u32 = 4;

/// Earlier schemas this build still reads, and upgrades on open by
/// rewriting the marker: a schema-1 or schema-2 store holds only entries
/// that schema 3's readers accept (a large value stored whole is read as it
/// is), and the ledger converts the per-certificate index of schemas 1 to 3
/// when it opens the store (a conversion a crash interrupts goes on at the
/// next open). The new marker keeps older builds from reading the entries
/// written from then on.
pub const SCHEMA_VERSIONS_UPGRADED: &[u32] = &[1, 2, 3];

/// First byte of the keys the storage binding keeps for itself (the pieces
/// of large values, ADR 0019): no table of the ledger or the block store
/// may use it.
pub const RESERVED_FOR_STORAGE: u8 = 0xFF;

// Every table byte is in the host range: the ledger never writes there, so the
// block store can share the ledger's keyspace and its atomic commit.
const _: () = assert!(TABLE_META >= HOST_KEY_PREFIX_MIN);
const _: () = assert!(TABLE_BLOCK >= HOST_KEY_PREFIX_MIN);
const _: () = assert!(TABLE_BLOCK_HASH >= HOST_KEY_PREFIX_MIN);
const _: () = assert!(TABLE_COMMIT >= HOST_KEY_PREFIX_MIN);
const _: () = assert!(TABLE_TX >= HOST_KEY_PREFIX_MIN);
const _: () = assert!(TABLE_RECEIPTS >= HOST_KEY_PREFIX_MIN);
const _: () = assert!(TABLE_LAST_BLOCK >= HOST_KEY_PREFIX_MIN);

/// `table || KEY_V1`: the prefix every key of a table starts with.
pub fn table_prefix(table: u8) -> [u8; 2] {
    [table, KEY_V1]
}

/// `table || KEY_V1 || height (u64 big-endian)`: big-endian so that key
/// order is height order and scans walk the chain upwards.
pub fn height_key(table: u8, height: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(10);
    key.extend_from_slice(&table_prefix(table));
    key.extend_from_slice(&height.to_be_bytes());
    key
}

/// The height in a key made by [`height_key`], if it is one.
pub fn height_of_key(table: u8, key: &[u8]) -> Option<u64> {
    let rest = key.strip_prefix(&table_prefix(table)[..])?;
    let bytes: [u8; 8] = rest.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// `0x82 || KEY_V1 || block hash (32)`.
pub fn block_hash_key(hash: &Hash) -> Vec<u8> {
    let mut key = Vec::with_capacity(34);
    key.extend_from_slice(&table_prefix(TABLE_BLOCK_HASH));
    key.extend_from_slice(&hash.0);
    key
}

/// `0x84 || KEY_V1 || tx hash (32)`: the prefix of one transaction's entries.
pub fn tx_prefix(tx_hash: &Hash) -> Vec<u8> {
    let mut key = Vec::with_capacity(46);
    key.extend_from_slice(&table_prefix(TABLE_TX));
    key.extend_from_slice(&tx_hash.0);
    key
}

/// `0x84 || KEY_V1 || tx hash (32) || height (u64 BE) || position (u32 BE)`.
///
/// The location is part of the key, so a transaction hash that appears in
/// several blocks (a replay the ledger rejected, kept with its receipt) gets
/// one entry per occurrence instead of the later one overwriting the first,
/// and a prefix scan returns the occurrences in chain order.
pub fn tx_key(tx_hash: &Hash, height: u64, position: u32) -> Vec<u8> {
    let mut key = tx_prefix(tx_hash);
    key.extend_from_slice(&height.to_be_bytes());
    key.extend_from_slice(&position.to_be_bytes());
    key
}

/// `0x80 "base"`: where a store restored from a state snapshot begins
/// (ADR 0016). Value: `VALUE_V1 || encode((height: u64, block hash))`.
pub const BASE_KEY: &[u8] = b"\x80base";

/// `0x86 || KEY_V1`.
pub fn last_block_key() -> Vec<u8> {
    table_prefix(TABLE_LAST_BLOCK).to_vec()
}

/// `VALUE_V1 || encode(value)`.
pub fn encode_value<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let body = kp_types::encode(value);
    let mut out = Vec::with_capacity(body.len() + 1);
    out.push(VALUE_V1);
    out.extend_from_slice(&body);
    out
}

/// `VALUE_V1 || bytes`, for values that are already an encoding (receipts).
pub fn wrap_raw(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 1);
    out.push(VALUE_V1);
    out.extend_from_slice(bytes);
    out
}

/// The body of a value written by [`encode_value`] or [`wrap_raw`], after
/// checking its version byte.
pub fn unwrap_raw<'a>(key: &[u8], value: &'a [u8]) -> Result<&'a [u8], StoreError> {
    match value.split_first() {
        Some((&VALUE_V1, body)) => Ok(body),
        Some((version, _)) => Err(StoreError::Corrupt {
            key_hex: key_hex(key),
            detail: format!("unknown value format version {version}"),
        }),
        None => Err(StoreError::Corrupt {
            key_hex: key_hex(key),
            detail: "empty value".to_string(),
        }),
    }
}

/// Decodes a value written by [`encode_value`], reading at most `limit`
/// bytes of body. Stored bytes are treated as untrusted: a damaged disk or a
/// foreign writer must produce an error, never a panic or a huge allocation.
pub fn decode_value<T: DeserializeOwned>(
    key: &[u8],
    value: &[u8],
    limit: usize,
) -> Result<T, StoreError> {
    let body = unwrap_raw(key, value)?;
    kp_types::decode(body, limit).map_err(|e| StoreError::Corrupt {
        key_hex: key_hex(key),
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn height_keys_sort_by_height() {
        let low = height_key(TABLE_BLOCK, 255);
        let high = height_key(TABLE_BLOCK, 256);
        assert!(low < high);
        assert_eq!(low, vec![0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0xff]);
        assert_eq!(height_of_key(TABLE_BLOCK, &high), Some(256));
        assert_eq!(height_of_key(TABLE_COMMIT, &high), None);
        assert_eq!(height_of_key(TABLE_BLOCK, &high[..9]), None);
    }

    #[test]
    fn tx_keys_group_by_hash_then_chain_order() {
        let hash = Hash([7; 32]);
        let first = tx_key(&hash, 3, 9);
        let later = tx_key(&hash, 10, 0);
        assert!(first < later);
        assert!(first.starts_with(&tx_prefix(&hash)));
        assert_eq!(first.len(), 2 + 32 + 8 + 4);
    }

    #[test]
    fn values_carry_a_version_byte() {
        let bytes = encode_value(&5u64);
        assert_eq!(bytes, vec![VALUE_V1, 0, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(decode_value::<u64>(b"k", &bytes, 8), Ok(5));
        let mut other = bytes.clone();
        other[0] = 2;
        assert!(matches!(
            decode_value::<u64>(b"k", &other, 8),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(matches!(
            decode_value::<u64>(b"k", &[], 8),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(matches!(
            decode_value::<u64>(b"k", &bytes[..5], 8),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
