//! Helpers shared by the end-to-end tests: start, stop and query real `kpledger` processes.
