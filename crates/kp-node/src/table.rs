//! The table of KP Participants shipped with kpledger (`data/kp-participants.tsv`):
//! code, kind, name and territories of the 60 Participants (the EU counted once),
//! the trading entity of Chinese Taipei and the observers.

use kp_types::{ParticipantCode, ParticipantKind, Territory};

const TABLE: &str = include_str!("../../../data/kp-participants.tsv");

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Code.
    pub code: ParticipantCode,
    /// Kind.
    pub kind: ParticipantKind,
    /// Name.
    pub name: String,
    /// Territories (empty for observers).
    pub territories: Vec<Territory>,
}

/// Every row, in file order (the first four governments make a realistic
/// small network: BW, EU, AE, IN).
pub fn rows() -> Vec<Row> {
    TABLE
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .skip(1) // header
        .filter_map(parse_row)
        .collect()
}

fn parse_row(line: &str) -> Option<Row> {
    let mut cols = line.split('\t');
    let code = ParticipantCode::new(cols.next()?.trim()).ok()?;
    let kind = match cols.next()?.trim() {
        "government" => ParticipantKind::Government,
        "trading-entity" => ParticipantKind::TradingEntity,
        "observer" => ParticipantKind::Observer,
        _ => return None,
    };
    let name = cols.next()?.trim().to_string();
    let territories = cols
        .next()
        .unwrap_or("")
        .split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|t| Territory::new(t.trim()).ok())
        .collect::<Option<Vec<_>>>()?;
    Some(Row {
        code,
        kind,
        name,
        territories,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_the_whole_scheme() {
        let rows = rows();
        let governments = rows
            .iter()
            .filter(|r| r.kind == ParticipantKind::Government)
            .count();
        assert_eq!(governments, 60);
        assert_eq!(rows[0].code.as_str(), "BW");
        let eu = rows.iter().find(|r| r.code.as_str() == "EU").unwrap();
        assert_eq!(eu.territories.len(), 27);
        assert!(rows
            .iter()
            .any(|r| r.kind == ParticipantKind::TradingEntity && r.code.as_str() == "TW"));
        assert_eq!(
            rows.iter()
                .filter(|r| r.kind == ParticipantKind::Observer)
                .count(),
            3
        );
    }
}
