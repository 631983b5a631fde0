use super::*;

fn ask(request: Value) -> Value {
    call(request.to_string().as_bytes())
}

#[test]
fn bad_requests_are_answered_with_an_error() {
    for bad in [&b""[..], b"{", b"[]", b"{\"op\": \"launch\"}"] {
        let answer = call(bad);
        assert!(answer["error"].as_str().is_some(), "{answer}");
    }
    let answer = ask(json!({ "op": "paper", "text": "BW2026000001" }));
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("not a kpledger certificate code"),
        "{answer}"
    );
}

#[test]
fn a_paper_code_reads_back() {
    let code = PaperCode {
        chain_id: "kp-devnet".into(),
        number: "BW2026000001".parse().unwrap(),
        digest: Hash([9; 32]),
    };
    let answer = ask(json!({ "op": "paper", "text": code.text() }));
    assert_eq!(answer["chain_id"], "kp-devnet");
    assert_eq!(answer["number"], "BW2026000001");
    assert_eq!(answer["digest"], json!(Hash([9; 32])));
}

#[test]
fn the_c_abi_round_trips_a_request() {
    let request = br#"{"op": "paper", "text": "nonsense"}"#;
    let buffer = ffi::kp_alloc(request.len());
    // SAFETY (test): the buffer holds request.len() bytes.
    #[allow(unsafe_code)]
    let text = unsafe {
        std::ptr::copy_nonoverlapping(request.as_ptr(), buffer, request.len());
        let out = ffi::kp_call(buffer, request.len());
        let len = ffi::kp_out_len();
        let text = std::slice::from_raw_parts(out, len).to_vec();
        ffi::kp_free(out, len);
        ffi::kp_free(buffer, request.len());
        String::from_utf8(text).unwrap()
    };
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert!(answer["error"].is_string(), "{answer}");
}
