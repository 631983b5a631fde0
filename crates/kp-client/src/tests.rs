//! Proof verification tests.
