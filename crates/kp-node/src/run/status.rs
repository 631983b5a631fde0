//! What the node says of itself in `/v1/status` and `/v1/health`.

use super::*;

impl Node {
    pub(super) fn role(&self) -> &'static str {
        if self.is_validator() {
            "validator"
        } else {
            match self.ledger().member_kind(&self.key.public()) {
                Some(kp_types::ParticipantKind::Observer) => "observer",
                Some(_) => "member",
                None => "unlisted",
            }
        }
    }

    /// Replaying blocks fetched from peers, still far behind the network:
    /// synced blocks arrived within [`CATCHING_UP_WINDOW`] and the last one
    /// is older than [`CATCHING_UP_LAG_MS`].
    pub(super) fn catching_up(&self) -> bool {
        let behind_ms = now_ms().0.saturating_sub(self.ledger().last_block_time().0);
        self.last_synced
            .is_some_and(|at| at.elapsed() < CATCHING_UP_WINDOW)
            && behind_ms > CATCHING_UP_LAG_MS
    }

    pub(super) fn refresh_status(&self) {
        let ledger = self.ledger();
        let status = Status {
            chain_id: self.chain_id.clone(),
            node: self.code.clone(),
            role: self.role().to_string(),
            height: ledger.height(),
            block_hash: ledger.last_block_hash(),
            state_root: ledger.state_root(),
            block_time: ledger.last_block_time().to_string(),
            peers: self.replica.peers(),
            validators: ledger.validators().len(),
            mempool: self.replica.mempool().len(),
            round: self.replica.consensus().round(),
            block_time_ms: ledger.last_block_time().0,
            catching_up: self.catching_up(),
            validators_seen: ledger
                .validator_codes()
                .into_iter()
                .map(|(code, key)| kp_api::answers::ValidatorSeen {
                    participant: code.to_string(),
                    last_signed_height: self.validators_seen.get(&key).copied(),
                })
                .collect(),
        };
        if let Ok(mut slot) = self.shared.status.write() {
            *slot = status;
        }
    }
}
