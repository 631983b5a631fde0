//! `loadgen catchup`: an observer timed while it syncs a chain built directly into a store.

use crate::measure::{chrono_now, cores, cpu_seconds, dir_bytes, loadavg, peak_rss};
use crate::{Json, Opts};
use kp_e2e::Cluster;
use kp_types::tx::{Payload, Transaction};
use kp_types::{Block, Hash, SigningKey};
use std::path::Path;
use std::time::{Duration, Instant};

/// Writes a chain of `certs` BW→EU certificates in blocks of `block_certs`
/// into the store at `data_dir` of the network whose genesis is at
/// `genesis_path`, certified by `validator_keys`, signed by `authority_key`.
/// Returns the chain's height. Signing runs on another thread, bounded a few
/// blocks ahead of the ledger.
fn build_chain(
    genesis_path: &Path,
    data_dir: &Path,
    validator_keys: &[SigningKey],
    authority_key: &SigningKey,
    certs: usize,
    block_certs: usize,
) -> u64 {
    use kp_chain::BlockStore;
    use kp_ledger::{Genesis, Ledger};
    use kp_storage::SledStore;
    use kp_types::{CommitCertificate, SignedTransaction};
    // Blocks per durable store commit (a syncing node commits about 4,000
    // certificates at once; sled's memory per batch grows with its keys).
    let blocks_per_commit = (4_000 / block_certs.max(1)).max(1) as u64;

    let genesis = Genesis::from_toml(&std::fs::read_to_string(genesis_path).expect("genesis"))
        .expect("valid genesis");
    let genesis_time = genesis.genesis_time;
    let chain_id = genesis.chain_id.clone();
    let store = SledStore::open(data_dir).expect("open the store");
    let mut ledger = Ledger::open(&genesis, store).expect("open the ledger");
    assert_eq!(ledger.height(), 0, "building a chain needs an empty store");

    let (blocks_tx, blocks_rx) = std::sync::mpsc::sync_channel::<Vec<SignedTransaction>>(4);
    let signer = {
        let key = authority_key.clone();
        let chain_id = chain_id.clone();
        std::thread::spawn(move || {
            let today = genesis_time.date();
            let authority = kp_types::AuthorityId::new("BW-KPA").expect("valid id");
            let mut made = 0usize;
            while made < certs {
                let count = block_certs.min(certs - made);
                let txs = (made..made + count)
                    .map(|i| {
                        let mut cert = kp_ledger::testkit::certificate(
                            &format!("BW{i:09}"),
                            "BW",
                            "EU",
                            today,
                        );
                        cert.issuing_authority = authority.clone();
                        Transaction {
                            chain_id: chain_id.clone(),
                            signer: key.public(),
                            nonce: i as u64,
                            // Block times stay within seconds of genesis.
                            expires_at: genesis_time.plus_ms(30 * 60 * 1000),
                            payload: Payload::IssueCertificate(cert),
                        }
                        .sign(&key)
                    })
                    .collect();
                made += count;
                if blocks_tx.send(txs).is_err() {
                    break;
                }
            }
        })
    };

    let mut validators: Vec<&SigningKey> = validator_keys.iter().collect();
    validators.sort_by_key(|k| k.public());
    let started = Instant::now();
    let mut applied_certs = 0usize;
    for txs in blocks_rx {
        let height = ledger.height() + 1;
        let mut block = Block {
            header: ledger.next_header(
                validators[(height as usize) % validators.len()].public(),
                genesis_time.plus_ms(height),
                Hash::ZERO,
            ),
            txs,
        };
        block.header.txs_root = block.compute_txs_root();
        let mut certificate = CommitCertificate {
            chain_id: chain_id.clone(),
            height,
            round: 0,
            block_hash: block.hash(),
            signatures: vec![],
        };
        certificate.sign_with(validators.iter().copied());
        let mut pending = ledger.execute(&block).expect("execute the block");
        let receipts = kp_types::encode(&pending.receipt().receipts);
        let writes =
            BlockStore::try_block_writes(&block, &certificate, &receipts).expect("block writes");
        pending.add_host_writes(writes).expect("host keys");
        // Applied ahead of the store, written every few blocks (as a syncing
        // node does).
        let receipt = ledger.advance_behind(pending).expect("apply the block");
        let refused = receipt
            .receipts
            .iter()
            .filter(|r| r.result.is_err())
            .count();
        assert_eq!(
            refused, 0,
            "block {height}: the ledger refused {refused} certificates"
        );
        applied_certs += block.txs.len();
        if height.is_multiple_of(blocks_per_commit) {
            ledger.flush_behind().expect("commit");
            let s = started.elapsed().as_secs_f64();
            if height.is_multiple_of(blocks_per_commit * 25) {
                eprintln!(
                    "loadgen: chain at height {height}, {applied_certs} certificates, {:.0}/s",
                    applied_certs as f64 / s
                );
            }
        }
    }
    ledger.flush_behind().expect("commit");
    signer.join().expect("signer thread");
    assert_eq!(applied_certs, certs);
    ledger.height()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// The catch-up benchmark on a pre-built chain (see the module docs).
pub(crate) fn catchup(opts: &Opts) -> Json {
    let certs = opts.get_u64("certs", 30_000) as usize;
    let block_certs = opts.get_u64("block-certs", 2_000) as usize;
    let validators = 2;
    let load_start = loadavg();
    let mut cluster = Cluster::generate(validators, 1);
    let net = cluster.nodes[0]
        .dir
        .parent()
        .expect("net dir")
        .to_path_buf();
    let validator_keys: Vec<SigningKey> = (0..validators)
        .map(|i| kp_e2e::read_key(&cluster.nodes[i].dir.join("node.key")))
        .collect();
    let authority = kp_e2e::read_key(&cluster.nodes[0].dir.join("authority.key"));
    let built_at = Instant::now();
    let chain_height = build_chain(
        &net.join("genesis.toml"),
        &cluster.nodes[0].dir.join("data"),
        &validator_keys,
        &authority,
        certs,
        block_certs,
    );
    let build_s = built_at.elapsed().as_secs_f64();
    let copied_at = Instant::now();
    for i in 1..validators {
        copy_dir(
            &cluster.nodes[0].dir.join("data"),
            &cluster.nodes[i].dir.join("data"),
        );
    }
    let copy_s = copied_at.elapsed().as_secs_f64();
    let store_bytes = dir_bytes(&cluster.nodes[0].dir.join("data"));
    eprintln!(
        "loadgen: chain of {certs} certificates, height {chain_height}, built in {build_s:.1}s, \
         {:.0} MB per copy, copied in {copy_s:.1}s",
        store_bytes as f64 / 1048576.0
    );
    // With --state-sync, each validator takes a snapshot of the state after
    // the first block it adds to the stored chain (ADR 0016).
    let state_sync = opts.0.contains_key("state-sync");
    let interval = (chain_height + 1).to_string();
    for i in 0..validators {
        if state_sync {
            cluster.start_with_env(i, &[("KPLEDGER_STATE_SYNC_SNAPSHOT_INTERVAL", &interval)]);
        } else {
            cluster.start(i);
        }
    }
    // The validators continue the stored chain: empty blocks from here on.
    let up = kp_e2e::wait_until(Duration::from_secs(120), || {
        (0..validators).all(|i| cluster.height(i) > chain_height)
    });
    if !up {
        eprintln!("loadgen: the validators did not continue the chain");
        eprintln!("{}", cluster.logs_tail(20));
        std::process::exit(1);
    }
    let observer = validators;
    if state_sync {
        let listed = kp_e2e::wait_until(Duration::from_secs(600), || {
            (0..validators).all(|i| {
                kp_e2e::get_json(&cluster.nodes[i].rpc, "/v1/snapshots")
                    .is_some_and(|v| v["snapshots"].as_array().is_some_and(|a| !a.is_empty()))
            })
        });
        if !listed {
            eprintln!("loadgen: the validators took no snapshot");
            eprintln!("{}", cluster.logs_tail(20));
            std::process::exit(1);
        }
    }
    let target = (0..validators)
        .map(|i| cluster.height(i))
        .max()
        .unwrap_or(0);
    // One observer run per binary named (default: the one under test), each
    // from an empty store, so that binaries can be compared on one chain.
    let bins: Vec<std::path::PathBuf> = match opts.0.get("observer-bins") {
        Some(list) => list.split(',').map(std::path::PathBuf::from).collect(),
        None => vec![kp_e2e::kpledger_bin()],
    };
    let timeout = Duration::from_secs_f64(opts.get_f64("catchup-timeout", 1800.0));
    let mut runs: Vec<Json> = bins
        .iter()
        .map(|bin| observe(&cluster, observer, bin, target, certs, timeout, &[]))
        .collect();
    // The same observer from a snapshot of the validators' state instead of
    // replaying every block.
    let servers = format!(
        "[{}]",
        (0..validators)
            .map(|i| format!("\"http://{}\"", cluster.nodes[i].rpc))
            .collect::<Vec<_>>()
            .join(",")
    );
    let synced = state_sync.then(|| {
        let env = [
            ("KPLEDGER_STATE_SYNC_ENABLE", "true"),
            ("KPLEDGER_STATE_SYNC_RPC_SERVERS", servers.as_str()),
        ];
        let mut run = observe(
            &cluster,
            observer,
            &kp_e2e::kpledger_bin(),
            target,
            certs,
            timeout,
            &env,
        );
        run["mode"] = "state-sync".into();
        run
    });
    let snapshot_ms: Vec<Json> = (0..validators)
        .map(|i| {
            let log =
                std::fs::read_to_string(cluster.nodes[i].dir.join("node.log")).unwrap_or_default();
            log.lines()
                .filter(|l| l.contains("state snapshot taken"))
                .filter_map(|l| {
                    l.split("ms=")
                        .nth(1)?
                        .split_whitespace()
                        .next()?
                        .parse::<u64>()
                        .ok()
                })
                .map(Json::from)
                .next()
                .unwrap_or(Json::Null)
        })
        .collect();
    if let Some(run) = &synced {
        runs.push(run.clone());
    }
    let result = serde_json::json!({
        "mode": "catchup",
        "validators": validators,
        "observers": 1,
        "cores": cores(),
        "block_certs": block_certs,
        "chain_build_s": (build_s * 10.0).round() / 10.0,
        "chain_copy_s": (copy_s * 10.0).round() / 10.0,
        "store_mb_per_copy": (store_bytes as f64 / 1048576.0).round(),
        "catchup": runs.first().cloned().unwrap_or(Json::Null),
        "state_sync": synced.unwrap_or(Json::Null),
        "snapshot_ms": snapshot_ms,
        "runs": runs,
        "loadavg_start": load_start,
        "loadavg_end": loadavg(),
    });
    drop(cluster);
    result
}

/// Starts the observer node with `bin` on an empty store, times it until it
/// reports `target`, stops it and removes its store.
fn observe(
    cluster: &Cluster,
    observer: usize,
    bin: &Path,
    target: u64,
    certs: usize,
    timeout: Duration,
    env: &[(&str, &str)],
) -> Json {
    let node = &cluster.nodes[observer];
    let data = node.dir.join("data");
    let _ = std::fs::remove_dir_all(&data);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(node.dir.join("node.log"))
        .expect("open node log");
    let load_start = loadavg();
    let at = chrono_now();
    let started = Instant::now();
    let mut child = std::process::Command::new(bin)
        .args(["node", "--config"])
        .arg(node.dir.join("node.toml"))
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("clone log"))
        .stderr(log)
        .spawn()
        .expect("start the observer");
    // An observer that exits (say, a binary that refuses this configuration)
    // ends the run at once instead of after the timeout.
    let mut exited = None;
    let reached = kp_e2e::wait_until(timeout, || {
        if let Ok(Some(status)) = child.try_wait() {
            exited = Some(status);
            return true;
        }
        cluster.height(observer) >= target
    });
    let ok = reached && exited.is_none();
    let s = started.elapsed().as_secs_f64();
    let pid = child.id();
    if let Some(status) = exited {
        let log = std::fs::read_to_string(node.dir.join("node.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        eprintln!("loadgen: the observer exited ({status}); log tail:");
        for line in tail.iter().rev() {
            eprintln!("  {line}");
        }
    }
    let run = serde_json::json!({
        "exited": exited.map(|status| status.to_string()),
        "binary": bin.display().to_string(),
        "started_utc": at,
        "height": target,
        "chain_certs": certs,
        "catchup_s": (s * 100.0).round() / 100.0,
        "catchup_certs_per_s": (certs as f64 / s).round(),
        "observer_cpu_s": cpu_seconds(pid),
        "observer_peak_rss_mb": (peak_rss(pid) as f64 / 1048576.0).round(),
        "complete": ok,
        "loadavg_start": load_start,
        "loadavg_end": loadavg(),
    });
    eprintln!("loadgen: observer run {run}");
    let _ = child.kill();
    let _ = child.wait();
    if !ok {
        eprintln!("{}", cluster.logs_tail(20));
    }
    // LOADGEN_KEEP_LOG=FILE keeps the observer's log (its `synced` lines
    // say where each sync answer's time went).
    if let Ok(keep) = std::env::var("LOADGEN_KEEP_LOG") {
        if let Err(e) = std::fs::copy(node.dir.join("node.log"), &keep) {
            eprintln!("loadgen: could not keep the observer log in {keep}: {e}");
        }
    }
    let _ = std::fs::remove_dir_all(&data);
    run
}
