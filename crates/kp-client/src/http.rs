//! The blocking HTTP client of a node's `/v1` API (feature `net`), and the
//! checks that need one: a proof fetched and judged, nodes compared.

use super::{judge, judge_records, light_verdict, Freshness, RecordVerdict, Verdict};
use crate::connection::http_detail;
use crate::light::{LightClient, LightError};
use crate::proof::{self, ProofError, Proven};
use kp_api::answers::{
    AnomaliesAnswer, CertificateAnswer, CertificatePage, ErrorAnswer, NodeStatus, ParticipantList,
    ResolutionPage, SeizureList, StatisticsAnswer, Submitted,
};
use kp_api::proof::{CertificateProof, LightBlock, RecordsProof};
use kp_api::{Genesis, ParticipantRecord, ResolutionRecord};
use kp_types::{CertificateNumber, Hash, ParticipantCode, SignedTransaction, Timestamp};
use serde::de::DeserializeOwned;
use std::any::type_name;
use std::io::Read;
use thiserror::Error;

/// Largest answer read from a node.
pub const RESPONSE_BYTES_MAX: u64 = 32 * 1024 * 1024;
/// Most resolution pages fetched to build the validator history.
pub const RESOLUTION_PAGES_MAX: usize = 100;

/// Why a client call failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The node could not be reached or the connection failed.
    #[error("cannot reach {url}: {detail}")]
    Http {
        /// The URL.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The node answered with an API error.
    #[error("{code} (HTTP {status}): {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Stable code.
        code: String,
        /// The node's explanation.
        message: String,
    },
    /// The answer is not what the API promises.
    #[error("unexpected answer from {url}: {detail}")]
    Decode {
        /// The URL.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// The certificate authority file (`--ca`) or client certificate
    /// (`--client-cert`) is unusable.
    #[error("{path}: {detail}")]
    Ca {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// The answer is larger than [`RESPONSE_BYTES_MAX`].
    #[error("answer from {url} exceeds {RESPONSE_BYTES_MAX} bytes")]
    TooLarge {
        /// The URL.
        url: String,
    },
}

/// A blocking client of one node.
#[derive(Clone, Debug)]
pub struct Client {
    pub(crate) base: String,
    pub(crate) http: reqwest::blocking::Client,
    pub(crate) ca: Option<std::path::PathBuf>,
}

/// A certificate as a node shows it to the caller.
#[derive(Clone, Debug)]
pub enum CertificateView {
    /// Every field: the caller is a side of it, or the operator.
    Full(Box<CertificateAnswer>),
    /// The public view: number, Participants, authority, dates, status,
    /// alerts.
    Public(serde_json::Value),
}

impl Client {
    /// The node's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn read(
        &self,
        url: &str,
        response: reqwest::blocking::Response,
    ) -> Result<serde_json::Value, ClientError> {
        let status = response.status().as_u16();
        let mut bytes = Vec::new();
        response
            .take(RESPONSE_BYTES_MAX + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| ClientError::Http {
                url: url.to_string(),
                detail: e.to_string(),
            })?;
        if bytes.len() as u64 > RESPONSE_BYTES_MAX {
            return Err(ClientError::TooLarge {
                url: url.to_string(),
            });
        }
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
                url: url.to_string(),
                detail: format!("HTTP {status}, not JSON: {e}"),
            })?;
        if status >= 400 {
            return Err(match serde_json::from_value::<ErrorAnswer>(value.clone()) {
                Ok(answer) => ClientError::Api {
                    status,
                    code: answer.error.code,
                    message: answer.error.message,
                },
                // Not the API's error body (a proxy's, say): what came.
                Err(e) => ClientError::Api {
                    status,
                    code: "unknown".into(),
                    message: format!(
                        "{url} answered an error that is not the API's ({e}): {value}"
                    ),
                },
            });
        }
        Ok(value)
    }

    /// `GET path` as JSON.
    pub fn get(&self, path: &str) -> Result<serde_json::Value, ClientError> {
        let url = format!("{}{path}", self.base);
        let response = self.http.get(&url).send().map_err(|e| ClientError::Http {
            url: url.clone(),
            detail: http_detail(&e),
        })?;
        self.read(&url, response)
    }

    /// `GET path` as bytes (an octet-stream answer), at most `max` of them;
    /// an error status is read as the API's JSON error.
    pub fn get_bytes(&self, path: &str, max: u64) -> Result<Vec<u8>, ClientError> {
        let url = format!("{}{path}", self.base);
        let response = self.http.get(&url).send().map_err(|e| ClientError::Http {
            url: url.clone(),
            detail: http_detail(&e),
        })?;
        if response.status().as_u16() >= 400 {
            return self.read(&url, response).and_then(|value| {
                Err(ClientError::Decode {
                    url: url.clone(),
                    detail: format!("an error status with a body that is not an error: {value}"),
                })
            });
        }
        let mut bytes = Vec::new();
        response
            .take(max + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| ClientError::Http {
                url: url.clone(),
                detail: e.to_string(),
            })?;
        if bytes.len() as u64 > max {
            return Err(ClientError::Decode {
                url,
                detail: format!("the answer exceeds {max} bytes"),
            });
        }
        Ok(bytes)
    }

    /// `GET path` decoded as `T`; an answer that is not a `T` is
    /// [`ClientError::Decode`] naming the URL and the type expected.
    pub fn get_as<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let value = self.get(path)?;
        serde_json::from_value(value).map_err(|e| ClientError::Decode {
            url: format!("{}{path}", self.base),
            detail: format!("not {}: {e}", type_name::<T>()),
        })
    }

    /// `GET /v1/certificates/{number}`: the record and its alerts.
    pub fn certificate(
        &self,
        number: &CertificateNumber,
    ) -> Result<CertificateAnswer, ClientError> {
        match self.certificate_view(number)? {
            CertificateView::Full(answer) => Ok(*answer),
            CertificateView::Public(_) => Err(ClientError::Decode {
                url: format!("{}/v1/certificates/{number}", self.base),
                detail: "the node gave only the public view of this certificate: the caller is \
                         neither its exporting nor its importing Participant; send a token of \
                         scope participant:CODE of either side (--token or KPLEDGER_TOKEN)"
                    .into(),
            }),
        }
    }

    /// `GET /v1/certificates/{number}` as the caller may see it: in full,
    /// or the public view (`view: public`) a caller gets who is neither
    /// side of it.
    pub fn certificate_view(
        &self,
        number: &CertificateNumber,
    ) -> Result<CertificateView, ClientError> {
        let path = format!("/v1/certificates/{number}");
        let value = self.get(&path)?;
        if value["view"] == "public" {
            return Ok(CertificateView::Public(value));
        }
        serde_json::from_value(value)
            .map(|answer| CertificateView::Full(Box::new(answer)))
            .map_err(|e| ClientError::Decode {
                url: format!("{}{path}", self.base),
                detail: format!("not {}: {e}", type_name::<CertificateAnswer>()),
            })
    }

    /// `GET /v1/certificates?{query}`: one page of the certificate search
    /// (`query` is the URL query, e.g. `limit=50&exporting=BW`).
    pub fn certificates(&self, query: &str) -> Result<CertificatePage, ClientError> {
        self.get_as(&format!("/v1/certificates?{query}"))
    }

    /// `GET /v1/participants`: every member.
    pub fn participants(&self) -> Result<ParticipantList, ClientError> {
        self.get_as("/v1/participants")
    }

    /// `GET /v1/participants/{code}`: a member with its authorities.
    pub fn participant(&self, code: &ParticipantCode) -> Result<ParticipantRecord, ClientError> {
        self.get_as(&format!("/v1/participants/{code}"))
    }

    /// `GET /v1/resolutions/{id}`.
    pub fn resolution(&self, id: &Hash) -> Result<ResolutionRecord, ClientError> {
        self.get_as(&format!("/v1/resolutions/{id}"))
    }

    /// `GET /v1/resolutions?{query}`: one page of resolutions in id order
    /// (`query` is the URL query, e.g. `limit=100&pending=true`).
    pub fn resolution_page(&self, query: &str) -> Result<ResolutionPage, ClientError> {
        self.get_as(&format!("/v1/resolutions?{query}"))
    }

    /// `GET /v1/seizures?limit={limit}`: seizure alerts, newest first.
    pub fn seizures(&self, limit: usize) -> Result<SeizureList, ClientError> {
        self.get_as(&format!("/v1/seizures?limit={limit}"))
    }

    /// `GET /v1/statistics/{code}`, of `period` (e.g. `2026Q4`) or the
    /// node's default period.
    pub fn statistics(
        &self,
        code: &str,
        period: Option<&str>,
    ) -> Result<StatisticsAnswer, ClientError> {
        let path = match period {
            Some(p) => format!("/v1/statistics/{code}?period={p}"),
            None => format!("/v1/statistics/{code}"),
        };
        let mut value = self.get(&path)?;
        // The published view (callers other than the Participant) holds
        // the totals only: the rest of the figures stay empty.
        if value["view"] == "published" {
            let totals = value["statistics"].take();
            let mut statistics =
                serde_json::to_value(kp_api::TradeStatistics::default()).unwrap_or_default();
            for field in ["exports", "imports", "production"] {
                statistics[field] = totals[field].clone();
            }
            value["statistics"] = statistics;
        }
        serde_json::from_value(value).map_err(|e| ClientError::Decode {
            url: format!("{}{path}", self.base),
            detail: format!("not {}: {e}", type_name::<StatisticsAnswer>()),
        })
    }

    /// `GET /v1/anomalies`, of `period` or the node's default period.
    pub fn anomalies(&self, period: Option<&str>) -> Result<AnomaliesAnswer, ClientError> {
        self.get_as(&match period {
            Some(p) => format!("/v1/anomalies?period={p}"),
            None => "/v1/anomalies".to_string(),
        })
    }

    /// `GET /v1/status`.
    pub fn status(&self) -> Result<NodeStatus, ClientError> {
        self.get_as("/v1/status")
    }

    /// The chain id the node reports.
    pub fn chain_id(&self) -> Result<String, ClientError> {
        Ok(self.status()?.chain_id)
    }

    /// `GET /v1/genesis`.
    pub fn genesis(&self) -> Result<Genesis, ClientError> {
        self.get_as("/v1/genesis")
    }

    /// `POST /v1/txs` with the canonical bytes; with `wait`, answers once decided.
    pub fn submit(&self, tx: &SignedTransaction, wait: bool) -> Result<Submitted, ClientError> {
        let url = format!("{}/v1/txs", self.base);
        let body = serde_json::json!({
            "tx_hex": hex::encode(kp_types::encode(tx)),
            "wait": wait,
        });
        let response = self
            .http
            .post(&url)
            .json(&body)
            .send()
            .map_err(|e| ClientError::Http {
                url: url.clone(),
                detail: http_detail(&e),
            })?;
        let value = self.read(&url, response)?;
        serde_json::from_value(value).map_err(|e| ClientError::Decode {
            url,
            detail: format!("not {}: {e}", type_name::<Submitted>()),
        })
    }

    /// Every resolution (paged, at most [`RESOLUTION_PAGES_MAX`] pages).
    pub fn resolutions(&self) -> Result<Vec<ResolutionRecord>, ClientError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..RESOLUTION_PAGES_MAX {
            let query = match &after {
                Some(a) => format!("limit=100&after={a}"),
                None => "limit=100".to_string(),
            };
            let page = self.resolution_page(&query)?;
            out.extend(page.items);
            match page.next {
                Some(next) => after = Some(next.to_string()),
                None => break,
            }
        }
        Ok(out)
    }

    /// `GET /v1/certificates/{number}/proof`.
    pub fn certificate_proof(
        &self,
        number: &CertificateNumber,
    ) -> Result<CertificateProof, ClientError> {
        self.get_as(&format!("/v1/certificates/{number}/proof"))
    }

    /// `GET /v1/participants/{code}/proof`.
    pub fn participant_proof(&self, code: &ParticipantCode) -> Result<RecordsProof, ClientError> {
        self.get_as(&format!("/v1/participants/{code}/proof"))
    }

    /// `GET /v1/resolutions/{id}/proof`.
    pub fn resolution_proof(&self, id: &Hash) -> Result<RecordsProof, ClientError> {
        self.get_as(&format!("/v1/resolutions/{id}/proof"))
    }

    /// Checks Participant `code` (membership, sanction, node key, listed
    /// authorities) from this node's proof alone. Never errs.
    pub fn check_participant(
        &self,
        code: &ParticipantCode,
        light: &mut LightClient,
        genesis_hash: &Hash,
        freshness: Freshness,
    ) -> RecordVerdict<ParticipantRecord> {
        self.check_records(
            self.participant_proof(code),
            light,
            genesis_hash,
            freshness,
            |p| proof::verify_participant(p, code, genesis_hash),
        )
    }

    /// Checks resolution `id` (proposal, signers, outcome) from this node's
    /// proof alone. Never errs.
    pub fn check_resolution(
        &self,
        id: &Hash,
        light: &mut LightClient,
        genesis_hash: &Hash,
        freshness: Freshness,
    ) -> RecordVerdict<ResolutionRecord> {
        self.check_records(
            self.resolution_proof(id),
            light,
            genesis_hash,
            freshness,
            |p| proof::verify_resolution(p, id, genesis_hash),
        )
    }

    /// Judges a records proof fetched from this node, asking it for the
    /// light blocks the light client needs; a failed fetch cannot decide.
    fn check_records<T>(
        &self,
        fetched: Result<RecordsProof, ClientError>,
        light: &mut LightClient,
        genesis_hash: &Hash,
        freshness: Freshness,
        verify: impl FnOnce(&RecordsProof) -> Result<Proven<T>, ProofError>,
    ) -> RecordVerdict<T> {
        let proof = match fetched {
            Ok(p) => p,
            Err(e) => {
                return RecordVerdict::CannotDecide {
                    reason: format!("cannot get a proof from {}: {e}", self.base),
                }
            }
        };
        let mut fetch = |height: u64| self.light_block(height).map_err(|e| e.to_string());
        judge_records(
            &proof,
            light,
            genesis_hash,
            freshness,
            &mut fetch,
            &self.base,
            verify,
        )
    }

    /// `GET /v1/light/blocks/{height}`.
    pub fn light_block(&self, height: u64) -> Result<LightBlock, ClientError> {
        self.get_as(&format!("/v1/light/blocks/{height}"))
    }

    /// Checks certificate `number` from this node's proof alone: the anchor
    /// through `light` (which starts from what the caller trusts), then the
    /// records and acts against it. Never errs: every failure is a verdict.
    pub fn check_certificate(
        &self,
        number: &CertificateNumber,
        light: &mut LightClient,
        genesis_hash: &Hash,
        freshness: Freshness,
    ) -> (Verdict, Option<LightBlock>) {
        let proof = match self.certificate_proof(number) {
            Ok(p) => p,
            Err(e) => {
                return (
                    Verdict::cannot(format!("cannot get a proof from {}: {e}", self.base)),
                    None,
                )
            }
        };
        let anchor = proof.anchor.clone();
        let mut fetch = |height: u64| self.light_block(height).map_err(|e| e.to_string());
        let verdict = judge(
            &proof,
            number,
            light,
            genesis_hash,
            freshness,
            &mut fetch,
            &self.base,
        );
        (verdict, Some(anchor))
    }
}

/// Compares the nodes' headers at the lowest of their anchors' heights:
/// each is verified by the light client, which refuses a second decided
/// header at a height it already holds. Two such headers are a fork:
/// the verdict says so, with both headers as evidence. The nodes are asked
/// as `via`'s siblings (its `--ca`, without its token).
pub fn compare_at_common_height(
    via: &Client,
    anchors: &[(String, Option<LightBlock>)],
    light: &mut LightClient,
    now: Timestamp,
) -> Result<String, Verdict> {
    let Some(common) = anchors
        .iter()
        .filter_map(|(_, a)| a.as_ref().map(|a| a.header.height))
        .min()
    else {
        return Ok("no header to compare".into());
    };
    let mut first: Option<LightBlock> = None;
    for (url, anchor) in anchors {
        let block = match anchor {
            Some(a) if a.header.height == common => a.clone(),
            _ => {
                let client = via.sibling(url).map_err(|e| {
                    Verdict::cannot(format!("cannot ask {url} for height {common}: {e}"))
                })?;
                client.light_block(common).map_err(|e| {
                    Verdict::cannot(format!("{url} has no header at height {common}: {e}"))
                })?
            }
        };
        if let Some(f) = &first {
            if f.header.hash() != block.header.hash() {
                return Err(fork_verdict(url, common, f.clone(), block));
            }
        }
        let mut fetch = |h: u64| {
            via.sibling(url)
                .and_then(|c| c.light_block(h))
                .map_err(|e| e.to_string())
        };
        match light.verify(&block, now, &mut fetch) {
            Ok(()) => {}
            Err(LightError::Conflict { .. }) => {
                let trusted = light.trusted_at(common).cloned();
                return Err(match trusted {
                    Some(t) => fork_verdict(url, common, t, block),
                    None => Verdict::cannot(format!("{url}: conflicting header at {common}")),
                });
            }
            Err(e) => return Err(light_verdict(url, e)),
        }
        first.get_or_insert(block);
    }
    Ok(format!(
        "{} nodes agree on the header at height {common}",
        anchors.len()
    ))
}

fn fork_verdict(url: &str, height: u64, a: LightBlock, b: LightBlock) -> Verdict {
    Verdict::CannotDecide {
        reason: format!(
            "FORK at height {height}: {url} serves header {} where another node's is {}, both with commit certificates; at least a third of the validators signed two blocks. Report both headers (below) to the KP Chair",
            b.header.hash(),
            a.header.hash()
        ),
        fork: Some(Box::new((a, b))),
    }
}

#[cfg(test)]
mod client_tests {
    use super::*;

    #[test]
    fn a_node_url_may_carry_scheme_slash_or_the_api_prefix() {
        for given in [
            "127.0.0.1:26601",
            "http://127.0.0.1:26601",
            "http://127.0.0.1:26601/",
            "http://127.0.0.1:26601/v1",
            "127.0.0.1:26601/v1/",
            " http://127.0.0.1:26601 ",
        ] {
            assert_eq!(
                Client::new(given).unwrap().base(),
                "http://127.0.0.1:26601",
                "{given}"
            );
        }
    }

    /// A one-shot HTTP server on a free port answering `body` (HTTP 200)
    /// to one request.
    fn serve_once(body: &'static str) -> String {
        serve_once_with(200, body)
    }

    /// A one-shot HTTP server answering `body` with HTTP `status`.
    fn serve_once_with(status: u16, body: &'static str) -> String {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        });
        format!("http://{address}")
    }

    #[test]
    fn a_malformed_answer_is_a_decode_error_naming_the_endpoint() {
        // A certificate answer whose server renamed `alerts`.
        let node = serve_once(r#"{"certificate": {}, "status": "issued", "warnings": []}"#);
        let number: CertificateNumber = "BW2026000001".parse().unwrap();
        let error = Client::new(&node)
            .unwrap()
            .certificate(&number)
            .unwrap_err();
        let ClientError::Decode { url, detail } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(url, &format!("{node}/v1/certificates/BW2026000001"));
        assert!(detail.contains("CertificateAnswer"), "{detail}");
        // A page whose cursor is not a certificate number.
        let node = serve_once(r#"{"items": [], "next": 7, "scanned": 0}"#);
        let error = Client::new(&node)
            .unwrap()
            .certificates("limit=1")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("/v1/certificates?limit=1") && error.contains("CertificatePage"),
            "{error}"
        );
        // A statistics answer without its figures.
        let node = serve_once(r#"{"participant": "BW", "period": "2026"}"#);
        let error = Client::new(&node)
            .unwrap()
            .statistics("BW", None)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("/v1/statistics/BW") && error.contains("statistics"),
            "{error}"
        );
    }

    #[test]
    fn an_error_answer_is_an_api_error_and_a_foreign_one_says_what_came() {
        let node = serve_once_with(
            404,
            r#"{"error": {"code": "not-found", "message": "no member has code ZZ"}}"#,
        );
        let code: ParticipantCode = "ZZ".parse().unwrap();
        match Client::new(&node).unwrap().participant(&code).unwrap_err() {
            ClientError::Api {
                status,
                code,
                message,
            } => assert_eq!(
                (status, code.as_str(), message.as_str()),
                (404, "not-found", "no member has code ZZ")
            ),
            other => panic!("{other:?}"),
        }
        let node = serve_once_with(502, r#"{"detail": "bad gateway"}"#);
        match Client::new(&node).unwrap().status().unwrap_err() {
            ClientError::Api {
                status,
                code,
                message,
            } => {
                assert_eq!((status, code.as_str()), (502, "unknown"));
                assert!(
                    message.contains("/v1/status") && message.contains("bad gateway"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_refused_connection_says_so() {
        // A port that was free a moment ago, with nothing listening.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = Client::new(&format!("127.0.0.1:{port}")).unwrap();
        let error = client.status().unwrap_err().to_string();
        assert!(error.contains("cannot connect"), "{error}");
        assert!(error.to_lowercase().contains("refused"), "{error}");
        assert!(
            error.contains(&format!("127.0.0.1:{port}/v1/status")),
            "{error}"
        );
    }
}
