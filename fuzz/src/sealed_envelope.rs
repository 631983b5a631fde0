//! `sealed_envelope`: `kp_types::Sealed::decode` (bounded decoding and the
//! shape check every node applies) and opening with a recipient's key, on
//! arbitrary bytes (ADR 0011). What decodes must re-encode to exactly the
//! input and pass the shape check; opening may fail, but whatever opens
//! must match the envelope's commitment (the property a recipient relies on).

use kp_types::sealed::{self, SealedFields, SALT_BYTES};
use kp_types::{AuthorityId, CertificateNumber, DecryptionKey, Party, Sealed};

fn number() -> CertificateNumber {
    CertificateNumber::new("BW0000001").expect("valid number")
}

fn keys() -> [DecryptionKey; 2] {
    [
        DecryptionKey::from_seed(&[1; 32]),
        DecryptionKey::from_seed(&[2; 32]),
    ]
}

/// One input.
pub fn run(data: &[u8]) {
    let Ok(envelope) = Sealed::decode(data) else {
        return;
    };
    assert_eq!(
        kp_types::encode(&envelope),
        data,
        "an envelope decoded from non-canonical bytes"
    );
    assert!(envelope.check_shape().is_ok());
    for key in keys() {
        if let Ok(opened) = envelope.open(&number(), &key) {
            assert_eq!(opened.commitment(), envelope.commitment);
        }
    }
}

/// A valid envelope to start from.
pub fn seeds() -> Vec<Vec<u8>> {
    let fields = SealedFields {
        exporter: Party {
            name: "Debswana".into(),
            address: "Gaborone".into(),
        },
        importer: Party {
            name: "Antwerp Diamonds".into(),
            address: "Antwerp".into(),
        },
        details: "invoice 1".into(),
    };
    let [a, b] = keys();
    let recipients = [
        (AuthorityId::new("BW-KPA").expect("id"), a.public()),
        (AuthorityId::new("EU-KPA").expect("id"), b.public()),
    ];
    sealed::seal(&number(), &fields, [3; SALT_BYTES], &recipients, [4; 32])
        .map(|s| vec![kp_types::encode(&s)])
        .unwrap_or_default()
}
