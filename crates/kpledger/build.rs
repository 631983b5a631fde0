//! Records the git commit the binary is built from and the build date, for
//! `kpledger --version`. The commit is `KPLEDGER_GIT_COMMIT`'s when that is
//! set, else git's, else "unknown" (a source archive). The date is
//! `SOURCE_DATE_EPOCH`'s when that is set (a reproducible build), else
//! today's (UTC) when the script runs: on a new commit or a fresh build.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

/// The UTC date `YYYY-MM-DD` of `seconds` since 1970 (the civil calendar
/// from a day count, as in Howard Hinnant's `civil_from_days`).
fn date_of(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn main() {
    let seconds = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()
                .map(|d| d.as_secs())
        });
    let date = seconds.map(date_of).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=KPLEDGER_BUILD_DATE={date}");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // A build without the git history (the Docker image's) is told the
    // commit by KPLEDGER_GIT_COMMIT.
    println!("cargo:rerun-if-env-changed=KPLEDGER_GIT_COMMIT");
    let commit = std::env::var("KPLEDGER_GIT_COMMIT")
        .ok()
        .map(|c| c.trim().chars().take(12).collect::<String>())
        .filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_hexdigit()))
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=KPLEDGER_COMMIT={commit}");
    // Build again when HEAD moves: HEAD itself (a checkout) and the branch
    // it points at (a commit).
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        println!("cargo:rerun-if-changed={head}");
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(reference) = git(&["rev-parse", "--git-path", &branch]) {
            println!("cargo:rerun-if-changed={reference}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
