//! The `kpledger` binary.

use clap::{Parser, Subcommand};
use kp_node::{config, keys, testnet};
use std::path::PathBuf;
use std::process::ExitCode;

/// A node frees on one thread much of what another allocated (decoded
/// blocks, store pages); mimalloc handles that without the arena
/// consolidation that glibc malloc spent a third of the sync thread on
/// (ADR 0005; built without transparent huge pages).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "kpledger",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("KPLEDGER_COMMIT"), ")"),
    about = "Kimberley Process certificate ledger"
)]
struct Cli {
    // rpc: --node and --json of the client commands.
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
        /// Register no encryption keys for the authorities: certificates
        /// stay in the clear (ADR 0009; for comparisons with sealed ones).
        #[arg(long)]
        plain: bool,
    },
    /// Genesis files: check one as a node would, print its hash.
    Genesis {
        #[command(subcommand)]
        command: GenesisCommand,
    },
    /// Run a node.
    Node {
        /// The node's configuration file.
        #[arg(long)]
        config: PathBuf,
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
    #[command(flatten)]
    Client(kp_client::cli::ClientCommand),
}

#[derive(Subcommand)]
enum GenesisCommand {
    /// Check a genesis file against every rule a node applies when it
    /// starts; print its chain id, members and hash (exit status 1 if it
    /// fails).
    Validate {
        /// The genesis file.
        file: PathBuf,
    },
    /// Print the hash of a genesis file: what every node of the network must
    /// share, and what a light client trusts.
    Hash {
        /// The genesis file.
        file: PathBuf,
    },
}

fn load_genesis(file: &std::path::Path) -> Result<kp_api::Genesis, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    kp_api::Genesis::from_toml(&text).map_err(|e| format!("{}: {e}", file.display()))
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

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    // encryption key (ADR 0009; never the file of a signing key).
    let encryption = kp_types::DecryptionKey::from_seed(&key.seed()).public();
    println!("encryption_key = \"{}\"", encryption.to_hex());
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
        Command::Genesis {
            command: GenesisCommand::Validate { file },
        } => {
            let genesis = load_genesis(&file)?;
            let count = |kind: kp_types::ParticipantKind| {
                genesis
                    .participants
                    .iter()
                    .filter(|p| p.kind == kind)
                    .count()
            };
            println!(
                "{}: valid
chain {}  governments {}  trading entities {}  observers {}  authorities {}
hash {}",
                file.display(),
                genesis.chain_id,
                count(kp_types::ParticipantKind::Government),
                count(kp_types::ParticipantKind::TradingEntity),
                count(kp_types::ParticipantKind::Observer),
                genesis.authorities.len(),
                genesis.hash()
            );
            // How far the members' keys are apart (ADR 0008): a government
            // key that is the node key is the form of a genesis written
            // before the roles were split.
            let governments: Vec<_> = genesis
                .participants
                .iter()
                .filter(|p| p.kind == kp_types::ParticipantKind::Government)
                .collect();
            let apart = governments
                .iter()
                .filter(|p| p.government_key != p.node_key)
                .count();
            let recovery = governments
                .iter()
                .filter(|p| p.recovery_key.is_some())
                .count();
            println!(
                "government keys apart from node keys: {apart} of {}  recovery keys: {recovery} of {}",
                governments.len(),
                governments.len()
            );
            Ok(())
        }
        Command::Genesis {
            command: GenesisCommand::Hash { file },
        } => {
            println!("{}", load_genesis(&file)?.hash());
            Ok(())
        }
        Command::Testnet {
            validators,
            observers,
            out,
            base_port,
            chain_id,
            plain,
        } => {
            let spec = testnet::TestnetSpec {
                validators,
                observers,
                out: out.clone(),
                base_port,
                chain_id,
                genesis_time: kp_types::time::wall_clock(),
                consensus: config::ConsensusSection::default(),
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
            let mut command = <Cli as clap::CommandFactory>::command();
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
            let command = <Cli as clap::CommandFactory>::command();
            clap_mangen::generate_to(command, &out).map_err(|e| {
                format!("cannot write the manual pages into {}: {e}", out.display())
            })?;
            println!("wrote the manual pages into {}", out.display());
            Ok(())
        }
        Command::Node { config } => kp_node::run::run_node(&config).map_err(|e| e.to_string()),
        Command::Devnet(args) => kp_node::devnet::run(&args).map_err(|e| e.to_string()),
        Command::Client(command) => match kp_client::cli::run(&cli.client, command) {
            // The verdict is printed; only the status remains to give.
            Err(kp_client::cli::CliError::Exit(code)) => std::process::exit(i32::from(code)),
            other => other.map_err(|e| e.to_string()),
        },
    }
}
