//! Verification without trusting the node: the light client a check starts from, `cert verify`, and the verdicts of `--verify` on show commands.

use super::*;

/// What a light client starts from: the genesis the user trusts, the
/// headers verified before, and how fresh an answer must be.
pub(super) struct Trusted {
    pub(super) genesis_hash: kp_types::Hash,
    pub(super) light: crate::light::LightClient,
    pub(super) freshness: crate::Freshness,
}

/// A check that cannot start (unreadable genesis, light store, a pinned
/// header that cannot be fetched or differs) ends as CANNOT DECIDE (exit
/// 3), never with the status of NOT AUTHENTIC.
pub(super) fn cannot_decide(e: CliError) -> CliError {
    match e {
        CliError::Exit(code) => CliError::Exit(code),
        other => {
            eprintln!("CANNOT DECIDE: {other}");
            CliError::Exit(3)
        }
    }
}

pub(super) fn open_light(
    client: &Client,
    genesis: &Path,
    options: &LightArgs,
) -> Result<Trusted, CliError> {
    use crate::light::{LightClient, LightStore, TrustOptions, TrustedState};
    let text = std::fs::read_to_string(genesis)
        .map_err(|e| usage(format!("cannot read {}: {e}", genesis.display())))?;
    let parsed =
        Genesis::from_toml(&text).map_err(|e| usage(format!("{}: {e}", genesis.display())))?;
    let dir = options
        .light_dir
        .clone()
        .unwrap_or_else(LightStore::default_dir);
    let store = LightStore::open(&dir).map_err(|e| usage(format!("light store: {e}")))?;
    let trust = TrustOptions {
        trust_period_ms: options.trust_period_days.saturating_mul(86_400_000),
        ..TrustOptions::default()
    };
    let root = match &options.trust_header {
        None => TrustedState::from_genesis(&parsed),
        Some(pin) => {
            let (height, hash) = pin
                .split_once(':')
                .and_then(|(h, x)| Some((h.parse::<u64>().ok()?, kp_types::Hash::from_hex(x)?)))
                .ok_or_else(|| {
                    usage(format!(
                        "--trust-header {pin:?}: expected HEIGHT:HASH, a height and 64 hex digits"
                    ))
                })?;
            let block = client.light_block(height)?;
            TrustedState::from_pinned(&parsed.chain_id, parsed.hash(), height, hash, &block)
                .map_err(|e| usage(format!("--trust-header {pin}: {e}")))?
        }
    };
    let light = LightClient::new(root, trust, Some(store))
        .map_err(|e| usage(format!("light client: {e}")))?;
    Ok(Trusted {
        genesis_hash: parsed.hash(),
        light,
        freshness: crate::Freshness {
            now: now(),
            max_age_ms: options.max_age.saturating_mul(1000),
        },
    })
}

/// What `cert verify` does beside the verdict, on the proven certificate.
#[derive(Clone, Copy, Default)]
pub(super) struct Extras<'a> {
    /// Check this document against the proven commitment.
    pub document: Option<&'a Document>,
    /// Open the proven sealed fields with this key file.
    pub key: Option<&'a Path>,
    /// Write the opened fields' document here (with `key`).
    pub document_out: Option<&'a Path>,
}

pub(super) fn verify(
    client: &Client,
    out: &Output,
    number: &str,
    genesis: &Path,
    also: &[String],
    options: &LightArgs,
    extras: Extras<'_>,
) -> Result<(), CliError> {
    let document = extras.document;
    use crate::Verdict;
    let number: CertificateNumber = parse("certificate number", number)?;
    let Trusted {
        genesis_hash,
        mut light,
        freshness,
    } = open_light(client, genesis, options).map_err(cannot_decide)?;
    let (mut verdict, anchor) =
        client.check_certificate(&number, &mut light, &genesis_hash, freshness);
    let mut notes = Vec::new();
    if !matches!(verdict, Verdict::CannotDecide { .. }) {
        let mut anchors = vec![(client.base().to_string(), anchor)];
        for url in also.iter().take(16) {
            let other = match client.sibling(url) {
                Ok(c) => c,
                Err(e) => {
                    verdict = Verdict::CannotDecide {
                        reason: format!("cannot ask {url}: {e}"),
                        fork: None,
                    };
                    break;
                }
            };
            let (second, second_anchor) =
                other.check_certificate(&number, &mut light, &genesis_hash, freshness);
            anchors.push((url.clone(), second_anchor));
            verdict = crate::combine(verdict, second, url);
            if matches!(verdict, Verdict::CannotDecide { .. }) {
                break;
            }
        }
        if !matches!(verdict, Verdict::CannotDecide { .. }) && anchors.len() > 1 {
            match crate::compare_at_common_height(client, &anchors, &mut light, freshness.now) {
                Ok(line) => notes.push(line),
                Err(fork) => verdict = fork,
            }
        }
    }
    // The document is checked against the certificate as proven, never
    // against what a node claims: a lying node cannot make it match.
    if let (Some(document), Verdict::Authentic(v)) = (document, &verdict) {
        match document.check(&v.certificate) {
            Ok(line) => notes.push(line),
            Err(reason) => {
                verdict = Verdict::NotAuthentic {
                    reason: format!("DOCUMENT MISMATCH: {reason}"),
                }
            }
        }
    }
    // Sealed fields are opened from the certificate as proven: its issuing
    // authority signed the envelope, so a node cannot swap in names it
    // sealed itself (anyone can encrypt to an authority's public key).
    let opened = match (extras.key, &verdict) {
        (Some(key), crate::Verdict::Authentic(v)) => {
            let opened = super::seal::open(&v.certificate, key)?;
            if let Some(path) = extras.document_out {
                Document::of(&number, &opened).write(path)?;
                notes.push(format!("wrote the document {}", path.display()));
            }
            Some(opened)
        }
        _ => None,
    };
    let value = serde_json::to_value(&verdict).unwrap_or(Value::Null);
    let value = serde_json::json!({
        "number": number,
        "verdict": value,
        "notes": notes,
        "opened": opened.as_ref().map(|o| Document::of(&number, o)),
    });
    out.show(&value, || {
        let mut text = verdict_text(&number, &verdict, &notes);
        if let (Some(o), crate::Verdict::Authentic(v)) = (&opened, &verdict) {
            text.push_str("\n  sealed fields, opened from the proven record:\n");
            text.push_str(&super::seal::describe_opened(
                o,
                v.certificate.parties.sealed().is_some(),
            ));
        }
        text
    });
    match verdict.exit_code() {
        0 => Ok(()),
        code => Err(CliError::Exit(code as u8)),
    }
}

/// `cert verify`'s verdict in words.
pub(super) fn verdict_text(
    number: &CertificateNumber,
    verdict: &crate::Verdict,
    notes: &[String],
) -> String {
    use crate::Verdict;
    let mut text = match verdict {
        Verdict::Authentic(v) => {
            let c = &v.certificate;
            let mut text = format!(
                "Certificate {} is AUTHENTIC, as of height {} (time {}).\n  status: {}\n  {} -> {}, {} ct, USD {}, issued {} by {}, expires {}",
                c.number, v.as_of_height, v.as_of_time, v.status.to_uppercase(),
                c.exporting, c.importing, c.total_carats(), c.total_value(), c.issued_on,
                c.issuing_authority, c.expires_on
            );
            for (event, height) in &v.history {
                text.push_str(&format!("\n  proven: {event} at height {height}"));
            }
            if v.alerts.is_empty() {
                text.push_str("\n  alerts: none");
            }
            for a in &v.alerts {
                text.push_str(&format!("\n  ALERT {}: {}", a.kind, a.detail));
            }
            text.push_str("\n  proven from your genesis by headers, commit certificates and Merkle proofs; no node was trusted");
            text
        }
        Verdict::NotAuthentic { reason } => {
            format!("Certificate {number}: NOT AUTHENTIC: {reason}")
        }
        Verdict::NotFound {
            as_of_height,
            as_of_time,
            seizures,
        } => {
            let mut text = format!(
                "Certificate {number}: NOT FOUND: the ledger proves that no certificate of this number exists, as of height {as_of_height} (time {as_of_time})."
            );
            for s in seizures {
                text.push_str(&format!(
                    "\n  ALERT seizure: a shipment presented under this number was seized in {} at {} on {}",
                    s.report.territory, s.report.location, s.report.seized_on
                ));
            }
            text
        }
        Verdict::CannotDecide { reason, fork } => {
            let mut text = format!("Certificate {number}: CANNOT DECIDE: {reason}");
            if let Some(pair) = fork {
                for (i, b) in [&pair.0, &pair.1].into_iter().enumerate() {
                    text.push_str(&format!(
                        "\n  header {}: height {} hash {} signed by {} validators",
                        i + 1,
                        b.header.height,
                        b.header.hash(),
                        b.commit.signatures.len()
                    ));
                }
            }
            text
        }
    };
    for note in notes {
        text.push_str(&format!("\n  note: {note}"));
    }
    text
}

/// Prints what `participant show --verify` or `resolution show --verify`
/// concluded, and turns it into the exit status.
pub(super) fn show_record_verdict<T: serde::Serialize>(
    out: &Output,
    what: &str,
    verdict: &crate::RecordVerdict<T>,
    describe: impl FnOnce(&T) -> String,
) -> Result<(), CliError> {
    use crate::RecordVerdict;
    let value = serde_json::to_value(verdict).unwrap_or(Value::Null);
    out.show(&value, || match verdict {
        RecordVerdict::Proven(p) => {
            let body = p.value.as_ref().map(describe).unwrap_or_default();
            format!(
                "{what}: PROVEN, as of height {} (time {}); proven from your genesis by headers, commit certificates and Merkle proofs; no node was trusted\n{body}",
                p.as_of_height, p.as_of_time
            )
        }
        RecordVerdict::NotAuthentic { reason } => format!("{what}: NOT AUTHENTIC: {reason}"),
        RecordVerdict::NotFound {
            as_of_height,
            as_of_time,
        } => format!(
            "{what}: NOT FOUND: the ledger proves there is none, as of height {as_of_height} (time {as_of_time})"
        ),
        RecordVerdict::CannotDecide { reason } => format!("{what}: CANNOT DECIDE: {reason}"),
    });
    match verdict.exit_code() {
        0 => Ok(()),
        code => Err(CliError::Exit(code as u8)),
    }
}
