//! Analyst exports: a [`Table`] of typed columns written as CSV (RFC 4180)
//! or as a Parquet file (ADR 0012), for `kpledger export`.
//!
//! The table is built by the caller (the `kpledger` binary reads it from a
//! node's API, within the caller's scope); this crate only writes it, with
//! no network and no clock. Both formats hold the same values:
//!
//! | [`Kind`] | CSV | Parquet |
//! |---|---|---|
//! | `Text` | the text, quoted when it holds `,`, `"`, CR or LF | `BYTE_ARRAY` annotated `STRING` |
//! | `Int` | decimal digits | `INT64` |
//! | `Amount` | `1234.56` (exact, two decimals) | `INT64` annotated `DECIMAL(18, 2)` |
//! | `Date` | `YYYY-MM-DD` | `INT32` annotated `DATE` |
//!
//! Every column may hold no value ([`Cell::Null`]): an empty CSV field, a
//! Parquet null.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

use kp_types::Date;
use std::io::Write;

mod parquet_file;

pub use parquet_file::{read_parquet, write_parquet};

/// Rows per Parquet row group: a bound on the memory one group's column
/// buffers take, and large enough that DuckDB reads a year's figures in one.
pub const ROW_GROUP_ROWS: usize = 65_536;

/// The type of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// UTF-8 text.
    Text,
    /// A signed 64-bit integer.
    Int,
    /// An exact amount in hundredths (carats, or US dollars in cents),
    /// shown with two decimals.
    Amount,
    /// A calendar date.
    Date,
}

/// One column: its name (the CSV header, the Parquet field) and type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
}

/// One value of a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    /// No value.
    Null,
    /// Text.
    Text(String),
    /// An integer.
    Int(i64),
    /// Hundredths of a unit (carats, dollars).
    Amount(u64),
    /// A date.
    Date(Date),
}

/// Why a table could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A row's length or a cell's type does not match the columns.
    #[error("row {row}, column {column:?}: {problem}")]
    Shape {
        /// The row (0-based).
        row: usize,
        /// The column's name.
        column: String,
        /// What is wrong.
        problem: String,
    },
    /// An amount does not fit the Parquet decimal (18 digits).
    #[error("row {row}, column {column:?}: amount {value} has more than 18 digits")]
    AmountTooLarge {
        /// The row.
        row: usize,
        /// The column.
        column: String,
        /// The hundredths.
        value: u64,
    },
    /// Writing the output failed.
    #[error("writing the export failed: {0}")]
    Io(#[from] std::io::Error),
    /// The Parquet writer failed.
    #[error("writing the Parquet file failed: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
}

/// The largest amount a `DECIMAL(18, 2)` holds, in hundredths.
pub const AMOUNT_MAX: u64 = 999_999_999_999_999_999;

/// Rows of typed columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// The columns, in order.
    pub columns: Vec<Column>,
    /// The rows; each has one cell per column.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// An empty table of `columns`.
    pub fn new(columns: Vec<Column>) -> Table {
        Table {
            columns,
            rows: Vec::new(),
        }
    }

    /// Checks that every row has one cell per column, each of the column's
    /// type (or null), and that amounts fit: done before anything is
    /// written, so a bad table writes nothing.
    pub fn check(&self) -> Result<(), ExportError> {
        for (r, row) in self.rows.iter().enumerate() {
            if row.len() != self.columns.len() {
                return Err(ExportError::Shape {
                    row: r,
                    column: String::new(),
                    problem: format!("{} cells for {} columns", row.len(), self.columns.len()),
                });
            }
            for (cell, column) in row.iter().zip(&self.columns) {
                let fits = matches!(
                    (cell, column.kind),
                    (Cell::Null, _)
                        | (Cell::Text(_), Kind::Text)
                        | (Cell::Int(_), Kind::Int)
                        | (Cell::Amount(_), Kind::Amount)
                        | (Cell::Date(_), Kind::Date)
                );
                if !fits {
                    return Err(ExportError::Shape {
                        row: r,
                        column: column.name.to_string(),
                        problem: format!("{cell:?} in a {:?} column", column.kind),
                    });
                }
                if let Cell::Amount(value) = cell {
                    if *value > AMOUNT_MAX {
                        return Err(ExportError::AmountTooLarge {
                            row: r,
                            column: column.name.to_string(),
                            value: *value,
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// Writes `table` as CSV: a header row of the column names, then one record
/// per row, fields separated by commas and records by CRLF (RFC 4180);
/// a field holding a comma, a double quote, CR or LF is put in double
/// quotes, with its quotes doubled.
pub fn write_csv(table: &Table, out: &mut impl Write) -> Result<(), ExportError> {
    table.check()?;
    let mut line = String::new();
    let header: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    push_record(&mut line, header.iter().map(|h| h.to_string()));
    out.write_all(line.as_bytes())?;
    for row in &table.rows {
        line.clear();
        push_record(&mut line, row.iter().map(csv_text));
        out.write_all(line.as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

fn push_record(line: &mut String, fields: impl Iterator<Item = String>) {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            line.push(',');
        }
        if field.contains([',', '"', '\r', '\n']) {
            line.push('"');
            line.push_str(&field.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(&field);
        }
    }
    line.push_str("\r\n");
}

fn csv_text(cell: &Cell) -> String {
    match cell {
        Cell::Null => String::new(),
        Cell::Text(t) => t.clone(),
        Cell::Int(i) => i.to_string(),
        Cell::Amount(a) => format!("{}.{:02}", a / 100, a % 100),
        Cell::Date(d) => d.to_string(),
    }
}

#[cfg(test)]
mod tests;
