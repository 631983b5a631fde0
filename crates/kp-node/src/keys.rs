//! Key files (the format is `kp_types::keyfile`, shared with the client) and
//! fresh keys.

pub use kp_types::keyfile::{public_of, read, write, KeyFileError};
use kp_types::SigningKey;

/// A fresh key from the operating system's random source.
pub fn generate() -> SigningKey {
    use rand::RngCore;
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    SigningKey::from_seed(seed)
}
