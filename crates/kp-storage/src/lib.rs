//! sled-backed block, state and consensus stores.
