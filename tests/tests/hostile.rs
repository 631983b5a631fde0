//! Adversarial RPC suite against a real 4-validator + 1-observer network:
//! malformed and oversized bodies, a wrong chain id, forged signatures,
//! replayed and out-of-order transactions, a revoked authority, a sanctioned
//! Participant, and a resolution signed by an observer.
//!
//! Every case asserts the HTTP status and the stable error code the client
//! gets, and then that the refusal changed nothing: the transaction is in no
//! block, the certificate it would have created does not exist, and the node's
//! pool did not keep it. The "changed nothing" checks run once more at the end,
//! after further blocks, so that a refused transaction that leaked into gossip
//! and got decided later would still be caught.
//!
//! One network serves all cases (starting one costs seconds); the cases run in
//! order inside one test because some need state the earlier ones create
//! (a revoked authority, an adopted sanction).

use kp_e2e::*;
use kp_types::tx::{Payload, Transaction};
use kp_types::{ResolutionAction, SanctionScope, SignedTransaction, SigningKey, Timestamp};
use serde_json::{json, Value};
use std::time::Duration;

const PROGRESS: Duration = Duration::from_secs(60);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

fn sign_tx(key: &SigningKey, chain_id: &str, nonce: u64, payload: Payload) -> SignedTransaction {
    Transaction {
        chain_id: chain_id.to_string(),
        signer: key.public(),
        nonce,
        expires_at: Timestamp(now_ms() + 10 * 60 * 1000),
        payload,
    }
    .sign(key)
}

/// A certificate from `from` (a testnet code) to `to`, numbered `number`,
/// signed by the key in `key`.
fn certificate(
    key: &SigningKey,
    number: &str,
    from: &str,
    to: &str,
    nonce: u64,
) -> SignedTransaction {
    let today = Timestamp(now_ms()).date();
    let mut cert = kp_ledger::testkit::certificate(number, from, to, today);
    cert.issuing_authority =
        kp_types::AuthorityId::new(&format!("{from}-KPA")).expect("valid authority id");
    sign_tx(
        key,
        TESTNET_CHAIN_ID,
        nonce,
        Payload::IssueCertificate(cert),
    )
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(70))
        .build()
        .expect("http client")
}

/// POSTs raw bytes to `/v1/txs` of node `i`.
fn post_raw(cluster: &Cluster, i: usize, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let resp = client()
        .post(format!("http://{}/v1/txs", cluster.nodes[i].rpc))
        .header("content-type", content_type)
        .body(body)
        .send()
        .expect("node answers");
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

fn expect_error(case: &str, answer: (u16, Value), status: u16, code: &str) {
    let (got_status, body) = answer;
    assert_eq!(
        got_status, status,
        "{case}: status {got_status}, body {body}"
    );
    assert_eq!(
        body["error"]["code"], code,
        "{case}: expected error code {code}, body {body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{case}: the error explains itself: {body}"
    );
}

/// The refused transaction is in no block and no pool; its certificate (if
/// any) does not exist.
fn assert_unchanged(
    cluster: &Cluster,
    case: &str,
    tx: Option<&SignedTransaction>,
    number: Option<&str>,
) {
    for i in 0..cluster.nodes.len() {
        let rpc = &cluster.nodes[i].rpc;
        if let Some(tx) = tx {
            let found = get_json(rpc, &format!("/v1/txs/{}", tx.hash().to_hex()));
            assert!(
                found
                    .as_ref()
                    .is_some_and(|f| f["error"]["code"] == "not-found"),
                "{case}: node {i} knows the refused transaction: {found:?}"
            );
        }
        if let Some(number) = number {
            let found = get_json(rpc, &format!("/v1/certificates/{number}"));
            assert!(
                found
                    .as_ref()
                    .is_some_and(|f| f["error"]["code"] == "not-found"),
                "{case}: node {i} has certificate {number}: {found:?}"
            );
        }
    }
}

/// Submits `tx` with `wait: true` and asserts it was decided and accepted.
fn decide_ok(cluster: &Cluster, i: usize, tx: &SignedTransaction, what: &str) {
    let (status, body) = submit(cluster, i, tx, true);
    assert_eq!(status, 200, "{what}: {body}");
    assert!(
        body["decided"]["receipt"]["result"]
            .as_object()
            .is_some_and(|r| r.contains_key("Ok")),
        "{what} was refused by the ledger: {body}"
    );
    // Every node has applied the block before the test goes on: a node one
    // block behind would still take the transaction as new, which is right
    // for it and would make the replay checks below race.
    let hash = tx.hash().to_hex();
    let everywhere = wait_until(PROGRESS, || {
        (0..cluster.nodes.len()).all(|n| {
            get_json(&cluster.nodes[n].rpc, &format!("/v1/txs/{hash}"))
                .is_some_and(|t| t["height"].is_u64())
        })
    });
    assert!(everywhere, "{what} was not applied on every node");
}

#[test]
fn hostile_rpc_input_is_refused_with_clear_errors_and_changes_nothing() {
    let mut cluster = Cluster::generate(4, 1);
    cluster.start_all();
    let all: Vec<usize> = (0..5).collect();
    cluster.wait_for_height(&all, 1, PROGRESS);
    let bw_authority = read_key(&cluster.nodes[0].dir.join("authority.key"));
    let mut refused: Vec<(String, SignedTransaction, Option<String>)> = Vec::new();
    let mut nonce = now_ms();
    let mut next = || {
        nonce += 1;
        nonce
    };

    // --- malformed and oversized bodies ------------------------------------
    expect_error(
        "truncated json",
        post_raw(&cluster, 0, "application/json", b"{\"tx_hex\": ".to_vec()),
        400,
        "malformed-json",
    );
    expect_error(
        "not json at all",
        post_raw(
            &cluster,
            1,
            "application/json",
            vec![0xff, 0xfe, 0x00, 0x01],
        ),
        400,
        "malformed-json",
    );
    expect_error(
        "unknown field",
        post_raw(
            &cluster,
            0,
            "application/json",
            br#"{"tx_hex":"00","colour":"blue"}"#.to_vec(),
        ),
        400,
        "malformed-json",
    );
    expect_error(
        "wrong content type",
        post_raw(&cluster, 0, "text/plain", br#"{"tx_hex":"00"}"#.to_vec()),
        415,
        "unsupported-media-type",
    );
    let huge = format!("{{\"tx_hex\":\"{}\"}}", "ab".repeat(200 * 1024));
    expect_error(
        "oversized body",
        post_raw(&cluster, 2, "application/json", huge.into_bytes()),
        413,
        "body-too-large",
    );
    expect_error(
        "neither tx nor tx_hex",
        post_raw(
            &cluster,
            0,
            "application/json",
            br#"{"wait":true}"#.to_vec(),
        ),
        400,
        "malformed-request",
    );
    expect_error(
        "not hex",
        post_raw(
            &cluster,
            0,
            "application/json",
            br#"{"tx_hex":"zz"}"#.to_vec(),
        ),
        400,
        "malformed-hex",
    );
    expect_error(
        "hex of garbage",
        post_raw(
            &cluster,
            3,
            "application/json",
            br#"{"tx_hex":"deadbeef00"}"#.to_vec(),
        ),
        400,
        "malformed-transaction",
    );
    // A transaction with trailing bytes is not canonical.
    let good = certificate(&bw_authority, "BW1000001", "BW", "EU", next());
    let mut trailing = kp_types::encode(&good);
    trailing.push(0);
    expect_error(
        "trailing bytes",
        submit_hex(&cluster, 0, &hex::encode(trailing)),
        400,
        "malformed-transaction",
    );

    // --- forged signature ---------------------------------------------------
    let mut forged = certificate(&bw_authority, "BW1000002", "BW", "EU", next());
    forged.tx.nonce += 1;
    expect_error(
        "signature over other bytes",
        submit(&cluster, 1, &forged, false),
        400,
        "bad-signature",
    );
    refused.push(("forged".into(), forged, Some("BW1000002".into())));

    // --- wrong chain id -----------------------------------------------------
    let today = Timestamp(now_ms()).date();
    let mut cert = kp_ledger::testkit::certificate("BW1000003", "BW", "EU", today);
    cert.issuing_authority = kp_types::AuthorityId::new("BW-KPA").expect("id");
    let wrong_chain = sign_tx(
        &bw_authority,
        "kp-other-chain",
        next(),
        Payload::IssueCertificate(cert),
    );
    expect_error(
        "wrong chain id",
        submit(&cluster, 0, &wrong_chain, false),
        422,
        "wrong-chain",
    );
    refused.push(("wrong chain".into(), wrong_chain, Some("BW1000003".into())));

    // --- expired transaction ------------------------------------------------
    let mut cert = kp_ledger::testkit::certificate("BW1000004", "BW", "EU", today);
    cert.issuing_authority = kp_types::AuthorityId::new("BW-KPA").expect("id");
    let expired = Transaction {
        chain_id: TESTNET_CHAIN_ID.to_string(),
        signer: bw_authority.public(),
        nonce: next(),
        expires_at: Timestamp(now_ms() - 60_000),
        payload: Payload::IssueCertificate(cert),
    }
    .sign(&bw_authority);
    expect_error(
        "expired",
        submit(&cluster, 2, &expired, false),
        422,
        "tx-expired",
    );
    refused.push(("expired".into(), expired, Some("BW1000004".into())));

    // --- replayed transaction ----------------------------------------------
    let original = certificate(&bw_authority, "BW1000005", "BW", "EU", next());
    decide_ok(&cluster, 0, &original, "the original");
    for i in 0..5 {
        let (status, body) = submit(&cluster, i, &original, false);
        assert_eq!(status, 409, "replay at node {i}: {body}");
        assert!(
            body["error"]["code"] == "already-decided"
                || body["error"]["code"] == "already-executed",
            "replay at node {i}: {body}"
        );
    }
    // Same certificate number in a fresh transaction: refused by the rules.
    let copy = certificate(&bw_authority, "BW1000005", "BW", "EU", next());
    expect_error(
        "number reused",
        submit(&cluster, 3, &copy, false),
        422,
        "number-taken",
    );
    refused.push(("number reused".into(), copy, None));

    // --- reordered: a confirmation before its certificate exists -----------
    let eu_authority = read_key(&cluster.nodes[1].dir.join("authority.key"));
    let confirm = |number: &str, nonce: u64| {
        sign_tx(
            &eu_authority,
            TESTNET_CHAIN_ID,
            nonce,
            Payload::ConfirmImport(kp_types::ImportConfirmation {
                number: kp_types::CertificateNumber::new(number).expect("number"),
                authority: kp_types::AuthorityId::new("EU-KPA").expect("id"),
                carats: kp_types::Carats(10_000),
                parcels: 2,
                received_on: today,
            }),
        )
    };
    let early = confirm("BW1000006", next());
    expect_error(
        "confirmation before issue",
        submit(&cluster, 1, &early, false),
        422,
        "unknown-certificate",
    );
    refused.push(("early confirmation".into(), early, Some("BW1000006".into())));
    // In the right order both are accepted.
    decide_ok(
        &cluster,
        0,
        &certificate(&bw_authority, "BW1000007", "BW", "EU", next()),
        "issue",
    );
    decide_ok(
        &cluster,
        1,
        &confirm("BW1000007", next()),
        "confirmation in order",
    );

    // --- revoked authority ----------------------------------------------------
    let ae_node = read_key(&cluster.nodes[2].dir.join("node.key"));
    let ae_authority = read_key(&cluster.nodes[2].dir.join("authority.key"));
    let revoke = sign_tx(
        &ae_node,
        TESTNET_CHAIN_ID,
        next(),
        Payload::RevokeAuthority {
            participant: kp_types::ParticipantCode::new("AE").expect("code"),
            authority: kp_types::AuthorityId::new("AE-KPA").expect("id"),
            compromised_since: None,
        },
    );
    decide_ok(&cluster, 2, &revoke, "revocation");
    let by_revoked = certificate(&ae_authority, "AE1000001", "AE", "BW", next());
    expect_error(
        "signed by a revoked authority",
        submit(&cluster, 2, &by_revoked, false),
        422,
        "authority-revoked",
    );
    refused.push((
        "revoked authority".into(),
        by_revoked,
        Some("AE1000001".into()),
    ));

    // --- resolution signed by an observer ------------------------------------
    let observer = read_key(&cluster.nodes[4].dir.join("node.key"));
    let sanction = ResolutionAction::ImposeSanction {
        participant: kp_types::ParticipantCode::new("IN").expect("code"),
        origin: Default::default(),
        scope: SanctionScope::ExportBan,
    };
    let by_observer = sign_tx(
        &observer,
        TESTNET_CHAIN_ID,
        next(),
        Payload::ProposeResolution(kp_types::ResolutionProposal {
            title: "an observer tries to sanction India".into(),
            action: sanction.clone(),
            deadline: None,
        }),
    );
    let (status, body) = submit(&cluster, 4, &by_observer, false);
    assert_eq!(status, 422, "observer proposal: {body}");
    assert_eq!(
        body["error"]["code"], "not-a-government",
        "observer proposal: {body}"
    );
    refused.push(("observer proposal".into(), by_observer, None));

    // --- sanctioned Participant ---------------------------------------------
    let node_key = |i: usize| read_key(&cluster.nodes[i].dir.join("node.key"));
    let proposal = sign_tx(
        &node_key(0),
        TESTNET_CHAIN_ID,
        next(),
        Payload::ProposeResolution(kp_types::ResolutionProposal {
            title: "export ban on India (drill)".into(),
            action: sanction,
            deadline: None,
        }),
    );
    let resolution = proposal.hash();
    decide_ok(&cluster, 0, &proposal, "sanction proposal");
    // An observer may not sign it either.
    let observer_sign = sign_tx(
        &observer,
        TESTNET_CHAIN_ID,
        next(),
        Payload::SignResolution { resolution },
    );
    let (status, body) = submit(&cluster, 4, &observer_sign, false);
    assert_eq!(status, 422, "observer signature: {body}");
    assert_eq!(
        body["error"]["code"], "not-a-government",
        "observer signature: {body}"
    );
    refused.push(("observer signature".into(), observer_sign, None));
    for i in 1..4 {
        let sign = sign_tx(
            &node_key(i),
            TESTNET_CHAIN_ID,
            next(),
            Payload::SignResolution { resolution },
        );
        decide_ok(&cluster, i, &sign, "signature of the sanction");
    }
    let record = get_json(
        &cluster.nodes[0].rpc,
        &format!("/v1/resolutions/{}", resolution.to_hex()),
    )
    .expect("resolution readable");
    assert!(
        record["outcome"]
            .to_string()
            .to_lowercase()
            .contains("adopted"),
        "the sanction was not adopted: {record}"
    );
    let in_authority = read_key(&cluster.nodes[3].dir.join("authority.key"));
    let from_sanctioned = certificate(&in_authority, "IN1000001", "IN", "BW", next());
    expect_error(
        "certificate from a sanctioned Participant",
        submit(&cluster, 3, &from_sanctioned, false),
        422,
        "export-forbidden",
    );
    refused.push((
        "sanctioned exporter".into(),
        from_sanctioned,
        Some("IN1000001".into()),
    ));

    // --- nothing refused ever lands, even after more blocks -----------------
    for (case, tx, number) in &refused {
        assert_unchanged(&cluster, case, Some(tx), number.as_deref());
    }
    let top = cluster.height(0) + 3;
    cluster.wait_for_height(&all, top, PROGRESS);
    for (case, tx, number) in &refused {
        assert_unchanged(&cluster, case, Some(tx), number.as_deref());
    }
    assert_same_chain(&cluster, &all, top);
    for i in all {
        let status = cluster.status(i).expect("node answers");
        assert_eq!(status["mempool"], 0, "node {i} pooled something: {status}");
    }
}

fn submit_hex(cluster: &Cluster, i: usize, tx_hex: &str) -> (u16, Value) {
    post_json(
        &cluster.nodes[i].rpc,
        "/v1/txs",
        &json!({ "tx_hex": tx_hex }),
    )
    .expect("node answers")
}
