//! How a client reaches a node: its URL, a bearer token, the certificate
//! authority it trusts for `https://`, a TLS client certificate; and what a
//! failed request says (TLS mismatches named as such).

use super::{Client, ClientError};
use std::time::Duration;

/// How a client reaches a node beyond its URL.
#[derive(Clone, Default)]
pub struct Connection {
    /// Bearer token sent as `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// PEM certificate authority trusted for `https://`, besides the web's.
    pub ca: Option<std::path::PathBuf>,
    /// PEM file with a TLS client certificate and its key (mTLS).
    pub client_cert: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .field("ca", &self.ca)
            .field("client_cert", &self.client_cert)
            .finish()
    }
}

/// What went wrong with a request, cause included: reqwest's own message
/// ("error sending request for url ...") hides whether the connection was
/// refused, timed out or failed in TLS; its sources say.
pub(crate) fn http_detail(e: &reqwest::Error) -> String {
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !causes.contains(&text) {
            causes.push(text);
        }
        source = cause.source();
    }
    let Some(deepest) = causes.last() else {
        return e.to_string();
    };
    let https = e.url().is_some_and(|u| u.scheme() == "https");
    let chain = causes.join(": ");
    if https
        && ["InvalidContentType", "corrupt message", "InvalidMessage"]
            .iter()
            .any(|sign| chain.contains(sign))
    {
        return format!(
            "the node does not speak TLS: it answered the TLS handshake with something else \
             (plain HTTP?) ({deepest}); use an http:// URL, or serve TLS on the node \
             ([rpc] tls_cert and tls_key)"
        );
    }
    if https && chain.contains("invalid peer certificate") {
        return format!(
            "the node's TLS certificate is not trusted ({deepest}); pass --ca FILE with the \
             certificate authority that signed it"
        );
    }
    if e.is_timeout() {
        format!("timed out ({deepest})")
    } else if e.is_connect() {
        format!("cannot connect: {deepest} (is a node's RPC listening there?)")
    } else {
        format!("{e}: {deepest}")
    }
}

impl Client {
    /// A client of the node at `base` (e.g. `http://127.0.0.1:26601`),
    /// anonymous, trusting the web's certificate authorities.
    pub fn new(base: &str) -> Result<Client, ClientError> {
        Client::connect(base, &Connection::default())
    }

    /// A client of another node with this one's certificate authority and
    /// no token (a token is for the node that issued it).
    pub fn sibling(&self, base: &str) -> Result<Client, ClientError> {
        Client::connect(
            base,
            &Connection {
                token: None,
                ca: self.ca.clone(),
                client_cert: None,
            },
        )
    }

    /// A client of the node at `base` with a token and a certificate
    /// authority.
    pub fn connect(base: &str, connection: &Connection) -> Result<Client, ClientError> {
        // `http://host:port`, with or without the scheme, a trailing slash or
        // the API's `/v1` (paths are added to the base, `/v1` included).
        let trimmed = base.trim().trim_end_matches('/');
        let trimmed = trimmed.strip_suffix("/v1").unwrap_or(trimmed);
        let base = if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
            trimmed.to_string()
        } else {
            format!("http://{trimmed}")
        };
        let mut builder = reqwest::blocking::Client::builder()
            // Submissions with wait take up to the node's 60 s.
            .timeout(Duration::from_secs(75))
            .connect_timeout(Duration::from_secs(5))
            .use_rustls_tls();
        if let Some(path) = &connection.ca {
            let ca_error = |detail: String| ClientError::Ca {
                path: path.clone(),
                detail: format!("--ca: {detail}"),
            };
            let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
            let certificates =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ca_error(e.to_string()))?;
            if certificates.is_empty() {
                return Err(ca_error("holds no PEM CERTIFICATE block".into()));
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        if let Some(path) = &connection.client_cert {
            let identity = std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|pem| reqwest::Identity::from_pem(&pem).map_err(|e| e.to_string()))
                .map_err(|detail| ClientError::Ca {
                    path: path.clone(),
                    detail: format!(
                        "--client-cert needs a certificate and its key in PEM: {detail}"
                    ),
                })?;
            builder = builder.identity(identity);
        }
        if let Some(token) = &connection.token {
            let mut value =
                reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.trim()))
                    .map_err(|_| ClientError::Http {
                        url: base.clone(),
                        detail: "the token holds characters a header cannot carry".into(),
                    })?;
            value.set_sensitive(true);
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(reqwest::header::AUTHORIZATION, value);
            builder = builder.default_headers(headers);
        }
        let http = builder.build().map_err(|e| ClientError::Http {
            url: base.clone(),
            detail: http_detail(&e),
        })?;
        Ok(Client {
            base,
            http,
            ca: connection.ca.clone(),
        })
    }
}
