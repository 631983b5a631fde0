//! Who may read what: scopes, bearer tokens and the node's access policy.
//!
//! * A caller has one [`Scope`]: `public` (status, headers, proofs,
//!   verification by exact certificate number, published statistics),
//!   `participant:CODE` (that Participant's own certificates in full,
//!   searches over them, its per-partner statistics, transactions'
//!   outcomes, events and resolutions in progress) or `operator` (all of
//!   it, whole blocks and transaction bodies, and node administration such
//!   as `/metrics`). Each scope includes the ones before it.
//! * A caller proves its scope with `Authorization: Bearer <token>`. The
//!   operator issues tokens (`kpledger rpc token create`); the node keeps
//!   only their blake3 hashes, in the token file ([`TokenFile`]), and reads
//!   that file again whenever it changed, so a revoked token stops working
//!   with the next request.
//! * A caller without a token gets what `[rpc] anonymous` says: `public`
//!   (the default), `none`, or a wider scope for a node that only trusted
//!   callers reach (a loopback devnet).
//! * A token the node does not know is `401 unauthenticated`, whatever the
//!   route: a mistyped or revoked token is never taken for anonymous.
//!   A route that needs more than the caller has is `401 unauthenticated`
//!   without a token and `403 forbidden` with one; both messages name the
//!   scope needed.

use crate::ApiError;
use kp_types::{ParticipantCode, Period};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::RwLock;
use std::time::SystemTime;
use thiserror::Error;

/// What a caller may read.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Status, headers, proofs, verification by number, published statistics.
    Public,
    /// One Participant's own data in full.
    Participant(ParticipantCode),
    /// Everything, and node administration.
    Operator,
}

impl Scope {
    /// How much the scope allows: public 0, participant 1, operator 2.
    fn rank(&self) -> u8 {
        match self {
            Scope::Public => 0,
            Scope::Participant(_) => 1,
            Scope::Operator => 2,
        }
    }

    /// Whether this scope may call a route that needs `need`.
    pub fn allows(&self, need: Need) -> bool {
        self.rank() >= need.rank()
    }

    /// Whether this scope sees `code`'s own data in full: its own
    /// Participant, or the operator.
    pub fn sees_all_of(&self, code: &ParticipantCode) -> bool {
        match self {
            Scope::Operator => true,
            Scope::Participant(own) => own == code,
            Scope::Public => false,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Public => write!(f, "public"),
            Scope::Participant(code) => write!(f, "participant:{code}"),
            Scope::Operator => write!(f, "operator"),
        }
    }
}

/// A scope that does not parse.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("scope {0:?}: write public, participant:CODE (e.g. participant:BW) or operator")]
pub struct ScopeError(pub String);

impl FromStr for Scope {
    type Err = ScopeError;
    fn from_str(text: &str) -> Result<Scope, ScopeError> {
        match text {
            "public" => Ok(Scope::Public),
            "operator" => Ok(Scope::Operator),
            other => other
                .strip_prefix("participant:")
                .and_then(|code| ParticipantCode::new(code).ok())
                .map(Scope::Participant)
                .ok_or_else(|| ScopeError(text.to_string())),
        }
    }
}

impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Scope, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The least scope a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Anyone the node serves.
    Public,
    /// Any Participant's token (or the operator's).
    Participant,
    /// The operator's token.
    Operator,
}

impl Need {
    fn rank(self) -> u8 {
        match self {
            Need::Public => 0,
            Need::Participant => 1,
            Need::Operator => 2,
        }
    }
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Need::Public => "public",
            Need::Participant => "participant",
            Need::Operator => "operator",
        })
    }
}

/// Who is calling, as the authentication layer found out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The caller's scope; `None`: an anonymous caller on a node that
    /// serves none (`[rpc] anonymous = "none"`).
    pub scope: Option<Scope>,
    /// The token's id when the caller sent one.
    pub token: Option<String>,
}

impl Caller {
    /// Refuses the call unless the caller's scope allows `need`: 401
    /// `unauthenticated` without a token, 403 `forbidden` with one.
    pub fn require(&self, need: Need) -> Result<&Scope, ApiError> {
        match (&self.scope, &self.token) {
            (Some(scope), _) if scope.allows(need) => Ok(scope),
            (None, _) => Err(unauthenticated(format!(
                "this node serves no anonymous callers; this endpoint needs scope {need}: \
                 send Authorization: Bearer <token> (kpledger --token, or KPLEDGER_TOKEN)"
            ))),
            (Some(scope), None) => Err(unauthenticated(format!(
                "this endpoint needs scope {need} (anonymous callers get {scope}): send \
                 Authorization: Bearer <token> (kpledger --token, or KPLEDGER_TOKEN)"
            ))),
            (Some(scope), Some(_)) => Err(forbidden(format!(
                "this endpoint needs scope {need}; this token has scope {scope}"
            ))),
        }
    }

    /// The scope, for a route every served caller may call.
    pub fn scope_or_public(&self) -> Scope {
        self.scope.clone().unwrap_or(Scope::Public)
    }
}

/// 401 with code `unauthenticated`.
pub fn unauthenticated(message: impl Into<String>) -> ApiError {
    ApiError::new(401, "unauthenticated", message)
}

/// 403 with code `forbidden`.
pub fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(403, "forbidden", message)
}

/// What `[rpc] anonymous` allows a caller without a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Anonymous {
    /// Nothing: every call needs a token.
    None,
    /// This scope.
    Scope(Scope),
}

impl FromStr for Anonymous {
    type Err = ScopeError;
    fn from_str(text: &str) -> Result<Anonymous, ScopeError> {
        match text {
            "none" => Ok(Anonymous::None),
            other => other.parse().map(Anonymous::Scope),
        }
    }
}

/// How finely the statistics are published to public callers: the
/// shortest period they may ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PublicPeriod {
    /// Quarters (finer than the KP publishes).
    Quarter,
    /// Half-years (what the KP publishes), and years.
    HalfYear,
    /// Years only.
    Year,
}

impl PublicPeriod {
    /// Whether `period` is as coarse as this or coarser.
    pub fn allows(self, period: &Period) -> bool {
        let rank = |p: &Period| match p {
            Period::Quarter(..) => 0,
            Period::Half(..) => 1,
            Period::Year(..) => 2,
        };
        let least = match self {
            PublicPeriod::Quarter => 0,
            PublicPeriod::HalfYear => 1,
            PublicPeriod::Year => 2,
        };
        rank(period) >= least
    }

    /// The period of this granularity that contains `date`.
    pub fn containing(self, date: kp_types::Date) -> Period {
        match self {
            PublicPeriod::Quarter => Period::quarter_of(date),
            PublicPeriod::HalfYear => Period::half_of(date),
            PublicPeriod::Year => Period::Year(date.ymd().0),
        }
    }
}

impl fmt::Display for PublicPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PublicPeriod::Quarter => "quarter",
            PublicPeriod::HalfYear => "half-year",
            PublicPeriod::Year => "year",
        })
    }
}

/// Per-client request rate: a client (a token, or an address without one)
/// may send `burst` requests at once and then `per_second` a second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second per client.
    pub per_second: u32,
    /// Requests a client may send at once.
    pub burst: u32,
}

/// What a certificate search costs against the rate limit, in requests:
/// it reads up to [`AccessPolicy::search_scan_max`] records.
pub const SEARCH_COST: u32 = 5;

/// The node's access policy: who gets which scope, how fast, how much.
#[derive(Debug)]
pub struct AccessPolicy {
    /// What a caller without a token gets.
    pub anonymous: Anonymous,
    /// The tokens the operator issued.
    pub tokens: TokenStore,
    /// Per-client rate; `None`: no per-client limit (the global in-flight
    /// limit still holds).
    pub rate: Option<RateLimit>,
    /// Most records one certificate search reads before it ends its page
    /// early with a `next` cursor.
    pub search_scan_max: usize,
    /// The finest statistics period public callers may ask for.
    pub public_statistics: PublicPeriod,
}

/// Default of [`AccessPolicy::search_scan_max`].
pub const SEARCH_SCAN_MAX_DEFAULT: usize = 2_000;

impl Default for AccessPolicy {
    /// Anonymous callers are public, no tokens, no per-client rate, the
    /// default scan cap, half-year public statistics.
    fn default() -> Self {
        AccessPolicy {
            anonymous: Anonymous::Scope(Scope::Public),
            tokens: TokenStore::empty(),
            rate: None,
            search_scan_max: SEARCH_SCAN_MAX_DEFAULT,
            public_statistics: PublicPeriod::HalfYear,
        }
    }
}

/// One issued token, as the token file keeps it: never the token itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// Short id to list and revoke it by (the start of its hash).
    pub id: String,
    /// What it allows.
    pub scope: Scope,
    /// blake3 of the token, hex.
    pub hash: String,
    /// When it was issued (RFC 3339).
    pub created: String,
    /// A note: whom it was issued to.
    #[serde(default)]
    pub label: String,
    /// What proves it: a bearer token (the default), or a TLS client
    /// certificate whose DER encoding `hash` is the blake3 of.
    #[serde(default, skip_serializing_if = "Credential::is_token")]
    pub credential: Credential,
}

/// How a caller proves a scope.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Credential {
    /// `Authorization: Bearer <token>`.
    #[default]
    Token,
    /// A TLS client certificate (mTLS), signed by `[rpc] tls_client_ca`.
    ClientCertificate,
}

impl Credential {
    fn is_token(&self) -> bool {
        *self == Credential::Token
    }
}

/// The token file (TOML, `[[tokens]]`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFile {
    /// Issued tokens.
    #[serde(default)]
    pub tokens: Vec<TokenEntry>,
}

/// Why the token file could not be read, written or changed.
#[derive(Debug, Error)]
pub enum TokenError {
    /// The file could not be read or written.
    #[error("token file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a token file.
    #[error("token file {path} is invalid: {detail}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        detail: String,
    },
    /// No token has this id.
    #[error("no token has id {0:?} (kpledger rpc token list shows them)")]
    UnknownId(String),
}

/// Bytes of secret in a token.
pub const TOKEN_SECRET_BYTES: usize = 32;
/// Every token starts with this, so that one found in a log or a file is
/// recognised.
pub const TOKEN_PREFIX: &str = "kpt_";
/// Most tokens a file may hold (a bound on what the node reads).
pub const TOKENS_MAX: usize = 10_000;

/// The blake3 hash of a token, hex.
pub fn token_hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

impl TokenFile {
    /// Reads the file; a missing file holds no tokens.
    pub fn load(path: &Path) -> Result<TokenFile, TokenError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TokenFile::default()),
            Err(source) => {
                return Err(TokenError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let file: TokenFile = toml::from_str(&text).map_err(|e| TokenError::Parse {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        if file.tokens.len() > TOKENS_MAX {
            return Err(TokenError::Parse {
                path: path.to_path_buf(),
                detail: format!("more than {TOKENS_MAX} tokens"),
            });
        }
        Ok(file)
    }

    /// Writes the file whole (a temporary file renamed over it, mode 0600),
    /// so that a node reading it never sees half of it.
    pub fn save(&self, path: &Path) -> Result<(), TokenError> {
        let io = |source| TokenError::Io {
            path: path.to_path_buf(),
            source,
        };
        let text = format!(
            "# Bearer tokens of this node's RPC (kpledger rpc token create|list|revoke).\n\
             # Only their blake3 hashes are kept; the tokens were printed once.\n{}",
            toml::to_string_pretty(self).map_err(|e| TokenError::Parse {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?
        );
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Adds a token made of `secret` (random bytes the caller drew) with
    /// `scope`; returns the token, to be shown once, and its entry.
    pub fn create(
        &mut self,
        scope: Scope,
        secret: [u8; TOKEN_SECRET_BYTES],
        created: String,
        label: String,
    ) -> (String, TokenEntry) {
        let token = format!("{TOKEN_PREFIX}{}", hex::encode(secret));
        let hash = token_hash(&token);
        let entry = TokenEntry {
            id: hash[..12].to_string(),
            scope,
            hash,
            created,
            label,
            credential: Credential::Token,
        };
        self.tokens.push(entry.clone());
        (token, entry)
    }

    /// Gives the TLS client certificate `der` (its DER encoding) `scope`.
    pub fn add_certificate(
        &mut self,
        scope: Scope,
        der: &[u8],
        created: String,
        label: String,
    ) -> TokenEntry {
        let hash = blake3::hash(der).to_hex().to_string();
        let entry = TokenEntry {
            id: hash[..12].to_string(),
            scope,
            hash,
            created,
            label,
            credential: Credential::ClientCertificate,
        };
        self.tokens.push(entry.clone());
        entry
    }

    /// Removes the token `id`.
    pub fn revoke(&mut self, id: &str) -> Result<TokenEntry, TokenError> {
        let at = self
            .tokens
            .iter()
            .position(|t| t.id == id)
            .ok_or_else(|| TokenError::UnknownId(id.to_string()))?;
        Ok(self.tokens.remove(at))
    }
}

/// The tokens the node accepts: the token file, read again whenever its
/// size or modification time changed.
#[derive(Debug)]
pub struct TokenStore {
    path: Option<PathBuf>,
    state: RwLock<Loaded>,
}

#[derive(Debug, Default)]
struct Loaded {
    stamp: Option<(SystemTime, u64)>,
    by_hash: BTreeMap<(Credential, String), (String, Scope)>,
}

impl TokenStore {
    /// No tokens at all.
    pub fn empty() -> TokenStore {
        TokenStore {
            path: None,
            state: RwLock::new(Loaded::default()),
        }
    }

    /// The tokens of the file at `path` (which may not exist yet). Fails if
    /// the file exists and is not a token file.
    pub fn open(path: PathBuf) -> Result<TokenStore, TokenError> {
        let store = TokenStore {
            path: Some(path),
            state: RwLock::new(Loaded::default()),
        };
        store.refresh()?;
        Ok(store)
    }

    /// The file's path, if the store has one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Reads the file again if it changed. On failure the tokens known
    /// before stay, except when the file is gone: then none does.
    fn refresh(&self) -> Result<(), TokenError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let stamp = std::fs::metadata(path)
            .ok()
            .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()));
        {
            let loaded = self.state.read().unwrap_or_else(|e| e.into_inner());
            if loaded.stamp == stamp && (stamp.is_some() || loaded.by_hash.is_empty()) {
                return Ok(());
            }
        }
        let file = TokenFile::load(path)?;
        let by_hash = file
            .tokens
            .into_iter()
            .map(|t| ((t.credential, t.hash), (t.id, t.scope)))
            .collect();
        let mut loaded = self.state.write().unwrap_or_else(|e| e.into_inner());
        *loaded = Loaded { stamp, by_hash };
        Ok(())
    }

    /// The id and scope of `token`, if the node issued it and it is not
    /// revoked.
    pub fn verify(&self, token: &str) -> Option<(String, Scope)> {
        self.find(Credential::Token, token_hash(token))
    }

    /// The id and scope given to the TLS client certificate `der`, if the
    /// operator registered it.
    pub fn verify_certificate(&self, der: &[u8]) -> Option<(String, Scope)> {
        self.find(
            Credential::ClientCertificate,
            blake3::hash(der).to_hex().to_string(),
        )
    }

    fn find(&self, credential: Credential, hash: String) -> Option<(String, Scope)> {
        if let Err(e) = self.refresh() {
            tracing::warn!(error = %e, "token file unreadable; keeping the tokens read before");
        }
        let loaded = self.state.read().unwrap_or_else(|e| e.into_inner());
        loaded.by_hash.get(&(credential, hash)).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_order() {
        let bw: Scope = "participant:BW".parse().unwrap();
        assert_eq!(bw.to_string(), "participant:BW");
        assert!(bw.allows(Need::Participant));
        assert!(!bw.allows(Need::Operator));
        assert!(Scope::Operator.allows(Need::Participant));
        assert!(!Scope::Public.allows(Need::Participant));
        assert!(bw.sees_all_of(&ParticipantCode::new("BW").unwrap()));
        assert!(!bw.sees_all_of(&ParticipantCode::new("EU").unwrap()));
        assert!("participant:".parse::<Scope>().is_err());
        assert!("admin".parse::<Scope>().is_err());
        assert_eq!("none".parse::<Anonymous>(), Ok(Anonymous::None));
    }

    #[test]
    fn tokens_are_kept_hashed_and_revoked_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rpc-tokens.toml");
        let store = TokenStore::open(path.clone()).unwrap();
        let mut file = TokenFile::load(&path).unwrap();
        let (token, entry) = file.create(
            Scope::Operator,
            [7; TOKEN_SECRET_BYTES],
            "2026-12-07T00:00:00Z".into(),
            "ops".into(),
        );
        file.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&token), "the token itself is never stored");
        assert!(text.contains(&entry.hash));
        assert_eq!(
            store.verify(&token),
            Some((entry.id.clone(), Scope::Operator))
        );
        assert_eq!(store.verify("kpt_00"), None);
        file.revoke(&entry.id).unwrap();
        file.save(&path).unwrap();
        assert_eq!(store.verify(&token), None);
        assert!(matches!(file.revoke("nope"), Err(TokenError::UnknownId(_))));
    }

    #[test]
    fn public_periods() {
        let h1: Period = "2026H1".parse().unwrap();
        let q1: Period = "2026Q1".parse().unwrap();
        assert!(PublicPeriod::HalfYear.allows(&h1));
        assert!(!PublicPeriod::HalfYear.allows(&q1));
        assert!(!PublicPeriod::Year.allows(&h1));
    }
}
