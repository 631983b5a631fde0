//! A lying node: an HTTP proxy in front of a real node that passes every
//! answer through (pages, scripts, WebAssembly and API answers, with their
//! media type and security headers) except those it is told to alter.
//!
//! Used by the browser tests to show that the check page refuses a proof a
//! node tampered with, whatever the node serves around it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Alters the JSON answer of `path` in place (only 200 JSON answers reach it).
pub type Tamper = dyn Fn(&str, &mut serde_json::Value) + Send + Sync;

/// A running proxy; dropping it stops it.
pub struct LyingProxy {
    /// `127.0.0.1:P`, where it listens.
    pub addr: String,
    stop: Arc<AtomicBool>,
}

/// Longest request head read.
const HEAD_BYTES_MAX: usize = 64 * 1024;

impl LyingProxy {
    /// Starts a proxy of `upstream` (`127.0.0.1:P`) that passes GET requests
    /// through and alters JSON answers with `tamper`.
    pub fn start(upstream: &str, tamper: Box<Tamper>) -> LyingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address").to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let (upstream, flag) = (upstream.to_string(), stop.clone());
        let tamper: Arc<Tamper> = Arc::from(tamper);
        std::thread::spawn(move || {
            let http = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("http client");
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (http, upstream, tamper) = (http.clone(), upstream.clone(), tamper.clone());
                std::thread::spawn(move || serve(stream, &http, &upstream, &*tamper));
            }
        });
        LyingProxy { addr, stop }
    }
}

impl Drop for LyingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread so that it sees the flag.
        let _ = TcpStream::connect(&self.addr);
    }
}

fn serve(mut stream: TcpStream, http: &reqwest::blocking::Client, upstream: &str, tamper: &Tamper) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < HEAD_BYTES_MAX {
        if stream.read(&mut byte).unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let Ok(resp) = http.get(format!("http://{upstream}{path}")).send() else {
        let _ = stream.write_all(
            b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        );
        return;
    };
    let status = resp.status().as_u16();
    let mut headers = String::new();
    for name in [
        "content-type",
        "content-security-policy",
        "x-content-type-options",
        "referrer-policy",
        "cache-control",
    ] {
        if let Some(v) = resp.headers().get(name).and_then(|v| v.to_str().ok()) {
            headers.push_str(&format!("{name}: {v}\r\n"));
        }
    }
    let json = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let mut body = resp.bytes().map(|b| b.to_vec()).unwrap_or_default();
    if json && status == 200 {
        if let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&body) {
            tamper(&path, &mut value);
            body = value.to_string().into_bytes();
        }
    }
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(&body);
}
