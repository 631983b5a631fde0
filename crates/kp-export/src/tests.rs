use super::*;

fn sample() -> Table {
    let mut table = Table::new(vec![
        Column {
            name: "participant",
            kind: Kind::Text,
        },
        Column {
            name: "count",
            kind: Kind::Int,
        },
        Column {
            name: "carats",
            kind: Kind::Amount,
        },
        Column {
            name: "issued_on",
            kind: Kind::Date,
        },
    ]);
    let day = "2026-03-31".parse::<Date>().unwrap();
    table.rows.push(vec![
        Cell::Text("BW".into()),
        Cell::Int(3),
        Cell::Amount(123_456),
        Cell::Date(day),
    ]);
    table.rows.push(vec![
        Cell::Text("Gaborone, \"Diamond\" House\r\nline 2".into()),
        Cell::Null,
        Cell::Amount(5),
        Cell::Null,
    ]);
    table
}

#[test]
fn csv_has_a_header_and_quotes_as_rfc_4180_says() {
    let mut out = Vec::new();
    write_csv(&sample(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "participant,count,carats,issued_on\r\n\
         BW,3,1234.56,2026-03-31\r\n\
         \"Gaborone, \"\"Diamond\"\" House\r\nline 2\",,0.05,\r\n"
    );
}

#[test]
fn an_empty_table_is_its_header() {
    let table = Table::new(vec![Column {
        name: "a",
        kind: Kind::Int,
    }]);
    let mut out = Vec::new();
    write_csv(&table, &mut out).unwrap();
    assert_eq!(out, b"a\r\n");
}

#[test]
fn a_table_of_the_wrong_shape_writes_nothing() {
    let mut short = sample();
    short.rows[1].pop();
    let mut wrong_type = sample();
    wrong_type.rows[0][1] = Cell::Text("3".into());
    let mut huge = sample();
    huge.rows[0][2] = Cell::Amount(AMOUNT_MAX + 1);
    for (table, expect) in [
        (short, "3 cells for 4 columns"),
        (wrong_type, "Int column"),
        (huge, "18 digits"),
    ] {
        let mut csv = Vec::new();
        let e = write_csv(&table, &mut csv).unwrap_err().to_string();
        assert!(e.contains(expect), "{e}");
        assert!(csv.is_empty());
        let mut parquet = Vec::new();
        assert!(write_parquet(&table, &mut parquet).is_err());
        assert!(parquet.is_empty(), "nothing written for a bad table");
    }
}

#[test]
fn parquet_reads_back_the_same_typed_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    write_parquet(&sample(), std::fs::File::create(&path).unwrap()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..4], b"PAR1");
    assert_eq!(&bytes[bytes.len() - 4..], b"PAR1");
    let back = read_parquet(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(back, sample());
}

#[test]
fn parquet_splits_many_rows_into_row_groups() {
    let mut table = Table::new(vec![Column {
        name: "n",
        kind: Kind::Int,
    }]);
    let rows = ROW_GROUP_ROWS + 10;
    table.rows = (0..rows as i64).map(|i| vec![Cell::Int(i)]).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.parquet");
    write_parquet(&table, std::fs::File::create(&path).unwrap()).unwrap();
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(reader.metadata().num_row_groups(), 2);
    let back = read_parquet(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(back, table);
}
