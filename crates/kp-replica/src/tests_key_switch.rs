//! A validator's consensus key rotated on a running network (ADR 0008):
//! the replica switches to the new key when its ledger lists it, the
//! network keeps deciding, and no height is signed by both keys.

use super::*;

impl Host {
    /// Switches replica `i` to its next key once the validator set of the
    /// next height lists it (what the node does after applying a block):
    /// the replica then starts that height with the new key, without a
    /// height in between where it is no validator.
    pub(super) fn switch_if_listed(&mut self, i: usize) {
        let Some((who, next)) = &self.next_key else {
            return;
        };
        if *who != i {
            return;
        }
        if self.replicas[i]
            .ledger()
            .validators()
            .contains(&next.public())
        {
            let next = next.clone();
            self.replicas[i].set_key(next);
            self.next_key = None;
        }
    }
}

#[test]
fn a_rotated_consensus_key_takes_over_and_no_height_is_signed_by_both() {
    let mut host = Host::new(false);
    let code = GOVERNMENTS[0];
    let old = testkit::node_key(code);
    let new = testkit::extra_key("node key 2");
    host.next_key = Some((0, new.clone()));
    // The fixture genesis names no government key: the node key is it.
    let rotation = testkit::sign(
        &old,
        1,
        clock(3_600_000),
        Payload::RotateKey {
            participant: testkit::code(code),
            role: kp_types::KeyRole::Consensus,
            new_key: new.public(),
        },
    );
    let hash = rotation.hash();
    host.replicas[1]
        .submit(rotation, hash, false, clock(0))
        .expect("a valid rotation enters the pool");
    host.drain(1);
    assert!(
        host.run(60_000, |h| h.replicas[0].public() == new.public()),
        "replica 0 never switched: {:?}",
        host.decided[0]
    );
    let switched_at = host.replicas[0].ledger().height();
    // The network keeps deciding, with the new key voting again.
    let target = switched_at + 6;
    assert!(
        host.run(120_000, |h| h
            .replicas
            .iter()
            .all(|r| r.ledger().height() >= target)),
        "heights: {:?}",
        host.decided
    );
    let heights = |key: &PublicKey| -> std::collections::BTreeSet<u64> {
        host.signed
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, h)| *h)
            .collect()
    };
    let by_old = heights(&old.public());
    let by_new = heights(&new.public());
    assert!(
        by_old.intersection(&by_new).next().is_none(),
        "heights signed by both keys: old {by_old:?}, new {by_new:?}"
    );
    let last_old = by_old.last().copied().expect("the old key signed");
    let first_new = by_new.first().copied().expect("the new key signs");
    assert!(
        last_old < first_new,
        "old until {last_old}, new from {first_new}"
    );
    assert!(
        first_new > switched_at,
        "the new key signs only after its switch"
    );
    let top = host.decided.iter().map(|d| d.len()).min().unwrap_or(0);
    let first = &host.decided[0][..top];
    for (i, decided) in host.decided.iter().enumerate() {
        assert_eq!(&decided[..top], first, "replica {i} decided other blocks");
    }
}
