//! `kpledger participant` and `stats`: the membership list and trade statistics.

use super::*;

pub(super) fn list(value: &Value) -> String {
    let items: Vec<String> = value.as_array().into_iter().flatten().map(s).collect();
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

pub(super) fn describe_participant(r: &Value) -> String {
    let p = &r["participant"];
    let mut text = format!(
        "{} {} ({})\n  status: {}\n  sanction: {}\n  territories: {}\n  node key: {}",
        s(&p["code"]),
        s(&p["name"]),
        s(&p["kind"]),
        outcome_name(&r["status"]),
        if r["sanction"].is_null() {
            "none".to_string()
        } else {
            r["sanction"]["scope"].to_string()
        },
        list(&p["territories"]),
        s(&p["node_key"])
    );
    for a in r["authorities"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            "\n  authority {} \"{}\" key {}{}",
            s(&a["authority"]["id"]),
            s(&a["authority"]["name"]),
            s(&a["authority"]["key"]),
            if a["revoked_height"].is_null() {
                String::new()
            } else {
                format!(" (revoked at {})", a["revoked_height"])
            }
        ));
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
                        let mut text =
                            describe_participant(&serde_json::to_value(p).unwrap_or(Value::Null));
                        text.push_str("\n  (each authority shown is proven; the ledger cannot prove that the node listed them all)");
                        text
                    })?;
                }
                None => {
                    let r = client.get(&format!("/v1/participants/{code}"))?;
                    out.show(&r, || describe_participant(&r));
                }
            }
        }
        ParticipantCommand::List => {
            let r = client.get("/v1/participants")?;
            out.show(&r, || {
                let mut text = format!(
                    "{:<6} {:<15} {:<10} {:<16} {}",
                    "CODE", "KIND", "STATUS", "SANCTION", "NAME"
                );
                for m in r["items"].as_array().into_iter().flatten() {
                    let p = &m["participant"];
                    let sanction = if m["sanction"].is_null() {
                        "-".to_string()
                    } else {
                        outcome_name(&m["sanction"]["scope"])
                    };
                    text.push_str(&format!(
                        "\n{:<6} {:<15} {:<10} {:<16} {}",
                        s(&p["code"]),
                        s(&p["kind"]),
                        outcome_name(&m["status"]),
                        sanction,
                        s(&p["name"])
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
        None => client.get("/v1/participants")?["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| s(&m["participant"]["kind"]) != "observer")
            .map(|m| s(&m["participant"]["code"]))
            .collect(),
    };
    let mut all = Vec::new();
    for code in codes {
        let path = match &period {
            Some(p) => format!("/v1/statistics/{code}?period={p}"),
            None => format!("/v1/statistics/{code}"),
        };
        all.push(client.get(&path)?);
    }
    let value = Value::Array(all.clone());
    out.show(&value, || {
        let mut text = format!(
            "{:<6} {:<8} {:>6} {:>12} {:>14} {:>6} {:>12} {:>14}",
            "CODE", "PERIOD", "EXP", "EXP CARATS", "EXP USD", "IMP", "IMP CARATS", "IMP USD"
        );
        for a in &all {
            let st = &a["statistics"];
            text.push_str(&format!(
                "\n{:<6} {:<8} {:>6} {:>12} {:>14} {:>6} {:>12} {:>14}",
                s(&a["participant"]),
                s(&a["period"]),
                st["exports"]["count"],
                s(&st["exports"]["carats"]),
                s(&st["exports"]["value_usd"]),
                st["imports"]["count"],
                s(&st["imports"]["carats"]),
                s(&st["imports"]["value_usd"])
            ));
        }
        text
    });
    Ok(())
}
