//! Client for the kpledger RPC and proof verification.
