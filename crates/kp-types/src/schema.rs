//! JSON Schemas of the types whose JSON form is written by hand (hex,
//! fixed-point amounts, codes, dates): strings with the pattern the
//! serializer writes. The derived types (feature `openapi`) refer to these;
//! the node's OpenAPI document gathers them as its components (ADR 0015).

use crate::merkle::{MerkleProof, ProofStep};
use crate::{
    AuthorityId, Carats, CertificateNumber, Date, EncryptionKey, Hash, ParticipantCode, Period,
    PublicKey, Signature, Territory, Timestamp, UsdCents,
};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use std::borrow::Cow;

macro_rules! string_schema {
    ($ty:ty, $name:literal, $pattern:literal, $description:literal, $example:literal) => {
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
            fn schema_id() -> Cow<'static, str> {
                Cow::Borrowed(concat!("kp_types::", $name))
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "pattern": $pattern,
                    "description": $description,
                    "examples": [$example],
                })
            }
        }
    };
}

string_schema!(
    Hash,
    "Hash",
    "^[0-9a-f]{64}$",
    "A blake3 hash: 64 lower-case hex digits.",
    "5e3a4be2a1c34a04b8e1c3b0f0f0d6fa2f6e1f0e8c7d5b4a3928172635445362"
);
string_schema!(
    PublicKey,
    "PublicKey",
    "^[0-9a-f]{64}$",
    "An ed25519 public key: 64 lower-case hex digits.",
    "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"
);
string_schema!(
    Signature,
    "Signature",
    "^[0-9a-f]{128}$",
    "An ed25519 signature: 128 lower-case hex digits.",
    "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
);
string_schema!(
    EncryptionKey,
    "EncryptionKey",
    "^[0-9a-f]{64}$",
    "An X25519 public key of an authority, for sealed fields: 64 lower-case hex digits.",
    "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"
);
string_schema!(
    Carats,
    "Carats",
    "^[0-9]+\\.[0-9]{2}$",
    "A weight in carats, a decimal string with two decimals.",
    "1250.50"
);
string_schema!(
    UsdCents,
    "UsdAmount",
    "^[0-9]+\\.[0-9]{2}$",
    "A value in US dollars, a decimal string with two decimals.",
    "2500000.00"
);
string_schema!(
    ParticipantCode,
    "ParticipantCode",
    "^[A-Z]{2,5}$",
    "A Participant's, trading entity's or observer's code: 2 to 5 upper-case letters.",
    "BW"
);
string_schema!(
    Territory,
    "Territory",
    "^[A-Z]{2}$",
    "An ISO 3166-1 alpha-2 territory code.",
    "BE"
);
string_schema!(
    AuthorityId,
    "AuthorityId",
    "^[A-Z0-9-]{3,32}$",
    "A KP Authority's identifier: 3 to 32 characters of A-Z, 0-9 and '-'.",
    "BW-KPA"
);
string_schema!(
    CertificateNumber,
    "CertificateNumber",
    "^[A-Z]{2}[A-Z0-9-]{1,30}$",
    "A certificate number: the alpha-2 code of the issuing territory, then 1 to 30 characters of A-Z, 0-9 and '-'.",
    "BW2026000001"
);
string_schema!(
    Date,
    "Date",
    "^[0-9]{4,}-[0-9]{2}-[0-9]{2}$",
    "A calendar date, YYYY-MM-DD.",
    "2026-12-05"
);
string_schema!(
    Timestamp,
    "Timestamp",
    "^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{3})?Z|[0-9]+)$",
    "A time in UTC, RFC 3339 with optional milliseconds (from the year 10000 on: milliseconds since 1970).",
    "2026-12-05T09:30:00Z"
);
string_schema!(
    Period,
    "Period",
    "^(19[7-9][0-9]|[2-9][0-9]{3})(H[12]|Q[1-4])?$",
    "A reporting period from 1970 to 9999: a year (2026), a half-year (2026H1, 2026H2) or a quarter (2026Q1 to 2026Q4).",
    "2026H1"
);

// The Merkle path types are described here rather than derived beside
// them: a line added to merkle.rs would move the panic locations the
// WebAssembly verifier carries, and change its committed bytes (ADR 0015).

impl JsonSchema for ProofStep {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("ProofStep")
    }
    fn schema_id() -> Cow<'static, str> {
        Cow::Borrowed("kp_types::merkle::ProofStep")
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "One step of a path: the sibling hash and on which side it sits.",
            "type": "object",
            "required": ["sibling", "sibling_is_left"],
            "properties": {
                "sibling": generator.subschema_for::<Hash>(),
                "sibling_is_left": {"type": "boolean", "description": "Whether the sibling is on the left."},
            },
        })
    }
}

impl JsonSchema for MerkleProof {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("MerkleProof")
    }
    fn schema_id() -> Cow<'static, str> {
        Cow::Borrowed("kp_types::merkle::MerkleProof")
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A proof that a leaf sits at `index` of a tree of `leaf_count` leaves.",
            "type": "object",
            "required": ["index", "leaf_count", "path"],
            "properties": {
                "index": {"type": "integer", "format": "uint64", "minimum": 0, "description": "Position of the leaf."},
                "leaf_count": {"type": "integer", "format": "uint64", "minimum": 0, "description": "Leaves in the tree."},
                "path": {"type": "array", "items": generator.subschema_for::<ProofStep>(), "description": "Steps from the leaf up to the root."},
            },
        })
    }
}
