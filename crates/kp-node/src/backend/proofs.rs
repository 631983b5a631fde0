//! The store as the prover's chain: headers, commits and receipts for light-client proofs.

use super::*;

/// The node's decided blocks, as the ledger's prover reads them.
pub struct StoreChain<'a>(pub(super) &'a SledStore);

impl kp_ledger::prove::Chain for StoreChain<'_> {
    fn last_height(&self) -> Result<u64, String> {
        BlockStore::last_block_height(self.0).map_err(|e| e.to_string())
    }

    fn block(&self, height: u64) -> Result<Option<Block>, String> {
        BlockStore::block(self.0, height).map_err(|e| e.to_string())
    }

    fn commit(&self, height: u64) -> Result<Option<kp_types::CommitCertificate>, String> {
        BlockStore::commit_certificate(self.0, height).map_err(|e| e.to_string())
    }

    fn receipts(&self, height: u64) -> Result<Option<Vec<TxReceipt>>, String> {
        match BlockStore::receipts(self.0, height).map_err(|e| e.to_string())? {
            Some(bytes) if !bytes.is_empty() => {
                kp_types::decode(&bytes, kp_chain::RECEIPTS_BYTES_MAX)
                    .map(Some)
                    .map_err(|e| e.to_string())
            }
            _ => Ok(None),
        }
    }
}
