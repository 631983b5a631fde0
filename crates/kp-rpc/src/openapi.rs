//! The OpenAPI 3.1 document served at `/v1/openapi.json`.
//!
//! Its schemas are generated from the answer types (kp-api, kp-types and
//! this crate's, with `schemars`; ADR 0015): every 200 answer is a `$ref` to
//! the component of the type the node serializes, and every parameter has
//! the type, pattern, enum or bounds the handler accepts. The paths, their
//! summaries and their error answers are written here, beside the router;
//! `with_access` then adds each operation's scope, security and the answers
//! of access control. Tests check that real answers validate against their
//! components and that every documented operation answers as documented
//! (`src/tests.rs`, `src/openapi_tests.rs`), and `scripts/schemathesis`
//! calls a running node with inputs generated from the document.

use crate::{BatchSubmitted, Status, Submitted, PAGE_LIMIT_MAX};
use kp_api::proof::{CertificateProof, LightBlock, RecordsProof};
use kp_api::{
    AnomaliesAnswer, BlockAnswer, CertificateAnswer, CertificatePage, CertificateStatus,
    ErrorAnswer, Genesis, Liveness, ParticipantList, ParticipantRecord, PublicCertificateAnswer,
    PublishedStatisticsAnswer, Readiness, ResolutionPage, ResolutionRecord, SeizureList,
    StatisticsAnswer, TransactionAnswer,
};
use kp_types::{CertificateNumber, Hash, ParticipantCode, Period, SignedTransaction};
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::JsonSchema;
use serde_json::{json, Value};
use std::sync::OnceLock;

/// Builds the document: the paths written here, the schemas generated
/// from the types they name.
struct Builder {
    generator: SchemaGenerator,
}

impl Builder {
    fn new() -> Builder {
        let settings = SchemaSettings::draft2020_12()
            .with(|s| {
                s.definitions_path = "/components/schemas".into();
                s.meta_schema = None;
            })
            .for_serialize();
        Builder {
            generator: settings.into_generator(),
        }
    }

    /// The schema of `T`: a `$ref` to its component (gathered with the
    /// components it refers to), or inline for a plain type.
    fn schema<T: JsonSchema>(&mut self) -> Value {
        self.generator.subschema_for::<T>().to_value()
    }

    /// A JSON answer whose body is a `T`.
    fn ok<T: JsonSchema>(&mut self, description: &str) -> Value {
        let schema = self.schema::<T>();
        json_answer(description, schema)
    }

    /// A JSON answer whose body is a `T` or a `U` (a full answer or the
    /// view of a caller with a narrower scope).
    fn ok_either<T: JsonSchema, U: JsonSchema>(&mut self, description: &str) -> Value {
        let schema = json!({"anyOf": [self.schema::<T>(), self.schema::<U>()]});
        json_answer(description, schema)
    }

    fn error(&mut self, description: &str) -> Value {
        self.ok::<ErrorAnswer>(description)
    }

    fn param<T: JsonSchema>(
        &mut self,
        name: &str,
        location: &str,
        description: &str,
        required: bool,
    ) -> Value {
        let schema = self.schema::<T>();
        param(name, location, description, required, schema)
    }

    fn get_op(
        &mut self,
        summary: &str,
        params: Vec<Value>,
        ok: Value,
        errors: &[(&str, &str)],
    ) -> Value {
        let mut responses = serde_json::Map::new();
        responses.insert("200".into(), ok);
        for (status, description) in errors {
            responses.insert((*status).into(), self.error(description));
        }
        responses
            .entry("503")
            .or_insert_with(|| self.error("too many requests in flight"));
        json!({"get": {"summary": summary, "parameters": params, "responses": responses}})
    }

    fn limit_param(&mut self) -> Value {
        param(
            "limit",
            "query",
            "page size, 1 to 100 (default 20); larger is refused with `page-limit`",
            false,
            json!({"type": "integer", "minimum": 1, "maximum": PAGE_LIMIT_MAX, "default": 20}),
        )
    }
}

fn json_answer(description: &str, schema: Value) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": schema}}
    })
}

fn param(name: &str, location: &str, description: &str, required: bool, schema: Value) -> Value {
    json!({
        "name": name,
        "in": location,
        "required": required,
        "description": description,
        "schema": schema,
    })
}

/// A block height in a path: a whole number from 1.
fn height_schema() -> Value {
    json!({"type": "integer", "format": "uint64", "minimum": 1, "maximum": i64::MAX})
}

/// The least scope each documented path needs (`docs/rpc.md`, "Access");
/// the router applies the same, and a test checks that they agree.
pub fn scope_of(path: &str) -> &'static str {
    match path {
        "/metrics"
        | "/v1/blocks/{height}"
        | "/v1/blocks/by-hash/{hash}"
        | "/v1/snapshots"
        | "/v1/snapshots/{height}/manifest"
        | "/v1/snapshots/{height}/chunks/{index}" => "operator",
        "/v1/txs/{hash}"
        | "/v1/certificates"
        | "/v1/resolutions"
        | "/v1/resolutions/{id}"
        | "/v1/seizures"
        | "/v1/anomalies"
        | "/v1/events" => "participant",
        _ => "public",
    }
}

/// Declares each operation's scope (`x-scope`), its security (the bearer
/// token; optional where anonymous callers may be served) and the answers
/// of access control: 401, 403 and 429. `error` is the error body's schema.
fn with_access(paths: &mut serde_json::Map<String, Value>, error: &Value) {
    let error_response = |description: String| json_answer(&description, error.clone());
    for (path, item) in paths.iter_mut() {
        let scope = scope_of(path);
        let Some(operations) = item.as_object_mut() else {
            continue;
        };
        for operation in operations.values_mut() {
            operation["x-scope"] = json!(scope);
            operation["security"] = if scope == "public" {
                json!([{}, {"bearer": []}])
            } else {
                json!([{"bearer": []}])
            };
            let responses = &mut operation["responses"];
            responses["401"] = error_response(format!(
                "unauthenticated: no token and anonymous callers do not get scope {scope}, or a token this node did not issue (or revoked)"
            ));
            if scope != "public" {
                responses["403"] = error_response(format!(
                    "forbidden: the token's scope is not {scope} or wider"
                ));
            }
            responses["429"] = error_response(
                "rate-limited: this client is over its rate ([rpc] rate_per_second); retry shortly"
                    .into(),
            );
        }
    }
}

/// The id of an operation, from its method and path: `get /v1/blocks/{height}`
/// is `get_blocks_height` (what a generated client names its function).
pub fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_string();
    for segment in path.split('/').filter(|s| !s.is_empty() && *s != "v1") {
        id.push('_');
        id.extend(segment.chars().filter_map(|c| match c {
            '{' | '}' => None,
            '-' | '.' => Some('_'),
            c => Some(c.to_ascii_lowercase()),
        }));
    }
    id
}

fn with_operation_ids(paths: &mut serde_json::Map<String, Value>) {
    for (path, item) in paths.iter_mut() {
        let Some(operations) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in operations.iter_mut() {
            operation["operationId"] = json!(operation_id(method, path));
        }
    }
}

/// Links from an answer to the operations its values name (OpenAPI
/// "links"): a client, or schemathesis, follows them with real values.
fn with_links(paths: &mut serde_json::Map<String, Value>) {
    let links = [
        (
            "/v1/status",
            json!({
                "block": {"operationId": "get_blocks_height", "parameters": {"height": "$response.body#/height"}},
                "block_by_hash": {"operationId": "get_blocks_by_hash_hash", "parameters": {"hash": "$response.body#/block_hash"}},
                "light_block": {"operationId": "get_light_blocks_height", "parameters": {"height": "$response.body#/height"}}
            }),
        ),
        (
            "/v1/participants",
            json!({
                "participant": {"operationId": "get_participants_code", "parameters": {"code": "$response.body#/items/0/participant/code"}},
                "participant_proof": {"operationId": "get_participants_code_proof", "parameters": {"code": "$response.body#/items/0/participant/code"}},
                "statistics": {"operationId": "get_statistics_code", "parameters": {"code": "$response.body#/items/0/participant/code"}}
            }),
        ),
    ];
    for (path, links) in links {
        if let Some(ok) = paths
            .get_mut(path)
            .and_then(|item| item.get_mut("get"))
            .and_then(|op| op.get_mut("responses"))
            .and_then(|responses| responses.get_mut("200"))
        {
            ok["links"] = links;
        }
    }
}

/// The document, built once.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(build)
}

const CERTIFICATE_STATUS_TEXT: &str =
    "awaiting-approval, issued, confirmed, voided, expired or seized";

fn build() -> Value {
    let mut b = Builder::new();
    let mut paths = serde_json::Map::new();
    let ok = b.ok::<Status>("status");
    paths.insert(
        "/v1/status".into(),
        b.get_op(
            "Chain, height, last block, peers, validators, mempool, round, and validators_seen: each validator of the next height with the last height whose commit certificate this node applied carries its signature (null: none since the node started)",
            vec![],
            ok,
            &[],
        ),
    );
    let ready = |b: &mut Builder, summary: &str| {
        let ok = b.ok::<Readiness>("ready");
        let mut item = b.get_op(summary, vec![], ok, &[]);
        let not_ready = json!({"anyOf": [b.schema::<Readiness>(), b.schema::<ErrorAnswer>()]});
        item["get"]["responses"]["503"] = json_answer(
            "not ready: the readiness with its problems; or too many requests in flight (an error)",
            not_ready,
        );
        item
    };
    paths.insert(
        "/v1/health".into(),
        ready(
            &mut b,
            "Readiness, as /v1/health/ready (kept for the probes written before it)",
        ),
    );
    paths.insert(
        "/v1/health/ready".into(),
        ready(&mut b, "Readiness: 200 when the node follows the network; 503 with `problems` when it is catching up, has fewer peers than it needs (a validator: enough for a quorum; another node: one) or its last block is older than the node's bound (`[rpc] ready_block_age_max_s`, default 120 s)"),
    );
    let ok = b.ok::<Liveness>("alive");
    paths.insert(
        "/v1/health/live".into(),
        b.get_op(
            "Liveness: 200 whenever the server answers (a node catching up is alive)",
            vec![],
            ok,
            &[],
        ),
    );
    let ok = b.ok::<Genesis>("genesis");
    paths.insert(
        "/v1/genesis".into(),
        b.get_op(
            "The genesis document this node runs (a client should compare it with one it trusts)",
            vec![],
            ok,
            &[],
        ),
    );
    let ok = json_answer(
        "OpenAPI 3.1",
        json!({"type": "object", "required": ["openapi", "info", "paths", "components"], "properties": {
            "openapi": {"type": "string", "const": "3.1.0"},
            "info": {"type": "object"},
            "paths": {"type": "object"},
            "components": {"type": "object"}
        }}),
    );
    paths.insert(
        "/v1/openapi.json".into(),
        b.get_op("This document", vec![], ok, &[]),
    );
    let submit_body = json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "tx_hex": {"type": "string", "pattern": "^\\s*([0-9a-fA-F]{2})*\\s*$", "description": "the canonical bytes of the signed transaction, as hex"},
            "tx": b.schema::<SignedTransaction>(),
            "wait": {"type": "boolean", "default": false, "description": "answer once the transaction is decided"}
        },
        "oneOf": [{"required": ["tx_hex"]}, {"required": ["tx"]}]
    });
    paths.insert(
        "/v1/txs".into(),
        json!({"post": {
            "summary": "Submit a signed transaction: JSON with its canonical bytes as hex (`tx_hex`) or its JSON form (`tx`), `wait: true` to answer once decided; or the canonical bytes as application/octet-stream with `?wait=true`",
            "parameters": [param("wait", "query", "with application/octet-stream: true to answer once decided", false, json!({"type": "boolean"}))],
            "requestBody": {"required": true, "content": {
                "application/json": {"schema": submit_body},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            }},
            "responses": {
                "200": b.ok::<Submitted>("decided (with wait): the hash and where it was decided (`decided`: height, position, receipt)"),
                "202": b.ok::<Submitted>("accepted into the pool: the hash"),
                "400": b.error("malformed-json, malformed-hex, malformed-transaction, malformed-request, bad-signature, unknown-parameter"),
                "409": b.error("already-decided (a replay) or duplicate"),
                "413": b.error("body-too-large"),
                "415": b.error("unsupported-media-type"),
                "422": b.error("the ledger refuses it now; code is the ledger's rejection code"),
                "503": b.error("unavailable: the node's queue or pool is full"),
                "504": b.error("not-decided-yet (with wait)")
            }
        }}),
    );
    paths.insert(
        "/v1/txs/batch".into(),
        json!({"post": {
            "summary": "Submit up to 256 signed transactions at once: the canonical encoding of a list of signed transactions as application/octet-stream. Each is checked as if sent alone; the answer lists each one's hash and outcome (status 202 accepted, or the status and error it would have had alone), in the order sent",
            "requestBody": {"required": true, "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            }},
            "responses": {
                "200": b.ok::<BatchSubmitted>("each transaction's outcome: accepted (count) and results[{hash, status, error?}]"),
                "400": b.error("malformed-batch, malformed-request, batch-size, unknown-parameter"),
                "413": b.error("body-too-large"),
                "415": b.error("unsupported-media-type"),
                "503": b.error("too many requests in flight")
            }
        }}),
    );
    let hash = b.param::<Hash>("hash", "path", "transaction hash, 64 hex digits", true);
    let ok = b.ok::<TransactionAnswer>("decided: block height, position, receipt, and the transaction (`tx`, to the operator only)");
    paths.insert(
        "/v1/txs/{hash}".into(),
        b.get_op(
            "A decided transaction: block height, position, receipt (with the rejection reason if refused) and the transaction",
            vec![hash],
            ok,
            &[("400", "malformed-hash"), ("404", "not-found: not in a decided block (yet)")],
        ),
    );
    let ok = b.ok::<BlockAnswer>("block");
    paths.insert(
        "/v1/blocks/{height}".into(),
        b.get_op(
            "A block by height with its commit certificate",
            vec![param(
                "height",
                "path",
                "height from 1",
                true,
                height_schema(),
            )],
            ok,
            &[("400", "malformed-height"), ("404", "not-found")],
        ),
    );
    let hash = b.param::<Hash>("hash", "path", "block hash, 64 hex digits", true);
    let ok = b.ok::<BlockAnswer>("block");
    paths.insert(
        "/v1/blocks/by-hash/{hash}".into(),
        b.get_op(
            "A block by hash with its commit certificate",
            vec![hash],
            ok,
            &[("400", "malformed-hash"), ("404", "not-found")],
        ),
    );
    let ok = b.ok::<kp_api::snapshots::SnapshotList>("snapshots, newest first");
    paths.insert(
        "/v1/snapshots".into(),
        b.get_op(
            "The state snapshots this node keeps for late joiners (ADR 0016), newest first: height, manifest hash, state root, chunks and bytes. A joiner checks every chunk against the manifest and the whole against the header of height + 1 it verified",
            vec![],
            ok,
            &[],
        ),
    );
    let octets = |description: &str| {
        json!({
            "description": description,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
        })
    };
    let snapshot_height = || {
        param(
            "height",
            "path",
            "the snapshot's height",
            true,
            height_schema(),
        )
    };
    paths.insert(
        "/v1/snapshots/{height}/manifest".into(),
        b.get_op(
            "A snapshot's manifest, as stored (its canonical encoding)",
            vec![snapshot_height()],
            octets("the manifest's bytes"),
            &[("400", "malformed-height"), ("404", "not-found")],
        ),
    );
    paths.insert(
        "/v1/snapshots/{height}/chunks/{index}".into(),
        b.get_op(
            "One chunk of a snapshot, as stored (its canonical encoding)",
            vec![
                snapshot_height(),
                param(
                    "index",
                    "path",
                    "the chunk's index, from 0",
                    true,
                    json!({"type": "integer", "format": "uint32", "minimum": 0, "maximum": u32::MAX}),
                ),
            ],
            octets("the chunk's bytes"),
            &[
                ("400", "malformed-height or malformed-chunk"),
                ("404", "not-found"),
            ],
        ),
    );
    let params = vec![
        b.param::<ParticipantCode>("exporting", "query", "exporting Participant code", false),
        b.param::<ParticipantCode>("importing", "query", "importing Participant code", false),
        b.param::<ParticipantCode>("monitor", "query", "monitoring body whose approval the certificate needs or got (with status=awaiting-approval: its queue)", false),
        b.param::<kp_types::AuthorityId>("authority", "query", "the KP Authority that issued (signed) the certificate", false),
        b.param::<CertificateStatus>("status", "query", CERTIFICATE_STATUS_TEXT, false),
        b.param::<Period>("period", "query", "issue date within 2026, 2026H1 or 2026Q1", false),
        b.param::<CertificateNumber>("after", "query", "continue after this certificate number", false),
        b.limit_param(),
    ];
    let ok = b.ok::<CertificatePage>("a page: items, next (null at the end), scanned");
    paths.insert(
        "/v1/certificates".into(),
        b.get_op(
            "Search certificates (a scan in number order of at most `[rpc] search_scan_max` records; continue with `after` = the answer's `next`). A participant:CODE token must name its own side: exporting=CODE, importing=CODE or monitor=CODE (403 otherwise)",
            params,
            ok,
            &[("400", "malformed-code, malformed-authority, malformed-status, malformed-period, malformed-number, page-limit, unknown-parameter")],
        ),
    );
    let number =
        b.param::<CertificateNumber>("number", "path", "certificate number, e.g. BW0012345", true);
    let ok = b.ok_either::<CertificateAnswer, PublicCertificateAnswer>(
        "the certificate: in full (CertificateAnswer) for its two sides and the operator, else its public view (PublicCertificateAnswer, `view: public`)",
    );
    paths.insert(
        "/v1/certificates/{number}".into(),
        b.get_op(
            "A certificate: for its exporting and importing Participants (and the operator) every field, status, history (each step with its transaction and height), receipt, flags, and the sanctions and seizure alerts that touch it; for anyone else the public view (`view: public`): number, Participants, issuing authority, dates, status, issue time and alerts",
            vec![number],
            ok,
            &[("400", "malformed-number"), ("404", "not-found")],
        ),
    );
    let number = b.param::<CertificateNumber>("number", "path", "certificate number", true);
    let ok = b.ok::<CertificateProof>("proof");
    paths.insert(
        "/v1/certificates/{number}/proof".into(),
        b.get_op(
            "Proof of a certificate against a recent decided header (the anchor: header, commit certificate, validator set): the certificate's record or its absence, both Participants, the authorities of its acts, the seizure reports naming it and the block hashes, each with its path in the records tree; and for each act its transaction, its inclusion path and its result path",
            vec![number],
            ok,
            &[("400", "malformed-number"), ("503", "unavailable")],
        ),
    );
    let number = b.param::<CertificateNumber>("number", "path", "certificate number", true);
    paths.insert(
        "/v1/certificates/{number}/qr.svg".into(),
        json!({"get": {
            "summary": "The QR code of the printed certificate, as SVG: the text `kpledger-certificate:v1/CHAIN/NUMBER/DIGEST`, DIGEST being the blake3 digest of the certificate as its authority signed it (ADR 0013); the check page verifies it against the proven certificate",
            "parameters": [number],
            "responses": {
                "200": {"description": "an SVG picture", "content": {"image/svg+xml": {"schema": {"type": "string"}}}},
                "400": b.error("malformed-number"),
                "404": b.error("not-found: no certificate of this number"),
                "500": b.error("internal: the stored record does not decode as a certificate"),
                "503": b.error("too many requests in flight")
            }
        }}),
    );
    let height = param(
        "height",
        "path",
        "a height from 1, or latest",
        true,
        json!({"anyOf": [height_schema(), {"type": "string", "const": "latest"}]}),
    );
    let ok = b.ok::<LightBlock>("light block");
    paths.insert(
        "/v1/light/blocks/{height}".into(),
        b.get_op(
            "A decided header with its commit certificate and the validator set of its height, for light clients",
            vec![height],
            ok,
            &[("400", "malformed-height"), ("404", "not-found")],
        ),
    );
    let code = b.param::<ParticipantCode>("code", "path", "Participant code, e.g. BW", true);
    let ok = b.ok::<RecordsProof>("records proof");
    paths.insert(
        "/v1/participants/{code}/proof".into(),
        b.get_op(
            "Proof of a Participant against a recent decided header (the anchor): its record (membership, sanction with scope and zones, node key) or its absence, and each authority the node lists under it, with their paths in the records tree. Each listed authority is proven as it stands; that the list is complete is not",
            vec![code],
            ok,
            &[("400", "malformed-code"), ("503", "unavailable")],
        ),
    );
    let id = b.param::<Hash>("id", "path", "resolution id (64 hex digits)", true);
    let ok = b.ok::<RecordsProof>("records proof");
    paths.insert(
        "/v1/resolutions/{id}/proof".into(),
        b.get_op(
            "Proof of a resolution against a recent decided header (the anchor): its record (proposal, signers, outcome) or its absence, with its path in the records tree",
            vec![id],
            ok,
            &[("400", "malformed-hash"), ("503", "unavailable")],
        ),
    );
    let ok = b.ok::<ParticipantList>("members");
    paths.insert(
        "/v1/participants".into(),
        b.get_op(
            "Every member with status, sanction, territories, authorities (each with its signing key and `previous_keys`: the keys a rotation replaced, with the height of that rotation) and keys",
            vec![],
            ok,
            &[],
        ),
    );
    let code = b.param::<ParticipantCode>("code", "path", "Participant code, e.g. BW", true);
    let ok = b.ok::<ParticipantRecord>("member");
    paths.insert(
        "/v1/participants/{code}".into(),
        b.get_op(
            "A member with status, sanction, territories, authorities (each with its signing key and `previous_keys`: the keys a rotation replaced, with the height of that rotation) and keys",
            vec![code],
            ok,
            &[("400", "malformed-code"), ("404", "not-found")],
        ),
    );
    let params = vec![
        param(
            "pending",
            "query",
            "true: only pending",
            false,
            json!({"type": "boolean", "default": false}),
        ),
        b.param::<Hash>("after", "query", "continue after this id", false),
        b.limit_param(),
    ];
    let ok = b.ok::<ResolutionPage>("a page");
    paths.insert(
        "/v1/resolutions".into(),
        b.get_op(
            "Resolutions by id (paginated; `pending=true` for those still collecting signatures)",
            params,
            ok,
            &[(
                "400",
                "malformed-hash, malformed-query, page-limit, unknown-parameter",
            )],
        ),
    );
    let id = b.param::<Hash>(
        "id",
        "path",
        "resolution id (hash of the proposing transaction)",
        true,
    );
    let ok = b.ok::<ResolutionRecord>("resolution");
    paths.insert(
        "/v1/resolutions/{id}".into(),
        b.get_op(
            "A resolution: text, action, who signed, who is still missing, objection, deadline, outcome",
            vec![id],
            ok,
            &[("400", "malformed-hash"), ("404", "not-found")],
        ),
    );
    let limit = b.limit_param();
    let ok = b.ok::<SeizureList>("alerts");
    paths.insert(
        "/v1/seizures".into(),
        b.get_op(
            "Seizure alerts, newest first",
            vec![limit],
            ok,
            &[("400", "page-limit, unknown-parameter")],
        ),
    );
    let params = vec![
        b.param::<ParticipantCode>("code", "path", "Participant code", true),
        b.param::<Period>("period", "query", "2026, 2026H1 or 2026Q1", false),
    ];
    let ok = b.ok_either::<StatisticsAnswer, PublishedStatisticsAnswer>(
        "statistics: every figure (StatisticsAnswer) for the member and the operator, else the published totals (PublishedStatisticsAnswer, `view: published`)",
    );
    paths.insert(
        "/v1/statistics/{code}".into(),
        b.get_op(
            "A member's trade statistics (Annex III) for a period. For the member itself (and the operator): every figure, any period (default: the quarter of the last block). For anyone else what the KP publishes (`view: published`): exports, imports and production totals per half-year or year (`[rpc] public_statistics`; default: the half-year of the last block); a finer period is 403 forbidden",
            params,
            ok,
            &[
                ("400", "malformed-code, malformed-period, unknown-parameter"),
                ("403", "forbidden: a period finer than the published one, asked by another than the member"),
                ("404", "not-found: no member has this code"),
            ],
        ),
    );
    let period = b.param::<Period>("period", "query", "2026, 2026H1 or 2026Q1", false);
    let ok = b.ok::<AnomaliesAnswer>("anomalies");
    paths.insert(
        "/v1/anomalies".into(),
        b.get_op(
            "Anomalies of a period, each with the figures behind it: a participant token sees those that name its Participant, the operator all",
            vec![period],
            ok,
            &[("400", "malformed-period, unknown-parameter")],
        ),
    );
    paths.insert(
        "/v1/events".into(),
        json!({"get": {
            "summary": "Server-sent events: block, certificate, resolution, seizure (and lagged when this reader fell behind and lost events). Each event but lagged has an id HEIGHT.INDEX, the same on every node; a reader that reconnects with the header Last-Event-ID (or ?last_event_id=) gets the events after it that the node still keeps (the last 4096), or a lagged event first that says they are no longer kept",
            "parameters": [
                param("kinds", "query", "comma-separated kinds to receive, e.g. certificate,seizure", false, json!({"type": "string"})),
                param("last_event_id", "query", "resume after this event id (as the Last-Event-ID header)", false, json!({"type": "string"})),
                param("Last-Event-ID", "header", "resume after this event id", false, json!({"type": "string"}))
            ],
            "responses": {
                "200": {"description": "text/event-stream: each event has a name (event), an id (except lagged) and JSON data", "content": {"text/event-stream": {"schema": {
                    "type": "object",
                    "required": ["event", "data"],
                    "properties": {
                        "event": {"type": "string", "enum": ["block", "certificate", "resolution", "seizure", "lagged"]},
                        "id": {"type": "string", "pattern": "^[0-9]+\\.[0-9]+$"},
                        "data": {"type": "string", "contentMediaType": "application/json"}
                    }
                }}}},
                "400": b.error("unknown-parameter"),
                "503": b.error("unavailable: too many open streams")
            }
        }}),
    );
    paths.insert(
        "/metrics".into(),
        json!({"get": {
            "summary": "Metrics in the OpenMetrics text format: height, round, peers, mempool, transactions decided and refused by reason, histograms of block commit time, block interval, submit-to-decide and RPC latency per route, process figures, libp2p's own metrics (docs/operations.md)",
            "responses": {
                "200": {"description": "OpenMetrics 1.0 text", "content": {"application/openmetrics-text": {"schema": {"type": "string"}}}},
                "503": b.error("too many requests in flight")
            }
        }}),
    );
    let error = b.schema::<ErrorAnswer>();
    with_access(&mut paths, &error);
    with_operation_ids(&mut paths);
    with_links(&mut paths);
    let schemas = b.generator.take_definitions(true);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "kpledger node API",
            "version": "1",
            "description": "Kimberley Process certificate ledger. Access: each operation's `x-scope` is the least scope it needs (see the bearer security scheme). Errors are {\"error\": {\"code\", \"message\"}} with a stable code. Amounts are decimal strings (carats and US dollars with two decimals); hashes and keys are hex. The schemas are generated from the types the node serializes."
        },
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A token the node's operator issued (`kpledger rpc token create --scope public|participant:CODE|operator`). Scopes: public (status, headers, proofs, a certificate by number in its public view, published statistics), participant:CODE (that Participant's certificates in full and searches over them, its detailed statistics, a transaction's outcome without its body, events, resolutions, seizures, anomalies naming it), operator (everything: whole blocks, transaction bodies, /metrics). Each includes the ones before it. Callers without a token get what the node's `[rpc] anonymous` says (public by default)."
        }}, "schemas": schemas}
    })
}
