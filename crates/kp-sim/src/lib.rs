//! Deterministic network simulator for kpledger.
