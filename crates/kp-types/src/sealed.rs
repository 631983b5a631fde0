//! Sealed commercial fields of a certificate (ADR 0011).
//!
//! The exporter's and importer's names and addresses and the parcels'
//! commercial details are encrypted to the two authorities of a shipment:
//! HPKE (RFC 9180) in base mode with DHKEM(X25519, HKDF-SHA256),
//! HKDF-SHA256 and ChaCha20-Poly1305, one single-shot encryption of the same
//! plaintext per recipient. In the clear stay a salted blake3 commitment of
//! the fields (which a paper document's holder can check) and, per
//! recipient, the authority and its registered encryption key, so that every
//! node can check the envelope's shape without reading it.
//!
//! Randomness (the salt and HPKE's ephemeral keys) is passed in: this module
//! draws none, and the same inputs seal to the same bytes.

use crate::certificate::{CertificateNumber, Party};
use crate::hash::{Domain, Hash};
use crate::participant::AuthorityId;
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::rand_core::{CryptoRng, RngCore};
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// Recipients of every sealed envelope: the issuing (exporting) authority,
/// then one authority of the importing Participant.
pub const RECIPIENTS: usize = 2;
/// The salt of the commitment, in bytes.
pub const SALT_BYTES: usize = 32;
/// Longest commercial-details text (invoice references, parcel descriptions).
pub const DETAILS_BYTES_MAX: usize = 2048;
/// Longest sealed plaintext: the encoded fields and salt (names 256 and
/// addresses 512 bytes each, the details, length prefixes).
pub const PLAINTEXT_BYTES_MAX: usize = 2 * (256 + 512) + DETAILS_BYTES_MAX + 64;
/// The AEAD tag ChaCha20-Poly1305 appends.
pub const TAG_BYTES: usize = 16;
/// Longest ciphertext of one recipient.
pub const CIPHERTEXT_BYTES_MAX: usize = PLAINTEXT_BYTES_MAX + TAG_BYTES;
/// Longest encoded [`Sealed`] envelope.
pub const ENVELOPE_BYTES_MAX: usize = 32 + RECIPIENTS * (64 + 32 + 32 + 8 + CIPHERTEXT_BYTES_MAX);

/// HPKE `info`: binds every encryption to this scheme and version.
const INFO: &[u8] = b"kpledger v1 sealed certificate fields";

/// The fields a certificate seals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SealedFields {
    /// Exporter's name and address.
    pub exporter: Party,
    /// Importer's name and address.
    pub importer: Party,
    /// The parcels' commercial details (invoice, parcel descriptions); may be empty.
    #[serde(default)]
    pub details: String,
}

/// What each recipient decrypts: the fields and the commitment's salt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Opened {
    /// The salt of the commitment.
    #[serde(with = "crate::serde_bytes")]
    #[cfg_attr(
        feature = "openapi",
        schemars(with = "String", regex(pattern = r"^[0-9a-f]*$"))
    )]
    pub salt: [u8; SALT_BYTES],
    /// The fields.
    pub fields: SealedFields,
}

impl Opened {
    /// The commitment the ledger holds for these fields and salt.
    pub fn commitment(&self) -> Hash {
        commitment(&self.salt, &self.fields)
    }
}

/// The salted commitment of sealed fields: blake3 (key derivation in its
/// own domain) of the salt and the fields' canonical encoding.
pub fn commitment(salt: &[u8; SALT_BYTES], fields: &SealedFields) -> Hash {
    Hash::of_parts(
        Domain::SealedFields,
        &[salt, &crate::encoding::encode(fields)],
    )
}

/// An authority's X25519 public key for sealed fields.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EncryptionKey(pub [u8; 32]);

impl EncryptionKey {
    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Option<EncryptionKey> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut out).ok()?;
        Some(EncryptionKey(out))
    }

    /// Whether the key is of small order (all-zero shared secrets): HPKE
    /// refuses to encrypt to it, so the ledger refuses to register it.
    pub fn is_weak(&self) -> bool {
        let Ok(public) = <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(&self.0) else {
            return true;
        };
        // An encryption to a small-order point fails in the DH step (the
        // ephemeral key of this probe encrypts nothing and is thrown away).
        let mut rng = SeededRng::new([1; 32]);
        hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256, _>(
            &OpModeS::Base,
            &public,
            INFO,
            b"",
            b"",
            &mut rng,
        )
        .is_err()
    }
}

/// HPKE's randomness (rand_core 0.9 traits) from a ChaCha20 stream of a
/// seed the caller passes in: the module draws no randomness of its own.
struct SeededRng(rand_chacha::ChaCha20Rng);

impl SeededRng {
    fn new(seed: [u8; 32]) -> SeededRng {
        use rand_chacha::rand_core::SeedableRng;
        SeededRng(rand_chacha::ChaCha20Rng::from_seed(seed))
    }
}

impl RngCore for SeededRng {
    fn next_u32(&mut self) -> u32 {
        rand_chacha::rand_core::RngCore::next_u32(&mut self.0)
    }
    fn next_u64(&mut self) -> u64 {
        rand_chacha::rand_core::RngCore::next_u64(&mut self.0)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand_chacha::rand_core::RngCore::fill_bytes(&mut self.0, dest)
    }
}
impl CryptoRng for SeededRng {}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptionKey({})", self.to_hex())
    }
}

impl fmt::Display for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for EncryptionKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::serde_bytes::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for EncryptionKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::serde_bytes::deserialize(d).map(EncryptionKey)
    }
}

/// An authority's X25519 private key, derived from a 32-byte key-file seed
/// with HPKE's `DeriveKeyPair` (RFC 9180 section 7.1.3).
pub struct DecryptionKey {
    private: <X25519HkdfSha256 as hpke::Kem>::PrivateKey,
    public: EncryptionKey,
}

impl DecryptionKey {
    /// The key pair of a seed (a key file's 32 bytes).
    pub fn from_seed(seed: &[u8; 32]) -> DecryptionKey {
        let (private, public) = X25519HkdfSha256::derive_keypair(seed);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&public.to_bytes());
        DecryptionKey {
            private,
            public: EncryptionKey(bytes),
        }
    }

    /// Its public half, the key registered in the ledger.
    pub fn public(&self) -> EncryptionKey {
        self.public
    }
}

impl fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DecryptionKey(public {})", self.public)
    }
}

/// Variable-length bytes: hex in JSON and TOML, length-prefixed in bincode.
mod hex_vec {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&hex::encode(bytes))
        } else {
            bytes.serialize(s)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        if d.is_human_readable() {
            let text = String::deserialize(d)?;
            hex::decode(text).map_err(serde::de::Error::custom)
        } else {
            Vec::<u8>::deserialize(d)
        }
    }
}

/// One recipient's copy of the sealed fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SealedCopy {
    /// The authority it is sealed to.
    pub authority: AuthorityId,
    /// The authority's registered encryption key it is sealed to.
    pub key: EncryptionKey,
    /// HPKE's encapsulated (ephemeral) key.
    #[serde(with = "crate::serde_bytes")]
    #[cfg_attr(
        feature = "openapi",
        schemars(with = "String", regex(pattern = r"^[0-9a-f]{64}$"))
    )]
    pub encapsulated: [u8; 32],
    /// The encrypted [`Opened`] value, with its tag.
    #[serde(with = "hex_vec")]
    #[cfg_attr(
        feature = "openapi",
        schemars(with = "String", regex(pattern = r"^([0-9a-f]{2})*$"))
    )]
    pub ciphertext: Vec<u8>,
}

/// The sealed fields of a certificate: the commitment in the clear and one
/// copy per recipient (the issuing authority first, then the importing one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Sealed {
    /// The salted commitment of the fields.
    pub commitment: Hash,
    /// One encryption per recipient.
    pub recipients: Vec<SealedCopy>,
}

/// A certificate's exporter, importer and commercial details: sealed, or in
/// the clear where an authority has no encryption key yet (ADR 0011).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Parties {
    /// Readable by every node (certificates between authorities that have
    /// not registered encryption keys).
    Plain(SealedFields),
    /// Readable by the two authorities only.
    Sealed(Sealed),
}

impl Parties {
    /// The envelope, if sealed.
    pub fn sealed(&self) -> Option<&Sealed> {
        match self {
            Parties::Sealed(s) => Some(s),
            Parties::Plain(_) => None,
        }
    }
}

/// Why sealing, opening or an envelope's shape failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SealError {
    /// The envelope's shape is wrong (count of recipients, sizes).
    #[error("malformed sealed envelope: {detail}")]
    Malformed {
        /// What is wrong.
        detail: String,
    },
    /// A recipient key is not a usable X25519 key.
    #[error("encryption key {key} of {authority} is not a usable X25519 key")]
    BadKey {
        /// Whose.
        authority: AuthorityId,
        /// The key.
        key: EncryptionKey,
    },
    /// The fields are too long to seal.
    #[error("sealed fields too long: {len} bytes encoded, at most {max}")]
    TooLong {
        /// Encoded length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The key is none of the envelope's recipients.
    #[error("this key ({key}) is not a recipient of the sealed fields (sealed to {recipients}); only the commitment {commitment} is readable")]
    NotARecipient {
        /// The key tried.
        key: EncryptionKey,
        /// Who the envelope is sealed to.
        recipients: String,
        /// The commitment.
        commitment: Hash,
    },
    /// Decryption failed (tampered ciphertext, another certificate's
    /// envelope, or a key that only claims to be the recipient's).
    #[error("the sealed fields do not decrypt with this key (tampered, or sealed for another certificate)")]
    Decrypt,
    /// The plaintext decrypted but does not match the commitment.
    #[error("the sealed fields decrypt but do not match the commitment {commitment}")]
    CommitmentMismatch {
        /// The commitment on the ledger.
        commitment: Hash,
    },
}

fn malformed<T>(detail: impl Into<String>) -> Result<T, SealError> {
    Err(SealError::Malformed {
        detail: detail.into(),
    })
}

/// The additional data every copy is bound to: the certificate's number and
/// the commitment, so that an envelope cannot be moved to another certificate.
fn aad(number: &CertificateNumber, commitment: &Hash) -> Vec<u8> {
    let mut aad = Vec::with_capacity(64 + number.as_str().len());
    aad.extend_from_slice(number.as_str().as_bytes());
    aad.push(0);
    aad.extend_from_slice(&commitment.0);
    aad
}

/// Seals `fields` for `recipients` (issuing authority first) with the given
/// salt; HPKE's ephemeral keys come from `entropy` (32 fresh random bytes
/// from the caller: reusing them across certificates reuses ephemeral keys).
pub fn seal(
    number: &CertificateNumber,
    fields: &SealedFields,
    salt: [u8; SALT_BYTES],
    recipients: &[(AuthorityId, EncryptionKey)],
    entropy: [u8; 32],
) -> Result<Sealed, SealError> {
    let mut rng = SeededRng::new(entropy);
    if recipients.len() != RECIPIENTS {
        return malformed(format!(
            "{} recipients, expected {RECIPIENTS}",
            recipients.len()
        ));
    }
    if fields.details.len() > DETAILS_BYTES_MAX {
        return Err(SealError::TooLong {
            len: fields.details.len(),
            max: DETAILS_BYTES_MAX,
        });
    }
    let opened = Opened {
        salt,
        fields: fields.clone(),
    };
    let plaintext = crate::encoding::encode(&opened);
    if plaintext.len() > PLAINTEXT_BYTES_MAX {
        return Err(SealError::TooLong {
            len: plaintext.len(),
            max: PLAINTEXT_BYTES_MAX,
        });
    }
    let commitment = opened.commitment();
    let aad = aad(number, &commitment);
    let mut copies = Vec::with_capacity(RECIPIENTS);
    for (authority, key) in recipients {
        let bad_key = || SealError::BadKey {
            authority: authority.clone(),
            key: *key,
        };
        let public = <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(&key.0)
            .map_err(|_| bad_key())?;
        let (encapsulated, ciphertext) =
            hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256, _>(
                &OpModeS::Base,
                &public,
                INFO,
                &plaintext,
                &aad,
                &mut rng,
            )
            .map_err(|_| bad_key())?;
        let mut enc = [0u8; 32];
        enc.copy_from_slice(&encapsulated.to_bytes());
        copies.push(SealedCopy {
            authority: authority.clone(),
            key: *key,
            encapsulated: enc,
            ciphertext,
        });
    }
    Ok(Sealed {
        commitment,
        recipients: copies,
    })
}

impl Sealed {
    /// Checks the envelope's shape: the number of recipients, two distinct
    /// recipients, and ciphertext sizes. (Whether the recipients are the
    /// right authorities with their registered keys is a ledger rule.)
    pub fn check_shape(&self) -> Result<(), SealError> {
        if self.recipients.len() != RECIPIENTS {
            return malformed(format!(
                "{} recipients, expected {RECIPIENTS}",
                self.recipients.len()
            ));
        }
        if self.recipients[0].authority == self.recipients[1].authority {
            return malformed("both copies are sealed to the same authority");
        }
        for (i, copy) in self.recipients.iter().enumerate() {
            let len = copy.ciphertext.len();
            if !(TAG_BYTES + 1..=CIPHERTEXT_BYTES_MAX).contains(&len) {
                return malformed(format!(
                    "copy {i} has a ciphertext of {len} bytes, expected {} to {CIPHERTEXT_BYTES_MAX}",
                    TAG_BYTES + 1
                ));
            }
        }
        Ok(())
    }

    /// Decodes an envelope from its canonical bytes, bounded, and checks its shape.
    pub fn decode(bytes: &[u8]) -> Result<Sealed, SealError> {
        let sealed: Sealed = crate::encoding::decode(bytes, ENVELOPE_BYTES_MAX).map_err(|e| {
            SealError::Malformed {
                detail: e.to_string(),
            }
        })?;
        sealed.check_shape()?;
        Ok(sealed)
    }

    /// Opens the copy sealed to `key` and checks it against the commitment.
    pub fn open(
        &self,
        number: &CertificateNumber,
        key: &DecryptionKey,
    ) -> Result<Opened, SealError> {
        self.check_shape()?;
        let Some(copy) = self.recipients.iter().find(|c| c.key == key.public) else {
            return Err(SealError::NotARecipient {
                key: key.public,
                recipients: self
                    .recipients
                    .iter()
                    .map(|c| c.authority.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                commitment: self.commitment,
            });
        };
        let encapsulated =
            <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(&copy.encapsulated)
                .map_err(|_| SealError::Decrypt)?;
        let plaintext = hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            &key.private,
            &encapsulated,
            INFO,
            &copy.ciphertext,
            &aad(number, &self.commitment),
        )
        .map_err(|_| SealError::Decrypt)?;
        let opened: Opened =
            crate::encoding::decode(&plaintext, PLAINTEXT_BYTES_MAX).map_err(|e| {
                SealError::Malformed {
                    detail: format!("decrypted fields do not decode: {e}"),
                }
            })?;
        if opened.commitment() != self.commitment {
            return Err(SealError::CommitmentMismatch {
                commitment: self.commitment,
            });
        }
        Ok(opened)
    }
}

#[cfg(test)]
mod tests;
