//! The authority registry.

use super::{reject, text, Ctx, Exec, NAME_BYTES_MAX};
use crate::keys;
use crate::records::{AuthorityRecord, LedgerEvent};
use crate::rejection::Rejection;
use crate::state::AUTHORITIES_PER_PARTICIPANT_MAX;
use crate::store::StateStore;
use kp_types::{Authority, AuthorityId, ParticipantCode, PublicKey};

impl<S: StateStore> Ctx<'_, S> {
    pub(super) fn register_authority(&mut self, signer: &PublicKey, a: &Authority) -> Exec<()> {
        let owner = self.government_key_of(&a.participant, signer)?;
        if !owner.participant.kind.trades() {
            return reject(Rejection::NotTrading {
                participant: a.participant.clone(),
                kind: owner.participant.kind,
            });
        }
        if !owner.is_active() {
            return reject(Rejection::ParticipantExpelled {
                participant: a.participant.clone(),
            });
        }
        text("name", &a.name, NAME_BYTES_MAX)?;
        let registered = self
            .ov
            .scan(
                &keys::authority_by_participant_prefix(&a.participant),
                AUTHORITIES_PER_PARTICIPANT_MAX,
            )?
            .len();
        if registered >= AUTHORITIES_PER_PARTICIPANT_MAX {
            return reject(Rejection::TooManyItems {
                field: "authorities".into(),
                count: registered + 1,
                max: AUTHORITIES_PER_PARTICIPANT_MAX,
            });
        }
        if self.ov.authority(&a.id)?.is_some() {
            return reject(Rejection::AuthorityExists {
                authority: a.id.clone(),
            });
        }
        if a.key.is_weak() {
            return reject(Rejection::WeakKey { key: a.key });
        }
        if self.ov.key_in_use(&a.key)? {
            return reject(Rejection::KeyInUse { key: a.key });
        }
        self.ov.put_authority(&AuthorityRecord {
            authority: a.clone(),
            registered_height: self.height,
            revoked_height: None,
        });
        self.emit(LedgerEvent::AuthorityRegistered {
            authority: a.id.clone(),
        });
        Ok(())
    }

    pub(super) fn revoke_authority(
        &mut self,
        signer: &PublicKey,
        participant: &ParticipantCode,
        id: &AuthorityId,
    ) -> Exec<()> {
        self.government_key_of(participant, signer)?;
        let Some(mut a) = self.ov.authority(id)? else {
            return reject(Rejection::UnknownAuthority {
                authority: id.clone(),
            });
        };
        Self::require_owner(&a, participant)?;
        if a.revoked_height.is_some() {
            return reject(Rejection::AuthorityRevoked {
                authority: id.clone(),
            });
        }
        a.revoked_height = Some(self.height);
        // The key index stays, so a revoked key can never be registered again.
        self.ov.put_value(keys::authority(id.as_str()), &a);
        self.emit(LedgerEvent::AuthorityRevoked {
            authority: id.clone(),
        });
        Ok(())
    }
}
