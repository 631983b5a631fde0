//! `kpledger devnet`: a whole local network in one command.
//!
//! The first run writes genesis, keys and node configs with the same code as
//! `kpledger testnet` (into `./devnet` or `--dir`); every run then starts each
//! node as a child process of this one (`kpledger node --config ...`, log in
//! `nodeI/node.log`), prints each RPC URL, where the authority keys are and
//! example commands, and stops every node (SIGTERM, then SIGKILL after
//! [`STOP_GRACE`]) on Ctrl-C or SIGTERM. A second run finds the genesis and
//! resumes the same network with its data.

use crate::config::{ConsensusSection, NodeConfig};
use crate::testnet::{self, TestnetSpec};
use clap::Args;
use kp_types::ParticipantKind;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long nodes get to stop after SIGTERM before they are killed.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Most nodes a devnet starts (60 governments and a few observers).
pub const DEVNET_NODES_MAX: usize = 80;

/// Options of `kpledger devnet`.
#[derive(Args, Debug, Clone)]
pub struct DevnetArgs {
    /// Where the network lives.
    #[arg(long, default_value = "devnet")]
    pub dir: PathBuf,
    /// Government validators on first run (default 4; 60: the full KP
    /// network). A devnet that exists keeps its own.
    #[arg(long)]
    pub validators: Option<usize>,
    /// Observers on first run (default 1).
    #[arg(long)]
    pub observers: Option<usize>,
    /// First port on first run (default 26600); node I uses base+2I
    /// (peers) and base+2I+1 (HTTP). A devnet that exists keeps its own.
    #[arg(long)]
    pub base_port: Option<u16>,
    /// How the nodes write their logs (`nodeI/node.log`; default: each
    /// node's `[node] log_format`, `text`). Neither has colour codes.
    #[arg(long, value_enum)]
    pub log_format: Option<crate::config::LogFormat>,
    /// Write the network and exit without starting it.
    #[arg(long)]
    pub init_only: bool,
    /// On first run, serve every node's RPC over TLS: make a local
    /// certificate authority (`DIR/tls/ca.pem`, for clients' `--ca`) and a
    /// certificate per node. Off by default, so that the plain
    /// `http://` walkthrough works as written.
    #[arg(long)]
    pub tls: bool,
}

/// Why the devnet could not start.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// Generating the network failed.
    #[error(transparent)]
    Testnet(#[from] testnet::TestnetError),
    /// A node's config could not be read.
    #[error("{path}: {detail}")]
    Config {
        /// The config.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
    /// `--validators`, `--observers` or `--base-port` asked for another
    /// network than the one that exists in the folder.
    #[error(
        "{} holds a devnet of {} and {} on ports from {base_port}; \
         --validators, --observers and --base-port apply only when a devnet is created: \
         leave them out to resume it, use another --dir, or delete {} to start afresh",
        dir.display(), plural(*validators, "validator"), plural(*observers, "observer"), dir.display()
    )]
    Mismatch {
        /// The folder.
        dir: PathBuf,
        /// Validators it holds.
        validators: usize,
        /// Observers it holds.
        observers: usize,
        /// Its first port.
        base_port: u16,
    },
    /// The TLS certificates could not be made.
    #[error(transparent)]
    Tls(#[from] crate::devnet_tls::DevnetTlsError),
    /// A process or file operation failed.
    #[error("cannot {action}: {source}")]
    Io {
        /// What.
        action: String,
        /// The OS error.
        source: std::io::Error,
    },
}

struct DevnetNode {
    /// `https` when the node serves TLS, else `http`.
    scheme: &'static str,
    index: usize,
    code: String,
    /// A government node, which votes (observers do not).
    validator: bool,
    config: PathBuf,
    rpc: String,
    authority_key: Option<PathBuf>,
    node_key: PathBuf,
}

/// `1 observer`, `2 observers`.
pub fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Port of the first devnet base port when `--base-port` is not given.
pub const BASE_PORT_DEFAULT: u16 = 26600;

fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> DevnetError {
    let action = action.into();
    move |source| DevnetError::Io { action, source }
}

/// The nodes of an existing devnet, in order.
fn existing_nodes(dir: &Path) -> Result<Vec<DevnetNode>, DevnetError> {
    let genesis_path = dir.join("genesis.toml");
    let genesis = std::fs::read_to_string(&genesis_path)
        .map_err(|e| e.to_string())
        .and_then(|text| kp_ledger::Genesis::from_toml(&text).map_err(|e| e.to_string()))
        .map_err(|detail| DevnetError::Config {
            path: genesis_path.clone(),
            detail,
        })?;
    let mut nodes = Vec::new();
    for index in 0..DEVNET_NODES_MAX {
        let node_dir = dir.join(format!("node{index}"));
        let config_path = node_dir.join("node.toml");
        if !config_path.exists() {
            break;
        }
        let config = NodeConfig::load(&config_path).map_err(|e| DevnetError::Config {
            path: config_path.clone(),
            detail: e.to_string(),
        })?;
        let first_line = std::fs::read_to_string(&config_path)
            .ok()
            .and_then(|t| t.lines().next().map(str::to_string))
            .unwrap_or_default();
        // "# Node I: NAME (CODE). Generated by ..." names the Participant.
        let code = first_line
            .rsplit_once('(')
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(code, _)| code.to_string())
            .unwrap_or_else(|| format!("node{index}"));
        let authority_key = Some(node_dir.join("authority.key")).filter(|p| p.exists());
        let validator = genesis
            .participants
            .iter()
            .any(|p| p.code.as_str() == code && p.kind == ParticipantKind::Government);
        nodes.push(DevnetNode {
            scheme: if config.rpc.tls_cert.is_some() {
                "https"
            } else {
                "http"
            },
            index,
            code,
            validator,
            config: config_path,
            rpc: config.rpc.listen.clone(),
            authority_key,
            node_key: node_dir.join("node.key"),
        });
    }
    Ok(nodes)
}

/// Runs `kpledger devnet`.
pub fn run(args: &DevnetArgs) -> Result<(), DevnetError> {
    let genesis = args.dir.join("genesis.toml");
    let validators = args.validators.unwrap_or(4);
    let observers = args.observers.unwrap_or(1);
    let resumed = genesis.exists();
    if !resumed {
        testnet::generate(&TestnetSpec {
            validators,
            observers,
            out: args.dir.clone(),
            base_port: args.base_port.unwrap_or(BASE_PORT_DEFAULT),
            chain_id: "kp-devnet".into(),
            genesis_time: kp_types::time::wall_clock(),
            consensus: ConsensusSection::for_one_machine(validators),
            encryption_keys: true,
        })?;
        println!(
            "created a devnet of {} and {} in {}",
            plural(validators, "validator"),
            plural(observers, "observer"),
            args.dir.display()
        );
        if args.tls {
            enable_tls(&args.dir)?;
        }
    }
    let nodes = existing_nodes(&args.dir)?;
    let held = nodes.iter().filter(|n| n.validator).count();
    let held_observers = nodes.len() - held;
    // Node 0 answers HTTP on base+1 (`testnet`'s layout).
    let held_base = nodes
        .first()
        .and_then(|n| n.rpc.rsplit_once(':'))
        .and_then(|(_, port)| port.parse::<u16>().ok())
        .map(|port| port.saturating_sub(1))
        .unwrap_or(BASE_PORT_DEFAULT);
    if args.validators.is_some_and(|v| v != held)
        || args.observers.is_some_and(|o| o != held_observers)
        || args.base_port.is_some_and(|b| b != held_base)
    {
        return Err(DevnetError::Mismatch {
            dir: args.dir.clone(),
            validators: held,
            observers: held_observers,
            base_port: held_base,
        });
    }
    if resumed {
        println!("resuming the devnet in {}", args.dir.display());
        if args.tls && nodes.first().is_some_and(|n| n.scheme == "http") {
            println!("(--tls applies when a devnet is created: this one serves plain HTTP)");
        }
    }
    print_guide(&args.dir, &nodes);
    if args.init_only {
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(io("find the kpledger binary"))?;
    let mut children: Vec<(usize, Child)> = Vec::new();
    for node in &nodes {
        match start(&exe, node, args.log_format) {
            Ok(child) => children.push((node.index, child)),
            Err(e) => {
                stop(&mut children);
                return Err(e);
            }
        }
    }
    // Started is not running: the first block comes later, and the progress
    // lines below say when.
    println!(
        "\nstarted {} ({held} voting); no block yet, progress follows. Ctrl-C stops them all.",
        plural(children.len(), "node")
    );
    let validators: Vec<String> = nodes
        .iter()
        .filter(|n| n.validator)
        .map(|n| format!("{}://{}/v1/status", n.scheme, n.rpc))
        .collect();
    let result = wait_for_signal(&mut children, &validators, &args.dir);
    stop(&mut children);
    result
}

fn start(
    exe: &Path,
    node: &DevnetNode,
    log_format: Option<crate::config::LogFormat>,
) -> Result<Child, DevnetError> {
    let dir = node.config.parent().unwrap_or(Path::new("."));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("node.log"))
        .map_err(io(format!("open {}/node.log", dir.display())))?;
    let err_log = log.try_clone().map_err(io("duplicate the log handle"))?;
    let mut command = Command::new(exe);
    command.arg("node").arg("--config").arg(&node.config);
    if let Some(format) = log_format {
        let name = match format {
            crate::config::LogFormat::Text => "text",
            crate::config::LogFormat::Json => "json",
        };
        command.args(["--log-format", name]);
    }
    command
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        )
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err_log)
        .spawn()
        .map_err(io(format!("start node {}", node.index)))
}

/// Makes the devnet's certificate authority and node certificates, and
/// names them in each node's `[rpc]` section.
fn enable_tls(dir: &Path) -> Result<(), DevnetError> {
    let configs: Vec<PathBuf> = (0..DEVNET_NODES_MAX)
        .map(|i| dir.join(format!("node{i}")).join("node.toml"))
        .take_while(|p| p.exists())
        .collect();
    let node_dirs: Vec<PathBuf> = configs
        .iter()
        .filter_map(|c| c.parent().map(Path::to_path_buf))
        .collect();
    let ca = crate::devnet_tls::make(dir, &node_dirs)?;
    for config in &configs {
        let text =
            std::fs::read_to_string(config).map_err(io(format!("read {}", config.display())))?;
        let text = text.replacen(
            "[rpc]\n",
            &format!(
                "[rpc]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
                crate::devnet_tls::NODE_CERT,
                crate::devnet_tls::NODE_KEY
            ),
            1,
        );
        std::fs::write(config, text).map_err(io(format!("write {}", config.display())))?;
    }
    println!(
        "every node serves its RPC over TLS; clients trust {} with --ca (or KPLEDGER_CA)",
        ca.display()
    );
    Ok(())
}

fn print_guide(dir: &Path, nodes: &[DevnetNode]) {
    println!(
        "\n{:<5} {:<6} {:<28} AUTHORITY KEY / NODE KEY",
        "NODE", "CODE", "RPC"
    );
    for node in nodes {
        println!(
            "{:<5} {:<6} {:<28} {} / {}",
            node.index,
            node.code,
            format!("{}://{}", node.scheme, node.rpc),
            node.authority_key
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "-".into()),
            node.node_key.display()
        );
    }
    let Some(first) = nodes.first() else {
        return;
    };
    let d = dir.display();
    println!(
        "\nthe RPC serves every caller as the operator ([rpc] anonymous = \"operator\" in \
         {d}/nodeI/node.toml: a network on 127.0.0.1); set it to \"public\" and issue tokens \
         with `kpledger rpc token create --config {d}/node0/node.toml --scope ...` to try scopes"
    );
    if first.scheme == "https" {
        println!(
            "\nthe RPC is served over TLS: use https:// and --ca {d}/tls/ca.pem (or KPLEDGER_CA)"
        );
    }
    println!(
        "\nlogs: {d}/nodeI/node.log    genesis: {d}/genesis.toml\n\
         try (in another terminal):\n  \
         kpledger --node {scheme}://{rpc} status\n  \
         kpledger --node {scheme}://{rpc} participant list\n  \
         kpledger --node {scheme}://{rpc} cert issue --key {d}/node0/authority.key --file CERT.toml\n  \
         kpledger --node {scheme}://{rpc} cert verify BW0000001 --genesis {d}/genesis.toml\n\
         or in a browser: {scheme}://{rpc}/ (check a certificate), \
         {scheme}://{rpc}/web/dashboard.html (dashboard)\n\
         (README.md walks through issuing, confirming, a sanction and verification.)",
        rpc = first.rpc,
        scheme = first.scheme,
    );
}

fn wait_for_signal(
    children: &mut Vec<(usize, Child)>,
    validators: &[String],
    dir: &Path,
) -> Result<(), DevnetError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io("start the signal handler"))?;
    runtime.block_on(async {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .map_err(io("listen for SIGTERM"))?;
        let progress = tokio::spawn(report_progress(validators.to_vec(), dir.to_path_buf()));
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = terminate.recv() => break,
                _ = tick.tick() => {
                    children.retain_mut(|(index, child)| match child.try_wait() {
                        Ok(Some(status)) => {
                            eprintln!("node {index} exited ({status}); see its node.log");
                            false
                        }
                        _ => true,
                    });
                    if children.is_empty() {
                        eprintln!("every node has exited");
                        break;
                    }
                }
            }
        }
        progress.abort();
        Ok(())
    })
}

/// How often the devnet asks its validators how far they are.
const PROBE_INTERVAL: Duration = Duration::from_secs(2);
/// How long one status request may take (a 60-validator network on two
/// cores answers slowly while it starts).
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Asks every validator for its status until all of them have decided a
/// block, printing a line whenever the picture changes.
async fn report_progress(urls: Vec<String>, dir: PathBuf) {
    let mut builder = reqwest::Client::builder()
        .timeout(PROBE_TIMEOUT)
        .use_rustls_tls();
    let ca = std::fs::read(dir.join("tls").join("ca.pem"))
        .ok()
        .and_then(|pem| reqwest::Certificate::from_pem(&pem).ok());
    if let Some(ca) = ca {
        builder = builder.add_root_certificate(ca);
    }
    let Ok(http) = builder.build() else {
        return;
    };
    let started = Instant::now();
    let mut progress = Progress::new(urls.len(), dir);
    let mut tick = tokio::time::interval(PROBE_INTERVAL);
    while !progress.done() {
        tick.tick().await;
        let probes = futures::future::join_all(urls.iter().map(|url| probe(&http, url))).await;
        if let Some(line) = progress.observe(&probes, started.elapsed()) {
            println!("{line}");
        }
    }
}

async fn probe(http: &reqwest::Client, url: &str) -> Option<Probe> {
    let status: serde_json::Value = http.get(url).send().await.ok()?.json().await.ok()?;
    Some(Probe {
        height: status["height"].as_u64()?,
        round: status["round"].as_u64()?.try_into().ok()?,
    })
}

/// What one validator's `/v1/status` said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Last applied height.
    pub height: u64,
    /// Consensus round.
    pub round: u32,
}

/// How long an unchanged picture goes unprinted.
const PROGRESS_REPEAT: Duration = Duration::from_secs(15);
/// After this long without a block the devnet says where to look.
const PROGRESS_HINT_AFTER: Duration = Duration::from_secs(120);

/// The devnet's start-up report: from rounds of validator probes to lines
/// such as `waiting for 41 of 60 validators to answer` and, once every
/// validator has applied a block, `the network decides blocks`.
#[derive(Debug)]
pub struct Progress {
    validators: usize,
    dir: PathBuf,
    last: Option<(String, Duration)>,
    hinted: bool,
    done: bool,
}

impl Progress {
    /// A report on `validators` validators of the devnet in `dir`.
    pub fn new(validators: usize, dir: PathBuf) -> Progress {
        Progress {
            validators,
            dir,
            last: None,
            hinted: false,
            done: validators == 0,
        }
    }

    /// Whether every validator has applied a block (the report is over).
    pub fn done(&self) -> bool {
        self.done
    }

    /// Takes one round of probes (`None`: that validator did not answer),
    /// `elapsed` since the nodes were started; returns the line to print, if
    /// any.
    pub fn observe(&mut self, probes: &[Option<Probe>], elapsed: Duration) -> Option<String> {
        if self.done {
            return None;
        }
        let n = self.validators;
        let up: Vec<&Probe> = probes.iter().flatten().collect();
        let max_height = up.iter().map(|p| p.height).max().unwrap_or(0);
        let min_height = up.iter().map(|p| p.height).min().unwrap_or(0);
        let secs = elapsed.as_secs();
        let state = if up.len() < n {
            let missing = n - up.len();
            if max_height == 0 {
                format!("waiting for {missing} of {n} validators to answer")
            } else {
                format!("waiting for {missing} of {n} validators to answer; height {max_height}")
            }
        } else if max_height == 0 {
            let round = up.iter().map(|p| p.round).max().unwrap_or(0);
            format!("all {n} validators answer; waiting for the first block (round {round})")
        } else if min_height == 0 {
            let behind = up.iter().filter(|p| p.height == 0).count();
            format!("height {max_height}; waiting for {behind} of {n} validators to apply a block")
        } else {
            self.done = true;
            return Some(format!(
                "[{secs:>3} s] the network decides blocks: every validator has applied one, \
                 height {max_height}"
            ));
        };
        if !self.hinted && elapsed >= PROGRESS_HINT_AFTER {
            self.hinted = true;
            self.last = Some((state.clone(), elapsed));
            return Some(format!(
                "[{secs:>3} s] {state}\n        no block after {} s: each node's log is in \
                 {}/nodeI/node.log",
                PROGRESS_HINT_AFTER.as_secs(),
                self.dir.display()
            ));
        }
        let repeat = match &self.last {
            Some((line, at)) => *line != state || elapsed.saturating_sub(*at) >= PROGRESS_REPEAT,
            None => true,
        };
        if !repeat {
            return None;
        }
        self.last = Some((state.clone(), elapsed));
        Some(format!("[{secs:>3} s] {state}"))
    }
}

fn stop(children: &mut Vec<(usize, Child)>) {
    for (_, child) in children.iter() {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stderr(Stdio::null())
            .status();
    }
    let deadline = Instant::now() + STOP_GRACE;
    while Instant::now() < deadline
        && children
            .iter_mut()
            .any(|(_, c)| matches!(c.try_wait(), Ok(None)))
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    for (_, child) in children.iter_mut() {
        let _ = child.kill();
        let _ = child.wait();
    }
    children.clear();
    println!("devnet stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(height: u64) -> Option<Probe> {
        Some(Probe { height, round: 0 })
    }

    #[test]
    fn progress_counts_the_validators_still_missing_then_the_first_block() {
        let mut progress = Progress::new(4, PathBuf::from("devnet"));
        let s = Duration::from_secs;
        let line = progress.observe(&[at(0), None, None, None], s(2));
        assert_eq!(
            line.as_deref(),
            Some("[  2 s] waiting for 3 of 4 validators to answer")
        );
        // Unchanged: quiet until PROGRESS_REPEAT has passed.
        assert_eq!(progress.observe(&[at(0), None, None, None], s(4)), None);
        assert!(progress
            .observe(&[at(0), None, None, None], s(17))
            .is_some());
        let line = progress
            .observe(&[at(0), at(0), at(0), at(0)], s(19))
            .unwrap();
        assert!(line.contains("all 4 validators answer; waiting for the first block"));
        let line = progress
            .observe(&[at(1), at(1), at(0), at(1)], s(21))
            .unwrap();
        assert!(line.ends_with("height 1; waiting for 1 of 4 validators to apply a block"));
        assert!(!progress.done());
        let line = progress
            .observe(&[at(2), at(1), at(1), at(2)], s(23))
            .unwrap();
        assert!(line.contains("the network decides blocks"), "{line}");
        assert!(line.ends_with("height 2"), "{line}");
        assert!(progress.done());
        assert_eq!(progress.observe(&[at(3), at(3), at(3), at(3)], s(25)), None);
    }

    #[test]
    fn progress_says_where_the_logs_are_when_no_block_comes() {
        let mut progress = Progress::new(2, PathBuf::from("dv"));
        assert!(progress
            .observe(&[at(0), at(0)], Duration::from_secs(2))
            .is_some());
        let line = progress
            .observe(&[at(0), at(0)], PROGRESS_HINT_AFTER)
            .unwrap();
        assert!(line.contains("dv/nodeI/node.log"), "{line}");
        // Said once.
        let later = PROGRESS_HINT_AFTER + Duration::from_secs(2);
        assert_eq!(progress.observe(&[at(0), at(0)], later), None);
    }
}
