//! Running a writer child process and killing it with SIGKILL.
//!
//! The child is the test binary itself, re-run on one test (`writer_test`)
//! with `WRITER_ENV` naming its job; it prints `committed <n>` after each
//! commit returns. The parent collects those acknowledgements.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex, MutexGuard};
use std::time::Duration;

/// Names the child's job: `<mode>:<store directory>`.
pub const WRITER_ENV: &str = "KP_STORAGE_CRASH_WRITER";

/// How long the parent waits for one acknowledgement before declaring the
/// child stuck (a liveness guard, not a timing assertion).
const ACK_WAIT: Duration = Duration::from_secs(120);

/// Kills and reaps the child however the test ends, so a failing assertion
/// never leaves a writer running.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

static ROUNDS: Mutex<()> = Mutex::new(());

/// Serializes kill rounds of tests running in parallel in one parent.
///
/// A child is forked from the parent, and until it execs it shares every
/// descriptor the parent has open, including sled's locked log file of a
/// store another test is verifying; that test's next child then finds the
/// lock still held. Holding this guard from spawning a child to dropping the
/// verification store keeps those windows apart.
pub fn exclusive_round() -> MutexGuard<'static, ()> {
    ROUNDS.lock().unwrap_or_else(|e| e.into_inner())
}

/// The job of this process if it is a writer child: `(mode, directory)`.
pub fn writer_job() -> Option<(String, String)> {
    let job = std::env::var(WRITER_ENV).ok()?;
    let (mode, dir) = job.split_once(':')?;
    Some((mode.to_string(), dir.to_string()))
}

/// Acknowledges a commit to the parent.
pub fn acknowledge(number: u64) {
    println!("committed {number}");
}

/// A seeded RNG for the kill schedule: `KP_CRASH_SEED` or the clock. The seed
/// is printed so that a failure can be replayed.
pub fn kill_schedule_seed() -> u64 {
    let seed = std::env::var("KP_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
    println!("seed={seed}");
    seed
}

/// Runs `writer_test` of this binary as a writer of `mode` on `dir`, lets it
/// acknowledge `acks_before_kill` commits, waits `extra_delay` more so the
/// kill can land mid-commit, kills it with SIGKILL, and returns every number
/// it acknowledged.
pub fn run_and_kill(
    writer_test: &str,
    mode: &str,
    dir: &Path,
    acks_before_kill: usize,
    extra_delay: Duration,
) -> Vec<u64> {
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", writer_test, "--nocapture", "--test-threads", "1"])
        .env(WRITER_ENV, format!("{mode}:{}", dir.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut guard = KillOnDrop(child);
    let stdout = guard.0.stdout.take().unwrap();
    // Bounded: when the parent lags, the reader and then the child block on
    // the pipe instead of memory growing.
    let (sender, receiver) = mpsc::sync_channel::<u64>(1024);
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // libtest prints "test <name> ... " without a line end before
            // the test runs, so the first acknowledgement shares its line.
            if let Some((_, number)) = line.rsplit_once("committed ") {
                if sender.send(number.trim().parse().unwrap()).is_err() {
                    break;
                }
            }
        }
    });
    let mut acked = Vec::new();
    while acked.len() < acks_before_kill {
        match receiver.recv_timeout(ACK_WAIT) {
            Ok(number) => acked.push(number),
            Err(error) => panic!("writer stopped acknowledging after {acked:?}: {error}"),
        }
    }
    std::thread::sleep(extra_delay);
    // SIGKILL on unix: no destructor, no flush, no goodbye.
    guard.0.kill().unwrap();
    let status = guard.0.wait().unwrap();
    assert!(!status.success(), "the writer was killed, not finished");
    // Everything the child printed before dying is in the pipe.
    acked.extend(receiver.iter());
    reader.join().unwrap();
    acked
}
