//! `Ledger::next_housekeeping_at`: the earliest block time at which a block
//! with no transaction would still change the state, which an idle network
//! waits for instead of making empty blocks.

use kp_ledger::testkit::*;
use kp_types::{Date, Payload, ResolutionAction, ResolutionProposal, Timestamp};

#[test]
fn the_next_time_driven_work_is_the_earliest_deadline_expiry_or_new_year() {
    let mut h = Harness::new();
    let new_year = Timestamp::at_start_of(Date::from_ymd(h.today().year() + 1, 1, 1).unwrap());
    assert_eq!(h.ledger.next_housekeeping_at().unwrap(), Some(new_year));

    // An open certificate expires in the first block dated after its expiry.
    let c = certificate("BW0000001", "BW", "EU", h.today());
    let expires_on = c.expires_on;
    let tx = h.by_authority("BW", Payload::IssueCertificate(c));
    assert_eq!(h.run(tx), Ok(()));
    let expiry = Timestamp::at_start_of(expires_on.plus_days(1));
    assert_eq!(
        h.ledger.next_housekeeping_at().unwrap(),
        Some(expiry.min(new_year))
    );

    // A pending resolution lapses at its deadline.
    let deadline = h.time.plus_ms(3 * 60 * 60 * 1000);
    let tx = h.by_node(
        "BW",
        Payload::ProposeResolution(ResolutionProposal {
            title: "expel CF".into(),
            action: ResolutionAction::Expel {
                participant: code("CF"),
            },
            deadline: Some(deadline),
        }),
    );
    assert_eq!(h.run(tx), Ok(()));
    assert_eq!(h.ledger.next_housekeeping_at().unwrap(), Some(deadline));
}
