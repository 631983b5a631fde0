//! The OpenAPI 3.1 document served at `/v1/openapi.json`.
//!
//! Written by hand, next to the router, and kept honest by a test that calls
//! every documented operation and checks that the status it gets is a
//! documented one and that a successful answer carries the documented
//! required fields (`src/tests.rs`, `openapi_matches_the_server`).

use serde_json::{json, Value};

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

fn ok_json(description: &str, required: &[&str]) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {
            "type": "object",
            "required": required,
        }}}
    })
}

fn param(name: &str, location: &str, description: &str, required: bool) -> Value {
    json!({
        "name": name,
        "in": location,
        "required": required,
        "description": description,
        "schema": {"type": "string"},
    })
}

fn get_op(summary: &str, params: Vec<Value>, ok: Value, errors: &[(&str, &str)]) -> Value {
    let mut responses = serde_json::Map::new();
    responses.insert("200".into(), ok);
    for (status, description) in errors {
        responses.insert((*status).into(), error_response(description));
    }
    responses.insert("503".into(), error_response("too many requests in flight"));
    json!({"get": {"summary": summary, "parameters": params, "responses": responses}})
}

fn limit_param() -> Value {
    param(
        "limit",
        "query",
        "page size, 1 to 100 (default 20); larger is refused with `page-limit`",
        false,
    )
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
/// of access control: 401, 403 and 429.
fn with_access(paths: &mut serde_json::Map<String, Value>) {
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
            responses["401"] = error_response(&format!(
                "unauthenticated: no token and anonymous callers do not get scope {scope}, or a token this node did not issue (or revoked)"
            ));
            if scope != "public" {
                responses["403"] = error_response(&format!(
                    "forbidden: the token's scope is not {scope} or wider"
                ));
            }
            responses["429"] = error_response(
                "rate-limited: this client is over its rate ([rpc] rate_per_second); retry shortly",
            );
        }
    }
}

/// The document.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    paths.insert(
        "/v1/status".into(),
        get_op(
            "Chain, height, last block, peers, validators, mempool, round, and validators_seen: each validator of the next height with the last height whose commit certificate this node applied carries its signature (null: none since the node started)",
            vec![],
            ok_json(
                "status",
                &[
                    "chain_id",
                    "node",
                    "role",
                    "height",
                    "block_hash",
                    "state_root",
                    "peers",
                    "validators",
                    "mempool",
                    "round",
                ],
            ),
            &[],
        ),
    );
    let ready = |summary: &str| {
        get_op(
            summary,
            vec![],
            ok_json(
                "ready",
                &[
                    "ok",
                    "height",
                    "catching_up",
                    "peers",
                    "peers_needed",
                    "block_age_ms",
                    "block_age_max_ms",
                    "problems",
                ],
            ),
            &[],
        )
    };
    paths.insert(
        "/v1/health".into(),
        ready("Readiness, as /v1/health/ready (kept for the probes written before it)"),
    );
    paths.insert(
        "/v1/health/ready".into(),
        ready("Readiness: 200 when the node follows the network; 503 with `problems` when it is catching up, has fewer peers than it needs (a validator: enough for a quorum; another node: one) or its last block is older than the node's bound (`[rpc] ready_block_age_max_s`, default 120 s)"),
    );
    paths.insert(
        "/v1/health/live".into(),
        get_op(
            "Liveness: 200 whenever the server answers (a node catching up is alive)",
            vec![],
            ok_json("alive", &["ok", "height"]),
            &[],
        ),
    );
    paths.insert(
        "/v1/genesis".into(),
        get_op(
            "The genesis document this node runs (a client should compare it with one it trusts)",
            vec![],
            ok_json(
                "genesis",
                &["chain_id", "genesis_time", "participants", "authorities"],
            ),
            &[],
        ),
    );
    paths.insert(
        "/v1/openapi.json".into(),
        get_op(
            "This document",
            vec![],
            ok_json("OpenAPI 3.1", &["openapi", "paths"]),
            &[],
        ),
    );
    paths.insert(
        "/v1/txs".into(),
        json!({"post": {
            "summary": "Submit a signed transaction: JSON with its canonical bytes as hex (`tx_hex`) or its JSON form (`tx`), `wait: true` to answer once decided; or the canonical bytes as application/octet-stream with `?wait=true`",
            "parameters": [param("wait", "query", "with application/octet-stream: true to answer once decided", false)],
            "requestBody": {"required": true, "content": {
                "application/json": {"schema": {
                    "type": "object",
                    "properties": {
                        "tx_hex": {"type": "string"},
                        "tx": {"type": "object"},
                        "wait": {"type": "boolean"}
                    }
                }},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            }},
            "responses": {
                "200": ok_json("decided (with wait): hash and decided.{height,position,receipt}", &["hash", "decided"]),
                "202": ok_json("accepted into the pool", &["hash"]),
                "400": error_response("malformed-json, malformed-hex, malformed-transaction, malformed-request, bad-signature"),
                "409": error_response("already-decided (a replay) or duplicate"),
                "413": error_response("body-too-large"),
                "415": error_response("unsupported-media-type"),
                "422": error_response("the ledger refuses it now; code is the ledger's rejection code"),
                "503": error_response("unavailable: the node's queue or pool is full"),
                "504": error_response("not-decided-yet (with wait)")
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
                "200": ok_json("each transaction's outcome: accepted (count) and results[{hash, status, error?}]", &["accepted", "results"]),
                "400": error_response("malformed-batch, malformed-request, batch-size"),
                "413": error_response("body-too-large"),
                "415": error_response("unsupported-media-type")
            }
        }}),
    );
    paths.insert(
        "/v1/txs/{hash}".into(),
        get_op(
            "A decided transaction: block height, position, receipt (with the rejection reason if refused) and the transaction",
            vec![param("hash", "path", "transaction hash, 64 hex digits", true)],
            ok_json("decided", &["hash", "height", "position", "receipt", "tx"]),
            &[("400", "malformed-hash"), ("404", "not-found: not in a decided block (yet)")],
        ),
    );
    paths.insert(
        "/v1/blocks/{height}".into(),
        get_op(
            "A block by height with its commit certificate",
            vec![param("height", "path", "height from 1", true)],
            ok_json("block", &["hash", "block", "commit_certificate"]),
            &[("400", "malformed-height"), ("404", "not-found")],
        ),
    );
    paths.insert(
        "/v1/blocks/by-hash/{hash}".into(),
        get_op(
            "A block by hash with its commit certificate",
            vec![param("hash", "path", "block hash, 64 hex digits", true)],
            ok_json("block", &["hash", "block", "commit_certificate"]),
            &[("400", "malformed-hash"), ("404", "not-found")],
        ),
    );
    paths.insert(
        "/v1/snapshots".into(),
        get_op(
            "The state snapshots this node keeps for late joiners (ADR 0016), newest first: height, manifest hash, state root, chunks and bytes. A joiner checks every chunk against the manifest and the whole against the header of height + 1 it verified",
            vec![],
            ok_json("snapshots", &["snapshots"]),
            &[],
        ),
    );
    let octets = |description: &str| {
        json!({
            "description": description,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
        })
    };
    paths.insert(
        "/v1/snapshots/{height}/manifest".into(),
        get_op(
            "A snapshot's manifest, as stored (its canonical encoding)",
            vec![param("height", "path", "the snapshot's height", true)],
            octets("the manifest's bytes"),
            &[("400", "malformed-height"), ("404", "not-found")],
        ),
    );
    paths.insert(
        "/v1/snapshots/{height}/chunks/{index}".into(),
        get_op(
            "One chunk of a snapshot, as stored (its canonical encoding)",
            vec![
                param("height", "path", "the snapshot's height", true),
                param("index", "path", "the chunk's index, from 0", true),
            ],
            octets("the chunk's bytes"),
            &[
                ("400", "malformed-height or malformed-chunk"),
                ("404", "not-found"),
            ],
        ),
    );
    paths.insert(
        "/v1/certificates".into(),
        get_op(
            "Search certificates (a scan in number order of at most `[rpc] search_scan_max` records; continue with `after` = the answer's `next`). A participant:CODE token must name its own side: exporting=CODE, importing=CODE or monitor=CODE (403 otherwise)",
            vec![
                param("exporting", "query", "exporting Participant code", false),
                param("importing", "query", "importing Participant code", false),
                param("monitor", "query", "monitoring body whose approval the certificate needs or got (with status=awaiting-approval: its queue)", false),
                param("authority", "query", "the KP Authority that issued (signed) the certificate", false),
                param("status", "query", "awaiting-approval, issued, confirmed, voided, expired or seized", false),
                param("period", "query", "issue date within 2026, 2026H1 or 2026Q1", false),
                param("after", "query", "continue after this certificate number", false),
                limit_param(),
            ],
            ok_json("a page: items, next (null at the end), scanned", &["items", "next", "scanned"]),
            &[("400", "malformed-code, malformed-authority, malformed-status, malformed-period, malformed-number, page-limit, unknown-parameter")],
        ),
    );
    paths.insert(
        "/v1/certificates/{number}".into(),
        get_op(
            "A certificate: for its exporting and importing Participants (and the operator) every field, status, history (each step with its transaction and height), receipt, flags, and the sanctions and seizure alerts that touch it; for anyone else the public view (`view: public`): number, Participants, issuing authority, dates, status, issue time and alerts",
            vec![param("number", "path", "certificate number, e.g. BW0012345", true)],
            ok_json("certificate", &["certificate", "status", "alerts"]),
            &[("400", "malformed-number"), ("404", "not-found")],
        ),
    );
    paths.insert(
        "/v1/certificates/{number}/proof".into(),
        get_op(
            "Proof of a certificate against a recent decided header (the anchor: header, commit certificate, validator set): the certificate's record or its absence, both Participants, the authorities of its acts, the seizure reports naming it and the block hashes, each with its path in the records tree; and for each act its transaction, its inclusion path and its result path",
            vec![param("number", "path", "certificate number", true)],
            ok_json("proof", &["number", "anchor", "records", "acts"]),
            &[("400", "malformed-number"), ("503", "unavailable")],
        ),
    );
    paths.insert(
        "/v1/certificates/{number}/qr.svg".into(),
        json!({"get": {
            "summary": "The QR code of the printed certificate, as SVG: the text `kpledger-certificate:v1/CHAIN/NUMBER/DIGEST`, DIGEST being the blake3 digest of the certificate as its authority signed it (ADR 0013); the check page verifies it against the proven certificate",
            "parameters": [param("number", "path", "certificate number", true)],
            "responses": {
                "200": {"description": "an SVG picture", "content": {"image/svg+xml": {"schema": {"type": "string"}}}},
                "400": error_response("malformed-number"),
                "404": error_response("not-found: no certificate of this number"),
                "500": error_response("internal: the stored record does not decode as a certificate"),
                "503": error_response("too many requests in flight")
            }
        }}),
    );
    paths.insert(
        "/v1/light/blocks/{height}".into(),
        get_op(
            "A decided header with its commit certificate and the validator set of its height, for light clients",
            vec![param("height", "path", "a height, or latest", true)],
            ok_json("light block", &["header", "commit", "validators"]),
            &[("400", "malformed-height"), ("404", "not-found")],
        ),
    );
    paths.insert(
        "/v1/participants/{code}/proof".into(),
        get_op(
            "Proof of a Participant against a recent decided header (the anchor): its record (membership, sanction with scope and zones, node key) or its absence, and each authority the node lists under it, with their paths in the records tree. Each listed authority is proven as it stands; that the list is complete is not",
            vec![param("code", "path", "Participant code, e.g. BW", true)],
            ok_json("records proof", &["anchor", "records"]),
            &[("400", "malformed-code"), ("503", "unavailable")],
        ),
    );
    paths.insert(
        "/v1/resolutions/{id}/proof".into(),
        get_op(
            "Proof of a resolution against a recent decided header (the anchor): its record (proposal, signers, outcome) or its absence, with its path in the records tree",
            vec![param("id", "path", "resolution id (64 hex digits)", true)],
            ok_json("records proof", &["anchor", "records"]),
            &[("400", "malformed-hash"), ("503", "unavailable")],
        ),
    );
    paths.insert(
        "/v1/participants".into(),
        get_op(
            "Every member with status, sanction, territories, authorities (each with its signing key and `previous_keys`: the keys a rotation replaced, with the height of that rotation) and keys",
            vec![],
            ok_json("members", &["items"]),
            &[],
        ),
    );
    paths.insert(
        "/v1/participants/{code}".into(),
        get_op(
            "A member with status, sanction, territories, authorities (each with its signing key and `previous_keys`: the keys a rotation replaced, with the height of that rotation) and keys",
            vec![param("code", "path", "Participant code, e.g. BW", true)],
            ok_json(
                "member",
                &["participant", "status", "sanction", "authorities"],
            ),
            &[("400", "malformed-code"), ("404", "not-found")],
        ),
    );
    paths.insert(
        "/v1/resolutions".into(),
        get_op(
            "Resolutions by id (paginated; `pending=true` for those still collecting signatures)",
            vec![
                param("pending", "query", "true: only pending", false),
                param("after", "query", "continue after this id", false),
                limit_param(),
            ],
            ok_json("a page", &["items", "next"]),
            &[(
                "400",
                "malformed-hash, malformed-query, page-limit, unknown-parameter",
            )],
        ),
    );
    paths.insert(
        "/v1/resolutions/{id}".into(),
        get_op(
            "A resolution: text, action, who signed, who is still missing, objection, deadline, outcome",
            vec![param("id", "path", "resolution id (hash of the proposing transaction)", true)],
            ok_json("resolution", &["id", "proposal", "signed_by", "missing", "deadline", "outcome"]),
            &[("400", "malformed-hash"), ("404", "not-found")],
        ),
    );
    paths.insert(
        "/v1/seizures".into(),
        get_op(
            "Seizure alerts, newest first",
            vec![limit_param()],
            ok_json("alerts", &["items"]),
            &[("400", "page-limit, unknown-parameter")],
        ),
    );
    paths.insert(
        "/v1/statistics/{code}".into(),
        get_op(
            "A member's trade statistics (Annex III) for a period. For the member itself (and the operator): every figure, any period (default: the quarter of the last block). For anyone else what the KP publishes (`view: published`): exports, imports and production totals per half-year or year (`[rpc] public_statistics`; default: the half-year of the last block); a finer period is 403 forbidden",
            vec![
                param("code", "path", "Participant code", true),
                param("period", "query", "2026, 2026H1 or 2026Q1", false),
            ],
            ok_json("statistics", &["participant", "period", "statistics"]),
            &[
                ("400", "malformed-code, malformed-period, unknown-parameter"),
                ("403", "forbidden: a period finer than the published one, asked by another than the member"),
                ("404", "not-found: no member has this code"),
            ],
        ),
    );
    paths.insert(
        "/v1/anomalies".into(),
        get_op(
            "Anomalies of a period, each with the figures behind it: a participant token sees those that name its Participant, the operator all",
            vec![param("period", "query", "2026, 2026H1 or 2026Q1", false)],
            ok_json("anomalies", &["period", "items"]),
            &[("400", "malformed-period, unknown-parameter")],
        ),
    );
    paths.insert(
        "/v1/events".into(),
        json!({"get": {
            "summary": "Server-sent events: block, certificate, resolution, seizure (and lagged when this reader fell behind and lost events). Each event but lagged has an id HEIGHT.INDEX, the same on every node; a reader that reconnects with the header Last-Event-ID (or ?last_event_id=) gets the events after it that the node still keeps (the last 4096), or a lagged event first that says they are no longer kept",
            "parameters": [
                param("kinds", "query", "comma-separated kinds to receive, e.g. certificate,seizure", false),
                param("last_event_id", "query", "resume after this event id (as the Last-Event-ID header)", false),
                param("Last-Event-ID", "header", "resume after this event id", false)
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
                "400": error_response("unknown-parameter"),
                "503": error_response("unavailable: too many open streams")
            }
        }}),
    );
    paths.insert(
        "/metrics".into(),
        json!({"get": {
            "summary": "Metrics in the OpenMetrics text format: height, round, peers, mempool, transactions decided and refused by reason, histograms of block commit time, block interval, submit-to-decide and RPC latency per route, process figures, libp2p's own metrics (docs/operations.md)",
            "responses": {
                "200": {"description": "OpenMetrics 1.0 text", "content": {"application/openmetrics-text": {"schema": {"type": "string"}}}},
                "503": error_response("too many requests in flight")
            }
        }}),
    );
    with_access(&mut paths);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "kpledger node API",
            "version": "1",
            "description": "Kimberley Process certificate ledger. Access: each operation's `x-scope` is the least scope it needs (see the bearer security scheme). Errors are {\"error\": {\"code\", \"message\"}} with a stable code. Amounts are decimal strings (carats and US dollars with two decimals); hashes and keys are hex."
        },
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A token the node's operator issued (`kpledger rpc token create --scope public|participant:CODE|operator`). Scopes: public (status, headers, proofs, a certificate by number in its public view, published statistics), participant:CODE (that Participant's certificates in full and searches over them, its detailed statistics, a transaction's outcome without its body, events, resolutions, seizures, anomalies naming it), operator (everything: whole blocks, transaction bodies, /metrics). Each includes the ones before it. Callers without a token get what the node's `[rpc] anonymous` says (public by default)."
        }}, "schemas": {"Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}
            }}
        }}}
    })
}
