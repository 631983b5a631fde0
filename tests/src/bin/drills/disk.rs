//! The `disk` drill: a validator's data directory fills up, then turns read-only.

use crate::checks::{check_chain, heights, network_started, recover};
use crate::harness::{run_cmd, say, Report};
use crate::load::{start_load, take_book};
use crate::Options;
use kp_e2e::{read_key, Cluster};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Writes a filler file into `dir` until the file system is full; returns
/// the bytes written.
fn fill(dir: &std::path::Path) -> u64 {
    use std::io::Write;
    let Ok(mut file) = std::fs::File::create(dir.join("filler")) else {
        return 0;
    };
    let chunk = vec![0u8; 1 << 20];
    let mut written = 0u64;
    // Bounded: the tmpfs is small, this stops at ENOSPC long before.
    for _ in 0..4096 {
        match file.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    let _ = file.sync_all();
    written
}

/// A log line without the terminal colour codes that tracing adds.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Skip to the end of the escape sequence (a letter).
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Waits until node `i`'s process has exited; returns its exit code.
fn wait_exit(cluster: &mut Cluster, i: usize, timeout: Duration) -> Option<Option<i32>> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(child) = cluster.nodes[i].child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                cluster.nodes[i].child = None;
                return Some(status.code());
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

/// Disk drill: a validator's data directory is a small tmpfs. Fill it, then
/// make it read-only: the node must stop (or stop deciding) with a clear error
/// in its log, never write a bad state; given space back and restarted, it
/// must catch up and agree.
pub(crate) fn disk(options: &Options) -> Report {
    let mut report = Report::new("disk");
    let validators = 4;
    let victim = 3;
    let mut cluster = Cluster::generate(validators, 0);
    let mount = cluster.nodes[victim].dir.join("data-mnt");
    if std::fs::create_dir_all(&mount).is_err()
        || run_cmd(&[
            "mount",
            "-t",
            "tmpfs",
            "-o",
            "size=48m",
            "kpd-tmpfs",
            &mount.to_string_lossy(),
        ])
        .is_err()
    {
        report.skipped = Some("needs root to mount a tmpfs".into());
        return report;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = run_cmd(&["umount", "-l", &self.0.to_string_lossy()]);
        }
    }
    let _unmount = Unmount(mount.clone());
    let config_path = cluster.nodes[victim].dir.join("node.toml");
    let rewrite = std::fs::read_to_string(&config_path)
        .map_err(|e| e.to_string())
        .and_then(|t| toml::from_str::<toml::Value>(&t).map_err(|e| e.to_string()))
        .and_then(|mut c| {
            c["node"]["data_dir"] = toml::Value::String(mount.join("db").to_string_lossy().into());
            toml::to_string(&c).map_err(|e| e.to_string())
        })
        .and_then(|t| std::fs::write(&config_path, t).map_err(|e| e.to_string()));
    if let Err(e) = rewrite {
        report.check(false, format!("cannot rewrite config: {e}"));
        return report;
    }
    cluster.start_all();
    let all: Vec<usize> = (0..validators).collect();
    if !network_started(&mut report, &cluster, &all) {
        return report;
    }
    let key = read_key(&cluster.nodes[0].dir.join("authority.key"));
    let rpcs: Vec<String> = cluster.nodes.iter().map(|n| n.rpc.clone()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let (book, loaders) = start_load(rpcs, key, 2, options.seed, stop.clone());
    let others: Vec<usize> = (0..validators).filter(|&i| i != victim).collect();
    let mut recover_max = 0.0f64;
    let mut faults = 0u64;
    for fault in ["disk full", "read-only"] {
        let log_path = cluster.nodes[victim].dir.join("node.log");
        let log_before = std::fs::read_to_string(&log_path)
            .map(|t| t.len())
            .unwrap_or(0);
        let height_at_fault = cluster.height(victim);
        let mount_text = mount.to_string_lossy().to_string();
        let filled = if fault == "disk full" {
            fill(&mount)
        } else {
            // The kernel refuses to remount read-only while sled holds files
            // open for writing, so the node meets the read-only directory
            // when it (re)starts.
            cluster.kill(victim);
            if let Err(e) = run_cmd(&["mount", "-o", "remount,ro", &mount_text]) {
                report.check(false, format!("cannot remount read-only: {e}"));
                continue;
            }
            cluster.start(victim);
            0
        };
        faults += 1;
        // The others are a quorum: they go on.
        let top = heights(&cluster, &others).into_iter().max().unwrap_or(0);
        report.check(
            recover(&cluster, &others, top + 3, Duration::from_secs(60)).is_some(),
            format!("{fault}: the others stalled"),
        );
        let exited = wait_exit(&mut cluster, victim, Duration::from_secs(30));
        let stuck = cluster.height(victim);
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let new_log = log.get(log_before..).unwrap_or("");
        let error_line = new_log
            .lines()
            .map(strip_ansi)
            .find(|l| {
                let l = l.to_lowercase();
                l.contains("error") || l.contains("panic")
            })
            .map(|l| l.chars().take(240).collect::<String>());
        say("disk", &format!(
            "{fault}: filler {filled} bytes; node {victim} at {height_at_fault} -> {stuck}, exit code {exited:?}, error: {error_line:?}"
        ));
        report.figure(
            &format!("{fault}: exit code"),
            exited
                .map(|c| format!("{c:?}"))
                .unwrap_or_else(|| "still running".into()),
        );
        report.figure(&format!("{fault}: error logged"), error_line.clone());
        // Either it stopped, or it kept running without deciding; in both
        // cases a person must be able to read why.
        report.check(
            exited.is_some() || stuck <= height_at_fault + 1,
            format!("{fault}: node {victim} went on deciding on a broken disk"),
        );
        report.check(
            error_line.is_some(),
            format!("{fault}: node {victim} logged no error"),
        );
        // Space comes back; restart the node and it must catch up.
        cluster.kill(victim);
        let _ = std::fs::remove_file(mount.join("filler"));
        let _ = run_cmd(&["mount", "-o", "remount,rw", &mount_text]);
        let restart = Instant::now();
        cluster.start(victim);
        let target = cluster.height(others[0]);
        match recover(&cluster, &[victim], target, Duration::from_secs(90)) {
            Some(_) => recover_max = recover_max.max(restart.elapsed().as_secs_f64()),
            None => report.check(
                false,
                format!(
                    "{fault}: node {victim} did not recover to {target}\n{}",
                    cluster.logs_tail(20)
                ),
            ),
        }
    }
    stop.store(true, Ordering::SeqCst);
    for l in loaders {
        let _ = l.join();
    }
    let up_to = heights(&cluster, &all).into_iter().max().unwrap_or(0) + 1;
    report.check(
        recover(&cluster, &all, up_to, Duration::from_secs(60)).is_some(),
        format!("not every node reached {up_to}"),
    );
    let book = take_book(&book);
    check_chain(&mut report, &cluster, &all, up_to, &book);
    report.figure("disk_faults_recovered", faults);
    report.figure("recover_seconds_max", (recover_max * 10.0).round() / 10.0);
    drop(cluster);
    report
}
