//! The authority registry.

use super::{reject, text, Ctx, Exec, NAME_BYTES_MAX};
use crate::keys;
use crate::records::{AuthorityRecord, LedgerEvent, PreviousAuthorityKey};
use crate::rejection::Rejection;
use crate::state::AUTHORITIES_PER_PARTICIPANT_MAX;
use crate::store::StateStore;
use kp_types::{Authority, AuthorityId, EncryptionKey, ParticipantCode, PublicKey, Timestamp};

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
        let registered = self.ov.authority_count(&a.participant)? as usize;
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
        if a.encryption_key.is_some_and(|k| k.is_weak()) {
            return reject(Rejection::WeakEncryptionKey {
                authority: a.id.clone(),
            });
        }
        self.ov.add_authority(&AuthorityRecord {
            authority: a.clone(),
            registered_height: self.height,
            revoked_height: None,
            compromised_since: None,
            previous_keys: Vec::new(),
        })?;
        self.emit(LedgerEvent::AuthorityRegistered {
            authority: a.id.clone(),
        });
        Ok(())
    }

    /// Revokes an authority, optionally as compromised since a time. A
    /// revoked authority may be revoked again only to record a compromise it
    /// lacks or to move its start earlier (a compromise found after a routine
    /// revocation, or found to have begun earlier than first thought).
    pub(super) fn revoke_authority(
        &mut self,
        signer: &PublicKey,
        participant: &ParticipantCode,
        id: &AuthorityId,
        compromised_since: Option<Timestamp>,
    ) -> Exec<()> {
        let mut a = self.owned_authority(signer, participant, id)?;
        if let Some(since) = compromised_since {
            if since > self.time {
                return reject(Rejection::CompromiseInFuture {
                    since,
                    block_time: self.time,
                });
            }
        }
        let widens = match (compromised_since, a.compromised_since) {
            (Some(new), Some(old)) => new < old,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if a.revoked_height.is_some() && !widens {
            return reject(Rejection::AuthorityRevoked {
                authority: id.clone(),
            });
        }
        if a.revoked_height.is_none() {
            a.revoked_height = Some(self.height);
        }
        if widens {
            a.compromised_since = compromised_since;
        }
        // The key index stays, so a revoked key can never be registered again.
        self.ov.put_value(keys::authority(id.as_str()), &a);
        self.emit(LedgerEvent::AuthorityRevoked {
            authority: id.clone(),
            compromised_since: a.compromised_since,
        });
        Ok(())
    }

    /// `RotateAuthorityKey`: the owner's government key replaces an
    /// authority's signing key (and, if given, its encryption key), keeping
    /// its id. The old key joins the record's history with this block's
    /// height: acts it signed up to here stay valid (a light client checks
    /// each act against the key of its height), later ones are refused
    /// (`authority-key-retired`). Its index entry stays, so no one can
    /// register it again.
    pub(super) fn rotate_authority_key(
        &mut self,
        signer: &PublicKey,
        participant: &ParticipantCode,
        id: &AuthorityId,
        new_key: &PublicKey,
        new_encryption_key: Option<&EncryptionKey>,
    ) -> Exec<()> {
        let mut a = self.owned_live_authority(signer, participant, id)?;
        let rotations = a.previous_keys.len() + 1;
        if rotations > AuthorityRecord::PREVIOUS_KEYS_MAX {
            return reject(Rejection::TooManyItems {
                field: "previous_keys".into(),
                count: rotations,
                max: AuthorityRecord::PREVIOUS_KEYS_MAX,
            });
        }
        if new_key.is_weak() {
            return reject(Rejection::WeakKey { key: *new_key });
        }
        if self.ov.key_in_use(new_key)? {
            return reject(Rejection::KeyInUse { key: *new_key });
        }
        if new_encryption_key.is_some_and(|k| k.is_weak()) {
            return reject(Rejection::WeakEncryptionKey {
                authority: id.clone(),
            });
        }
        let previous = a.authority.key;
        a.previous_keys.push(PreviousAuthorityKey {
            key: previous,
            until_height: self.height,
        });
        a.authority.key = *new_key;
        if let Some(k) = new_encryption_key {
            a.authority.encryption_key = Some(*k);
        }
        self.ov.put_value(keys::authority(id.as_str()), &a);
        self.ov.put_value(keys::authority_key(new_key), id);
        self.emit(LedgerEvent::AuthorityKeyRotated {
            authority: id.clone(),
            key: *new_key,
            previous,
        });
        if let Some(k) = new_encryption_key {
            self.emit(LedgerEvent::EncryptionKeySet {
                authority: id.clone(),
                key: *k,
            });
        }
        Ok(())
    }
}
