//! The node's allocator settings (ADR 0018).
//!
//! mimalloc gives memory that stayed free for `purge_delay` milliseconds
//! back to the operating system (1,000 by default), and the kernel zeroes
//! every page the node then touches again. A node's working set comes and
//! goes with each block, so with the default it paid for that zeroing many
//! times a second; [`PURGE_DELAY_MS`] keeps freed memory for ten seconds
//! instead. An operator who sets `MIMALLOC_PURGE_DELAY` keeps their value.
//!
//! This is the one module of the workspace's binaries with unsafe code: two
//! calls into the mimalloc library that the global allocator already links.

use std::ffi::{c_int, c_long, OsStr};

/// How long freed memory stays with the process before it is returned to
/// the operating system, in milliseconds.
pub const PURGE_DELAY_MS: c_long = 10_000;

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (its 16th option,
/// counting from 0; `include/mimalloc.h` of the v3 sources that
/// `libmimalloc-sys` 0.1.49 builds). The crate does not export the constant
/// "for stability reasons"; the test `the_index_is_mimallocs_purge_delay`
/// proves it against the linked library through its environment variable.
const MI_OPTION_PURGE_DELAY: c_int = 15;

// mimalloc's option API (`mimalloc.h`), in the static library that
// `libmimalloc-sys` builds for `mimalloc::MiMalloc`.
extern "C" {
    #[cfg(test)]
    fn mi_option_get(option: c_int) -> c_long;
    fn mi_option_set(option: c_int, value: c_long);
}

/// Names under which mimalloc reads the purge delay from the environment
/// (it compares them without regard to case).
const ENV_NAMES: [&str; 2] = ["MIMALLOC_PURGE_DELAY", "MIMALLOC_RESET_DELAY"];

/// Whether the operator chose a purge delay in the environment.
fn set_in_environment<N: AsRef<OsStr>>(names: impl IntoIterator<Item = N>) -> bool {
    names.into_iter().any(|name| {
        name.as_ref().to_str().is_some_and(|name| {
            ENV_NAMES
                .iter()
                .any(|wanted| name.eq_ignore_ascii_case(wanted))
        })
    })
}

/// Sets the purge delay to [`PURGE_DELAY_MS`] unless the environment chose
/// one. Called first thing in `main`, before any other thread exists.
pub fn configure() {
    if set_in_environment(std::env::vars_os().map(|(name, _)| name)) {
        return;
    }
    // SAFETY: `mi_option_set` stores an integer in mimalloc's option table;
    // it takes no pointers, and mimalloc reads the option again at each
    // purge decision. The index is checked against the linked library by
    // the test below.
    #[allow(unsafe_code)]
    unsafe {
        mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS);
    }
}

/// The purge delay in effect, in milliseconds (`-1`: never purge).
#[cfg(test)]
fn purge_delay_ms() -> c_long {
    // SAFETY: reads an integer from mimalloc's option table; no pointers.
    #[allow(unsafe_code)]
    let value: c_long = unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) };
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Set in the child that [`the_index_is_mimallocs_purge_delay`] starts.
    const CHILD: &str = "KP_ALLOCATOR_TEST_CHILD";

    #[test]
    fn the_index_is_mimallocs_purge_delay() {
        if std::env::var_os(CHILD).is_some() {
            // In the child: mimalloc read its environment when the process
            // started; print what our index reads.
            println!("purge_delay={}", purge_delay_ms());
            return;
        }
        let exe = std::env::current_exe().expect("the test binary");
        let out = Command::new(exe)
            .args([
                "--exact",
                "allocator::tests::the_index_is_mimallocs_purge_delay",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .env("MIMALLOC_PURGE_DELAY", "4321")
            .output()
            .expect("run the test binary");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "child failed: {stdout}");
        assert!(
            stdout.contains("purge_delay=4321"),
            "option {MI_OPTION_PURGE_DELAY} is not the one MIMALLOC_PURGE_DELAY sets: {stdout}"
        );
    }

    #[test]
    fn configure_sets_the_delay_unless_the_environment_chose_one() {
        assert!(!set_in_environment(["PATH", "HOME", "MIMALLOC_VERBOSE"]));
        assert!(set_in_environment(["PATH", "mimalloc_purge_delay"]));
        assert!(set_in_environment(["MIMALLOC_RESET_DELAY"]));
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none()
            && std::env::var_os("MIMALLOC_RESET_DELAY").is_none()
        {
            configure();
            assert_eq!(purge_delay_ms(), PURGE_DELAY_MS);
        }
    }
}
