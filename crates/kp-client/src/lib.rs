//! Client for the kpledger RPC, and verification of certificate proofs.
//!
//! * [`Client`]: a blocking HTTP client for a node's `/v1` API; every answer
//!   is read with a size bound ([`RESPONSE_BYTES_MAX`]) and API errors come
//!   back as [`ClientError::Api`] with the server's stable code.
//! * [`proof`]: what a certificate proof holds and how a client checks it
//!   against a validator set it derived itself, starting from a genesis it
//!   trusts, so that a customs officer need not trust the node that answered.
//! * [`Client::verify_certificate`] puts the two together: fetch genesis
//!   (or use the caller's), fold in adopted membership resolutions, fetch the
//!   proof, verify, and gather the sanctions and seizure alerts that touch
//!   the certificate.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

pub mod proof;

use kp_ledger::{Genesis, ParticipantRecord, ResolutionRecord, SeizureRecord};
use kp_types::{CertificateNumber, Date, SignedTransaction};
use proof::{CertificateProof, ProofError, ValidatorHistory, Verified};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::Read;
use std::time::Duration;
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
    /// The answer is larger than [`RESPONSE_BYTES_MAX`].
    #[error("answer from {url} exceeds {RESPONSE_BYTES_MAX} bytes")]
    TooLarge {
        /// The URL.
        url: String,
    },
    /// The certificate proof does not hold.
    #[error("proof refused: {0}")]
    Proof(#[from] ProofError),
    /// The node runs another genesis than the trusted one.
    #[error(
        "the node runs genesis {node} of chain {node_chain:?}, not the trusted genesis {trusted}"
    )]
    GenesisMismatch {
        /// Hash of the trusted genesis.
        trusted: String,
        /// Hash of the node's genesis.
        node: String,
        /// The node's chain id.
        node_chain: String,
    },
}

/// A blocking client of one node.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    http: reqwest::blocking::Client,
}

/// The result of [`Client::verify_certificate`].
#[derive(Clone, Debug, Serialize)]
pub struct CertificateCheck {
    /// What the proof establishes.
    pub verified: Verified,
    /// Whether genesis came from the caller (true) or was taken from the node
    /// on trust (false).
    pub genesis_trusted: bool,
    /// Membership resolutions folded into the validator history.
    pub membership_changes: usize,
    /// Sanctions in force on either side (the node's word).
    pub sanctions: Vec<serde_json::Value>,
    /// Seizure alerts naming this certificate (the node's word).
    pub seizures: Vec<SeizureRecord>,
    /// The certificate is flagged for enhanced vigilance (the node's word).
    pub enhanced_vigilance: bool,
}

impl Client {
    /// A client of the node at `base` (e.g. `http://127.0.0.1:26601`).
    pub fn new(base: &str) -> Result<Client, ClientError> {
        let base = if base.starts_with("http://") || base.starts_with("https://") {
            base.trim_end_matches('/').to_string()
        } else {
            format!("http://{}", base.trim_end_matches('/'))
        };
        let http = reqwest::blocking::Client::builder()
            // Submissions with wait take up to the node's 60 s.
            .timeout(Duration::from_secs(75))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| ClientError::Http {
                url: base.clone(),
                detail: e.to_string(),
            })?;
        Ok(Client { base, http })
    }

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
            let error = &value["error"];
            return Err(ClientError::Api {
                status,
                code: error["code"].as_str().unwrap_or("unknown").to_string(),
                message: error["message"].as_str().unwrap_or("").to_string(),
            });
        }
        Ok(value)
    }

    /// `GET path` as JSON.
    pub fn get(&self, path: &str) -> Result<serde_json::Value, ClientError> {
        let url = format!("{}{path}", self.base);
        let response = self.http.get(&url).send().map_err(|e| ClientError::Http {
            url: url.clone(),
            detail: e.to_string(),
        })?;
        self.read(&url, response)
    }

    /// `GET path` decoded as `T`.
    pub fn get_as<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let value = self.get(path)?;
        serde_json::from_value(value).map_err(|e| ClientError::Decode {
            url: format!("{}{path}", self.base),
            detail: e.to_string(),
        })
    }

    /// `GET /v1/status`.
    pub fn status(&self) -> Result<serde_json::Value, ClientError> {
        self.get("/v1/status")
    }

    /// The chain id the node reports.
    pub fn chain_id(&self) -> Result<String, ClientError> {
        let status = self.status()?;
        status["chain_id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ClientError::Decode {
                url: format!("{}/v1/status", self.base),
                detail: "no chain_id".into(),
            })
    }

    /// `GET /v1/genesis`.
    pub fn genesis(&self) -> Result<Genesis, ClientError> {
        self.get_as("/v1/genesis")
    }

    /// `POST /v1/txs` with the canonical bytes; with `wait`, answers once decided.
    pub fn submit(
        &self,
        tx: &SignedTransaction,
        wait: bool,
    ) -> Result<serde_json::Value, ClientError> {
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
                detail: e.to_string(),
            })?;
        self.read(&url, response)
    }

    /// Every resolution (paged, at most [`RESOLUTION_PAGES_MAX`] pages).
    pub fn resolutions(&self) -> Result<Vec<ResolutionRecord>, ClientError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..RESOLUTION_PAGES_MAX {
            let path = match &after {
                Some(a) => format!("/v1/resolutions?limit=100&after={a}"),
                None => "/v1/resolutions?limit=100".to_string(),
            };
            let page = self.get(&path)?;
            let items: Vec<ResolutionRecord> = serde_json::from_value(page["items"].clone())
                .map_err(|e| ClientError::Decode {
                    url: format!("{}{path}", self.base),
                    detail: e.to_string(),
                })?;
            out.extend(items);
            match page["next"].as_str() {
                Some(next) => after = Some(next.to_string()),
                None => break,
            }
        }
        Ok(out)
    }

    /// A decided block with its commit certificate (`GET /v1/blocks/{height}`).
    pub fn decided_block(&self, height: u64) -> Result<proof::DecidedBlock, ClientError> {
        let path = format!("/v1/blocks/{height}");
        let answer = self.get(&path)?;
        let decode = |e: serde_json::Error| ClientError::Decode {
            url: format!("{}{path}", self.base),
            detail: e.to_string(),
        };
        Ok(proof::DecidedBlock {
            block: serde_json::from_value(answer["block"].clone()).map_err(decode)?,
            commit: serde_json::from_value(answer["commit_certificate"].clone()).map_err(decode)?,
        })
    }

    /// Folds every adopted membership resolution into `validators`, in order
    /// of adoption, each proven by its proposal and a signature in decided
    /// blocks certified by the validators trusted so far
    /// ([`proof::prove_adoption`]). Returns how many were folded in.
    pub fn prove_membership(
        &self,
        validators: &mut ValidatorHistory,
    ) -> Result<usize, ClientError> {
        let mut adopted: Vec<(u64, ResolutionRecord)> = self
            .resolutions()?
            .into_iter()
            .filter(|r| ValidatorHistory::is_membership(&r.proposal.action))
            .filter_map(|r| match r.outcome {
                kp_ledger::ResolutionOutcome::Adopted { height } => Some((height, r)),
                _ => None,
            })
            .collect();
        adopted.sort_by_key(|(height, _)| *height);
        for (height, record) in &adopted {
            let path = format!("/v1/txs/{}", record.id);
            let found = self.get(&path)?;
            let decode = |detail: String| ClientError::Decode {
                url: format!("{}{path}", self.base),
                detail,
            };
            let propose: SignedTransaction =
                serde_json::from_value(found["tx"].clone()).map_err(|e| decode(e.to_string()))?;
            let proposed_height = found["height"]
                .as_u64()
                .ok_or_else(|| decode("no height".into()))?;
            let propose_block = self.decided_block(proposed_height)?;
            let adopt_block = self.decided_block(*height)?;
            proof::prove_adoption(validators, record, &propose, &propose_block, &adopt_block)?;
        }
        Ok(adopted.len())
    }

    /// `GET /v1/certificates/{number}/proof`.
    pub fn certificate_proof(
        &self,
        number: &CertificateNumber,
    ) -> Result<CertificateProof, ClientError> {
        self.get_as(&format!("/v1/certificates/{number}/proof"))
    }

    /// Verifies a certificate without trusting this node for its content:
    /// the validator history starts from `trusted` (or, if `None`, from the
    /// node's genesis, taken on first use) plus the adopted membership
    /// resolutions the node lists.
    pub fn verify_certificate(
        &self,
        number: &CertificateNumber,
        trusted: Option<&Genesis>,
        today: Date,
    ) -> Result<CertificateCheck, ClientError> {
        let node_genesis = self.genesis()?;
        let genesis_trusted = trusted.is_some();
        let genesis = match trusted {
            Some(g) => {
                if g.hash() != node_genesis.hash() {
                    return Err(ClientError::GenesisMismatch {
                        trusted: g.hash().to_hex(),
                        node: node_genesis.hash().to_hex(),
                        node_chain: node_genesis.chain_id,
                    });
                }
                g.clone()
            }
            None => node_genesis,
        };
        let mut validators = ValidatorHistory::from_genesis(&genesis);
        let membership_changes = self.prove_membership(&mut validators)?;
        let proof = self.certificate_proof(number)?;
        let verified = proof::verify(&proof, number, &validators, today)?;
        let mut sanctions = Vec::new();
        for side in [
            &verified.certificate.exporting,
            &verified.certificate.importing,
        ] {
            let record: ParticipantRecord = self.get_as(&format!("/v1/participants/{side}"))?;
            if let Some(s) = record.sanction {
                sanctions.push(serde_json::json!({
                    "participant": side,
                    "scope": s.scope,
                    "since_height": s.since_height,
                    "resolution": s.resolution,
                }));
            }
        }
        let seizures_page = self.get("/v1/seizures?limit=100")?;
        let seizures: Vec<SeizureRecord> =
            serde_json::from_value(seizures_page["items"].clone()).unwrap_or_default();
        let seizures = seizures
            .into_iter()
            .filter(|s| s.report.certificate.as_ref() == Some(number))
            .collect();
        Ok(CertificateCheck {
            verified,
            genesis_trusted,
            membership_changes,
            sanctions,
            seizures,
            enhanced_vigilance: proof.record.enhanced_vigilance,
        })
    }
}

#[cfg(test)]
mod tests;
