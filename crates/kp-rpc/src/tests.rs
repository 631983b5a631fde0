//! Router tests against an in-process backend: every error case answers
//! with its status and stable code, and the OpenAPI document matches what
//! the server answers.

use super::*;
use futures::stream::StreamExt;
use kp_types::{Payload, SigningKey, Timestamp, Transaction};
use serde_json::json;
use std::sync::Arc;

pub(crate) struct FakeBackend;

impl FakeBackend {
    /// What [`Backend::status`] answers.
    pub(crate) fn status_for_tests(&self) -> Status {
        self.status()
    }
}

impl Backend for FakeBackend {
    fn status(&self) -> Status {
        Status {
            chain_id: "kp-test".into(),
            node: "BW".into(),
            role: "validator".into(),
            height: 7,
            block_time: "2026-02-01T00:00:00.000Z".into(),
            ..Status::default()
        }
    }

    fn submit(
        &self,
        tx: SignedTransaction,
        wait: bool,
    ) -> BoxFuture<'static, Result<Submitted, ApiError>> {
        let hash = tx.hash();
        Box::pin(async move {
            if tx.tx.nonce == 42 {
                return Err(ApiError::new(409, "already-decided", "replay"));
            }
            Ok(Submitted {
                hash,
                decided: wait.then_some(crate::Decided {
                    height: 8,
                    position: 0,
                    receipt: kp_api::TxReceipt {
                        tx_hash: hash,
                        result: Ok(()),
                    },
                }),
            })
        })
    }

    fn query(&self, query: Query) -> Result<JsonBody, ApiError> {
        use crate::fixtures as f;
        match query {
            Query::Genesis => JsonBody::new(&f::genesis()),
            Query::Block(h) if h > 7 => Err(ApiError::not_found("no block")),
            Query::Block(h) => JsonBody::new(&f::block(h)),
            Query::BlockByHash(_) => JsonBody::new(&f::block(3)),
            Query::Transaction(_) => JsonBody::new(&f::transaction()),
            Query::Certificate(n) if n.as_str() == "BW404" => {
                Err(ApiError::not_found("no certificate numbered BW404"))
            }
            Query::Certificate(_) => JsonBody::new(&f::certificate()),
            Query::CertificateProof(_) => JsonBody::new(&f::certificate_proof()),
            Query::LightBlock(h) => JsonBody::new(&f::light(h.unwrap_or(7))),
            Query::ParticipantProof(_) | Query::ResolutionProof(_) => {
                JsonBody::new(&f::records_proof())
            }
            Query::Certificates(_) => JsonBody::new(&f::certificate_page()),
            Query::Participant(_) => JsonBody::new(&f::participant_record()),
            Query::Participants => JsonBody::new(&kp_api::ParticipantList {
                items: vec![f::participant_record()],
            }),
            Query::Seizures { .. } => JsonBody::new(&f::seizures()),
            Query::Resolution(_) => JsonBody::new(&f::resolution()),
            Query::Resolutions { .. } => JsonBody::new(&f::resolutions()),
            Query::Statistics {
                participant,
                period,
            } => JsonBody::new(&f::statistics(participant, period)),
            Query::Anomalies { period } => JsonBody::new(&f::anomalies(period)),
        }
    }

    fn query_now(&self, query: &Query) -> Option<Result<JsonBody, ApiError>> {
        // Point reads answered on the runtime thread, as the node does; the
        // rest goes through the blocking pool: both paths serve the tests.
        matches!(query, Query::Certificate(_) | Query::Transaction(_))
            .then(|| self.query(query.clone()))
    }

    fn subscribe(&self) -> BoxStream<'static, ApiEvent> {
        futures::stream::iter(vec![ApiEvent {
            kind: "block".into(),
            data: json!({"height": 8}),
            id: Some("8.0".into()),
        }])
        .chain(futures::stream::pending())
        .boxed()
    }

    fn resume(&self, last_event_id: &str) -> BoxStream<'static, ApiEvent> {
        // The events after `last_event_id` that this fake keeps: 7.0 and 8.0.
        let kept = [("7.0", 7), ("8.0", 8)];
        let after: Vec<ApiEvent> = kept
            .iter()
            .filter(|(id, _)| *id > last_event_id)
            .map(|(id, height)| ApiEvent {
                kind: "block".into(),
                data: json!({ "height": height }),
                id: Some((*id).into()),
            })
            .collect();
        futures::stream::iter(after)
            .chain(futures::stream::pending())
            .boxed()
    }

    fn ready_block_age_max_ms(&self) -> u64 {
        // Any age: the fake's block is from 1970.
        u64::MAX
    }

    fn metrics(&self) -> String {
        "kpledger_height 7\n".into()
    }
}

/// A server whose anonymous callers are the operator: the tests of the
/// endpoints themselves (access control has its own, `access_tests`).
async fn start() -> String {
    start_with(access::AccessPolicy {
        anonymous: access::Anonymous::Scope(access::Scope::Operator),
        ..Default::default()
    })
    .await
}

/// A plain-HTTP server with `policy`.
pub(crate) async fn start_with(policy: access::AccessPolicy) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = serve(
            listener,
            Arc::new(FakeBackend),
            Arc::new(policy),
            None,
            futures::future::pending(),
        )
        .await;
    });
    format!("http://{addr}")
}

pub(crate) fn signed_tx(nonce: u64) -> SignedTransaction {
    let key = SigningKey::from_seed([3; 32]);
    Transaction {
        chain_id: "kp-test".into(),
        signer: key.public(),
        nonce,
        expires_at: Timestamp(1),
        payload: Payload::SignResolution {
            resolution: Hash::ZERO,
        },
    }
    .sign(&key)
}

async fn post(base: &str, body: reqwest::Body) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(format!("{base}/v1/txs"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

async fn get(base: &str, path: &str) -> (u16, serde_json::Value) {
    let resp = reqwest::get(format!("{base}{path}")).await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

fn code_of(answer: &serde_json::Value) -> &str {
    answer["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn submissions_and_their_errors() {
    let base = start().await;
    let tx = signed_tx(1);
    // JSON form and hex form both work; `wait` answers 200 with where it landed.
    let (s, a) = post(&base, json!({"tx": tx}).to_string().into()).await;
    assert_eq!(s, 202);
    assert_eq!(a["hash"], json!(tx.hash()));
    let hex_body = json!({"tx_hex": hex::encode(kp_types::encode(&tx)), "wait": true});
    let (s, a) = post(&base, hex_body.to_string().into()).await;
    assert_eq!(s, 200);
    assert_eq!(a["decided"]["height"], 8);

    let cases: Vec<(String, u16, &str)> = vec![
        ("{not json".into(), 400, "malformed-json"),
        (json!({"tx_hex": "zz"}).to_string(), 400, "malformed-hex"),
        (
            json!({"tx_hex": "00ff"}).to_string(),
            400,
            "malformed-transaction",
        ),
        (json!({}).to_string(), 400, "malformed-request"),
        (
            json!({"tx_hex": "00", "tx": tx}).to_string(),
            400,
            "malformed-request",
        ),
        (
            json!({"tx": tx, "extra": 1}).to_string(),
            400,
            "malformed-json",
        ),
        (
            json!({"tx_hex": "a".repeat(BODY_BYTES_MAX + 2)}).to_string(),
            413,
            "body-too-large",
        ),
    ];
    for (body, status, code) in cases {
        let (s, a) = post(&base, body.clone().into()).await;
        assert_eq!(
            (s, code_of(&a)),
            (status, code),
            "body {}",
            &body[..body.len().min(60)]
        );
        assert!(!a["error"]["message"].as_str().unwrap_or("").is_empty());
    }
    // A signature that does not match the content.
    let mut forged = signed_tx(2);
    forged.tx.nonce = 3;
    let (s, a) = post(&base, json!({"tx": forged}).to_string().into()).await;
    assert_eq!((s, code_of(&a)), (400, "bad-signature"));
    // The backend's own refusals pass through with their status and code.
    let (s, a) = post(&base, json!({"tx": signed_tx(42)}).to_string().into()).await;
    assert_eq!((s, code_of(&a)), (409, "already-decided"));
}

#[tokio::test]
async fn reads_and_their_errors() {
    let base = start().await;
    let cases: Vec<(&str, u16, &str)> = vec![
        ("/v1/certificates/BW404", 404, "not-found"),
        ("/v1/certificates/bw-1", 400, "malformed-number"),
        ("/v1/certificates?limit=101", 400, "page-limit"),
        ("/v1/certificates?limit=0", 400, "page-limit"),
        ("/v1/certificates?exporter=BW", 400, "unknown-parameter"),
        ("/v1/certificates?status=lost", 400, "malformed-status"),
        ("/v1/certificates?period=2026Q5", 400, "malformed-period"),
        ("/v1/certificates?exporting=b", 400, "malformed-code"),
        ("/v1/certificates?monitor=e", 400, "malformed-code"),
        ("/v1/resolutions?limit=1000", 400, "page-limit"),
        ("/v1/resolutions/xyz", 400, "malformed-hash"),
        ("/v1/seizures?limit=500", 400, "page-limit"),
        ("/v1/txs/1234", 400, "malformed-hash"),
        ("/v1/blocks/abc", 400, "malformed-height"),
        ("/v1/blocks/99", 404, "not-found"),
        ("/v1/participants/x", 400, "malformed-code"),
        ("/v1/statistics/BW?period=soon", 400, "malformed-period"),
        ("/v1/nothing-here", 404, "not-found"),
    ];
    for (path, status, code) in cases {
        let (s, a) = get(&base, path).await;
        assert_eq!((s, code_of(&a)), (status, code), "{path}");
    }
    let (s, a) = get(
        &base,
        "/v1/certificates?exporting=BW&monitor=EU&status=issued&period=2026Q1&limit=100",
    )
    .await;
    assert_eq!(s, 200);
    assert!(a["items"].is_array());
    // Statistics default to the quarter of the last block.
    let (_, a) = get(&base, "/v1/statistics/BW").await;
    assert_eq!(a["period"], "2026Q1");
}

#[tokio::test]
async fn events_stream_and_metrics() {
    let base = start().await;
    let mut resp = reqwest::get(format!("{base}/v1/events")).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let chunk = resp.chunk().await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&chunk);
    assert!(text.contains("event: block"), "{text}");
    assert!(text.contains("\"height\":8"), "{text}");
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("kpledger_height 7"));
    // The RPC's own latencies, by route template (never the raw path),
    // and one final EOF line.
    assert!(
        text.contains(
            "kpledger_rpc_request_duration_seconds_count{method=\"GET\",route=\"/v1/events\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert_eq!(text.matches("# EOF").count(), 1);
}

/// Reads the event stream at `path` (with `last_event_id` as the header)
/// until `want` events have come; returns the text.
async fn read_events(base: &str, path: &str, last_event_id: Option<&str>, want: usize) -> String {
    let mut request = reqwest::Client::new().get(format!("{base}{path}"));
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id);
    }
    let mut resp = request.send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mut text = String::new();
    while text.matches("event: ").count() < want {
        let chunk = resp.chunk().await.unwrap().unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

#[tokio::test]
async fn events_carry_ids_and_last_event_id_resumes_after_one() {
    let base = start().await;
    let text = read_events(&base, "/v1/events", None, 1).await;
    assert!(text.contains("id: 8.0"), "{text}");
    // After 7.0, the stream resumes with 8.0 (what the backend keeps after it).
    let text = read_events(&base, "/v1/events", Some("7.0"), 1).await;
    assert!(text.contains("id: 8.0\n"), "{text}");
    assert!(!text.contains("id: 7.0"), "{text}");
    // After 6.9: 7.0, then 8.0; the query parameter works as the header.
    let text = read_events(&base, "/v1/events?last_event_id=6.9", None, 2).await;
    let first = text.find("id: 7.0").expect("7.0 first");
    let second = text.find("id: 8.0").expect("8.0 second");
    assert!(first < second, "{text}");
}

#[tokio::test]
async fn live_and_ready_probes() {
    let base = start().await;
    let (status, body) = get(&base, "/v1/health/live").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"ok": true, "height": 7}));
    // The fake validator of a one-validator network needs no peers, and its
    // backend takes any block age.
    let (status, body) = get(&base, "/v1/health/ready").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["peers_needed"], 0, "{body}");
    assert_eq!(body["block_age_max_ms"], u64::MAX, "{body}");
}

/// Fills a path template with example values.
fn example(template: &str) -> String {
    template
        .replace("{hash}", &"00".repeat(32))
        .replace("{id}", &"00".repeat(32))
        .replace("{height}", "1")
        .replace("{number}", "BW0001")
        .replace("{code}", "BW")
        .replace("{index}", "0")
}

#[tokio::test]
async fn openapi_matches_the_server() {
    let base = start().await;
    let (s, doc) = get(&base, "/v1/openapi.json").await;
    assert_eq!(s, 200);
    assert_eq!(&doc, openapi::document());
    let paths = doc["paths"].as_object().unwrap();
    // Every route of the router is documented (this list must follow `router`).
    let routes = [
        "/v1/status",
        "/v1/health",
        "/v1/health/live",
        "/v1/health/ready",
        "/v1/genesis",
        "/v1/openapi.json",
        "/v1/txs",
        "/v1/txs/batch",
        "/v1/txs/{hash}",
        "/v1/blocks/{height}",
        "/v1/blocks/by-hash/{hash}",
        "/v1/snapshots",
        "/v1/snapshots/{height}/manifest",
        "/v1/snapshots/{height}/chunks/{index}",
        "/v1/certificates",
        "/v1/certificates/{number}",
        "/v1/certificates/{number}/proof",
        "/v1/certificates/{number}/qr.svg",
        "/v1/light/blocks/{height}",
        "/v1/participants",
        "/v1/participants/{code}",
        "/v1/participants/{code}/proof",
        "/v1/resolutions",
        "/v1/resolutions/{id}",
        "/v1/resolutions/{id}/proof",
        "/v1/seizures",
        "/v1/statistics/{code}",
        "/v1/anomalies",
        "/v1/events",
        "/metrics",
    ];
    let mut documented: Vec<&str> = paths.keys().map(String::as_str).collect();
    documented.sort();
    let mut expected = routes.to_vec();
    expected.sort();
    assert_eq!(documented, expected);

    let client = reqwest::Client::new();
    for (template, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let url = format!("{base}{}", example(template));
            let resp = match method.as_str() {
                "get" => client.get(&url).send().await.unwrap(),
                "post" => client
                    .post(&url)
                    .json(&json!({"tx": signed_tx(5)}))
                    .send()
                    .await
                    .unwrap(),
                other => panic!("undocumented method {other}"),
            };
            let status = resp.status().as_u16().to_string();
            let response = &op["responses"][&status];
            assert!(
                response.is_object(),
                "{method} {template} answered {status}, not documented"
            );
            let (media, _) = response["content"]
                .as_object()
                .unwrap()
                .iter()
                .next()
                .unwrap();
            let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
            assert!(
                content_type.starts_with(media.as_str()),
                "{template}: {content_type} vs {media}"
            );
            if media == "application/json" {
                let body: serde_json::Value = resp.json().await.unwrap();
                let status: u16 = status.parse().unwrap();
                crate::openapi_tests::validate(&doc, template, method, status, &body).unwrap();
            }
        }
    }
}

#[tokio::test]
async fn canonical_bytes_as_the_body() {
    let base = start().await;
    let tx = signed_tx(8);
    let client = reqwest::Client::new();
    let send = |body: Vec<u8>, content_type: &'static str, query: &'static str| {
        client
            .post(format!("{base}/v1/txs{query}"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let resp = send(
        kp_types::encode(&tx),
        "application/octet-stream",
        "?wait=true",
    )
    .await
    .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let answer: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(answer["hash"], json!(tx.hash()));
    let resp = send(vec![1, 2, 3], "application/octet-stream", "")
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let answer: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(code_of(&answer), "malformed-transaction");
    let resp = send(b"hello".to_vec(), "text/plain", "").await.unwrap();
    assert_eq!(resp.status().as_u16(), 415);
}

#[tokio::test]
async fn batch_submission_reports_each_outcome_in_order() {
    let base = start().await;
    let client = reqwest::Client::new();
    let send = |body: Vec<u8>, content_type: &'static str| {
        client
            .post(format!("{base}/v1/txs/batch"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let good = signed_tx(5);
    let replay = signed_tx(42);
    let mut forged = signed_tx(6);
    forged.signature.0[1] ^= 1;
    let batch = vec![good.clone(), forged.clone(), replay.clone()];
    let resp = send(kp_types::encode(&batch), "application/octet-stream")
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let answer: BatchSubmitted = resp.json().await.unwrap();
    assert_eq!(answer.accepted, 1);
    let statuses: Vec<(TxHash, u16)> = answer.results.iter().map(|r| (r.hash, r.status)).collect();
    assert_eq!(
        statuses,
        vec![
            (good.hash(), 202),
            (forged.hash(), 400),
            (replay.hash(), 409)
        ]
    );
    assert_eq!(answer.results[0].error, None);
    assert_eq!(
        answer.results[1].error.as_ref().unwrap().code,
        "bad-signature"
    );
    assert_eq!(
        answer.results[2].error.as_ref().unwrap().code,
        "already-decided"
    );

    // Malformed, empty, oversized and wrongly typed batches are refused whole.
    let resp = send(vec![0, 0, 0, 0, 0, 0, 0, 9, 1], "application/octet-stream")
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let answer: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(code_of(&answer), "malformed-batch");
    let empty: Vec<SignedTransaction> = Vec::new();
    let resp = send(kp_types::encode(&empty), "application/octet-stream")
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let answer: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(code_of(&answer), "batch-size");
    let many = vec![good.clone(); BATCH_TXS_MAX + 1];
    let bytes = kp_types::encode(&many);
    assert!(
        bytes.len() <= BODY_BYTES_MAX,
        "the test's batch fits the body limit"
    );
    let resp = send(bytes, "application/octet-stream").await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let answer: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(code_of(&answer), "batch-size");
    let resp = send(kp_types::encode(&batch), "application/json")
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 415);
}
