//! Sans-IO Tendermint consensus core.
