//! Access control, rate limits and TLS against an in-process server: who
//! is refused with which status and code, that a refused call changes
//! nothing, what each scope sees, and TLS with its mismatches.

use crate::access::{
    AccessPolicy, Anonymous, PublicPeriod, RateLimit, Scope, TokenFile, TokenStore,
};
use crate::tests::FakeBackend;
use crate::*;
use futures::stream::StreamExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The fake backend, counting the transactions it was handed.
struct Counting {
    submitted: Arc<AtomicUsize>,
}

impl Backend for Counting {
    fn status(&self) -> Status {
        FakeBackend.status()
    }
    fn submit(
        &self,
        tx: SignedTransaction,
        wait: bool,
    ) -> BoxFuture<'static, Result<Submitted, ApiError>> {
        self.submitted.fetch_add(1, Ordering::SeqCst);
        FakeBackend.submit(tx, wait)
    }
    fn query(&self, query: Query) -> Result<JsonBody, ApiError> {
        FakeBackend.query(query)
    }
    fn subscribe(&self) -> BoxStream<'static, ApiEvent> {
        // A block, a certificate of BW's and one of two others, a seizure.
        let event = |kind: &str, data: serde_json::Value, id: &str| ApiEvent {
            kind: kind.into(),
            data,
            id: Some(id.into()),
        };
        futures::stream::iter(vec![
            event("block", serde_json::json!({"height": 9}), "9.0"),
            event(
                "certificate",
                serde_json::json!({"number": "BW1", "exporting": "BW", "importing": "EU"}),
                "9.1",
            ),
            event(
                "certificate",
                serde_json::json!({"number": "AE1", "exporting": "AE", "importing": "IN"}),
                "9.2",
            ),
            event("seizure", serde_json::json!({"reporter": "IN"}), "9.3"),
        ])
        .chain(futures::stream::pending())
        .boxed()
    }
    fn metrics(&self) -> String {
        FakeBackend.metrics()
    }
}

struct Tokens {
    _dir: tempfile::TempDir,
    store: TokenStore,
    public: String,
    bw: String,
    ae: String,
    operator: String,
}

fn tokens() -> Tokens {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rpc-tokens.toml");
    let mut file = TokenFile::default();
    let mut issue = |scope: &str, seed: u8| {
        file.create(
            scope.parse().unwrap(),
            [seed; 32],
            "2026-12-07T00:00:00Z".into(),
            String::new(),
        )
        .0
    };
    let public = issue("public", 1);
    let bw = issue("participant:BW", 2);
    let ae = issue("participant:AE", 3);
    let operator = issue("operator", 4);
    file.save(&path).unwrap();
    Tokens {
        store: TokenStore::open(path).unwrap(),
        _dir: dir,
        public,
        bw,
        ae,
        operator,
    }
}

struct Server {
    base: String,
    submitted: Arc<AtomicUsize>,
    tokens: Tokens,
}

async fn server(anonymous: Anonymous, rate: Option<RateLimit>) -> Server {
    let mut t = tokens();
    let store = std::mem::replace(&mut t.store, TokenStore::empty());
    let policy = AccessPolicy {
        anonymous,
        tokens: store,
        rate,
        search_scan_max: 500,
        public_statistics: PublicPeriod::HalfYear,
    };
    let submitted = Arc::new(AtomicUsize::new(0));
    let backend = Arc::new(Counting {
        submitted: submitted.clone(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = serve(
            listener,
            backend,
            Arc::new(policy),
            None,
            futures::future::pending(),
        )
        .await;
    });
    Server {
        base: format!("http://{addr}"),
        submitted,
        tokens: t,
    }
}

async fn call(
    base: &str,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new().request(method, format!("{base}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

async fn get(base: &str, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    call(base, reqwest::Method::GET, path, token, None).await
}

fn code(answer: &serde_json::Value) -> &str {
    answer["error"]["code"].as_str().unwrap_or("")
}

fn message(answer: &serde_json::Value) -> &str {
    answer["error"]["message"].as_str().unwrap_or("")
}

fn tx_body() -> serde_json::Value {
    let tx = crate::tests::signed_tx(1);
    serde_json::json!({"tx_hex": hex::encode(kp_types::encode(&tx))})
}

#[tokio::test]
async fn anonymous_and_wrong_scope_calls_are_refused_and_change_nothing() {
    let s = server(Anonymous::Scope(Scope::Public), None).await;
    let t = &s.tokens;
    // Anonymous, public routes: served.
    assert_eq!(get(&s.base, "/v1/status", None).await.0, 200);
    assert_eq!(get(&s.base, "/v1/light/blocks/latest", None).await.0, 200);
    assert_eq!(
        get(&s.base, "/v1/certificates/BW0001/proof", None).await.0,
        200
    );
    // Anonymous on a participant route: 401, naming the scope.
    let tx_path = format!("/v1/txs/{}", "00".repeat(32));
    for path in [
        tx_path.as_str(),
        "/v1/certificates?exporting=BW",
        "/v1/anomalies",
        "/v1/events",
    ] {
        let (status, answer) = get(&s.base, path, None).await;
        assert_eq!((status, code(&answer)), (401, "unauthenticated"), "{path}");
        assert!(
            message(&answer).contains("needs scope participant"),
            "{path}: {answer}"
        );
    }
    // A public token on a participant route, a participant on the operator's: 403.
    let (status, answer) = get(&s.base, "/v1/seizures", Some(&t.public)).await;
    assert_eq!((status, code(&answer)), (403, "forbidden"));
    assert!(message(&answer).contains("needs scope participant; this token has scope public"));
    // Whole blocks are the operator's; a participant reads a transaction's
    // outcome without its body.
    let (status, answer) = get(&s.base, "/v1/blocks/1", Some(&t.bw)).await;
    assert_eq!((status, code(&answer)), (403, "forbidden"));
    assert!(message(&answer).contains("needs scope operator"));
    assert_eq!(get(&s.base, "/v1/blocks/1", Some(&t.operator)).await.0, 200);
    let (status, outcome) = get(&s.base, &tx_path, Some(&t.bw)).await;
    assert_eq!(status, 200);
    assert!(
        outcome.get("tx").is_none() && outcome.get("height").is_some(),
        "{outcome}"
    );
    let (_, full) = get(&s.base, &tx_path, Some(&t.operator)).await;
    assert!(full.get("tx").is_some(), "{full}");
    let (status, answer) = get(&s.base, "/metrics", Some(&t.bw)).await;
    assert_eq!((status, code(&answer)), (403, "forbidden"));
    assert!(message(&answer).contains("needs scope operator"));
    assert_eq!(get(&s.base, "/metrics", Some(&t.operator)).await.0, 200);
    // A token the node did not issue is refused everywhere, writes included,
    // and the transaction never reaches the node.
    for (method, path) in [
        (reqwest::Method::GET, "/v1/status"),
        (reqwest::Method::POST, "/v1/txs"),
    ] {
        let body = (method == reqwest::Method::POST).then(tx_body);
        let (status, answer) = call(&s.base, method, path, Some("kpt_forged"), body).await;
        assert_eq!((status, code(&answer)), (401, "unauthenticated"), "{path}");
    }
    let (status, answer) = call(&s.base, reqwest::Method::GET, "/v1/status", None, None).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        s.submitted.load(Ordering::SeqCst),
        0,
        "a refused write reached the node"
    );
    // A malformed Authorization header is not taken for anonymous.
    let response = reqwest::Client::new()
        .get(format!("{}/v1/status", s.base))
        .header("authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    // Signed writes are public: an anonymous one is taken.
    let (status, _) = call(
        &s.base,
        reqwest::Method::POST,
        "/v1/txs",
        None,
        Some(tx_body()),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(s.submitted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_node_that_serves_no_anonymous_caller_asks_for_a_token() {
    let s = server(Anonymous::None, None).await;
    let (status, answer) = get(&s.base, "/v1/status", None).await;
    assert_eq!((status, code(&answer)), (401, "unauthenticated"));
    assert!(message(&answer).contains("serves no anonymous callers"));
    let (status, _) = call(
        &s.base,
        reqwest::Method::POST,
        "/v1/txs",
        None,
        Some(tx_body()),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(s.submitted.load(Ordering::SeqCst), 0);
    assert_eq!(
        get(&s.base, "/v1/status", Some(&s.tokens.public)).await.0,
        200
    );
}

#[tokio::test]
async fn a_participant_sees_its_own_certificates_in_full_and_searches_only_its_own() {
    let s = server(Anonymous::Scope(Scope::Public), None).await;
    let t = &s.tokens;
    // BW exports BW0001 (to EU): BW sees it in full.
    let (status, full) = get(&s.base, "/v1/certificates/BW0001", Some(&t.bw)).await;
    assert_eq!(status, 200);
    assert_eq!(
        full["certificate"]["parties"]["plain"]["exporter"]["name"],
        "Debswana"
    );
    assert_eq!(full["certificate"]["lines"][0]["carats"], "100.00");
    // AE, a third Participant, and anonymous callers see the public view.
    for token in [Some(t.ae.as_str()), None, Some(t.public.as_str())] {
        let (status, public) = get(&s.base, "/v1/certificates/BW0001", token).await;
        assert_eq!(status, 200);
        assert_eq!(public["view"], "public");
        assert_eq!(public["certificate"]["number"], "BW0001");
        assert_eq!(public["status"], "issued");
        let text = public.to_string();
        assert!(
            !text.contains("Debswana") && !text.contains("100.00"),
            "{text}"
        );
    }
    assert_eq!(
        get(&s.base, "/v1/certificates/BW0001", Some(&t.operator))
            .await
            .1["certificate"]["parties"]["plain"]["exporter"]["name"],
        "Debswana"
    );
    // Searches: its own sides only.
    assert_eq!(
        get(&s.base, "/v1/certificates?exporting=BW", Some(&t.bw))
            .await
            .0,
        200
    );
    assert_eq!(
        get(
            &s.base,
            "/v1/certificates?importing=BW&exporting=EU",
            Some(&t.bw)
        )
        .await
        .0,
        200
    );
    for path in [
        "/v1/certificates",
        "/v1/certificates?exporting=EU",
        "/v1/certificates?importing=AE",
    ] {
        let (status, answer) = get(&s.base, path, Some(&t.bw)).await;
        assert_eq!((status, code(&answer)), (403, "forbidden"), "{path}");
        assert!(message(&answer).contains("exporting=BW"), "{answer}");
    }
    assert_eq!(
        get(&s.base, "/v1/certificates", Some(&t.operator)).await.0,
        200
    );
    // Anomalies: those that name it.
    let (_, anomalies) = get(&s.base, "/v1/anomalies?period=2026Q1", Some(&t.bw)).await;
    assert_eq!(
        anomalies["items"].as_array().unwrap().len(),
        1,
        "{anomalies}"
    );
    let (_, all) = get(&s.base, "/v1/anomalies?period=2026Q1", Some(&t.operator)).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_public_gets_published_statistics_and_the_participant_its_detail() {
    let s = server(Anonymous::Scope(Scope::Public), None).await;
    let t = &s.tokens;
    let (status, answer) = get(&s.base, "/v1/statistics/BW?period=2026Q1", None).await;
    assert_eq!((status, code(&answer)), (403, "forbidden"));
    assert!(message(&answer).contains("2026H1"), "{answer}");
    assert!(message(&answer).contains("participant:BW"), "{answer}");
    for token in [None, Some(t.ae.as_str())] {
        let (status, published) = get(&s.base, "/v1/statistics/BW?period=2026H1", token).await;
        assert_eq!(status, 200);
        assert_eq!(published["view"], "published");
        assert_eq!(published["statistics"]["exports"]["carats"], "1.00");
        assert!(published["statistics"].get("exports_by_partner").is_none());
    }
    // Without a period, the public gets the half-year of the last block.
    let (_, published) = get(&s.base, "/v1/statistics/BW", None).await;
    assert_eq!(published["period"], "2026H1");
    let (status, detail) = get(&s.base, "/v1/statistics/BW?period=2026Q1", Some(&t.bw)).await;
    assert_eq!(status, 200);
    assert_eq!(
        detail["statistics"]["exports_by_partner"]["EU"]["carats"],
        "1.00"
    );
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_and_others_are_served() {
    let s = server(
        Anonymous::Scope(Scope::Public),
        Some(RateLimit {
            per_second: 1,
            burst: 3,
        }),
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(get(&s.base, "/v1/status", Some(&s.tokens.bw)).await);
    }
    let limited = statuses.iter().find(|(status, _)| *status == 429);
    let (_, answer) = limited.expect("ten requests at once over a rate of 1/s with a burst of 3");
    assert_eq!(code(answer), "rate-limited");
    assert!(message(answer).contains("retry in"), "{answer}");
    // Another client (another token) has its own allowance.
    assert_eq!(get(&s.base, "/v1/status", Some(&s.tokens.ae)).await.0, 200);
}

/// A certificate authority and a certificate for 127.0.0.1 signed by it.
fn local_ca(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key).unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("node.pem"),
        dir.join("node-key.pem"),
    );
    std::fs::write(&paths.0, ca_cert.pem()).unwrap();
    std::fs::write(&paths.1, leaf_cert.pem()).unwrap();
    std::fs::write(&paths.2, leaf_key.serialize_pem()).unwrap();
    paths
}

#[tokio::test]
async fn tls_serves_https_and_tells_a_plain_client_to_use_it() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = local_ca(dir.path());
    let config = crate::tls::server_config(&cert, &key, None).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = serve(
            listener,
            Arc::new(FakeBackend),
            Arc::new(AccessPolicy::default()),
            Some(config),
            futures::future::pending(),
        )
        .await;
    });
    let root = reqwest::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(root)
        .build()
        .unwrap();
    let answer = client
        .get(format!("https://{addr}/v1/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    // Plain HTTP to the TLS port: a plain answer that says so.
    let (status, answer) = get(&format!("http://{addr}"), "/v1/status", None).await;
    assert_eq!((status, code(&answer)), (400, "tls-required"));
    assert!(message(&answer).contains("https://"));
    // A client that does not trust the CA fails the handshake.
    let untrusting = reqwest::Client::builder().use_rustls_tls().build().unwrap();
    let error = untrusting
        .get(format!("https://{addr}/v1/status"))
        .send()
        .await
        .unwrap_err();
    assert!(format!("{error:?}").contains("UnknownIssuer"), "{error:?}");
    // A certificate and key that do not match are refused with both named.
    let other = KeyPairFile::new(dir.path());
    let refused = crate::tls::server_config(&cert, &other.0, None).unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("do not make a server configuration"),
        "{refused}"
    );
}

struct KeyPairFile(std::path::PathBuf);

impl KeyPairFile {
    fn new(dir: &std::path::Path) -> KeyPairFile {
        let path = dir.join("other-key.pem");
        std::fs::write(&path, rcgen::KeyPair::generate().unwrap().serialize_pem()).unwrap();
        KeyPairFile(path)
    }
}

#[tokio::test]
async fn every_documented_route_needs_the_scope_the_document_says() {
    let s = server(Anonymous::Scope(Scope::Public), None).await;
    let doc = crate::openapi::document();
    for (template, item) in doc["paths"].as_object().unwrap() {
        let path = template
            .replace("{number}", "BW0001")
            .replace("{height}", "1")
            .replace("{code}", "BW")
            .replace("{hash}", &"00".repeat(32))
            .replace("{id}", &"00".repeat(32));
        let scope = crate::openapi::scope_of(template);
        for method in item.as_object().unwrap().keys() {
            assert_eq!(item[method]["x-scope"], scope, "{template}");
            let method: reqwest::Method = method.to_uppercase().parse().unwrap();
            let path = if template == "/v1/events" {
                "/v1/events?kinds=block".to_string()
            } else {
                path.clone()
            };
            let response = reqwest::Client::new()
                .request(method.clone(), format!("{}{path}", s.base))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            if scope == "public" {
                assert_ne!(status, 401, "{method} {template} is public");
            } else {
                assert_eq!(status, 401, "{method} {template} needs {scope}");
                let answer: serde_json::Value = response.json().await.unwrap();
                assert!(
                    message(&answer).contains(&format!("needs scope {scope}")),
                    "{answer}"
                );
            }
        }
    }
}

/// A CA for client certificates: its certificate, key and PEM file.
fn client_ca(dir: &std::path::Path) -> (rcgen::Certificate, rcgen::KeyPair, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "clients CA");
    let key = KeyPair::generate().unwrap();
    let cert = ca.self_signed(&key).unwrap();
    let path = dir.join("clients-ca.pem");
    std::fs::write(&path, cert.pem()).unwrap();
    (cert, key, path)
}

/// A client certificate the CA signed: its PEM with the key (what a
/// client's `--client-cert` holds) and the certificate's DER.
fn client_identity(
    ca: &(rcgen::Certificate, rcgen::KeyPair, std::path::PathBuf),
    name: &str,
) -> (Vec<u8>, Vec<u8>) {
    use rcgen::{CertificateParams, DnType, KeyPair};
    let mut leaf = CertificateParams::new(Vec::<String>::new()).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &ca.0, &ca.1).unwrap();
    let identity = format!("{}{}", cert.pem(), key.serialize_pem()).into_bytes();
    (identity, cert.der().to_vec())
}

#[tokio::test]
async fn a_registered_client_certificate_proves_its_scope() {
    let dir = tempfile::tempdir().unwrap();
    let (server_ca, cert, key) = local_ca(dir.path());
    let ca = client_ca(dir.path());
    let (bw_identity, bw_der) = client_identity(&ca, "bw-customs");
    // A second certificate of the same CA, never registered.
    let (stranger, _) = client_identity(&ca, "stranger");
    let clients_ca = ca.2.clone();
    let tokens_path = dir.path().join("rpc-tokens.toml");
    let mut file = TokenFile::default();
    file.add_certificate(
        "participant:BW".parse().unwrap(),
        &bw_der,
        "now".into(),
        String::new(),
    );
    file.save(&tokens_path).unwrap();
    let config = crate::tls::server_config(&cert, &key, Some(&clients_ca)).unwrap();
    let policy = AccessPolicy {
        tokens: TokenStore::open(tokens_path).unwrap(),
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = serve(
            listener,
            Arc::new(FakeBackend),
            Arc::new(policy),
            Some(config),
            futures::future::pending(),
        )
        .await;
    });
    let client = |identity: Option<&[u8]>| {
        let root = reqwest::Certificate::from_pem(&std::fs::read(&server_ca).unwrap()).unwrap();
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(root);
        if let Some(pem) = identity {
            builder = builder.identity(reqwest::Identity::from_pem(pem).unwrap());
        }
        builder.build().unwrap()
    };
    let search = format!("https://{addr}/v1/certificates?exporting=BW");
    // The registered certificate has participant:BW.
    let answer = client(Some(&bw_identity))
        .get(&search)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let answer = client(Some(&bw_identity))
        .get(format!("https://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 403);
    // No certificate: anonymous (public).
    let answer = client(None).get(&search).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 401);
    // A certificate the CA signed but the operator never registered: 401.
    let answer = client(Some(&stranger)).get(&search).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 401);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert!(message(&body).contains("not registered"), "{body}");
    // A bearer token of the caller's wins over its certificate: a forged one is refused.
    let answer = client(Some(&bw_identity))
        .get(&search)
        .bearer_auth("kpt_forged")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 401);
}

#[tokio::test]
async fn the_web_pages_need_no_token_and_carry_their_headers() {
    // A node that serves no anonymous caller still serves its pages: they
    // hold no ledger data, and the page asks for a token itself.
    let s = server(Anonymous::None, None).await;
    let resp = reqwest::get(format!("{}/", s.base)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let h = resp.headers().clone();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_eq!(
        h["content-security-policy"],
        kp_web::CONTENT_SECURITY_POLICY
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-cache");
    let etag = h["etag"].to_str().unwrap().to_string();
    assert!(resp.text().await.unwrap().contains("<html"));

    // Revalidation: the same ETag answers 304 with no body.
    let again = reqwest::Client::new()
        .get(format!("{}/", s.base))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);

    let css = reqwest::get(format!("{}/web/style.css", s.base))
        .await
        .unwrap();
    assert_eq!(css.status().as_u16(), 200);
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));

    for missing in ["/web/nope.js", "/web/../Cargo.toml", "/web/"] {
        let (status, answer) = get(&s.base, missing, None).await;
        assert_eq!((status, code(&answer)), (404, "not-found"), "{missing}");
    }
    // The data behind the pages keeps its scope.
    assert_eq!(get(&s.base, "/v1/status", None).await.0, 401);
}

/// Reads `want` events of the stream as `token`; returns their ids.
async fn event_ids(base: &str, token: &str, want: usize) -> Vec<String> {
    let mut resp = reqwest::Client::new()
        .get(format!("{base}/v1/events"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mut text = String::new();
    let mut ids = Vec::new();
    while ids.len() < want {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), resp.chunk())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
        ids = text
            .lines()
            .filter_map(|l| l.strip_prefix("id: "))
            .map(str::to_string)
            .collect();
    }
    ids
}

#[tokio::test]
async fn a_participant_sees_the_events_of_its_own_certificates_only() {
    let s = server(Anonymous::Scope(Scope::Public), None).await;
    // BW: the block, its own certificate and the seizure; not AE's.
    assert_eq!(
        event_ids(&s.base, &s.tokens.bw, 3).await,
        vec!["9.0", "9.1", "9.3"]
    );
    // AE: its own certificate.
    assert_eq!(
        event_ids(&s.base, &s.tokens.ae, 3).await,
        vec!["9.0", "9.2", "9.3"]
    );
    // The operator: all of them.
    assert_eq!(
        event_ids(&s.base, &s.tokens.operator, 4).await,
        vec!["9.0", "9.1", "9.2", "9.3"]
    );
}

#[tokio::test]
async fn refusals_of_access_control_are_timed_too() {
    let s = server(Anonymous::None, None).await;
    assert_eq!(get(&s.base, "/v1/status", None).await.0, 401);
    let text = reqwest::Client::new()
        .get(format!("{}/metrics", s.base))
        .bearer_auth(&s.tokens.operator)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            "kpledger_rpc_request_duration_seconds_count{method=\"GET\",route=\"/v1/status\",status=\"401\"} 1"
        ),
        "{text}"
    );
}
