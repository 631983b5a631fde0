//! The government key in a signer process of its own (`kpledger signer`),
//! used by the CLI over a Unix socket (`--remote-signer`): what its policy
//! allows is signed and decided, the rest is refused with its reason and
//! logged, and a signer that is gone is named as such.

use kp_e2e::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kp_e2e::{all_output as text, kpledger_at as cli, path_str as path};

/// The signer process, killed when dropped (also when the test fails).
struct SignerProcess {
    child: Child,
    log: PathBuf,
}

impl Drop for SignerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SignerProcess {
    fn start(key: &Path, socket: &Path, chain_id: &str, allow: &[&str], log: PathBuf) -> Self {
        let mut args = vec![
            "signer",
            "--key",
            path(key),
            "--socket",
            path(socket),
            "--chain-id",
            chain_id,
        ];
        for kind in allow {
            args.extend(["--allow", kind]);
        }
        let child = Command::new(kpledger_bin())
            .args(&args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("signer log"))
            .spawn()
            .expect("start the signer");
        assert!(
            wait_until(Duration::from_secs(10), || socket.exists()),
            "the signer did not listen"
        );
        SignerProcess { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

#[test]
fn a_remote_signer_signs_what_it_allows_and_refuses_the_rest() {
    let mut cluster = Cluster::generate(4, 0);
    cluster.start_all();
    cluster.wait_for_height(&[0, 1, 2, 3], 2, Duration::from_secs(60));
    let rpc = cluster.nodes[0].rpc.clone();
    let work = cluster.dir.path().to_path_buf();
    let chain_id = cluster
        .status(0)
        .and_then(|s| s["chain_id"].as_str().map(str::to_string))
        .expect("chain id");
    // A testnet genesis makes BW's node key its government key.
    let government = cluster.nodes[0].dir.join("node.key");
    let socket = work.join("bw-signer.sock");
    let signer = SignerProcess::start(
        &government,
        &socket,
        &chain_id,
        &["register-authority"],
        work.join("signer.log"),
    );

    // Allowed: an authority registered through the signer, no key file given.
    let office = work.join("bw-office.key");
    run_ok(&["keys", "generate", "--out", path(&office)]);
    let register = |id: &str| {
        cli(
            &rpc,
            &[
                "authority",
                "register",
                "--remote-signer",
                path(&socket),
                "--participant",
                "BW",
                "--id",
                id,
                "--name",
                "Gaborone remote office",
                "--authority-key",
                path(&office),
            ],
        )
    };
    let out = register("BW-REMOTE");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("accepted"), "{}", text(&out));
    let shown = cli(&rpc, &["participant", "show", "BW"]);
    assert!(text(&shown).contains("BW-REMOTE"), "{}", text(&shown));

    // Not allowed: the signer refuses, nothing is submitted.
    let out = cli(
        &rpc,
        &[
            "resolution",
            "propose",
            "--remote-signer",
            path(&socket),
            "--title",
            "expel CF",
            "expel",
            "CF",
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("the signer refused: propose-resolution is not allowed"),
        "{}",
        text(&out)
    );
    let listed = cli(&rpc, &["resolution", "list"]);
    assert!(!text(&listed).contains("expel CF"), "{}", text(&listed));

    // `--key` names the key the signer must hold: another is refused here.
    let out = cli(
        &rpc,
        &[
            "authority",
            "register",
            "--remote-signer",
            path(&socket),
            "--key",
            path(&office),
            "--participant",
            "BW",
            "--id",
            "BW-OTHER",
            "--name",
            "x",
            "--authority-key",
            path(&office),
        ],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("not --key's"), "{}", text(&out));

    let log = signer.log();
    assert!(log.contains("signed register-authority"), "{log}");
    assert!(log.contains("refused propose-resolution"), "{log}");

    // A signer that is gone is named as such.
    drop(signer);
    let out = register("BW-GONE");
    assert!(!out.status.success());
    assert!(
        text(&out).contains("cannot reach the signer at"),
        "{}",
        text(&out)
    );
}
