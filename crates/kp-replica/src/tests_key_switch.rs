//! A validator's consensus key rotated on a running network (ADR 0008):
//! the replica switches to the new key as the node does, in the block of
//! the rotation (when its ledger lists the new key), follows the one height
//! whose set still lists the old key by the decided block its proposer
//! gossips, votes again from the height whose set lists the new key, and
//! no height is signed by both keys.

use super::*;

impl Host {
    /// Switches replica `i` to its next key once its ledger lists that key
    /// as a node key (what the node does after applying a block).
    pub(super) fn switch_if_listed(&mut self, i: usize) {
        let Some((who, next)) = &self.next_key else {
            return;
        };
        if *who != i {
            return;
        }
        if self.replicas[i]
            .ledger()
            .network_members()
            .contains(&next.public())
        {
            let next = next.clone();
            self.replicas[i].set_key(next);
            self.next_key = None;
        }
    }

    /// Hands replica `i` the decided blocks it lacks that replica `from`
    /// holds, as the proposers' block gossip does for a node that is no
    /// validator of a height.
    fn gossip_decided(&mut self, from: usize, i: usize) {
        while self.replicas[i].ledger().height() < self.replicas[from].ledger().height() {
            let height = self.replicas[i].ledger().height() + 1;
            let (block, certificate) = self.decided_block(from, height);
            let synced = self.replicas[i].synced(
                block,
                certificate,
                &VerifiedSignatures::new(),
                clock(self.now),
            );
            assert!(synced.is_ok(), "a genuine decided block: {synced:?}");
            self.drain(i);
            if self.replicas[i].ledger().height() < height {
                // Taken by the core for its own height: it decides it.
                break;
            }
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
    // The network keeps deciding, replica 0 with it, its new key voting.
    let target = switched_at + 6;
    for _ in 0..120 {
        host.run(1_000, |_| false);
        host.gossip_decided(1, 0);
        if host.replicas.iter().all(|r| r.ledger().height() >= target) {
            break;
        }
    }
    assert!(
        host.replicas.iter().all(|r| r.ledger().height() >= target),
        "heights: {:?}",
        host.replicas
            .iter()
            .map(|r| r.ledger().height())
            .collect::<Vec<_>>()
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
    // Its votes count again: a later commit certificate carries the new key.
    assert!(
        (first_new..=target).any(|h| {
            let (_, c) = host.decided_block(1, h);
            c.signatures.iter().any(|s| s.validator == new.public())
        }),
        "no commit certificate carries the new key"
    );
    // Every replica holds the same chain (replica 0 took some blocks from
    // the gossip, which `decided` does not list).
    for i in 0..host.replicas.len() {
        assert_eq!(
            host.decided_block(i, target).0.header.hash(),
            host.decided_block(1, target).0.header.hash(),
            "replica {i} holds another block {target}"
        );
    }
}
