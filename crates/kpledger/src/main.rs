//! The `kpledger` binary.

use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, FromArgMatches, Parser, Subcommand};
mod genesis_cli;

use kp_node::{config, keys, testnet};
use std::path::PathBuf;
use std::process::ExitCode;

mod allocator;
mod export;
mod state_sync;

/// A node frees on one thread much of what another allocated (decoded
/// blocks, store pages); mimalloc handles that without the arena
/// consolidation that glibc malloc spent a third of the sync thread on
/// (ADR 0005; built without transparent huge pages). [`allocator::configure`]
/// keeps freed memory for ten seconds before it goes back to the system
/// (ADR 0018).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "kpledger",
    version = concat!(
        env!("CARGO_PKG_VERSION"),
        " (commit ",
        env!("KPLEDGER_COMMIT"),
        ", built ",
        env!("KPLEDGER_BUILD_DATE"),
        ")"
    ),
    about = "Kimberley Process certificate ledger"
)]
struct Cli {
    // rpc: --node and --json of the client commands. Given before the
    // command here; [`command`] also gives them to each client command (and
    // only to those), so they may follow it as well.
    #[command(flatten)]
    client: kp_client::cli::Global,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Key files, and a member's keys on the ledger: rotate, recover,
    /// cancel-recovery.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Write genesis, keys and configs of a local network on 127.0.0.1.
    Testnet {
        /// Government validators (the first N of the Participants table: BW, EU, AE, IN, ...).
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Observers (WDC, CSC, ADPA).
        #[arg(long, default_value_t = 1)]
        observers: usize,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// First port; node I uses base+2I (peers) and base+2I+1 (HTTP).
        #[arg(long, default_value_t = 26600)]
        base_port: u16,
        /// Chain id.
        #[arg(long, default_value = "kp-testnet")]
        chain_id: String,
        /// The idle network's heartbeat written into every node's config
        /// (`[consensus] empty_block_interval_ms`; default 60,000).
        #[arg(long, value_name = "MS")]
        empty_block_interval_ms: Option<u64>,
        /// Register no encryption keys for the authorities: certificates
        /// stay in the clear (ADR 0011; for comparisons with sealed ones).
        #[arg(long)]
        plain: bool,
    },
    /// Backups of a node's chain: export from a stopped node, import into
    /// an empty data directory (every block is verified again on import).
    Snapshot {
        #[command(subcommand)]
        command: SnapshotCommand,
    },
    /// Genesis files: check one as a node would, print its hash, and the
    /// ceremony that makes one (init, add-participant, add-authority,
    /// sign, verify-signatures).
    Genesis {
        #[command(subcommand)]
        command: genesis_cli::GenesisCommand,
    },
    /// Hold a key in a process of its own and sign, over a Unix socket
    /// (owner-only), the transactions the CLI sends with `--remote-signer
    /// SOCKET`: the government key stays off the node and out of the
    /// operator's shell. Logs every request it signs or refuses; runs until
    /// stopped.
    Signer {
        /// The key file it signs with.
        #[arg(long)]
        key: PathBuf,
        /// The socket to listen at (a stale socket there is replaced).
        #[arg(long)]
        socket: PathBuf,
        /// Sign only for this chain.
        #[arg(long)]
        chain_id: Option<String>,
        /// Sign only these kinds of act (repeat; default: every kind), e.g.
        /// `--allow propose-resolution --allow sign-resolution`.
        #[arg(long = "allow", value_name = "KIND", value_parser = clap::builder::PossibleValuesParser::new(kp_types::Payload::KINDS))]
        allow: Vec<String>,
    },
    /// Run a node.
    Node {
        /// The node's configuration file.
        #[arg(long)]
        config: PathBuf,
        /// How the log is written on stdout (default: `[node] log_format`
        /// of the configuration, itself `text` unless set).
        #[arg(long, value_enum)]
        log_format: Option<config::LogFormat>,
    },
    // rpc: the one-command local network and the client commands.
    /// Start a local network (4 validators + 1 observer in ./devnet); Ctrl-C stops it.
    Devnet(kp_node::devnet::DevnetArgs),
    /// Print a shell completion script: `kpledger completions bash >
    /// /etc/bash_completion.d/kpledger` (or zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (`kpledger.1` and one per subcommand, such as
    /// `kpledger-cert-verify.1`) into a folder: `kpledger man --out
    /// /usr/local/share/man/man1`.
    Man {
        /// The folder (created if missing); existing pages are replaced.
        #[arg(long)]
        out: PathBuf,
    },
    /// The node's RPC: bearer tokens for its scopes (public,
    /// participant:CODE, operator).
    Rpc {
        #[command(subcommand)]
        command: RpcCommand,
    },
    /// Write the figures the caller's scope may read, for analysts:
    /// `kpledger export statistics --format parquet --from 2026Q1 --to
    /// 2026Q4 --out stats.parquet` (CSV or Parquet; DuckDB and pandas read
    /// both).
    Export {
        #[command(subcommand)]
        command: export::ExportCommand,
    },
    #[command(flatten)]
    Client(kp_client::cli::ClientCommand),
}

#[derive(Subcommand)]
enum RpcCommand {
    /// Bearer tokens: create (printed once), list, revoke.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

/// Which token file: the node's (`--config`) or one named (`--file`).
#[derive(clap::Args)]
struct TokenFileArgs {
    /// The node's configuration; its `[rpc] tokens_file` is used.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The token file itself.
    #[arg(long, conflicts_with = "config")]
    file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue a token and print it (only its hash is kept: it cannot be
    /// shown again). A running node accepts it with the next request.
    Create {
        /// public, participant:CODE (e.g. participant:BW) or operator.
        #[arg(long)]
        scope: String,
        /// A note on whom it is for.
        #[arg(long, default_value = "")]
        label: String,
        /// Instead of a token, give the scope to this TLS client
        /// certificate (PEM), for a node with `[rpc] tls_client_ca` (mTLS).
        #[arg(long, value_name = "PEM")]
        client_cert: Option<PathBuf>,
        #[command(flatten)]
        file: TokenFileArgs,
    },
    /// List the tokens: id, scope, when issued, label.
    List {
        #[command(flatten)]
        file: TokenFileArgs,
    },
    /// Revoke a token by id; a running node refuses it from the next request.
    Revoke {
        /// The token's id (`token list`).
        id: String,
        #[command(flatten)]
        file: TokenFileArgs,
    },
}

fn run_token(command: TokenCommand) -> Result<(), String> {
    use kp_node::rpc_tokens;
    let path = |f: &TokenFileArgs| {
        rpc_tokens::tokens_file(f.config.as_deref(), f.file.as_deref()).map_err(|e| e.to_string())
    };
    match command {
        TokenCommand::Create {
            scope,
            label,
            client_cert,
            file,
        } => {
            let scope: kp_node::rpc_tokens::Scope = scope.parse().map_err(|e| format!("{e}"))?;
            let path = path(&file)?;
            if let Some(certificate) = client_cert {
                let entry = rpc_tokens::register_certificate(&path, &certificate, scope, label)
                    .map_err(|e| e.to_string())?;
                println!(
                    "client certificate {} ({}) has scope {} (written to {})",
                    entry.id,
                    certificate.display(),
                    entry.scope,
                    path.display()
                );
                return Ok(());
            }
            let (token, entry) =
                rpc_tokens::create(&path, scope, label).map_err(|e| e.to_string())?;
            println!("{token}");
            eprintln!(
                "token {} with scope {} written (hashed) to {}; it is shown only now",
                entry.id,
                entry.scope,
                path.display()
            );
            Ok(())
        }
        TokenCommand::List { file } => {
            let path = path(&file)?;
            let tokens = rpc_tokens::list(&path).map_err(|e| e.to_string())?;
            if tokens.is_empty() {
                println!("no tokens in {}", path.display());
            }
            for t in tokens {
                let kind = match t.credential {
                    kp_node::rpc_tokens::Credential::Token => "token",
                    kp_node::rpc_tokens::Credential::ClientCertificate => "client-cert",
                };
                println!(
                    "{}  {:<11} {:<18} {}  {}",
                    t.id,
                    kind,
                    t.scope.to_string(),
                    t.created,
                    t.label
                );
            }
            Ok(())
        }
        TokenCommand::Revoke { id, file } => {
            let path = path(&file)?;
            let entry = rpc_tokens::revoke(&path, &id).map_err(|e| e.to_string())?;
            println!("revoked {} ({})", entry.id, entry.scope);
            Ok(())
        }
    }
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Write a new key (mode 0600) and print its public key, peer id and
    /// X25519 encryption key (a file used as an authority's encryption key
    /// must be a file of its own).
    Generate {
        /// Where to write it; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the public key, peer id and encryption key of a key file.
    Show {
        /// The key file.
        file: PathBuf,
    },
    #[command(flatten)]
    Ledger(kp_client::cli::KeyChangeCommand),
}

/// The commands that talk to a node, by path below `kpledger`: those that
/// take the client options (`--node`, `--json`, ...).
#[derive(Subcommand)]
enum SnapshotCommand {
    /// Write the node's decided chain (blocks and commit certificates, with
    /// a blake3 checksum) to a file. The node must be stopped.
    Export {
        /// The node's config file.
        #[arg(long)]
        config: PathBuf,
        /// The snapshot file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Rebuild the node's store from a snapshot, verifying every block's
    /// commit certificate and every transaction again, into an empty data
    /// directory; a refused snapshot changes nothing. Then start the node:
    /// it syncs the blocks decided since from its peers.
    Import {
        /// The node's config file.
        #[arg(long)]
        config: PathBuf,
        /// The snapshot file.
        #[arg(long = "in", value_name = "FILE")]
        input: PathBuf,
    },
}

fn snapshot(command: SnapshotCommand) -> Result<(), String> {
    let load = |path: &std::path::Path| -> Result<_, String> {
        let config = config::NodeConfig::load(path).map_err(|e| e.to_string())?;
        let genesis = genesis_cli::load_genesis(&config.node.genesis)?;
        Ok((config, genesis))
    };
    // A bar on a terminal; nothing in a pipe or a log.
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] block {pos}/{len} ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let mut progress = |done: u64, all: u64| {
        bar.set_length(all);
        bar.set_position(done);
    };
    let (verb, summary) = match command {
        SnapshotCommand::Export { config, out } => {
            let (config, genesis) = load(&config)?;
            bar.set_message("exporting");
            let summary = kp_node::snapshot::export(&config, &genesis, &out, &mut progress)
                .map_err(|e| e.to_string())?;
            (format!("exported to {}", out.display()), summary)
        }
        SnapshotCommand::Import { config, input } => {
            let (config, genesis) = load(&config)?;
            bar.set_message("verifying and applying");
            let summary = kp_node::snapshot::import(&config, &genesis, &input, &mut progress)
                .map_err(|e| e.to_string())?;
            let verb = format!(
                "imported into {} (every block verified)",
                config.node.data_dir.display()
            );
            (verb, summary)
        }
    };
    bar.finish_and_clear();
    println!(
        "{verb}: chain {} height {} ({} transactions, {} bytes)\nblock {}\nstate root {}",
        summary.header.chain_id,
        summary.header.height,
        summary.txs,
        summary.bytes,
        summary.header.block_hash,
        summary.header.state_root
    );
    Ok(())
}

fn is_client_path(path: &[&str]) -> bool {
    match path {
        ["keys", rest @ ..] => matches!(rest, ["rotate" | "recover" | "cancel-recovery", ..]),
        [first, ..] => !matches!(
            *first,
            "testnet"
                | "genesis"
                | "snapshot"
                | "node"
                | "devnet"
                | "completions"
                | "man"
                | "signer"
                | "rpc"
        ),
        [] => false,
    }
}

/// Gives `args` (global, so that their subcommands have them too) to every
/// client command below `command`, whose path is `path`.
fn with_client_args(mut command: clap::Command, path: &[&str], args: &[Arg]) -> clap::Command {
    let names: Vec<String> = command
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for name in names {
        let mut sub_path = path.to_vec();
        sub_path.push(&name);
        if is_client_path(&sub_path) {
            command = command.mut_subcommand(&name, |sub| {
                args.iter()
                    .fold(sub, |sub, arg| sub.arg(arg.clone().global(true)))
            });
        } else if path.is_empty() {
            // `keys` holds client commands and others.
            command = command.mut_subcommand(&name, |sub| with_client_args(sub, &sub_path, args));
        }
    }
    command
}

/// The command line: the client options (`--node`, `--json`, ...) are
/// shown and taken on the commands that talk to a node, and not on `keys
/// generate|show`, `testnet`, `genesis`, `node`, `devnet`, `completions`,
/// `man`, where they would do nothing. Before the command they are taken
/// too (`kpledger --node URL cert show N`, as the README writes it), and
/// refused by [`run`] ahead of a command that is not a client's.
fn command() -> clap::Command {
    let mut command = <Cli as clap::CommandFactory>::command();
    let client_args: Vec<Arg> =
        <kp_client::cli::Global as clap::Args>::augment_args(clap::Command::new("client"))
            .get_arguments()
            .cloned()
            .collect();
    for arg in &client_args {
        command = command.mut_arg(arg.get_id().clone(), |a| a.global(false));
    }
    with_client_args(command, &[], &client_args)
}

/// The client options given on the command line ahead of the command.
fn client_options_given(matches: &ArgMatches) -> Vec<String> {
    <kp_client::cli::Global as clap::Args>::augment_args(clap::Command::new("client"))
        .get_arguments()
        .filter(|arg| matches.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine))
        .filter_map(|arg| arg.get_long().map(|long| format!("--{long}")))
        .collect()
}

/// `println!` panics when standard output is a closed pipe (`kpledger ... |
/// head`). The reader chose to stop reading: that is no error of ours.
/// Exit as a program stopped by SIGPIPE shows to a shell (status 141),
/// without a message; every other panic keeps the default report.
fn quiet_on_a_closed_pipe() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to std") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        report(info);
    }));
}

fn main() -> ExitCode {
    allocator::configure();
    quiet_on_a_closed_pipe();
    let matches = command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let talks_to_a_node = matches!(
        cli.command,
        Command::Client(_)
            | Command::Export { .. }
            | Command::Keys {
                command: KeysCommand::Ledger(_)
            }
    );
    let given = client_options_given(&matches);
    if !talks_to_a_node && !given.is_empty() {
        eprintln!(
            "error: {} {} to the commands that talk to a node (status, cert, resolution, ...), not to this one",
            given.join(" and "),
            if given.len() == 1 { "applies" } else { "apply" }
        );
        return ExitCode::from(2);
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn print_key(key: &kp_types::SigningKey) -> Result<(), String> {
    let public = key.public();
    let peer = kp_network::peer_id_of(&public).map_err(|e| e.to_string())?;
    println!("public_key = \"{}\"", public.to_hex());
    println!("peer_id = \"{peer}\"");
    // The X25519 key of the same seed, for a file used as an authority's
    // encryption key (ADR 0011; never the file of a signing key).
    let encryption = kp_types::DecryptionKey::from_seed(&key.seed()).public();
    println!("encryption_key = \"{}\"", encryption.to_hex());
    Ok(())
}

/// `kpledger signer`: serves one connection at a time until stopped.
fn run_signer(
    key: &std::path::Path,
    socket: &std::path::Path,
    chain_id: Option<String>,
    allow: Vec<String>,
) -> Result<(), String> {
    use kp_client::remote_signer as signer;
    let secret = keys::read(key).map_err(|e| e.to_string())?;
    let policy = signer::SignerPolicy {
        chain_id,
        allow: (!allow.is_empty()).then(|| allow.into_iter().collect()),
        expiry_ahead_max_ms: signer::EXPIRY_AHEAD_MAX_MS_DEFAULT,
    };
    let listener = signer::bind(socket).map_err(|e| e.to_string())?;
    eprintln!(
        "signer: key {} listening at {} (chain: {}, kinds: {})",
        secret.public().to_hex(),
        socket.display(),
        policy.chain_id.as_deref().unwrap_or("any"),
        policy
            .allow
            .as_ref()
            .map(|a| a.iter().cloned().collect::<Vec<_>>().join(", "))
            .unwrap_or_else(|| "any".into())
    );
    let now = kp_types::time::wall_clock;
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                eprintln!("signer: accept failed: {e}");
                continue;
            }
        };
        let mut log = |line: String| eprintln!("signer: {} {line}", now());
        if let Err(e) = signer::serve_connection(stream, &secret, &policy, &now, &mut log) {
            eprintln!("signer: connection ended: {e}");
        }
    }
    Ok(())
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Keys {
            command: KeysCommand::Generate { out },
        } => {
            let key = keys::generate();
            keys::write(&out, &key).map_err(|e| e.to_string())?;
            print_key(&key)
        }
        Command::Keys {
            command: KeysCommand::Show { file },
        } => {
            let key = keys::read(&file).map_err(|e| e.to_string())?;
            print_key(&key)
        }
        Command::Keys {
            command: KeysCommand::Ledger(command),
        } => match kp_client::cli::run_keys(&cli.client, command) {
            Err(kp_client::cli::CliError::Exit(code)) => std::process::exit(i32::from(code)),
            other => other.map_err(|e| e.to_string()),
        },
        Command::Signer {
            key,
            socket,
            chain_id,
            allow,
        } => run_signer(&key, &socket, chain_id, allow),
        Command::Genesis { command } => genesis_cli::run(command),
        Command::Snapshot { command } => snapshot(command),
        Command::Testnet {
            validators,
            observers,
            out,
            base_port,
            chain_id,
            empty_block_interval_ms,
            plain,
        } => {
            let mut consensus = config::ConsensusSection::default();
            if let Some(ms) = empty_block_interval_ms {
                consensus.empty_block_interval_ms = ms;
            }
            let spec = testnet::TestnetSpec {
                validators,
                observers,
                out: out.clone(),
                base_port,
                chain_id,
                genesis_time: kp_types::time::wall_clock(),
                consensus,
                encryption_keys: !plain,
            };
            let nodes = testnet::generate(&spec).map_err(|e| e.to_string())?;
            println!("wrote {}", out.join("genesis.toml").display());
            for node in nodes {
                println!(
                    "{:<5} {:<15} config {}  rpc http://{}{}",
                    node.code,
                    format!("{:?}", node.kind).to_lowercase(),
                    node.config.display(),
                    node.rpc,
                    node.authority_key
                        .map(|k| format!("  authority key {}", k.display()))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        Command::Completions { shell } => {
            let mut command = command();
            // Into memory first: the crate panics on a failed write, and a
            // closed pipe (`| head`) is no reason to.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "kpledger", &mut script);
            match std::io::Write::write_all(&mut std::io::stdout(), &script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(format!("cannot write the completion script: {e}"))
                }
                _ => Ok(()),
            }
        }
        Command::Man { out } => {
            std::fs::create_dir_all(&out)
                .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
            clap_mangen::generate_to(command(), &out).map_err(|e| {
                format!("cannot write the manual pages into {}: {e}", out.display())
            })?;
            println!("wrote the manual pages into {}", out.display());
            Ok(())
        }
        Command::Rpc {
            command: RpcCommand::Token { command },
        } => run_token(command),
        Command::Node { config, log_format } => {
            state_sync::restore_if_configured(&config)?;
            kp_node::run::run_node_with(&config, log_format).map_err(|e| e.to_string())
        }
        Command::Devnet(args) => kp_node::devnet::run(&args).map_err(|e| e.to_string()),
        Command::Export { command } => {
            let client = kp_client::Client::connect(&cli.client.node, &cli.client.connection())
                .map_err(|e| e.to_string())?;
            match export::run(&client, command) {
                // A usage error, as clap's own: exit status 2.
                Err(e @ export::ExportCliError::Usage(_)) => {
                    eprintln!("error: {e}");
                    std::process::exit(2)
                }
                other => other.map_err(|e| e.to_string()),
            }
        }
        Command::Client(command) => match kp_client::cli::run(&cli.client, command) {
            // The verdict is printed; only the status remains to give.
            Err(kp_client::cli::CliError::Exit(code)) => std::process::exit(i32::from(code)),
            other => other.map_err(|e| e.to_string()),
        },
    }
}
