//! The stores' error is `kp_ledger::StoreError` (one type for the trait,
//! this crate and the sled binding); this module adds the key formatting
//! its messages use.

/// Lowercase hex of a key, for error messages (keys are short).
pub fn key_hex(key: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(key.len() * 2);
    for byte in key {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}
