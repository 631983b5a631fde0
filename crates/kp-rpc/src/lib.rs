//! HTTP JSON API of a kpledger node.
