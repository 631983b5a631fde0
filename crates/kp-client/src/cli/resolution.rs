//! `kpledger resolution`: propose, sign, object and show resolutions, and the text of their outcomes.

use super::*;

/// The sanction scope the options name; partial exports take their green
/// zones and monitor from their own options.
pub(super) fn scope_of(args: &ScopeArgs) -> Result<SanctionScope, CliError> {
    let text = &args.scope;
    if text == "partial-exports" {
        if args.green_zones.is_empty() {
            return Err(usage(
                "--scope partial-exports needs --green-zones (the origin zones certificates may declare)",
            ));
        }
        return Ok(SanctionScope::PartialExports {
            green_zones: args.green_zones.clone(),
            monitor: args
                .monitor
                .as_ref()
                .map(|m| parse::<ParticipantCode>("participant code", m))
                .transpose()?,
        });
    }
    if !args.green_zones.is_empty() || args.monitor.is_some() {
        return Err(usage(
            "--green-zones and --monitor go with --scope partial-exports only",
        ));
    }
    serde_json::from_value(Value::String(text.clone())).map_err(|_| {
        usage(format!(
            "scope {text:?}: full-suspension, export-ban, import-ban, enhanced-vigilance or partial-exports"
        ))
    })
}

/// The `--origin` rule of a sanction.
pub(super) fn origin_rule_of(args: &ScopeArgs) -> Result<OriginRule, CliError> {
    match args.origin.as_str() {
        "flag" => Ok(OriginRule::Flag),
        "refuse" => Ok(OriginRule::Refuse),
        other => Err(usage(format!("--origin {other:?}: flag or refuse"))),
    }
}

/// Fewest hex digits a resolution id prefix may have. Ids are hashes, so a
/// proposer could grind one that shares a short prefix with another's; at 8
/// digits that takes 2^32 tries per target, and an ambiguous prefix is
/// refused, never guessed.
pub(super) const ID_PREFIX_MIN: usize = 8;

/// A resolution id from its 64 hex digits, or from a unique prefix of at
/// least [`ID_PREFIX_MIN`] digits, as git takes commit ids: the node's
/// resolution list is read from the first id at or above the prefix. A
/// prefix that names none or several is an error listing them; one taken
/// from a prefix is printed in full (on stderr) before anything is signed.
pub(super) fn resolve_id(client: &Client, text: &str) -> Result<Hash, CliError> {
    let text = text.trim().to_ascii_lowercase();
    if let Some(id) = Hash::from_hex(&text) {
        return Ok(id);
    }
    if text.len() < ID_PREFIX_MIN || text.len() > 64 || !text.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(usage(format!(
            "a resolution id is 64 hex digits, or a unique prefix of at least {ID_PREFIX_MIN}"
        )));
    }
    let page = client.resolution_page(&format!(
        "limit=2{}",
        after_for_prefix(&text)
            .map(|after| format!("&after={after}"))
            .unwrap_or_default()
    ))?;
    let matches: Vec<&ResolutionRecord> = page
        .items
        .iter()
        .filter(|r| r.id.to_hex().starts_with(&text))
        .collect();
    match matches.as_slice() {
        [] => Err(usage(format!("no resolution id starts with {text}"))),
        [one] => {
            eprintln!("resolution {}: {}", one.id, one.proposal.title);
            Ok(one.id)
        }
        several => Err(usage(format!(
            "{text} is ambiguous: {} start with it ({}); give more digits",
            several.len(),
            several
                .iter()
                .map(|r| r.id.to_hex())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The `after` cursor from which the ids starting with `prefix` come first
/// in id order: the id just below `prefix` followed by zeros (none when that
/// is the lowest id of all).
fn after_for_prefix(prefix: &str) -> Option<String> {
    let mut digits: Vec<u8> = format!("{prefix:0<64}").into_bytes();
    // Subtract one from the 64-digit hex number.
    for d in digits.iter_mut().rev() {
        if *d == b'0' {
            *d = b'f';
        } else {
            *d = match *d {
                b'a' => b'9',
                other => other - 1,
            };
            return String::from_utf8(digits).ok();
        }
    }
    None
}

/// The ledger's action for the `resolution propose` subcommand.
pub(super) fn resolution_action(action: ActionCommand) -> Result<ResolutionAction, CliError> {
    let code = |t: &str| parse::<ParticipantCode>("participant code", t);
    Ok(match action {
        ActionCommand::ImposeSanction { participant, scope } => ResolutionAction::ImposeSanction {
            participant: code(&participant)?,
            scope: scope_of(&scope)?,
            origin: origin_rule_of(&scope)?,
        },
        ActionCommand::AmendSanction { participant, scope } => ResolutionAction::AmendSanction {
            participant: code(&participant)?,
            scope: scope_of(&scope)?,
            origin: origin_rule_of(&scope)?,
        },
        ActionCommand::LiftSanction { participant } => ResolutionAction::LiftSanction {
            participant: code(&participant)?,
        },
        ActionCommand::Expel { participant } => ResolutionAction::Expel {
            participant: code(&participant)?,
        },
        ActionCommand::Readmit { participant } => ResolutionAction::Readmit {
            participant: code(&participant)?,
        },
        ActionCommand::ElectViceChair { participant } => ResolutionAction::ElectViceChair {
            participant: code(&participant)?,
        },
        ActionCommand::Json { action } => serde_json::from_str(&action)
            .map_err(|e| usage(format!("resolution action JSON: {e}")))?,
    })
}

pub(super) fn resolution(
    client: &Client,
    out: &Output,
    command: ResolutionCommand,
) -> Result<(), CliError> {
    match command {
        ResolutionCommand::Propose {
            signer,
            title,
            action,
        } => {
            let key = signer.load()?;
            let action = resolution_action(action)?;
            let proposal = ResolutionProposal {
                title,
                action,
                deadline: None,
            };
            let answer = send(
                client,
                out,
                &signer,
                &key,
                Payload::ProposeResolution(proposal),
            )?;
            if !out.json {
                println!("resolution id {}", answer.hash);
            }
        }
        ResolutionCommand::Sign { signer, id } => {
            let key = signer.load()?;
            let resolution = resolve_id(client, &id)?;
            send(
                client,
                out,
                &signer,
                &key,
                Payload::SignResolution { resolution },
            )?;
            show_resolution(client, out, &resolution)?;
        }
        ResolutionCommand::Object { signer, id, reason } => {
            let key = signer.load()?;
            let resolution = resolve_id(client, &id)?;
            send(
                client,
                out,
                &signer,
                &key,
                Payload::ObjectResolution { resolution, reason },
            )?;
        }
        ResolutionCommand::Show { id, prove } => {
            let id = resolve_id(client, &id)?;
            match prove.genesis() {
                Some(genesis) => {
                    let mut t = open_light(client, genesis, &prove.light).map_err(cannot_decide)?;
                    let verdict =
                        client.check_resolution(&id, &mut t.light, &t.genesis_hash, t.freshness);
                    show_record_verdict(out, &format!("resolution {id}"), &verdict, |r| {
                        describe_resolution(r)
                    })?;
                }
                None => show_resolution(client, out, &id)?,
            }
        }
        ResolutionCommand::List { pending } => {
            let resolutions = client.resolution_page(&format!("limit=100&pending={pending}"))?;
            out.show(&resolutions, || {
                let mut text = String::from("ID                                                                OUTCOME    TITLE");
                for r in &resolutions.items {
                    text.push_str(&format!(
                        "\n{} {:<10} {}",
                        r.id,
                        variant_name(&r.outcome),
                        r.proposal.title
                    ));
                }
                text
            });
        }
    }
    Ok(())
}

/// The name of an enum's variant as the node writes it: `active`,
/// `expelled`, `export-ban`, `adopted`.
pub(super) fn variant_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value).unwrap_or(Value::Null) {
        Value::String(text) => text,
        Value::Object(map) => map.keys().next().cloned().unwrap_or_default(),
        other => other.to_string(),
    }
}

/// `pending`, `adopted at height 31`, `rejected at height 9 by IN: reason`.
pub(super) fn describe_outcome(outcome: &ResolutionOutcome) -> String {
    let kind = variant_name(outcome);
    match outcome {
        ResolutionOutcome::Pending => kind,
        ResolutionOutcome::Adopted { height } | ResolutionOutcome::Lapsed { height } => {
            format!("{kind} at height {height}")
        }
        ResolutionOutcome::Failed { height, reason } => {
            format!("{kind} at height {height}: {}", text_of(reason))
        }
        ResolutionOutcome::Rejected { height, by, reason } => {
            format!("{kind} at height {height} by {by}: {reason}")
        }
    }
}

pub(super) fn show_resolution(client: &Client, out: &Output, id: &Hash) -> Result<(), CliError> {
    let r = client.resolution(id)?;
    out.show(&r, || describe_resolution(&r));
    Ok(())
}

pub(super) fn describe_resolution(r: &ResolutionRecord) -> String {
    format!(
        "resolution {}\n  title: {}\n  action: {}\n  proposed by {} at height {}, deadline {}\n  signed by: {}\n  missing: {}\n  outcome: {}",
        r.id, r.proposal.title, json_of(&r.proposal.action), r.proposer,
        r.proposed_height, text_of(&r.deadline), list(&r.signed_by), list(&r.missing),
        describe_outcome(&r.outcome)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Propose {
        #[command(subcommand)]
        action: ActionCommand,
    }

    fn action(args: &[&str]) -> Result<ResolutionAction, CliError> {
        let parsed =
            Propose::try_parse_from(std::iter::once("propose").chain(args.iter().copied()))
                .map_err(|e| usage(e.to_string()))?;
        resolution_action(parsed.action)
    }

    #[test]
    fn each_subcommand_is_one_ledger_action() {
        let cf: ParticipantCode = "CF".parse().unwrap();
        assert_eq!(
            action(&["expel", "CF"]).unwrap(),
            ResolutionAction::Expel {
                participant: cf.clone()
            }
        );
        // Codes are taken in any case.
        assert_eq!(
            action(&["readmit", " cf "]).unwrap(),
            ResolutionAction::Readmit {
                participant: cf.clone()
            }
        );
        assert_eq!(
            action(&["json", r#"{"expel":{"participant":"CF"}}"#]).unwrap(),
            ResolutionAction::Expel {
                participant: cf.clone()
            }
        );
        let partial = action(&[
            "impose-sanction",
            "CF",
            "--scope",
            "partial-exports",
            "--green-zones",
            "Zone-A,Zone-B",
            "--monitor",
            "eu",
        ])
        .unwrap();
        assert_eq!(
            partial,
            ResolutionAction::ImposeSanction {
                participant: cf,
                origin: Default::default(),
                scope: SanctionScope::PartialExports {
                    green_zones: vec!["Zone-A".into(), "Zone-B".into()],
                    monitor: Some("EU".parse().unwrap()),
                },
            }
        );
    }

    #[test]
    fn a_sanction_takes_its_origin_rule() {
        let cf: ParticipantCode = "CF".parse().unwrap();
        let refuse = action(&[
            "impose-sanction",
            "CF",
            "--scope",
            "full-suspension",
            "--origin",
            "refuse",
        ])
        .unwrap();
        assert_eq!(
            refuse,
            ResolutionAction::ImposeSanction {
                participant: cf.clone(),
                scope: SanctionScope::FullSuspension,
                origin: OriginRule::Refuse,
            }
        );
        let amend = action(&["amend-sanction", "CF", "--scope", "export-ban"]).unwrap();
        assert_eq!(
            amend,
            ResolutionAction::AmendSanction {
                participant: cf,
                scope: SanctionScope::ExportBan,
                origin: OriginRule::Flag,
            }
        );
        let err = action(&[
            "impose-sanction",
            "CF",
            "--scope",
            "export-ban",
            "--origin",
            "ignore",
        ])
        .unwrap_err();
        // Refused by the parser, which lists the values.
        assert!(
            err.to_string().contains("[possible values: flag, refuse]"),
            "{err}"
        );
    }

    #[test]
    fn the_cursor_before_a_prefix_is_one_below_its_first_id() {
        assert_eq!(after_for_prefix(&"0".repeat(8)), None);
        assert_eq!(
            after_for_prefix("0000000a").unwrap(),
            format!("00000009{}", "f".repeat(56))
        );
        assert_eq!(
            after_for_prefix("ab000000").unwrap(),
            format!("aaffffff{}", "f".repeat(56))
        );
        assert_eq!(
            after_for_prefix("10000000").unwrap(),
            format!("0{}", "f".repeat(63))
        );
    }

    #[test]
    fn a_malformed_action_is_a_usage_error() {
        for args in [
            &["impose-sanction", "CF"][..],
            &["impose-sanction", "CF", "--scope", "partial-exports"],
            &["lift-sanction", "CF", "--scope", "export-ban"],
            &["expel", "cf!"],
            &["json", "{"],
            &[],
        ] {
            assert!(action(args).is_err(), "{args:?}");
        }
    }
}
