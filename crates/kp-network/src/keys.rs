//! Conversions between kpledger node keys and libp2p identities.
//!
//! A node key is an ed25519 key; its libp2p `PeerId` is derived from the same
//! public key, so the ledger's list of node keys is also the list of allowed
//! peer ids.

use crate::error::NetworkError;
use kp_types::{PublicKey, SigningKey};
use libp2p::{identity, PeerId};

/// The libp2p keypair of a node key (same ed25519 secret).
pub fn keypair_of(key: &SigningKey) -> Result<identity::Keypair, NetworkError> {
    // `ed25519_from_bytes` zeroizes its argument, so hand it a copy.
    let mut seed = key.seed();
    identity::Keypair::ed25519_from_bytes(&mut seed)
        .map_err(|_| NetworkError::InvalidNodeKey { key: key.public() })
}

/// The libp2p peer id of a node's public key.
pub fn peer_id_of(key: &PublicKey) -> Result<PeerId, NetworkError> {
    let ed25519 = identity::ed25519::PublicKey::try_from_bytes(&key.0)
        .map_err(|_| NetworkError::InvalidNodeKey { key: *key })?;
    Ok(PeerId::from_public_key(&identity::PublicKey::from(ed25519)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keypair_and_public_key_give_the_same_peer_id() {
        let key = SigningKey::from_seed([9; 32]);
        let from_keypair = keypair_of(&key).unwrap().public().to_peer_id();
        assert_eq!(peer_id_of(&key.public()).unwrap(), from_keypair);
    }

    #[test]
    fn different_keys_give_different_peer_ids() {
        let a = peer_id_of(&SigningKey::from_seed([1; 32]).public()).unwrap();
        let b = peer_id_of(&SigningKey::from_seed([2; 32]).public()).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn a_point_off_the_curve_is_refused() {
        // y = 2 is not the encoding of a curve point.
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        let result = peer_id_of(&PublicKey(bytes));
        assert!(matches!(result, Err(NetworkError::InvalidNodeKey { .. })));
    }
}
