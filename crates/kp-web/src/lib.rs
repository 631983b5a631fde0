//! The web pages a node serves at `/`, built into the binary.
//!
//! Every file a page needs (HTML, CSS, JavaScript, WebAssembly, fonts) sits
//! in `assets/` and is compiled in with `include_bytes!`: a node serves its
//! pages with no network, no CDN and nothing installed beside it, as border
//! posts need. The pages read the node's own `/v1` API.
//!
//! [`asset`] finds a file by its path under `/web/`; `/` is
//! [`INDEX`]. The router (kp-rpc) adds the headers every asset gets: its
//! media type, a content security policy that allows only the node's own
//! origin, and an `ETag` from [`Asset::etag`].
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

/// One file served under `/web/`.
#[derive(Debug)]
pub struct Asset {
    /// Its path under `/web/`, without a leading slash.
    pub path: &'static str,
    /// Its media type (`Content-Type`).
    pub mime: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
}

impl Asset {
    /// A strong entity tag: a hash of the bytes, so that a browser revalidates
    /// cheaply and never keeps a stale page after the node is upgraded.
    pub fn etag(&self) -> String {
        // FNV-1a, 64 bits: enough to tell two versions of one file apart,
        // and it needs no dependency.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("\"{h:016x}\"")
    }
}

macro_rules! asset {
    ($path:literal, $mime:expr) => {
        Asset {
            path: $path,
            mime: $mime,
            bytes: include_bytes!(concat!("../assets/", $path)),
        }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Every file the pages use.
pub static ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("style.css", CSS),
    asset!("common.js", JS),
    asset!("icon.svg", "image/svg+xml"),
    // The certificate check (index.html) and the printable certificate.
    asset!("verifier.js", JS),
    asset!("certificate.js", JS),
    asset!("check.js", JS),
    asset!("scan.js", JS),
    asset!("print.html", HTML),
    asset!("print.js", JS),
    asset!("print.css", CSS),
    // kp-verify-wasm built by scripts/build-wasm (ADR 0013).
    asset!("kp_verify.wasm", "application/wasm"),
    // jsQR 1.4.0 (npm `jsqr`, Apache-2.0), vendored unchanged: the QR
    // decoder of scan.js; its licence travels with it.
    asset!("jsQR.js", JS),
    asset!("jsQR.LICENSE.txt", "text/plain; charset=utf-8"),
    // The dashboard.
    asset!("dashboard.html", HTML),
    asset!("dashboard.css", CSS),
    asset!("dashboard.js", JS),
];

/// The page served at `/`: the certificate check.
pub const INDEX: &str = "index.html";

/// The asset at `path` (relative to `/web/`), if there is one.
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// The content security policy of every page: scripts, styles, images and
/// requests from the node's own origin only (images also from `data:` and
/// `blob:` URLs the pages make, such as a QR code picture to scan), and
/// WebAssembly compiled from the node's own files.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_found_by_its_path_and_has_a_media_type() {
        for a in ASSETS {
            assert!(std::ptr::eq(asset(a.path).unwrap(), a));
            assert!(!a.bytes.is_empty(), "{} is empty", a.path);
            assert!(!a.path.starts_with('/') && !a.path.contains(".."));
        }
        assert!(asset(INDEX).is_some());
        assert!(asset("../Cargo.toml").is_none());
        assert!(asset("missing.js").is_none());
    }

    #[test]
    fn pages_load_nothing_from_another_origin() {
        for a in ASSETS.iter().filter(|a| a.mime.starts_with("text/")) {
            let text = std::str::from_utf8(a.bytes).unwrap();
            for outside in ["http://", "https://", "//cdn"] {
                assert!(
                    !text.contains(&format!("src=\"{outside}"))
                        && !text.contains(&format!("href=\"{outside}")),
                    "{} loads from another origin",
                    a.path
                );
            }
        }
    }

    #[test]
    fn etags_differ_when_bytes_differ() {
        let a = Asset {
            path: "a",
            mime: HTML,
            bytes: b"one",
        };
        let b = Asset {
            path: "a",
            mime: HTML,
            bytes: b"two",
        };
        assert_ne!(a.etag(), b.etag());
        assert_eq!(a.etag(), a.etag());
    }
}
