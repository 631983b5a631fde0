use super::*;
use proptest::prelude::*;

fn number() -> CertificateNumber {
    CertificateNumber::new("BW0000001").unwrap()
}

fn fields() -> SealedFields {
    SealedFields {
        exporter: Party {
            name: "Okavango Rough Exports".into(),
            address: "Plot 1, Gaborone".into(),
        },
        importer: Party {
            name: "Scheldt Diamond Traders".into(),
            address: "Hoveniersstraat 2, Antwerp".into(),
        },
        details: "invoice INV-77; 3 parcels of sawables".into(),
    }
}

fn keys() -> (DecryptionKey, DecryptionKey, DecryptionKey) {
    (
        DecryptionKey::from_seed(&[1; 32]),
        DecryptionKey::from_seed(&[2; 32]),
        DecryptionKey::from_seed(&[3; 32]),
    )
}

fn sealed_with(rng_seed: u64) -> Sealed {
    let (exporting, importing, _) = keys();
    seal(
        &number(),
        &fields(),
        [9; SALT_BYTES],
        &[
            (AuthorityId::new("BW-KPA").unwrap(), exporting.public()),
            (AuthorityId::new("EU-KPA").unwrap(), importing.public()),
        ],
        [rng_seed as u8; 32],
    )
    .unwrap()
}

#[test]
fn both_recipients_open_and_a_third_key_reads_the_commitment_only() {
    let sealed = sealed_with(7);
    let (exporting, importing, third) = keys();
    for key in [&exporting, &importing] {
        let opened = sealed.open(&number(), key).unwrap();
        assert_eq!(opened.fields, fields());
        assert_eq!(opened.salt, [9; SALT_BYTES]);
        assert_eq!(opened.commitment(), sealed.commitment);
    }
    let refused = sealed.open(&number(), &third).unwrap_err();
    assert!(
        matches!(refused, SealError::NotARecipient { .. }),
        "{refused}"
    );
    assert!(refused.to_string().contains("BW-KPA, EU-KPA"), "{refused}");
    // The plaintext appears nowhere in the envelope's bytes.
    let bytes = crate::encode(&sealed);
    for secret in ["Okavango", "Scheldt", "Gaborone", "INV-77"] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} in the clear"
        );
    }
}

#[test]
fn sealing_is_deterministic_in_its_inputs() {
    assert_eq!(sealed_with(7), sealed_with(7));
    let other = sealed_with(8);
    assert_eq!(other.commitment, sealed_with(7).commitment);
    assert_ne!(
        other.recipients[0].ciphertext,
        sealed_with(7).recipients[0].ciphertext
    );
}

#[test]
fn the_commitment_depends_on_every_field_and_the_salt() {
    let base = commitment(&[9; SALT_BYTES], &fields());
    assert_ne!(commitment(&[8; SALT_BYTES], &fields()), base);
    let mut f = fields();
    f.exporter.name.push('.');
    assert_ne!(commitment(&[9; SALT_BYTES], &f), base);
    let mut f = fields();
    f.importer.address = "Antwerp".into();
    assert_ne!(commitment(&[9; SALT_BYTES], &f), base);
    let mut f = fields();
    f.details.clear();
    assert_ne!(commitment(&[9; SALT_BYTES], &f), base);
}

#[test]
fn tampering_or_moving_an_envelope_fails_to_open() {
    let (exporting, _, _) = keys();
    let mut flipped = sealed_with(7);
    flipped.recipients[0].ciphertext[3] ^= 1;
    assert_eq!(flipped.open(&number(), &exporting), Err(SealError::Decrypt));
    // Moved to another certificate: the number is bound as additional data.
    let other = CertificateNumber::new("BW0000002").unwrap();
    assert_eq!(
        sealed_with(7).open(&other, &exporting),
        Err(SealError::Decrypt)
    );
    // A changed commitment is bound too.
    let mut recommitted = sealed_with(7);
    recommitted.commitment = Hash([0; 32]);
    assert_eq!(
        recommitted.open(&number(), &exporting),
        Err(SealError::Decrypt)
    );
}

#[test]
fn malformed_envelopes_are_refused_by_shape() {
    let mut one = sealed_with(7);
    one.recipients.pop();
    assert!(matches!(
        one.check_shape(),
        Err(SealError::Malformed { .. })
    ));
    let mut same = sealed_with(7);
    same.recipients[1].authority = same.recipients[0].authority.clone();
    assert!(matches!(
        same.check_shape(),
        Err(SealError::Malformed { .. })
    ));
    let mut short = sealed_with(7);
    short.recipients[0].ciphertext.truncate(TAG_BYTES);
    assert!(matches!(
        short.check_shape(),
        Err(SealError::Malformed { .. })
    ));
    let mut long = sealed_with(7);
    long.recipients[1].ciphertext = vec![0; CIPHERTEXT_BYTES_MAX + 1];
    assert!(matches!(
        long.check_shape(),
        Err(SealError::Malformed { .. })
    ));
    // Too long to seal at all.
    let mut f = fields();
    f.details = "x".repeat(DETAILS_BYTES_MAX + 1);
    let (a, b, _) = keys();
    let refused = seal(
        &number(),
        &f,
        [0; SALT_BYTES],
        &[
            (AuthorityId::new("BW-KPA").unwrap(), a.public()),
            (AuthorityId::new("EU-KPA").unwrap(), b.public()),
        ],
        [1; 32],
    );
    assert!(matches!(refused, Err(SealError::TooLong { .. })));
}

#[test]
fn small_order_keys_are_weak_and_cannot_be_sealed_to() {
    let zero = EncryptionKey([0; 32]);
    assert!(zero.is_weak());
    assert!(!keys().0.public().is_weak());
    let refused = seal(
        &number(),
        &fields(),
        [0; SALT_BYTES],
        &[
            (AuthorityId::new("BW-KPA").unwrap(), zero),
            (AuthorityId::new("EU-KPA").unwrap(), keys().1.public()),
        ],
        [1; 32],
    );
    assert!(matches!(refused, Err(SealError::BadKey { .. })));
}

#[test]
fn envelopes_round_trip_in_json_and_binary() {
    let sealed = sealed_with(7);
    let json = serde_json::to_string(&Parties::Sealed(sealed.clone())).unwrap();
    assert!(json.contains("\"sealed\""), "{json}");
    assert_eq!(
        serde_json::from_str::<Parties>(&json).unwrap(),
        Parties::Sealed(sealed.clone())
    );
    let bytes = crate::encode(&sealed);
    assert!(bytes.len() <= ENVELOPE_BYTES_MAX);
    assert_eq!(Sealed::decode(&bytes).unwrap(), sealed);
    assert!(Sealed::decode(&bytes[..bytes.len() - 1]).is_err());
}

proptest! {
    /// Random bytes never panic the decoder, and whatever decodes has a valid shape.
    #[test]
    fn random_bytes_decode_defensively(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(sealed) = Sealed::decode(&bytes) {
            prop_assert!(sealed.check_shape().is_ok());
            let (key, _, _) = keys();
            let _ = sealed.open(&number(), &key);
        }
    }

    /// A valid envelope with random bytes flipped either fails to decode,
    /// fails to open, or opens to exactly the sealed fields.
    #[test]
    fn mutated_envelopes_never_open_to_other_fields(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)
    ) {
        let mut bytes = crate::encode(&sealed_with(7));
        for (at, bits) in flips {
            let i = at % bytes.len();
            bytes[i] ^= bits;
        }
        if let Ok(sealed) = Sealed::decode(&bytes) {
            let (key, _, _) = keys();
            if let Ok(opened) = sealed.open(&number(), &key) {
                prop_assert_eq!(opened.fields, fields());
            }
        }
    }
}
