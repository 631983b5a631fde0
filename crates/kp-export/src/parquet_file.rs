//! The Parquet writer: parquet's column writer, one optional column per
//! [`Column`](crate::Column), row groups of [`ROW_GROUP_ROWS`] rows,
//! Snappy pages.

use crate::{Cell, ExportError, Kind, Table, ROW_GROUP_ROWS};
use parquet::basic::{Compression, LogicalType, Repetition, Type as Physical};
use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use std::io::Write;
use std::sync::Arc;

/// The Parquet schema of `table`'s columns.
fn schema(table: &Table) -> Result<Type, ExportError> {
    let mut fields = Vec::with_capacity(table.columns.len());
    for column in &table.columns {
        let builder = match column.kind {
            Kind::Text => Type::primitive_type_builder(column.name, Physical::BYTE_ARRAY)
                .with_logical_type(Some(LogicalType::String)),
            Kind::Int => Type::primitive_type_builder(column.name, Physical::INT64),
            Kind::Amount => Type::primitive_type_builder(column.name, Physical::INT64)
                .with_logical_type(Some(LogicalType::decimal(2, 18)))
                .with_precision(18)
                .with_scale(2),
            Kind::Date => Type::primitive_type_builder(column.name, Physical::INT32)
                .with_logical_type(Some(LogicalType::Date)),
        };
        fields.push(Arc::new(
            builder.with_repetition(Repetition::OPTIONAL).build()?,
        ));
    }
    Ok(Type::group_type_builder("kpledger_export")
        .with_fields(fields)
        .build()?)
}

/// Writes `table` as a Parquet file to `out`.
pub fn write_parquet<W: Write + Send>(table: &Table, out: W) -> Result<(), ExportError> {
    table.check()?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by(format!("kpledger {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut writer =
        SerializedFileWriter::new(out, Arc::new(schema(table)?), Arc::new(properties))?;
    for group in table.rows.chunks(ROW_GROUP_ROWS) {
        let mut row_group = writer.next_row_group()?;
        let mut index = 0;
        while let Some(mut column) = row_group.next_column()? {
            let kind = table.columns.get(index).map(|c| c.kind);
            let cells = group
                .iter()
                .map(|row| row.get(index).unwrap_or(&Cell::Null));
            // Definition level 1: a value; 0: null (every column is optional).
            let levels: Vec<i16> = cells.clone().map(|c| i16::from(*c != Cell::Null)).collect();
            match kind {
                Some(Kind::Text) => {
                    let values: Vec<ByteArray> = cells
                        .filter_map(|c| match c {
                            Cell::Text(t) => Some(ByteArray::from(t.as_str())),
                            _ => None,
                        })
                        .collect();
                    column
                        .typed::<ByteArrayType>()
                        .write_batch(&values, Some(&levels), None)?;
                }
                Some(Kind::Int) => {
                    let values: Vec<i64> = cells
                        .filter_map(|c| match c {
                            Cell::Int(i) => Some(*i),
                            _ => None,
                        })
                        .collect();
                    column
                        .typed::<Int64Type>()
                        .write_batch(&values, Some(&levels), None)?;
                }
                Some(Kind::Amount) => {
                    // check() bounds amounts to 18 digits: they fit an i64.
                    let values: Vec<i64> = cells
                        .filter_map(|c| match c {
                            Cell::Amount(a) => i64::try_from(*a).ok(),
                            _ => None,
                        })
                        .collect();
                    column
                        .typed::<Int64Type>()
                        .write_batch(&values, Some(&levels), None)?;
                }
                Some(Kind::Date) => {
                    let values: Vec<i32> = cells
                        .filter_map(|c| match c {
                            Cell::Date(d) => i32::try_from(d.0).ok(),
                            _ => None,
                        })
                        .collect();
                    column
                        .typed::<Int32Type>()
                        .write_batch(&values, Some(&levels), None)?;
                }
                None => {
                    return Err(ExportError::Shape {
                        row: 0,
                        column: format!("#{index}"),
                        problem: "the writer asked for a column the table lacks".to_string(),
                    })
                }
            }
            column.close()?;
            index += 1;
        }
        row_group.close()?;
    }
    writer.close()?;
    Ok(())
}

/// Reads back a file [`write_parquet`] wrote, with parquet's row reader:
/// the columns (by their Parquet types) and every row. Tests use it to
/// check that what was written is what a Parquet reader sees.
pub fn read_parquet(file: std::fs::File) -> Result<Table, ExportError> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    let reader = SerializedFileReader::new(file)?;
    let descriptor = reader.metadata().file_metadata().schema_descr_ptr();
    let mut columns = Vec::new();
    for column in descriptor.columns() {
        let kind = match (column.physical_type(), column.logical_type_ref()) {
            (Physical::BYTE_ARRAY, _) => Kind::Text,
            (Physical::INT64, Some(LogicalType::Decimal { .. })) => Kind::Amount,
            (Physical::INT64, _) => Kind::Int,
            (Physical::INT32, _) => Kind::Date,
            (other, _) => {
                return Err(ExportError::Shape {
                    row: 0,
                    column: column.name().to_string(),
                    problem: format!("physical type {other} is not one this crate writes"),
                })
            }
        };
        // Column names of our files are the writer's static names; a file
        // from elsewhere gets its names leaked once per read (tests only).
        let name: &'static str = Box::leak(column.name().to_string().into_boxed_str());
        columns.push(crate::Column { name, kind });
    }
    let mut table = Table::new(columns);
    for (r, row) in reader.get_row_iter(None)?.enumerate() {
        let row = row?;
        let mut cells = Vec::new();
        for (name, field) in row.get_column_iter() {
            let cell = match field {
                Field::Null => Cell::Null,
                Field::Str(s) => Cell::Text(s.clone()),
                Field::Long(i) => Cell::Int(*i),
                Field::Decimal(d) => {
                    let mut bytes = [0u8; 8];
                    let data = d.data();
                    let start = 8usize.saturating_sub(data.len());
                    bytes[start..].copy_from_slice(&data[data.len().saturating_sub(8)..]);
                    Cell::Amount(u64::from_be_bytes(bytes))
                }
                Field::Date(days) => Cell::Date(kp_types::Date(u32::try_from(*days).unwrap_or(0))),
                other => {
                    return Err(ExportError::Shape {
                        row: r,
                        column: name.clone(),
                        problem: format!("value {other} is not one this crate writes"),
                    })
                }
            };
            cells.push(cell);
        }
        table.rows.push(cells);
    }
    Ok(table)
}
