//! The certificate check of the web page (ADR 0013): `kp-client`'s light
//! client, proof verification and verdicts, the same code as `kpledger cert
//! verify`, compiled to WebAssembly and called from JavaScript through a
//! tiny C ABI (`scripts/build-wasm` writes `kp_verify.wasm` into kp-web's
//! assets).
//!
//! One call, JSON in and JSON out ([`call`]); the page does the fetching:
//!
//! * `{"op": "genesis", "genesis": G}` → `{"genesis_hash", "chain_id"}`: the
//!   fingerprint of the genesis the node serves, which the page pins.
//! * `{"op": "check", "genesis": G, "pinned": HASH?, "number": N, "proof":
//!   P, "blocks": [LIGHT_BLOCK...], "now_ms": T, "max_age_ms": A, "paper":
//!   QR_TEXT?, "trust_header": "HEIGHT:HASH"?}` → either `{"need": H}` (fetch `/v1/light/blocks/H`, add it
//!   to `blocks`, call again; at most [`FETCHES_MAX`] times) or `{"verdict":
//!   V, "genesis_hash", "chain_id", "digest"?, "trusted_height"}` with `V`
//!   the CLI's `--json` verdict and `trusted_height` where verification
//!   started (0: the genesis).
//! * `{"op": "paper", "text": QR_TEXT}` → `{"chain_id", "number", "digest"}`.
//! * `{"op": "document", "certificate": C, "document": TOML_OR_JSON}` →
//!   `{"matches": bool, "detail", "fields"?}`: a document (what `cert show
//!   --key --document-out` writes) against a *proven* certificate.
//!
//! Bad input is a `{"error": "..."}` answer, never a trap.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

use kp_api::paper::{certificate_digest, PaperCode};
use kp_api::proof::{CertificateProof, LightBlock};
use kp_api::Genesis;
use kp_client::document::Document;
use kp_client::light::{LightClient, TrustOptions, TrustedState, FETCHES_MAX};
use kp_client::{judge, Freshness, Verdict};
use kp_types::{Certificate, CertificateNumber, Hash, Timestamp};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use thiserror::Error;

/// Largest request accepted (a proof with its light blocks).
pub const REQUEST_BYTES_MAX: usize = 32 * 1024 * 1024;

/// Why a request was refused before any verification.
#[derive(Debug, Error)]
pub enum RequestError {
    /// Larger than [`REQUEST_BYTES_MAX`].
    #[error("request of {0} bytes, at most {REQUEST_BYTES_MAX}")]
    TooLarge(usize),
    /// Not the JSON of a known operation.
    #[error("bad request: {0}")]
    Json(#[from] serde_json::Error),
    /// More light blocks than one verification may fetch.
    #[error("{0} light blocks given, at most {FETCHES_MAX}")]
    TooManyBlocks(usize),
    /// A certificate number that does not parse.
    #[error("bad certificate number {0:?}")]
    Number(String),
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
enum Request {
    Genesis {
        genesis: Box<Genesis>,
    },
    Check(Box<CheckRequest>),
    Paper {
        text: String,
    },
    Document {
        certificate: Box<Certificate>,
        document: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckRequest {
    genesis: Genesis,
    /// The genesis hash the user pinned (first use, or as the KP publishes it).
    #[serde(default)]
    pinned: Option<String>,
    number: String,
    proof: CertificateProof,
    #[serde(default)]
    blocks: Vec<LightBlock>,
    now_ms: u64,
    max_age_ms: u64,
    /// The text of a scanned paper's QR code.
    #[serde(default)]
    paper: Option<String>,
    /// `HEIGHT:HASH`: start from this header instead of the genesis (the
    /// CLI's `--trust-header`; the page passes the anchor it verified
    /// last, so that checks keep working past the trust period of the
    /// genesis validators). Its light block is asked for like any other.
    #[serde(default)]
    trust_header: Option<String>,
}

/// Answers one request (see the crate docs); never panics on bad input.
pub fn call(input: &[u8]) -> Value {
    match answer(input) {
        Ok(v) => v,
        Err(e) => json!({ "error": e.to_string() }),
    }
}

fn answer(input: &[u8]) -> Result<Value, RequestError> {
    if input.len() > REQUEST_BYTES_MAX {
        return Err(RequestError::TooLarge(input.len()));
    }
    Ok(match serde_json::from_slice::<Request>(input)? {
        Request::Genesis { genesis } => json!({
            "genesis_hash": genesis.hash(),
            "chain_id": genesis.chain_id,
        }),
        Request::Check(request) => check(*request)?,
        Request::Paper { text } => match PaperCode::parse(&text) {
            Ok(code) => json!({
                "chain_id": code.chain_id,
                "number": code.number,
                "digest": code.digest,
            }),
            Err(e) => json!({ "error": e.to_string() }),
        },
        Request::Document {
            certificate,
            document,
        } => check_document(&certificate, &document),
    })
}

fn cannot(reason: String) -> Verdict {
    Verdict::CannotDecide { reason, fork: None }
}

fn check(r: CheckRequest) -> Result<Value, RequestError> {
    if r.blocks.len() > FETCHES_MAX {
        return Err(RequestError::TooManyBlocks(r.blocks.len()));
    }
    let number: CertificateNumber = r
        .number
        .parse()
        .map_err(|_| RequestError::Number(r.number.clone()))?;
    let genesis_hash = r.genesis.hash();
    let answer = |verdict: &Verdict, digest: Option<Hash>| {
        json!({
            "verdict": verdict,
            "genesis_hash": genesis_hash,
            "chain_id": r.genesis.chain_id,
            "digest": digest,
        })
    };
    // The trust root: the genesis the node serves, only if it is the one
    // the user pinned.
    if let Some(pinned) = &r.pinned {
        if Hash::from_hex(pinned.trim()) != Some(genesis_hash) {
            let verdict = cannot(format!(
                "the node serves genesis {genesis_hash} (chain {}), but you pinned {}: it runs another network or genesis, or it lies",
                r.genesis.chain_id,
                pinned.trim()
            ));
            return Ok(answer(&verdict, None));
        }
    }
    let paper = match r.paper.as_deref().map(PaperCode::parse).transpose() {
        Ok(p) => p,
        Err(e) => {
            let verdict = cannot(format!("the scanned code cannot be read: {e}"));
            return Ok(answer(&verdict, None));
        }
    };
    let blocks: BTreeMap<u64, LightBlock> =
        r.blocks.into_iter().map(|b| (b.header.height, b)).collect();
    let root = match r.trust_header.as_deref().map(str::trim) {
        None => TrustedState::from_genesis(&r.genesis),
        Some(pin) => {
            let Some((height, hash)) = pin
                .split_once(':')
                .and_then(|(h, x)| Some((h.parse::<u64>().ok()?, Hash::from_hex(x)?)))
            else {
                let verdict = cannot(format!(
                    "trusted header {pin:?}: expected HEIGHT:HASH, a height and 64 hex digits"
                ));
                return Ok(answer(&verdict, None));
            };
            let Some(block) = blocks.get(&height) else {
                return Ok(json!({ "need": height }));
            };
            match TrustedState::from_pinned(&r.genesis.chain_id, genesis_hash, height, hash, block)
            {
                Ok(root) => root,
                Err(e) => {
                    let verdict = cannot(format!("trusted header {pin}: {e}"));
                    return Ok(answer(&verdict, None));
                }
            }
        }
    };
    // Where verification started: 0 for the genesis, else the trusted header.
    let trusted_height = root.height;
    let mut light = match LightClient::new(root, TrustOptions::default(), None) {
        Ok(l) => l,
        Err(e) => return Ok(answer(&cannot(format!("light client: {e}")), None)),
    };
    let mut need = None;
    let mut fetch = |height: u64| match blocks.get(&height) {
        Some(b) => Ok(b.clone()),
        None => {
            need.get_or_insert(height);
            Err(format!("light block {height} is not fetched yet"))
        }
    };
    let freshness = Freshness {
        now: Timestamp(r.now_ms),
        max_age_ms: r.max_age_ms,
    };
    let mut verdict = judge(
        &r.proof,
        &number,
        &mut light,
        &genesis_hash,
        freshness,
        &mut fetch,
        "the node",
    );
    if let Some(height) = need {
        return Ok(json!({ "need": height }));
    }
    let digest = match &verdict {
        Verdict::Authentic(v) => Some(certificate_digest(&v.certificate)),
        _ => None,
    };
    // A paper's code must name this chain and this certificate, as proven.
    if let (Some(code), Verdict::Authentic(_) | Verdict::NotFound { .. }) = (&paper, &verdict) {
        if code.chain_id != r.genesis.chain_id {
            verdict = cannot(format!(
                "the paper names chain {}, this node runs chain {}: ask a node of the paper's network",
                code.chain_id, r.genesis.chain_id
            ));
        } else if code.number != number {
            verdict = Verdict::NotAuthentic {
                reason: format!(
                    "PAPER MISMATCH: the paper's code names certificate {}, not {number}",
                    code.number
                ),
            };
        } else if let Some(d) = digest.filter(|d| *d != code.digest) {
            verdict = Verdict::NotAuthentic {
                reason: format!(
                    "PAPER MISMATCH: the paper's code carries digest {}, the certificate the ledger proves has {d}: the paper was altered, or its code copied from another certificate",
                    code.digest
                ),
            };
        }
    }
    let mut out = answer(&verdict, digest);
    out["trusted_height"] = json!(trusted_height);
    Ok(out)
}

fn check_document(certificate: &Certificate, text: &str) -> Value {
    let parsed: Result<Document, String> = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| e.to_string())
    } else {
        toml::from_str(text).map_err(|e| e.to_string())
    };
    let document = match parsed {
        Ok(d) => d,
        Err(e) => return json!({ "error": format!("the document cannot be read: {e}") }),
    };
    match document.check(certificate) {
        Ok(detail) => json!({
            "matches": true,
            "detail": detail,
            "fields": document.fields(),
        }),
        Err(detail) => json!({ "matches": false, "detail": detail }),
    }
}

/// The C ABI the page calls: the only unsafe code of the crate.
///
/// JavaScript writes a request into memory it got from [`ffi::kp_alloc`],
/// calls [`ffi::kp_call`], reads [`ffi::kp_out_len`] bytes of JSON at the
/// pointer it returns, and gives both buffers back with [`ffi::kp_free`].
pub mod ffi {
    use std::sync::atomic::{AtomicUsize, Ordering};

    static OUT_LEN: AtomicUsize = AtomicUsize::new(0);

    fn leak(bytes: Box<[u8]>) -> *mut u8 {
        Box::into_raw(bytes).cast::<u8>()
    }

    /// A buffer of `len` zero bytes for the caller to fill.
    // `no_mangle` is what exports it: the unsafe_code lint flags it.
    #[allow(unsafe_code)]
    #[no_mangle]
    pub extern "C" fn kp_alloc(len: usize) -> *mut u8 {
        leak(vec![0u8; len].into_boxed_slice())
    }

    /// Frees a buffer of [`kp_alloc`] or [`kp_call`].
    ///
    /// # Safety
    /// `ptr` and `len` must be a buffer [`kp_alloc`] returned for `len`, or
    /// [`kp_call`]'s answer with [`kp_out_len`]'s length, not freed before.
    #[allow(unsafe_code)]
    #[no_mangle]
    pub unsafe extern "C" fn kp_free(ptr: *mut u8, len: usize) {
        if ptr.is_null() {
            return;
        }
        // SAFETY: per the contract, a boxed slice of exactly `len` bytes
        // that this module leaked.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) });
    }

    /// Answers the JSON request of `len` bytes at `ptr` (see [`crate::call`]);
    /// the answer's length is [`kp_out_len`].
    ///
    /// # Safety
    /// `ptr` must point at `len` readable bytes (a [`kp_alloc`] buffer).
    #[allow(unsafe_code)]
    #[no_mangle]
    pub unsafe extern "C" fn kp_call(ptr: *const u8, len: usize) -> *mut u8 {
        let input: &[u8] = if ptr.is_null() || len == 0 {
            &[]
        } else {
            // SAFETY: per the contract, `len` readable bytes at `ptr`.
            unsafe { std::slice::from_raw_parts(ptr, len) }
        };
        let out = crate::call(input)
            .to_string()
            .into_bytes()
            .into_boxed_slice();
        OUT_LEN.store(out.len(), Ordering::SeqCst);
        leak(out)
    }

    /// The length of [`kp_call`]'s last answer.
    #[allow(unsafe_code)]
    #[no_mangle]
    pub extern "C" fn kp_out_len() -> usize {
        OUT_LEN.load(Ordering::SeqCst)
    }
}

/// Verification needs no randomness; anything that asks for it on the web
/// gets an error instead of a JavaScript import.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
#[allow(unsafe_code)] // the handler is exported by getrandom's macro
mod no_randomness {
    fn refuse(_: &mut [u8]) -> Result<(), getrandom::Error> {
        Err(getrandom::Error::UNSUPPORTED)
    }
    getrandom::register_custom_getrandom!(refuse);
}

#[cfg(test)]
mod tests;
