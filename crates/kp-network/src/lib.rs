//! libp2p networking for kpledger nodes.
