//! A kpledger node and the kpledger binary.
