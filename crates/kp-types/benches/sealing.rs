//! What sealing costs per certificate (ADR 0011): sealing the exporter,
//! importer and details to two authorities (two HPKE X25519 encryptions),
//! opening one copy, the commitment alone (what `cert verify --document`
//! computes), and the bounded decoding and shape check of an envelope (what
//! every node does on top of a plain certificate's checks).
//!
//! Run: `cargo bench -p kp-types --bench sealing`. The envelope's size is
//! printed before the timings.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use kp_types::sealed::{self, SealedFields, SALT_BYTES};
use kp_types::{AuthorityId, CertificateNumber, DecryptionKey, Party, Sealed};

fn fields() -> SealedFields {
    SealedFields {
        exporter: Party {
            name: "Debswana Diamond Company".into(),
            address: "Plot 64288, Airport Road, Gaborone".into(),
        },
        importer: Party {
            name: "Antwerp Rough Traders BV".into(),
            address: "Hoveniersstraat 2, 2018 Antwerp".into(),
        },
        details: "Invoice DB-2026-118; 3 parcels of sawables".into(),
    }
}

fn bench(c: &mut Criterion) {
    let number = CertificateNumber::new("BW2026000001").unwrap();
    let exporting = DecryptionKey::from_seed(&[1; 32]);
    let importing = DecryptionKey::from_seed(&[2; 32]);
    let recipients = [
        (AuthorityId::new("BW-KPA").unwrap(), exporting.public()),
        (AuthorityId::new("EU-KPA").unwrap(), importing.public()),
    ];
    let fields = fields();
    let envelope = sealed::seal(&number, &fields, [3; SALT_BYTES], &recipients, [4; 32]).unwrap();
    let bytes = kp_types::encode(&envelope);
    let plain = kp_types::encode(&kp_types::Parties::Plain(fields.clone()));
    println!(
        "sealed envelope: {} bytes canonical (the plain fields: {} bytes)",
        bytes.len(),
        plain.len()
    );
    let mut entropy = 0u8;
    c.bench_function("seal (2 recipients)", |b| {
        b.iter(|| {
            entropy = entropy.wrapping_add(1);
            sealed::seal(
                &number,
                black_box(&fields),
                [entropy; SALT_BYTES],
                &recipients,
                [entropy; 32],
            )
            .unwrap()
        })
    });
    c.bench_function("open (one copy)", |b| {
        b.iter(|| envelope.open(&number, black_box(&importing)).unwrap())
    });
    c.bench_function("commitment (document check)", |b| {
        b.iter(|| sealed::commitment(&[3; SALT_BYTES], black_box(&fields)))
    });
    c.bench_function("decode and shape check (every node)", |b| {
        b.iter(|| Sealed::decode(black_box(&bytes)).unwrap())
    });
    c.bench_function("derive key pair from a key file's seed", |b| {
        b.iter(|| DecryptionKey::from_seed(black_box(&[9; 32])))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench
}
criterion_main!(benches);
