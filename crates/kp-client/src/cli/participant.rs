//! `kpledger participant` and `stats`: the membership list and trade statistics.

use super::*;

/// Items' text, comma-separated; `none` when there are none.
pub(super) fn list<T: serde::Serialize>(items: &[T]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.iter().map(text_of).collect::<Vec<_>>().join(", ")
    }
}

pub(super) fn describe_participant(r: &ParticipantRecord) -> String {
    let p = &r.participant;
    let mut text = format!(
        "{} {} ({})\n  status: {}\n  sanction: {}\n  territories: {}\n  node key (consensus): {}",
        text_of(&p.code),
        p.name,
        text_of(&p.kind),
        variant_name(&r.status),
        match &r.sanction {
            None => "none".to_string(),
            Some(sanction) => json_of(&sanction.scope),
        },
        list(&p.territories),
        text_of(&p.node_key)
    );
    if p.government_key == p.node_key {
        text.push_str(&format!(
            "\n  government key: {} (the node key: no government_key in genesis; `kpledger keys rotate government` separates them)",
            text_of(&p.government_key)
        ));
    } else {
        text.push_str(&format!(
            "\n  government key: {}",
            text_of(&p.government_key)
        ));
    }
    text.push_str(&format!(
        "\n  recovery key: {}",
        match &p.recovery_key {
            None => "none".to_string(),
            Some(key) => text_of(key),
        }
    ));
    if let Some(change) = &r.pending_key_change {
        let what = match change.begun_by {
            kp_types::KeyRole::Recovery => "RECOVERY begun by the recovery key",
            _ => "recovery-key rotation begun by the government key",
        };
        let mut keys = Vec::new();
        if let Some(k) = &change.new_government_key {
            keys.push(format!("government key -> {}", text_of(k)));
        }
        if let Some(k) = &change.new_recovery_key {
            keys.push(format!("recovery key -> {}", text_of(k)));
        }
        let cancel = match change.begun_by {
            kp_types::KeyRole::Recovery => {
                "unless cancelled (`kpledger keys cancel-recovery`: by the recovery key, or by the government key and the node key, one half each)"
            }
            _ => "unless cancelled (`kpledger keys cancel-recovery`: by the government key or the recovery key)",
        };
        text.push_str(&format!(
            "\n  PENDING: {what} at height {}: {}; takes effect at {} {cancel}",
            change.begun_height,
            keys.join(", "),
            text_of(&change.effective_at)
        ));
        if let Some(signed) = change.cancel_signed_by.first() {
            let names: Vec<&str> = change
                .cancel_signed_by
                .iter()
                .map(|role| role.name())
                .collect();
            let missing = match signed {
                kp_types::KeyRole::Consensus => "government",
                _ => "node (consensus)",
            };
            text.push_str(&format!(
                "\n  cancel signed by: {} (half; the {missing} key must sign the other half)",
                names.join(", ")
            ));
        }
    }
    for a in &r.authorities {
        text.push_str(&format!(
            "\n  authority {} \"{}\" key {}{}",
            text_of(&a.authority.id),
            a.authority.name,
            text_of(&a.authority.key),
            match a.revoked_height {
                None => String::new(),
                Some(h) => format!(" (revoked at {h})"),
            }
        ));
        // Oldest first: each key signed the authority's acts up to the
        // block of its rotation, and nothing after.
        for p in &a.previous_keys {
            text.push_str(&format!(
                "
    previous key {} (signed until its rotation at height {})",
                text_of(&p.key),
                p.until_height
            ));
        }
    }
    text
}

pub(super) fn participant(
    client: &Client,
    out: &Output,
    command: ParticipantCommand,
) -> Result<(), CliError> {
    match command {
        ParticipantCommand::Show { code, prove } => {
            let code: ParticipantCode = parse("participant code", &code)?;
            match prove.genesis() {
                Some(genesis) => {
                    let mut t = open_light(client, genesis, &prove.light).map_err(cannot_decide)?;
                    let verdict =
                        client.check_participant(&code, &mut t.light, &t.genesis_hash, t.freshness);
                    show_record_verdict(out, &format!("participant {code}"), &verdict, |p| {
                        let mut text = describe_participant(p);
                        text.push_str(
                            "\n  (the record and the whole list of authorities are proven)",
                        );
                        text
                    })?;
                }
                None => {
                    let r = client.participant(&code)?;
                    out.show(&r, || describe_participant(&r));
                }
            }
        }
        ParticipantCommand::List => {
            let r = client.participants()?;
            out.show(&r, || {
                let mut text = format!(
                    "{:<6} {:<15} {:<10} {:<16} {}",
                    "CODE", "KIND", "STATUS", "SANCTION", "NAME"
                );
                for m in &r.items {
                    let p = &m.participant;
                    let sanction = match &m.sanction {
                        None => "-".to_string(),
                        Some(sanction) => variant_name(&sanction.scope),
                    };
                    text.push_str(&format!(
                        "\n{:<6} {:<15} {:<10} {:<16} {}",
                        text_of(&p.code),
                        text_of(&p.kind),
                        variant_name(&m.status),
                        sanction,
                        p.name
                    ));
                }
                text
            });
        }
    }
    Ok(())
}

pub(super) fn stats(
    client: &Client,
    out: &Output,
    participant: Option<String>,
    period: Option<String>,
) -> Result<(), CliError> {
    let codes: Vec<String> = match participant {
        Some(code) => vec![code],
        None => client
            .participants()?
            .items
            .into_iter()
            .filter(|m| m.participant.kind != ParticipantKind::Observer)
            .map(|m| m.participant.code.to_string())
            .collect(),
    };
    let mut all = Vec::new();
    for code in codes {
        all.push(client.statistics(&code, period.as_deref())?);
    }
    out.show(&all, || {
        let mut text = format!(
            "{:<6} {:<8} {:>6} {:>12} {:>14} {:>6} {:>12} {:>14}",
            "CODE", "PERIOD", "EXP", "EXP CARATS", "EXP USD", "IMP", "IMP CARATS", "IMP USD"
        );
        for a in &all {
            let st = &a.statistics;
            text.push_str(&format!(
                "\n{:<6} {:<8} {:>6} {:>12} {:>14} {:>6} {:>12} {:>14}",
                text_of(&a.participant),
                a.period.to_string(),
                st.exports.count,
                text_of(&st.exports.carats),
                text_of(&st.exports.value_usd),
                st.imports.count,
                text_of(&st.imports.carats),
                text_of(&st.imports.value_usd)
            ));
        }
        text
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kp_api::{MembershipStatus, PendingKeyChange};
    use kp_types::{KeyRole, Participant, ParticipantKind, PublicKey, Timestamp};

    fn record(cancel_signed_by: Vec<KeyRole>) -> ParticipantRecord {
        ParticipantRecord {
            participant: Participant {
                code: "BW".parse().unwrap(),
                kind: ParticipantKind::Government,
                name: "Botswana".into(),
                territories: vec!["BW".parse().unwrap()],
                node_key: PublicKey([7; 32]),
                government_key: PublicKey([6; 32]),
                recovery_key: Some(PublicKey([5; 32])),
            },
            status: MembershipStatus::Active,
            sanction: None,
            authorities: Vec::new(),
            pending_key_change: Some(PendingKeyChange {
                begun_by: KeyRole::Recovery,
                new_government_key: Some(PublicKey([4; 32])),
                new_recovery_key: None,
                begun_height: 5,
                effective_at: Timestamp(6),
                cancel_signed_by,
            }),
            node_key_rotated_at: None,
        }
    }

    #[test]
    fn a_half_signed_cancellation_is_shown_with_the_missing_half() {
        let none = describe_participant(&record(Vec::new()));
        assert!(none.contains("PENDING: RECOVERY"), "{none}");
        assert!(!none.contains("cancel signed by"), "{none}");
        let government = describe_participant(&record(vec![KeyRole::Government]));
        assert!(
            government.contains(
                "cancel signed by: government (half; the node (consensus) key must sign the other half)"
            ),
            "{government}"
        );
        let node = describe_participant(&record(vec![KeyRole::Consensus]));
        assert!(
            node.contains(
                "cancel signed by: consensus (half; the government key must sign the other half)"
            ),
            "{node}"
        );
    }

    #[test]
    fn an_authority_shows_its_key_history() {
        let mut r = record(Vec::new());
        r.authorities.push(kp_api::AuthorityRecord {
            authority: kp_types::Authority {
                id: "BW-KPA".parse().unwrap(),
                participant: "BW".parse().unwrap(),
                name: "Botswana KP Authority".into(),
                key: PublicKey([9; 32]),
                encryption_key: None,
            },
            registered_height: 0,
            revoked_height: None,
            compromised_since: None,
            previous_keys: vec![kp_api::PreviousAuthorityKey {
                key: PublicKey([8; 32]),
                until_height: 12,
            }],
        });
        let text = describe_participant(&r);
        assert!(
            text.contains(&format!("key {}", PublicKey([9; 32]).to_hex())),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "previous key {} (signed until its rotation at height 12)",
                PublicKey([8; 32]).to_hex()
            )),
            "{text}"
        );
    }
}
