//! `kpledger export statistics|certificates`: the figures the caller's
//! scope may read from a node, as CSV or Parquet for analysts (DuckDB,
//! pandas). The node decides what the caller sees: a public caller gets
//! the published statistics (totals per half-year) and no certificate
//! search; a Participant's token its own figures in full; the operator's
//! everything. The writers are `kp-export`'s.

use clap::{Args, Subcommand, ValueEnum};
use kp_client::{Client, ClientError};
use kp_export::{Cell, Column, Kind, Table};
use kp_types::{Date, Period};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Periods one statistics export may span (a century of quarters).
const PERIODS_MAX: usize = 400;
/// Certificates one export may hold: a bound on the memory it takes.
const ROWS_MAX: usize = 2_000_000;
/// Pages one certificate search may read before the export gives up.
const PAGES_MAX: usize = 100_000;

/// What to export.
#[derive(Subcommand, Debug)]
pub enum ExportCommand {
    /// Trade statistics: per Participant and period, exports, imports and
    /// production (count, carats, USD), with rows by partner and HS code
    /// where the caller may see them.
    Statistics(ExportArgs),
    /// Certificates issued between two dates (searches need scope
    /// participant:CODE with --participant CODE, or operator).
    Certificates(ExportArgs),
}

/// The options of both exports.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The file format.
    #[arg(long, value_enum)]
    format: Format,
    /// First period (statistics: 2026Q1, 2026H1 or 2026) or first issue
    /// date (certificates: 2026-01-01, or a period meaning its first day).
    #[arg(long)]
    from: String,
    /// Last period (of the same kind as --from) or last issue date,
    /// included.
    #[arg(long)]
    to: String,
    /// Only this Participant (statistics: default every trading one;
    /// certificates: those it exports or imports, which a participant
    /// token must name).
    #[arg(long)]
    participant: Option<String>,
    /// The file to write (replaced only once the export is complete);
    /// default standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Comma-separated values with a header row (RFC 4180).
    Csv,
    /// Apache Parquet (typed columns; amounts DECIMAL(18,2), dates DATE).
    Parquet,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportCliError {
    /// A wrong argument: nothing was read or written.
    #[error("{0}")]
    Usage(String),
    /// The node refused or could not be reached.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The node's answer is not what the API documents.
    #[error("unexpected answer from the node: {0}")]
    Answer(String),
    /// Writing the table failed.
    #[error(transparent)]
    Write(#[from] kp_export::ExportError),
    /// The output file could not be written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

fn usage(message: impl Into<String>) -> ExportCliError {
    ExportCliError::Usage(message.into())
}

/// Runs an export against `client`.
pub fn run(client: &Client, command: ExportCommand) -> Result<(), ExportCliError> {
    let (table, args) = match command {
        ExportCommand::Statistics(args) => {
            let periods = period_range(&args.from, &args.to)?;
            (
                statistics(client, &periods, args.participant.as_deref())?,
                args,
            )
        }
        ExportCommand::Certificates(args) => {
            let (from, to) = date_range(&args.from, &args.to)?;
            (
                certificates(client, from, to, args.participant.as_deref())?,
                args,
            )
        }
    };
    write(&table, args.format, args.out.as_deref())
}

/// The periods from `from` to `to`, both included, of one kind.
pub fn period_range(from: &str, to: &str) -> Result<Vec<Period>, ExportCliError> {
    let parse = |flag: &str, text: &str| -> Result<Period, ExportCliError> {
        text.parse::<Period>()
            .ok()
            .filter(|p| p.is_valid())
            .ok_or_else(|| {
                usage(format!(
                    "{flag} {text:?}: write a quarter 2026Q1, a half-year 2026H1 or a year 2026"
                ))
            })
    };
    let (first, last) = (parse("--from", from)?, parse("--to", to)?);
    if std::mem::discriminant(&first) != std::mem::discriminant(&last) {
        return Err(usage(format!(
            "--from {first} and --to {last} are periods of different lengths; give two quarters, two half-years or two years"
        )));
    }
    let mut periods = vec![first];
    let mut at = first;
    while at != last {
        at = next(at);
        periods.push(at);
        if periods.len() > PERIODS_MAX || !at.is_valid() {
            return Err(usage(format!(
                "--from {first} --to {last}: --to must not be before --from, and the range must hold at most {PERIODS_MAX} periods"
            )));
        }
    }
    Ok(periods)
}

/// The period of the same length just after `p`.
fn next(p: Period) -> Period {
    match p {
        Period::Year(y) => Period::Year(y + 1),
        Period::Half(y, 2) => Period::Half(y + 1, 1),
        Period::Half(y, h) => Period::Half(y, h + 1),
        Period::Quarter(y, 4) => Period::Quarter(y + 1, 1),
        Period::Quarter(y, q) => Period::Quarter(y, q + 1),
    }
}

/// The first and last issue dates: dates, or periods (their first and
/// last days).
pub fn date_range(from: &str, to: &str) -> Result<(Date, Date), ExportCliError> {
    let parse = |flag: &str, text: &str, last: bool| -> Result<Date, ExportCliError> {
        if let Ok(date) = text.parse::<Date>() {
            return Ok(date);
        }
        let bad = || {
            usage(format!(
                "{flag} {text:?}: write a date 2026-01-31 or a period 2026Q1, 2026H1, 2026"
            ))
        };
        let period = text
            .parse::<Period>()
            .ok()
            .filter(|p| p.is_valid())
            .ok_or_else(bad)?;
        let (year, first_month, months) = match period {
            Period::Year(y) => (y, 1, 12),
            Period::Half(y, h) => (y, u32::from(h) * 6 - 5, 6),
            Period::Quarter(y, q) => (y, u32::from(q) * 3 - 2, 3),
        };
        let start = Date::from_ymd(year, first_month, 1).ok_or_else(bad)?;
        if !last {
            return Ok(start);
        }
        let after = if first_month + months > 12 {
            Date::from_ymd(year + 1, 1, 1)
        } else {
            Date::from_ymd(year, first_month + months, 1)
        };
        after.map(|d| Date(d.0 - 1)).ok_or_else(bad)
    };
    let (first, last) = (parse("--from", from, false)?, parse("--to", to, true)?);
    if last < first {
        return Err(usage(format!("--to {last} is before --from {first}")));
    }
    Ok((first, last))
}

/// Attempts at one request the node answered 429 (over this client's
/// rate) or 503 (busy): an export makes one request per Participant and
/// period, which can pass a per-client rate.
const ATTEMPTS_MAX: u32 = 6;

/// `GET path`, waiting and trying again (1, 2, 4, 8, 8 s) while the node
/// says to retry.
fn get(client: &Client, path: &str) -> Result<Value, ExportCliError> {
    let mut wait = std::time::Duration::from_secs(1);
    for attempt in 1..=ATTEMPTS_MAX {
        match client.get(path) {
            Err(ClientError::Api {
                status: 429 | 503, ..
            }) if attempt < ATTEMPTS_MAX => {
                std::thread::sleep(wait);
                wait = (wait * 2).min(std::time::Duration::from_secs(8));
            }
            other => return Ok(other?),
        }
    }
    Err(ExportCliError::Answer(format!(
        "{path}: no answer after {ATTEMPTS_MAX} attempts"
    )))
}

fn columns(spec: &[(&'static str, Kind)]) -> Vec<Column> {
    spec.iter()
        .map(|(name, kind)| Column { name, kind: *kind })
        .collect()
}

fn text(value: &Value) -> Cell {
    match value {
        Value::String(s) => Cell::Text(s.clone()),
        Value::Null => Cell::Null,
        other => Cell::Text(other.to_string()),
    }
}

/// An amount the API writes as `"1234.56"`.
fn amount(value: &Value, what: &str) -> Result<Cell, ExportCliError> {
    match value {
        Value::Null => Ok(Cell::Null),
        Value::String(s) => s
            .parse::<kp_types::Carats>()
            .map(|c| Cell::Amount(c.0))
            .map_err(|e| ExportCliError::Answer(format!("{what}: {e}"))),
        other => Err(ExportCliError::Answer(format!(
            "{what}: {other} is not an amount"
        ))),
    }
}

fn int(value: &Value) -> Cell {
    value.as_i64().map(Cell::Int).unwrap_or(Cell::Null)
}

fn date(value: &Value) -> Cell {
    value
        .as_str()
        .and_then(|s| s.parse::<Date>().ok())
        .map(Cell::Date)
        .unwrap_or(Cell::Null)
}

/// The columns of a statistics export.
pub const STATISTICS_COLUMNS: &[(&str, Kind)] = &[
    ("participant", Kind::Text),
    ("period", Kind::Text),
    ("view", Kind::Text),
    ("flow", Kind::Text),
    ("partner", Kind::Text),
    ("hs_code", Kind::Text),
    ("count", Kind::Int),
    ("carats", Kind::Amount),
    ("value_usd", Kind::Amount),
];

fn statistics(
    client: &Client,
    periods: &[Period],
    participant: Option<&str>,
) -> Result<Table, ExportCliError> {
    let codes: Vec<String> = match participant {
        Some(code) => vec![code.to_string()],
        None => {
            let list = get(client, "/v1/participants")?;
            list["items"]
                .as_array()
                .ok_or_else(|| ExportCliError::Answer("/v1/participants without items".into()))?
                .iter()
                .filter(|m| m["participant"]["kind"] != "observer")
                .filter_map(|m| m["participant"]["code"].as_str().map(str::to_string))
                .collect()
        }
    };
    let mut table = Table::new(columns(STATISTICS_COLUMNS));
    for code in &codes {
        for period in periods {
            let answer = get(client, &format!("/v1/statistics/{code}?period={period}"))?;
            statistics_rows(&mut table, &answer)?;
        }
    }
    Ok(table)
}

/// The rows of one `/v1/statistics/{code}` answer: totals (no partner, no
/// HS code) of each flow, then, in the full view, by partner and by HS code.
pub fn statistics_rows(table: &mut Table, answer: &Value) -> Result<(), ExportCliError> {
    let view = answer["view"].as_str().unwrap_or("full").to_string();
    let participant = text(&answer["participant"]);
    let period = text(&answer["period"]);
    let st = &answer["statistics"];
    let mut row =
        |flow: &str, partner: Cell, hs: Cell, totals: &Value| -> Result<(), ExportCliError> {
            table.rows.push(vec![
                participant.clone(),
                period.clone(),
                Cell::Text(view.clone()),
                Cell::Text(flow.to_string()),
                partner,
                hs,
                int(&totals["count"]),
                amount(&totals["carats"], "carats")?,
                amount(&totals["value_usd"], "value_usd")?,
            ]);
            Ok(())
        };
    for flow in ["exports", "imports", "production"] {
        if st[flow].is_object() {
            row(flow, Cell::Null, Cell::Null, &st[flow])?;
        }
    }
    for (flow, key, by_partner) in [
        ("exports", "exports_by_partner", true),
        ("imports", "imports_by_partner", true),
        ("exports", "exports_by_hs", false),
        ("imports", "imports_by_hs", false),
    ] {
        if let Some(map) = st[key].as_object() {
            for (k, totals) in map {
                let key = Cell::Text(k.clone());
                let (partner, hs) = if by_partner {
                    (key, Cell::Null)
                } else {
                    (Cell::Null, key)
                };
                row(flow, partner, hs, totals)?;
            }
        }
    }
    Ok(())
}

/// The columns of a certificate export.
pub const CERTIFICATE_COLUMNS: &[(&str, Kind)] = &[
    ("number", Kind::Text),
    ("status", Kind::Text),
    ("exporting", Kind::Text),
    ("importing", Kind::Text),
    ("issuing_authority", Kind::Text),
    ("destination", Kind::Text),
    ("origin", Kind::Text),
    ("hs_codes", Kind::Text),
    ("parcels", Kind::Int),
    ("carats", Kind::Amount),
    ("value_usd", Kind::Amount),
    ("issued_on", Kind::Date),
    ("expires_on", Kind::Date),
    ("received_on", Kind::Date),
    ("received_carats", Kind::Amount),
    ("counted", Kind::Text),
    ("enhanced_vigilance", Kind::Text),
    ("parties", Kind::Text),
];

fn certificates(
    client: &Client,
    from: Date,
    to: Date,
    participant: Option<&str>,
) -> Result<Table, ExportCliError> {
    // Quarters covering the dates: the node filters on them, this side on
    // the exact days.
    let mut quarters = vec![Period::quarter_of(from)];
    let last = Period::quarter_of(to);
    while let Some(&at) = quarters.last() {
        if at == last {
            break;
        }
        if quarters.len() >= PERIODS_MAX {
            return Err(usage(format!(
                "--from {from} --to {to} spans more than {PERIODS_MAX} quarters"
            )));
        }
        quarters.push(next(at));
    }
    let sides: Vec<String> = match participant {
        Some(code) => vec![format!("exporting={code}"), format!("importing={code}")],
        None => vec![String::new()],
    };
    let mut found: BTreeMap<String, Value> = BTreeMap::new();
    for quarter in &quarters {
        for side in &sides {
            let mut after: Option<String> = None;
            for _ in 0..PAGES_MAX {
                let mut query = format!("period={quarter}&limit=100");
                if !side.is_empty() {
                    query.push('&');
                    query.push_str(side);
                }
                if let Some(a) = &after {
                    query.push_str(&format!("&after={a}"));
                }
                let page = get(client, &format!("/v1/certificates?{query}"))?;
                for item in page["items"].as_array().into_iter().flatten() {
                    let issued = item["certificate"]["issued_on"]
                        .as_str()
                        .and_then(|s| s.parse::<Date>().ok());
                    if issued.is_some_and(|d| d >= from && d <= to) {
                        if let Some(n) = item["certificate"]["number"].as_str() {
                            found.insert(n.to_string(), item.clone());
                        }
                    }
                }
                if found.len() > ROWS_MAX {
                    return Err(usage(format!(
                        "more than {ROWS_MAX} certificates: export a shorter range"
                    )));
                }
                match page["next"].as_str() {
                    Some(n) if after.as_deref() != Some(n) => after = Some(n.to_string()),
                    _ => break,
                }
            }
        }
    }
    let mut table = Table::new(columns(CERTIFICATE_COLUMNS));
    for record in found.values() {
        table.rows.push(certificate_row(record)?);
    }
    Ok(table)
}

/// One certificate record of the search as a row. Sealed parties stay
/// sealed (`parties` says `sealed`); names in the clear are not exported.
pub fn certificate_row(record: &Value) -> Result<Vec<Cell>, ExportCliError> {
    let c = &record["certificate"];
    let lines = c["lines"].as_array().cloned().unwrap_or_default();
    let (mut carats, mut value, mut parcels) = (0u64, 0u64, 0i64);
    let mut hs: Vec<String> = Vec::new();
    for line in &lines {
        if let Cell::Amount(a) = amount(&line["carats"], "carats")? {
            carats = carats.saturating_add(a);
        }
        if let Cell::Amount(a) = amount(&line["value_usd"], "value_usd")? {
            value = value.saturating_add(a);
        }
        parcels = parcels.saturating_add(line["parcels"].as_i64().unwrap_or(0));
        if let Some(code) = line["hs_code"].as_str() {
            if !hs.iter().any(|h| h == code) {
                hs.push(code.to_string());
            }
        }
    }
    let origin = match &c["origin"] {
        Value::String(s) => s.clone(),
        Value::Object(o) => o
            .get("countries")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(";")
            })
            .unwrap_or_else(|| Value::Object(o.clone()).to_string()),
        other => other.to_string(),
    };
    let parties = match c["parties"].as_object().and_then(|o| o.keys().next()) {
        Some(kind) => kind.clone(),
        None => String::new(),
    };
    let receipt = &record["receipt"];
    Ok(vec![
        text(&c["number"]),
        text(&record["status"]),
        text(&c["exporting"]),
        text(&c["importing"]),
        text(&c["issuing_authority"]),
        text(&c["destination"]),
        Cell::Text(origin),
        Cell::Text(hs.join(";")),
        Cell::Int(parcels),
        Cell::Amount(carats),
        Cell::Amount(value),
        date(&c["issued_on"]),
        date(&c["expires_on"]),
        date(&receipt["received_on"]),
        amount(&receipt["carats"], "receipt carats")?,
        text(&record["counted"]),
        text(&record["enhanced_vigilance"]),
        Cell::Text(parties),
    ])
}

/// Writes `table` to `out` (a temporary file beside it, renamed into
/// place once complete) or to standard output.
fn write(table: &Table, format: Format, out: Option<&Path>) -> Result<(), ExportCliError> {
    let mut bytes = Vec::new();
    match format {
        Format::Csv => kp_export::write_csv(table, &mut bytes)?,
        Format::Parquet => kp_export::write_parquet(table, &mut bytes)?,
    }
    match out {
        None => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&bytes)
                .and_then(|()| stdout.flush())
                .map_err(|source| ExportCliError::File {
                    path: "standard output".into(),
                    source,
                })
        }
        Some(path) => {
            let file_error = |source| ExportCliError::File {
                path: path.display().to_string(),
                source,
            };
            let mut partial = path.as_os_str().to_owned();
            partial.push(".partial");
            let partial = PathBuf::from(partial);
            std::fs::write(&partial, &bytes).map_err(file_error)?;
            std::fs::rename(&partial, path).map_err(|e| {
                let _ = std::fs::remove_file(&partial);
                file_error(e)
            })?;
            eprintln!("wrote {} rows to {}", table.rows.len(), path.display());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_run_from_first_to_last_of_one_kind() {
        let q: Vec<String> = period_range("2025Q3", "2026Q2")
            .unwrap()
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(q, ["2025Q3", "2025Q4", "2026Q1", "2026Q2"]);
        assert_eq!(period_range("2026H1", "2026H1").unwrap().len(), 1);
        for (from, to, says) in [
            ("2026Q1", "2026H2", "different lengths"),
            ("2026Q3", "2026Q1", "must not be before"),
            ("2026Q5", "2026Q1", "--from \"2026Q5\""),
            ("2026", "nonsense", "--to \"nonsense\""),
        ] {
            let e = period_range(from, to).unwrap_err();
            assert!(matches!(e, ExportCliError::Usage(_)));
            assert!(e.to_string().contains(says), "{e}");
        }
    }

    #[test]
    fn dates_or_periods_bound_a_certificate_export() {
        let (a, b) = date_range("2026Q1", "2026H2").unwrap();
        assert_eq!(
            (a.to_string(), b.to_string()),
            ("2026-01-01".into(), "2026-12-31".into())
        );
        let (a, b) = date_range("2026-02-03", "2026Q1").unwrap();
        assert_eq!(
            (a.to_string(), b.to_string()),
            ("2026-02-03".into(), "2026-03-31".into())
        );
        assert!(date_range("2026-02-30", "2026")
            .unwrap_err()
            .to_string()
            .contains("--from"));
        assert!(date_range("2026-05-01", "2026Q1")
            .unwrap_err()
            .to_string()
            .contains("before"));
    }

    #[test]
    fn statistics_rows_keep_totals_partners_and_hs_codes_apart() {
        let full = serde_json::json!({
            "participant": "BW", "period": "2026Q1",
            "statistics": {
                "exports": {"count": 2, "carats": "10.50", "value_usd": "1000.00"},
                "imports": {"count": 0, "carats": "0.00", "value_usd": "0.00"},
                "production": {"count": 0, "carats": "0.00", "value_usd": "0.00"},
                "exports_by_partner": {"EU": {"count": 2, "carats": "10.50", "value_usd": "1000.00"}},
                "exports_by_hs": {"7102.10": {"count": 2, "carats": "10.50", "value_usd": "1000.00"}}
            }
        });
        let mut table = Table::new(columns(STATISTICS_COLUMNS));
        statistics_rows(&mut table, &full).unwrap();
        assert_eq!(table.rows.len(), 5);
        assert_eq!(table.rows[0][3], Cell::Text("exports".into()));
        assert_eq!(table.rows[0][4], Cell::Null);
        assert_eq!(table.rows[0][7], Cell::Amount(1050));
        assert_eq!(table.rows[3][4], Cell::Text("EU".into()));
        assert_eq!(table.rows[4][5], Cell::Text("7102.10".into()));
        let published = serde_json::json!({
            "view": "published", "participant": "BW", "period": "2026H1",
            "statistics": {"exports": {"count": 1, "carats": "1.00", "value_usd": "2.00"}}
        });
        let mut table = Table::new(columns(STATISTICS_COLUMNS));
        statistics_rows(&mut table, &published).unwrap();
        assert_eq!(table.rows.len(), 1);
        assert_eq!(table.rows[0][2], Cell::Text("published".into()));
        let bad = serde_json::json!({"statistics": {"exports": {"carats": "1.234"}}});
        assert!(statistics_rows(&mut table, &bad).is_err());
    }
}
