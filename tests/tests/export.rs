//! `kpledger export`: from a real network, the statistics and certificates
//! the caller's scope may read, as CSV and Parquet, read back (Parquet
//! with the parquet crate's reader).

use kp_e2e::*;
use kp_export::{Cell, Kind};
use std::path::Path;
use std::time::Duration;

const PROGRESS: Duration = Duration::from_secs(60);

fn export(node: &str, token: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut all = vec!["export"];
    all.extend_from_slice(args);
    if let Some(t) = token {
        all.extend_from_slice(&["--token", t]);
    }
    kpledger_at(node, &all)
}

fn column(table: &kp_export::Table, name: &str) -> usize {
    table
        .columns
        .iter()
        .position(|c| c.name == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

fn read_back(path: &Path) -> kp_export::Table {
    kp_export::read_parquet(std::fs::File::open(path).expect("open parquet"))
        .expect("a parquet file")
}

fn this_quarter_and_half() -> (String, String) {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let today = kp_types::Timestamp(now_ms).date();
    (
        kp_types::Period::quarter_of(today).to_string(),
        kp_types::Period::half_of(today).to_string(),
    )
}

#[test]
fn exports_of_statistics_and_certificates_read_back_as_csv_and_parquet_within_the_callers_scope() {
    let mut cluster = Cluster::generate(4, 0);
    cluster.start_all();
    cluster.wait_for_height(&[0, 1, 2, 3], 1, PROGRESS);
    issue_two_bw_certificates(&cluster);
    let node = format!("http://{}", cluster.nodes[0].rpc);
    let out_dir = tempfile::tempdir().unwrap();
    let (quarter, half) = this_quarter_and_half();

    // The operator (a testnet's anonymous callers): every figure, in full.
    let stats = out_dir.path().join("stats.parquet");
    let out = export(
        &node,
        None,
        &[
            "statistics",
            "--format",
            "parquet",
            "--from",
            &quarter,
            "--to",
            &quarter,
            "--out",
            path_str(&stats),
        ],
    );
    assert!(out.status.success(), "{}", all_output(&out));
    let table = read_back(&stats);
    assert_eq!(table.columns[column(&table, "carats")].kind, Kind::Amount);
    let (p, flow, partner, carats) = (
        column(&table, "participant"),
        column(&table, "flow"),
        column(&table, "partner"),
        column(&table, "carats"),
    );
    let row = |code: &str, f: &str, with: Cell| {
        table
            .rows
            .iter()
            .find(|r| {
                r[p] == Cell::Text(code.into())
                    && r[flow] == Cell::Text(f.into())
                    && r[partner] == with
            })
            .unwrap_or_else(|| panic!("no {code} {f} row: {:?}", table.rows))
            .clone()
    };
    assert_eq!(
        row("BW", "exports", Cell::Null)[carats],
        Cell::Amount(250_400)
    );
    assert_eq!(
        row("BW", "exports", Cell::Text("EU".into()))[carats],
        Cell::Amount(250_400)
    );
    assert_eq!(
        row("EU", "imports", Cell::Text("BW".into()))[carats],
        Cell::Amount(100_000)
    );

    // The same as CSV: a header, then RFC 4180 records.
    let out = export(
        &node,
        None,
        &[
            "statistics",
            "--format",
            "csv",
            "--from",
            &quarter,
            "--to",
            &quarter,
            "--participant",
            "BW",
        ],
    );
    assert!(out.status.success(), "{}", all_output(&out));
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(
        csv.starts_with("participant,period,view,flow,partner,hs_code,count,carats,value_usd\r\n"),
        "{csv}"
    );
    assert!(
        csv.contains(&format!(
            "BW,{quarter},full,exports,,,2,2504.00,5000000.00\r\n"
        )),
        "{csv}"
    );
    assert!(
        csv.contains(&format!(
            "BW,{quarter},full,exports,EU,,2,2504.00,5000000.00\r\n"
        )),
        "{csv}"
    );

    // Certificates, with dates and amounts typed in Parquet.
    let certs = out_dir.path().join("certs.parquet");
    let out = export(
        &node,
        None,
        &[
            "certificates",
            "--format",
            "parquet",
            "--from",
            &half,
            "--to",
            &half,
            "--out",
            path_str(&certs),
        ],
    );
    assert!(out.status.success(), "{}", all_output(&out));
    let table = read_back(&certs);
    assert_eq!(table.rows.len(), 2, "{:?}", table.rows);
    let first = &table.rows[0];
    assert_eq!(
        first[column(&table, "number")],
        Cell::Text("BW2026000001".into())
    );
    assert_eq!(
        first[column(&table, "status")],
        Cell::Text("confirmed".into())
    );
    assert_eq!(first[column(&table, "carats")], Cell::Amount(125_150));
    assert_eq!(
        first[column(&table, "received_carats")],
        Cell::Amount(100_000)
    );
    assert!(matches!(first[column(&table, "issued_on")], Cell::Date(_)));
    assert_eq!(table.rows[1][column(&table, "received_on")], Cell::Null);
    // Names are not exported (here plain; sealed ones stay sealed).
    let bytes = std::fs::read(&certs).unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains("Debswana"));

    // A public token: the published half-year totals, nothing finer; and
    // no certificate search. A refused export writes no file.
    let config = cluster.nodes[0].dir.join("node.toml");
    let public = run_ok(&[
        "rpc",
        "token",
        "create",
        "--scope",
        "public",
        "--config",
        path_str(&config),
    ])
    .trim()
    .to_string();
    let out = export(
        &node,
        Some(&public),
        &[
            "statistics",
            "--format",
            "csv",
            "--from",
            &half,
            "--to",
            &half,
            "--participant",
            "BW",
        ],
    );
    assert!(out.status.success(), "{}", all_output(&out));
    let csv = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        csv,
        format!(
            "participant,period,view,flow,partner,hs_code,count,carats,value_usd\r\n\
             BW,{half},published,exports,,,2,2504.00,5000000.00\r\n\
             BW,{half},published,imports,,,0,0.00,0.00\r\n\
             BW,{half},published,production,,,0,0.00,0.00\r\n"
        )
    );
    let refused_file = out_dir.path().join("refused.csv");
    let out = export(
        &node,
        Some(&public),
        &[
            "statistics",
            "--format",
            "csv",
            "--from",
            &quarter,
            "--to",
            &quarter,
            "--out",
            path_str(&refused_file),
        ],
    );
    assert!(!out.status.success());
    assert!(all_output(&out).contains("403"), "{}", all_output(&out));
    let out = export(
        &node,
        Some(&public),
        &[
            "certificates",
            "--format",
            "csv",
            "--from",
            &half,
            "--to",
            &half,
            "--out",
            path_str(&refused_file),
        ],
    );
    assert!(!out.status.success());
    assert!(
        all_output(&out).contains("participant"),
        "{}",
        all_output(&out)
    );
    assert!(!refused_file.exists(), "a refused export wrote a file");

    // A participant token for the EU: its own certificates (it must name itself).
    let eu = run_ok(&[
        "rpc",
        "token",
        "create",
        "--scope",
        "participant:EU",
        "--config",
        path_str(&config),
    ])
    .trim()
    .to_string();
    let out = export(
        &node,
        Some(&eu),
        &[
            "certificates",
            "--format",
            "csv",
            "--from",
            &half,
            "--to",
            &half,
            "--participant",
            "EU",
        ],
    );
    assert!(out.status.success(), "{}", all_output(&out));
    let csv = String::from_utf8(out.stdout).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");

    // Usage errors: exit status 2, nothing written.
    for args in [
        vec![
            "statistics",
            "--format",
            "csv",
            "--from",
            "2026Q3",
            "--to",
            "2026H2",
        ],
        vec![
            "statistics",
            "--format",
            "csv",
            "--from",
            "2026Q4",
            "--to",
            "2026Q1",
        ],
        vec![
            "certificates",
            "--format",
            "csv",
            "--from",
            "2026-13-01",
            "--to",
            "2026",
        ],
        vec![
            "statistics",
            "--format",
            "xlsx",
            "--from",
            "2026",
            "--to",
            "2026",
        ],
    ] {
        let out = export(&node, None, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", all_output(&out));
        assert!(out.stdout.is_empty());
    }
}
