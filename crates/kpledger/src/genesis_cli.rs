//! `kpledger genesis`: check a genesis, print its hash, and the ceremony
//! that makes one (`kp_node::ceremony`): init, add-participant,
//! add-authority, sign, verify-signatures.

use clap::Subcommand;
use kp_node::ceremony::{self, NewParticipant};
use kp_types::{Authority, AuthorityId, ParticipantCode, ParticipantKind, Territory, Timestamp};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub(crate) enum GenesisCommand {
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
    /// Start a draft genesis (ceremony step 1, by the coordinator): the
    /// network's identity and default parameters, no member yet.
    Init {
        /// The file to write (refused if it exists).
        #[arg(long)]
        out: PathBuf,
        /// The chain id every transaction and block will name.
        #[arg(long)]
        chain_id: String,
        /// Time of the genesis state (RFC 3339, e.g. 2027-01-01T00:00:00Z).
        #[arg(long)]
        genesis_time: String,
        /// The Chair at genesis (a government code, added later).
        #[arg(long)]
        chair: String,
        /// The Vice Chair at genesis.
        #[arg(long)]
        vice_chair: Option<String>,
    },
    /// Add a member to a draft (ceremony step 2, by each government for
    /// itself): only public keys enter the file.
    AddParticipant {
        /// The draft genesis.
        #[arg(long)]
        genesis: PathBuf,
        /// Its code (BW, EU, TW, WDC).
        #[arg(long)]
        code: String,
        /// Its name.
        #[arg(long)]
        name: String,
        /// government, trading-entity or observer.
        #[arg(long, default_value = "government")]
        kind: String,
        /// A territory (alpha-2) whose codes prefix its certificate numbers
        /// (repeatable; none for an observer).
        #[arg(long = "territory")]
        territories: Vec<String>,
        /// Its node's consensus key: a key file or 64 hex digits.
        #[arg(long)]
        node_key: String,
        /// Its government key (a key file or hex; else the node key). Keep
        /// the file off the node: pass the hex of its public key.
        #[arg(long)]
        government_key: Option<String>,
        /// Its cold recovery key (a key file or hex).
        #[arg(long)]
        recovery_key: Option<String>,
    },
    /// Register a KP Authority of a member already in the draft.
    AddAuthority {
        /// The draft genesis.
        #[arg(long)]
        genesis: PathBuf,
        /// Its id (BW-KPA).
        #[arg(long)]
        id: String,
        /// The member it belongs to.
        #[arg(long)]
        participant: String,
        /// The office's name.
        #[arg(long)]
        name: String,
        /// Its signing key: a key file or 64 hex digits.
        #[arg(long)]
        key: String,
        /// Its encryption key for sealed fields: a key file of its own or
        /// 64 hex digits (see `keys generate`).
        #[arg(long)]
        encryption_key: Option<String>,
    },
    /// Sign the final genesis's hash as a government (ceremony step 3, by
    /// each government with its government key): writes a sign-off file.
    Sign {
        /// The final genesis (it must validate).
        #[arg(long)]
        genesis: PathBuf,
        /// The government that signs.
        #[arg(long)]
        participant: String,
        /// Its government key file.
        #[arg(long)]
        key: PathBuf,
        /// The sign-off file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Check the sign-offs of a genesis: exit status 0 only when every
    /// government signed this very genesis with its government key.
    VerifySignatures {
        /// The genesis.
        #[arg(long)]
        genesis: PathBuf,
        /// Sign-off files (or folders of them).
        signoffs: Vec<PathBuf>,
    },
}

pub(crate) fn load_genesis(file: &Path) -> Result<kp_api::Genesis, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    kp_api::Genesis::from_toml(&text).map_err(|e| format!("{}: {e}", file.display()))
}

fn code(what: &str, text: &str) -> Result<ParticipantCode, String> {
    ParticipantCode::new(&text.to_ascii_uppercase()).map_err(|e| format!("{what} {text:?}: {e}"))
}

fn kind(text: &str) -> Result<ParticipantKind, String> {
    match text {
        "government" => Ok(ParticipantKind::Government),
        "trading-entity" => Ok(ParticipantKind::TradingEntity),
        "observer" => Ok(ParticipantKind::Observer),
        other => Err(format!(
            "--kind {other:?}: one of government, trading-entity, observer"
        )),
    }
}

fn e(err: ceremony::CeremonyError) -> String {
    err.to_string()
}

/// Sign-off files named on the command line, folders expanded (their
/// `*.toml` files, in name order).
fn sign_off_files(args: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for arg in args {
        if arg.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(arg)
                .map_err(|err| format!("cannot read {}: {err}", arg.display()))?
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .take(ceremony::SIGNATURES_MAX)
                .collect();
            inside.sort();
            files.extend(inside);
        } else {
            files.push(arg.clone());
        }
        if files.len() > ceremony::SIGNATURES_MAX {
            return Err(format!(
                "more than {} sign-off files",
                ceremony::SIGNATURES_MAX
            ));
        }
    }
    Ok(files)
}

pub(crate) fn run(command: GenesisCommand) -> Result<(), String> {
    match command {
        GenesisCommand::Validate { file } => validate(&file),
        GenesisCommand::Hash { file } => {
            println!("{}", load_genesis(&file)?.hash());
            Ok(())
        }
        GenesisCommand::Init {
            out,
            chain_id,
            genesis_time,
            chair,
            vice_chair,
        } => {
            if out.exists() {
                return Err(format!("{} exists; not overwritten", out.display()));
            }
            if chain_id.is_empty() || chain_id.len() > 64 {
                return Err("--chain-id: 1 to 64 characters".into());
            }
            let time: Timestamp = genesis_time
                .parse()
                .map_err(|err| format!("--genesis-time {genesis_time:?}: {err}"))?;
            let vice_chair = vice_chair.map(|v| code("--vice-chair", &v)).transpose()?;
            let draft = ceremony::init(&chain_id, time, code("--chair", &chair)?, vice_chair);
            ceremony::write_draft(&out, &draft).map_err(e)?;
            println!(
                "wrote the draft genesis {} (chain {chain_id}); each government now adds itself with `kpledger genesis add-participant --genesis {}`",
                out.display(),
                out.display()
            );
            Ok(())
        }
        GenesisCommand::AddParticipant {
            genesis,
            code: member,
            name,
            kind: kind_text,
            territories,
            node_key,
            government_key,
            recovery_key,
        } => {
            let mut draft = ceremony::read_draft(&genesis).map_err(e)?;
            let territories = territories
                .iter()
                .map(|t| {
                    Territory::new(&t.to_ascii_uppercase())
                        .map_err(|err| format!("--territory {t:?}: {err}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let entry = NewParticipant {
                code: code("--code", &member)?,
                kind: kind(&kind_text)?,
                name,
                territories,
                node_key: ceremony::public_key(&node_key).map_err(e)?,
                government_key: government_key
                    .map(|k| ceremony::public_key(&k))
                    .transpose()
                    .map_err(e)?,
                recovery_key: recovery_key
                    .map(|k| ceremony::public_key(&k))
                    .transpose()
                    .map_err(e)?,
            };
            let added = entry.code.clone();
            ceremony::add_participant(&mut draft, entry).map_err(e)?;
            ceremony::write_draft(&genesis, &draft).map_err(e)?;
            println!(
                "added {added} to {} ({} members)",
                genesis.display(),
                draft.participants.len()
            );
            Ok(())
        }
        GenesisCommand::AddAuthority {
            genesis,
            id,
            participant,
            name,
            key,
            encryption_key,
        } => {
            let mut draft = ceremony::read_draft(&genesis).map_err(e)?;
            let authority = Authority {
                id: AuthorityId::new(&id).map_err(|err| format!("--id {id:?}: {err}"))?,
                participant: code("--participant", &participant)?,
                name,
                key: ceremony::public_key(&key).map_err(e)?,
                encryption_key: encryption_key
                    .map(|k| ceremony::encryption_key(&k))
                    .transpose()
                    .map_err(e)?,
            };
            ceremony::add_authority(&mut draft, authority).map_err(e)?;
            ceremony::write_draft(&genesis, &draft).map_err(e)?;
            println!("added authority {id} to {}", genesis.display());
            Ok(())
        }
        GenesisCommand::Sign {
            genesis,
            participant,
            key,
            out,
        } => {
            let draft = ceremony::read_draft(&genesis).map_err(e)?;
            let key = kp_node::keys::read(&key).map_err(|err| err.to_string())?;
            let signed =
                ceremony::sign(&draft, &code("--participant", &participant)?, &key).map_err(e)?;
            ceremony::write_sign_off(&out, &signed).map_err(e)?;
            println!(
                "{} signed genesis {} (chain {}): {}",
                signed.participant,
                signed.genesis_hash,
                signed.chain_id,
                out.display()
            );
            Ok(())
        }
        GenesisCommand::VerifySignatures { genesis, signoffs } => {
            let draft = ceremony::read_draft(&genesis).map_err(e)?;
            let mut offs = Vec::new();
            let mut unreadable = Vec::new();
            for file in sign_off_files(&signoffs)? {
                match ceremony::read_sign_off(&file) {
                    Ok(s) => offs.push((file.display().to_string(), s)),
                    Err(err) => unreadable.push(err.to_string()),
                }
            }
            let mut tally = ceremony::tally(&draft, &offs).map_err(e)?;
            tally.refused.extend(unreadable);
            println!("genesis {}", tally.genesis_hash);
            let list = |v: &[ParticipantCode]| {
                v.iter()
                    .map(ParticipantCode::as_str)
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            println!("signed ({}): {}", tally.signed.len(), list(&tally.signed));
            println!(
                "missing ({}): {}",
                tally.missing.len(),
                list(&tally.missing)
            );
            for r in &tally.refused {
                println!("refused: {r}");
            }
            if tally.agreed() {
                println!("AGREED: every government signed this genesis");
                Ok(())
            } else {
                Err(
                    "NOT AGREED: a genesis takes effect only when every government has signed it"
                        .into(),
                )
            }
        }
    }
}

fn validate(file: &Path) -> Result<(), String> {
    let genesis = load_genesis(file)?;
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
