//! Shared harness of the drills: seeded choices, reports, progress lines, HTTP client, commands.

use serde_json::Value;
use std::time::Duration;

/// A small deterministic generator (SplitMix64): the drill's choices repeat
/// for a seed without pulling a dependency into the test package.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// The outcome of one drill.
pub struct Report {
    /// Drill name.
    pub name: String,
    /// Figures to print and put in the summary.
    pub figures: serde_json::Map<String, Value>,
    /// Broken properties; empty on a pass.
    pub failures: Vec<String>,
    /// Not run (e.g. needs root); neither pass nor fail.
    pub skipped: Option<String>,
}

impl Report {
    /// An empty report for `name`.
    pub fn new(name: &str) -> Report {
        Report {
            name: name.to_string(),
            figures: serde_json::Map::new(),
            failures: Vec::new(),
            skipped: None,
        }
    }
    /// Records a figure.
    pub fn figure(&mut self, key: &str, value: impl Into<Value>) {
        self.figures.insert(key.to_string(), value.into());
    }
    /// Records a broken property unless `ok`.
    pub fn check(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            let what = what.into();
            eprintln!("[{}] FAIL: {what}", self.name);
            self.failures.push(what);
        }
    }
}

/// Prints a progress line (stderr, so stdout keeps figures and the summary).
pub fn say(drill: &str, text: &str) {
    eprintln!("[{drill} {}] {text}", wall_clock());
}

fn wall_clock() -> String {
    let s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{:02}:{:02}:{:02}", (s / 3600) % 24, (s / 60) % 60, s % 60)
}

/// An HTTP client with a timeout longer than the node's own waits for
/// decisions under faults.
pub fn http(timeout: Duration) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .build()
        .unwrap_or_else(|_| reqwest::blocking::Client::new())
}

pub(crate) fn run_cmd(args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
