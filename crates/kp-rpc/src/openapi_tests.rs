//! The OpenAPI document against the answers: its schemas are generated
//! from the types (ADR 0015), so a client generated from it has real
//! fields; these tests check that the answers the server sends validate
//! against them, in every view, and that the components carry the fields a
//! client needs.

use crate::tests::start_with;
use crate::{access, openapi};
use serde_json::{json, Value};

/// Checks `body`, the answer to `method template` with `status`, against
/// the document's schema for it: Err with every violation.
pub(crate) fn validate(
    doc: &Value,
    template: &str,
    method: &str,
    status: u16,
    body: &Value,
) -> Result<(), String> {
    let response = &doc["paths"][template][method]["responses"][status.to_string()];
    let Some(schema) = response["content"]["application/json"]["schema"].as_object() else {
        return Err(format!(
            "{method} {template}: no JSON answer {status} documented"
        ));
    };
    let mut root = Value::Object(schema.clone());
    root["components"] = doc["components"].clone();
    let validator = jsonschema::draft202012::new(&root)
        .map_err(|e| format!("{method} {template} {status}: the schema does not compile: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{method} {template} {status}: {} in {body}",
            errors.join("; ")
        ))
    }
}

async fn get(base: &str, path: &str) -> (u16, Value) {
    let resp = reqwest::get(format!("{base}{path}")).await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_public_views_validate_against_their_schemas() {
    let base = start_with(access::AccessPolicy {
        anonymous: access::Anonymous::Scope(access::Scope::Public),
        ..Default::default()
    })
    .await;
    let doc = openapi::document();
    let cases = [
        ("/v1/certificates/{number}", "/v1/certificates/BW0001", 200),
        (
            "/v1/statistics/{code}",
            "/v1/statistics/BW?period=2026H1",
            200,
        ),
        (
            "/v1/statistics/{code}",
            "/v1/statistics/BW?period=2026Q1",
            403,
        ),
        ("/v1/seizures", "/v1/seizures", 401),
        ("/v1/blocks/{height}", "/v1/blocks/1", 401),
    ];
    for (template, path, expected) in cases {
        let (status, body) = get(&base, path).await;
        assert_eq!(status, expected, "{path}: {body}");
        validate(doc, template, "get", status, &body).unwrap();
    }
    let (_, public) = get(&base, "/v1/certificates/BW0001").await;
    assert_eq!(public["view"], "public");
    // The full answer does not pass for the public view, nor the reverse:
    // the two are told apart by their fields, not by luck.
    let full = serde_json::to_value(crate::fixtures::certificate()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let public_only = json!({"$ref": "#/components/schemas/PublicCertificateAnswer", "components": doc["components"]});
    let full_only =
        json!({"$ref": "#/components/schemas/CertificateAnswer", "components": doc["components"]});
    assert!(schemas["PublicCertificateAnswer"].is_object());
    assert!(!jsonschema::draft202012::new(&public_only)
        .unwrap()
        .is_valid(&full));
    assert!(!jsonschema::draft202012::new(&full_only)
        .unwrap()
        .is_valid(&public));
    assert!(jsonschema::draft202012::new(&full_only)
        .unwrap()
        .is_valid(&full));
}

#[tokio::test]
async fn a_wrong_answer_fails_its_schema() {
    let doc = openapi::document();
    let mut status = serde_json::to_value(crate::tests::FakeBackend.status_for_tests()).unwrap();
    validate(doc, "/v1/status", "get", 200, &status).unwrap();
    status["height"] = json!("7");
    let error = validate(doc, "/v1/status", "get", 200, &status).unwrap_err();
    assert!(error.contains("height"), "{error}");
    let mut certificate = serde_json::to_value(crate::fixtures::certificate()).unwrap();
    certificate["status"] = json!("lost");
    assert!(validate(doc, "/v1/certificates/{number}", "get", 200, &certificate).is_err());
    let mut certificate = serde_json::to_value(crate::fixtures::certificate()).unwrap();
    certificate["certificate"]["number"] = json!("bw 1");
    assert!(validate(doc, "/v1/certificates/{number}", "get", 200, &certificate).is_err());
}

/// The fields a generated client needs are in the components, typed.
#[test]
fn the_components_carry_the_fields_a_client_needs() {
    let doc = openapi::document();
    let schemas = &doc["components"]["schemas"];
    let certificate = &schemas["Certificate"];
    assert_eq!(
        certificate["properties"]["number"]["$ref"],
        "#/components/schemas/CertificateNumber"
    );
    assert!(certificate["required"]
        .as_array()
        .unwrap()
        .contains(&json!("number")));
    assert_eq!(
        schemas["CertificateNumber"]["pattern"],
        "^[A-Z]{2}[A-Z0-9-]{1,30}$"
    );
    let answer = &schemas["CertificateAnswer"];
    for field in ["certificate", "status", "history", "alerts", "issued_at"] {
        assert!(
            answer["properties"][field].is_object(),
            "CertificateAnswer has no {field}: {answer}"
        );
    }
    assert_eq!(
        answer["properties"]["status"]["$ref"],
        "#/components/schemas/CertificateStatus"
    );
    let statuses = schemas["CertificateStatus"].to_string();
    for status in [
        "awaiting-approval",
        "issued",
        "confirmed",
        "voided",
        "expired",
        "seized",
    ] {
        assert!(statuses.contains(&format!("\"{status}\"")), "{statuses}");
    }
    let node = &schemas["NodeStatus"];
    assert_eq!(node["properties"]["height"]["type"], "integer");
    assert!(node["required"]
        .as_array()
        .unwrap()
        .contains(&json!("height")));
    let rejections = schemas["Rejection"].to_string();
    assert!(rejections.contains("weak-key"), "{rejections}");
    assert_eq!(
        schemas["ErrorAnswer"]["properties"]["error"]["$ref"],
        "#/components/schemas/ErrorDetail"
    );
}

/// Every 200 JSON answer refers to components, every `$ref` resolves, and
/// the parameters are typed.
#[test]
fn every_answer_is_a_component_and_every_ref_resolves() {
    let doc = openapi::document();
    assert_eq!(doc["openapi"], "3.1.0");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut refs = Vec::new();
    collect_refs(doc, &mut refs);
    assert!(refs.len() > 50, "{}", refs.len());
    for target in refs {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("a $ref outside the components: {target}"));
        assert!(schemas.contains_key(name), "{target} does not resolve");
    }
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let ok = op["responses"]["200"]["content"]["application/json"]["schema"].clone();
            if ok.is_null() || template == "/v1/openapi.json" {
                continue;
            }
            let text = ok.to_string();
            assert!(
                text.starts_with("{\"$ref\"") || text.starts_with("{\"anyOf\":[{\"$ref\""),
                "{method} {template}: 200 is not a component: {text}"
            );
            for param in op["parameters"].as_array().into_iter().flatten() {
                let schema = &param["schema"];
                assert!(
                    schema != &json!({"type": "string"}) || template == "/v1/events",
                    "{method} {template}: parameter {} is any string",
                    param["name"]
                );
            }
        }
    }
    let limit = &doc["paths"]["/v1/seizures"]["get"]["parameters"][0]["schema"];
    assert_eq!(
        (limit["minimum"].clone(), limit["maximum"].clone()),
        (json!(1), json!(100))
    );
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if key == "$ref" {
                    out.push(v.as_str().unwrap_or_default().to_string());
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Every operation has a unique id, and every link names one.
#[test]
fn operations_have_unique_ids_and_links_name_them() {
    let doc = openapi::document();
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            assert_eq!(id, openapi::operation_id(method, path));
            assert!(ids.insert(id.to_string()), "{id} twice");
        }
    }
    assert!(ids.contains("get_certificates_number_qr_svg"), "{ids:?}");
    let mut links = Vec::new();
    collect_key(doc, "links", &mut links);
    assert!(links.len() >= 2);
    for set in links {
        for (name, link) in set.as_object().unwrap() {
            let target = link["operationId"].as_str().unwrap();
            assert!(ids.contains(target), "link {name} names {target}");
        }
    }
}

fn collect_key<'a>(value: &'a Value, key: &str, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == key {
                    out.push(v);
                } else {
                    collect_key(v, key, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_key(v, key, out)),
        _ => {}
    }
}

/// The hand-written schemas of kp-types (`schema.rs`) accept what the
/// serializers write, edge values included, and refuse other text.
#[test]
fn the_text_forms_match_their_patterns() {
    use kp_types::{
        AuthorityId, Carats, CertificateNumber, Date, Hash, ParticipantCode, Period, PublicKey,
        Signature, Timestamp, UsdCents,
    };
    let doc = openapi::document();
    let check = |name: &str, value: Value, valid: bool| {
        let root = json!({"$ref": format!("#/components/schemas/{name}"), "components": doc["components"]});
        let validator = jsonschema::draft202012::new(&root).unwrap();
        assert_eq!(validator.is_valid(&value), valid, "{name}: {value}");
    };
    for (name, value) in [
        ("Hash", json!(Hash([0xab; 32]))),
        ("PublicKey", json!(PublicKey([1; 32]))),
        ("Signature", json!(Signature([2; 64]))),
        ("Carats", json!(Carats(0))),
        ("Carats", json!(Carats(125_050))),
        ("UsdAmount", json!(UsdCents(u64::MAX))),
        (
            "ParticipantCode",
            json!("WDC".parse::<ParticipantCode>().unwrap()),
        ),
        (
            "AuthorityId",
            json!("BW-KPA".parse::<AuthorityId>().unwrap()),
        ),
        (
            "CertificateNumber",
            json!("BW0012345".parse::<CertificateNumber>().unwrap()),
        ),
        ("Date", json!(Date(0))),
        ("Date", json!(Date(20_000))),
        ("Timestamp", json!(Timestamp(0))),
        ("Timestamp", json!(Timestamp(1_796_540_400_123))),
        ("Timestamp", json!(Timestamp(u64::MAX))),
        ("Period", json!(Period::Year(2026))),
        ("Period", json!(Period::Half(2026, 2))),
        ("Period", json!(Period::Quarter(2026, 4))),
    ] {
        check(name, value, true);
    }
    for (name, value) in [
        ("Hash", json!("AB")),
        ("Carats", json!("1.5")),
        ("Carats", json!(150)),
        ("ParticipantCode", json!("bw")),
        ("CertificateNumber", json!("B")),
        ("Date", json!("5 Dec 2026")),
        ("Period", json!("2026Q5")),
        ("Period", json!("2026H3")),
        ("Period", json!("1969")),
    ] {
        check(name, value, false);
    }
}
