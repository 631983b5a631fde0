//! The WebAssembly verifier's answers on real proofs: those of a chain in
//! memory (blocks applied by kp-ledger, proofs assembled by the node's
//! prover), asked as the page asks, in JSON.

#[path = "../../kp-client/tests/common/mod.rs"]
mod common;

use common::{now, TestChain};
use kp_api::paper::{certificate_digest, PaperCode};
use kp_types::Hash;
use serde_json::{json, Value};

fn ask(request: Value) -> Value {
    kp_verify_wasm::call(request.to_string().as_bytes())
}

fn check(chain: &TestChain, number: &str, extra: Value) -> Value {
    let mut request = json!({
        "op": "check",
        "genesis": chain.genesis,
        "number": number,
        "proof": chain.prove(number),
        "blocks": [],
        "now_ms": now().0,
        "max_age_ms": 2 * 3_600_000u64,
    });
    for (k, v) in extra.as_object().unwrap() {
        request[k] = v.clone();
    }
    ask(request)
}

fn chain_with(number: &str) -> TestChain {
    let mut chain = TestChain::new();
    chain.issue(number, "BW", "EU");
    chain.seal();
    chain
}

#[test]
fn a_genuine_certificate_is_authentic_with_its_digest() {
    let chain = chain_with("BW2026000001");
    let answer = check(&chain, "BW2026000001", json!({}));
    assert_eq!(answer["verdict"]["verdict"], "authentic", "{answer}");
    assert_eq!(answer["verdict"]["status"], "issued");
    assert_eq!(answer["genesis_hash"], json!(chain.genesis_hash()));
    let certificate: kp_types::Certificate =
        serde_json::from_value(answer["verdict"]["certificate"].clone()).unwrap();
    assert_eq!(answer["digest"], json!(certificate_digest(&certificate)));
    // The genesis operation gives the fingerprint the page pins.
    let g = ask(json!({ "op": "genesis", "genesis": chain.genesis }));
    assert_eq!(g["genesis_hash"], json!(chain.genesis_hash()));
}

#[test]
fn an_unknown_number_is_not_found_and_a_tampered_record_not_authentic() {
    let chain = chain_with("BW2026000001");
    let answer = check(&chain, "BW2026000999", json!({}));
    assert_eq!(answer["verdict"]["verdict"], "not-found", "{answer}");
    let mut proof = serde_json::to_value(chain.prove("BW2026000001")).unwrap();
    let record = proof["records"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["key"].as_str().unwrap().starts_with("0701"))
        .unwrap();
    let value = record["value"].as_str().unwrap().to_string();
    let flipped = if value.ends_with('0') { "1" } else { "0" };
    record["value"] = format!("{}{flipped}", &value[..value.len() - 1]).into();
    let answer = check(&chain, "BW2026000001", json!({ "proof": proof }));
    assert_eq!(answer["verdict"]["verdict"], "not-authentic", "{answer}");
}

#[test]
fn another_pinned_genesis_cannot_decide() {
    let chain = chain_with("BW2026000001");
    let answer = check(
        &chain,
        "BW2026000001",
        json!({ "pinned": Hash([3; 32]).to_hex() }),
    );
    assert_eq!(answer["verdict"]["verdict"], "cannot-decide", "{answer}");
    assert!(
        answer["verdict"]["reason"]
            .as_str()
            .unwrap()
            .contains("you pinned"),
        "{answer}"
    );
    let answer = check(
        &chain,
        "BW2026000001",
        json!({ "pinned": chain.genesis_hash().to_hex() }),
    );
    assert_eq!(answer["verdict"]["verdict"], "authentic", "{answer}");
}

#[test]
fn a_paper_code_must_carry_the_proven_certificate_digest() {
    let mut chain = chain_with("BW2026000001");
    chain.issue("BW2026000002", "BW", "EU");
    chain.seal();
    let genuine = check(&chain, "BW2026000001", json!({}));
    let certificate: kp_types::Certificate =
        serde_json::from_value(genuine["verdict"]["certificate"].clone()).unwrap();
    let chain_id = chain.genesis.chain_id.clone();
    let right = PaperCode::of(&chain_id, &certificate);
    let answer = check(&chain, "BW2026000001", json!({ "paper": right.text() }));
    assert_eq!(answer["verdict"]["verdict"], "authentic", "{answer}");
    // Altered paper: the digest of other figures.
    let mut altered = right.clone();
    altered.digest = Hash([5; 32]);
    let answer = check(&chain, "BW2026000001", json!({ "paper": altered.text() }));
    assert_eq!(answer["verdict"]["verdict"], "not-authentic", "{answer}");
    assert!(answer["verdict"]["reason"]
        .as_str()
        .unwrap()
        .contains("PAPER MISMATCH"));
    // The code of a genuine certificate copied onto another's paper.
    let answer = check(&chain, "BW2026000002", json!({ "paper": right.text() }));
    assert_eq!(answer["verdict"]["verdict"], "not-authentic", "{answer}");
    // A code of another network.
    let mut foreign = right.clone();
    foreign.chain_id = "another-chain".into();
    let answer = check(&chain, "BW2026000001", json!({ "paper": foreign.text() }));
    assert_eq!(answer["verdict"]["verdict"], "cannot-decide", "{answer}");
}

#[test]
fn a_document_matches_only_the_proven_fields() {
    let chain = chain_with("BW2026000001");
    let answer = check(&chain, "BW2026000001", json!({}));
    let certificate = answer["verdict"]["certificate"].clone();
    let plain = &certificate["parties"]["plain"];
    let document = json!({
        "number": "BW2026000001",
        "salt": "00".repeat(32),
        "details": plain["details"],
        "exporter": plain["exporter"],
        "importer": plain["importer"],
    });
    let answer = ask(json!({
        "op": "document", "certificate": certificate, "document": document.to_string(),
    }));
    assert_eq!(answer["matches"], true, "{answer}");
    let mut altered = document.clone();
    altered["importer"]["name"] = "Someone Else Ltd".into();
    let answer = ask(json!({
        "op": "document", "certificate": certificate, "document": altered.to_string(),
    }));
    assert_eq!(answer["matches"], false, "{answer}");
}

#[test]
fn a_trusted_header_replaces_the_genesis_and_a_wrong_one_cannot_decide() {
    let mut chain = chain_with("BW2026000001");
    chain.seal();
    let block = chain.light_block(1);
    let pin = format!("1:{}", block.header.hash());
    // The verifier asks for the pinned header's light block first.
    let answer = check(&chain, "BW2026000001", json!({ "trust_header": pin }));
    assert_eq!(answer["need"], 1, "{answer}");
    let answer = check(
        &chain,
        "BW2026000001",
        json!({ "trust_header": pin, "blocks": [block] }),
    );
    assert_eq!(answer["verdict"]["verdict"], "authentic", "{answer}");
    assert_eq!(answer["trusted_height"], 1, "{answer}");
    let wrong = format!("1:{}", Hash([4; 32]));
    let answer = check(
        &chain,
        "BW2026000001",
        json!({ "trust_header": wrong, "blocks": [block] }),
    );
    assert_eq!(answer["verdict"]["verdict"], "cannot-decide", "{answer}");
}

/// A green-zone certificate awaiting the monitor's approval reads so, with
/// the sanction and approval alerts, never as issued.
#[test]
fn awaiting_approval_is_shown_as_such() {
    use kp_ledger::testkit::{certificate, code};
    use kp_types::{Payload, ResolutionAction, SanctionScope};
    let mut chain = TestChain::new();
    chain.adopt(ResolutionAction::ImposeSanction {
        participant: code("BW"),
        origin: Default::default(),
        scope: SanctionScope::PartialExports {
            green_zones: vec!["Orapa".into()],
            monitor: Some(code("EU")),
        },
    });
    let mut cert = certificate("BW0000001", "BW", "EU", chain.h.today());
    cert.origin_zones = vec!["Orapa".into()];
    let tx = chain.h.by_authority("BW", Payload::IssueCertificate(cert));
    chain.run(tx);
    chain.seal();
    let answer = check(&chain, "BW0000001", json!({}));
    assert_eq!(answer["verdict"]["verdict"], "authentic", "{answer}");
    assert_eq!(answer["verdict"]["status"], "awaiting-approval");
    let kinds: Vec<&str> = answer["verdict"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"awaiting-approval") && kinds.contains(&"sanction"),
        "{kinds:?}"
    );
}
