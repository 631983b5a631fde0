//! Sealed commercial fields (ADR 0011): the envelope a certificate carries
//! instead of names and addresses, and the authorities' encryption keys.
//!
//! No node can read a sealed envelope; every node checks that it is sealed
//! to the right two authorities under their registered keys, so that both
//! of them can read it. A plain certificate is refused once both sides can
//! read a sealed one (no silent downgrade).

use super::{reject, text, Ctx, Exec, ADDRESS_BYTES_MAX, NAME_BYTES_MAX};
use crate::keys;
use crate::records::{AuthorityRecord, LedgerEvent};
use crate::rejection::Rejection;
use crate::state::AUTHORITIES_PER_PARTICIPANT_MAX;
use crate::store::StateStore;
use kp_types::sealed::{SealedCopy, DETAILS_BYTES_MAX};
use kp_types::{
    AuthorityId, Certificate, EncryptionKey, ParticipantCode, Parties, PublicKey, SealedFields,
};

fn wrong<T>(position: u8, copy: &SealedCopy, detail: impl Into<String>) -> Exec<T> {
    reject(Rejection::SealedRecipientWrong {
        position,
        authority: copy.authority.clone(),
        detail: detail.into(),
    })
}

/// Bounds of the fields of a plain certificate.
pub(super) fn check_plain_fields(f: &SealedFields) -> Exec<()> {
    text("exporter.name", &f.exporter.name, NAME_BYTES_MAX)?;
    text("exporter.address", &f.exporter.address, ADDRESS_BYTES_MAX)?;
    text("importer.name", &f.importer.name, NAME_BYTES_MAX)?;
    text("importer.address", &f.importer.address, ADDRESS_BYTES_MAX)?;
    if f.details.len() > DETAILS_BYTES_MAX {
        return reject(Rejection::BadText {
            field: "details".into(),
            len: f.details.len(),
            max: DETAILS_BYTES_MAX,
        });
    }
    Ok(())
}

impl<S: StateStore> Ctx<'_, S> {
    /// The parties of certificate `c` issued by `issuer`: bounded fields if
    /// plain (and only while one side cannot read a sealed one), or an
    /// envelope sealed to the issuer and an authority of the importer under
    /// their registered keys.
    pub(super) fn check_sealing(&self, c: &Certificate, issuer: &AuthorityRecord) -> Exec<()> {
        let sealed = match &c.parties {
            Parties::Plain(fields) => {
                check_plain_fields(fields)?;
                if issuer.authority.encryption_key.is_some() {
                    if let Some(importing) = self.importing_with_key(&c.importing)? {
                        return reject(Rejection::SealingRequired {
                            importing_authority: importing,
                        });
                    }
                }
                return Ok(());
            }
            Parties::Sealed(sealed) => sealed,
        };
        if let Err(e) = sealed.check_shape() {
            return reject(Rejection::SealedEnvelopeMalformed {
                detail: e.to_string(),
            });
        }
        let issuing_copy = &sealed.recipients[0];
        if issuing_copy.authority != c.issuing_authority {
            return wrong(
                0,
                issuing_copy,
                format!(
                    "the first copy must be sealed to the issuing authority {}",
                    c.issuing_authority
                ),
            );
        }
        Self::check_key(0, issuing_copy, issuer)?;
        let importing_copy = &sealed.recipients[1];
        let Some(importer) = self.ov.authority(&importing_copy.authority)? else {
            return wrong(1, importing_copy, "no such authority");
        };
        if importer.authority.participant != c.importing {
            return wrong(
                1,
                importing_copy,
                format!(
                    "an authority of {}, not of the importing Participant {}",
                    importer.authority.participant, c.importing
                ),
            );
        }
        if importer.revoked_height.is_some() {
            return wrong(1, importing_copy, "the authority is revoked");
        }
        Self::check_key(1, importing_copy, &importer)
    }

    fn check_key(position: u8, copy: &SealedCopy, record: &AuthorityRecord) -> Exec<()> {
        match record.authority.encryption_key {
            None => reject(Rejection::NoEncryptionKey {
                authority: record.authority.id.clone(),
            }),
            Some(key) if key != copy.key => wrong(
                position,
                copy,
                format!(
                    "sealed to key {}, the authority's registered encryption key is {key}",
                    copy.key
                ),
            ),
            Some(_) => Ok(()),
        }
    }

    /// The first unrevoked authority of `code` with an encryption key.
    fn importing_with_key(&self, code: &ParticipantCode) -> Exec<Option<AuthorityId>> {
        let prefix = keys::authority_by_participant_prefix(code);
        for (k, _) in self.ov.scan(&prefix, AUTHORITIES_PER_PARTICIPANT_MAX)? {
            let Ok(id) = AuthorityId::new(&String::from_utf8_lossy(&k[prefix.len()..])) else {
                continue;
            };
            if let Some(a) = self.ov.authority(&id)? {
                if a.revoked_height.is_none() && a.authority.encryption_key.is_some() {
                    return Ok(Some(id));
                }
            }
        }
        Ok(None)
    }

    /// `SetEncryptionKey`: a Participant's government key sets or replaces
    /// one of its authorities' encryption keys.
    pub(super) fn set_encryption_key(
        &mut self,
        signer: &PublicKey,
        participant: &ParticipantCode,
        id: &AuthorityId,
        key: &EncryptionKey,
    ) -> Exec<()> {
        let mut a = self.owned_live_authority(signer, participant, id)?;
        if key.is_weak() {
            return reject(Rejection::WeakEncryptionKey {
                authority: id.clone(),
            });
        }
        a.authority.encryption_key = Some(*key);
        self.ov.put_value(keys::authority(id.as_str()), &a);
        self.emit(LedgerEvent::EncryptionKeySet {
            authority: id.clone(),
            key: *key,
        });
        Ok(())
    }
}
