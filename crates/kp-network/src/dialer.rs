//! Which peers to (re)dial, and when.
//!
//! Two kinds of entry: bootstrap addresses from the config (kept for the life
//! of the node) and addresses learnt from members' address records (dropped
//! when the member leaves the allowed set). An entry that is not connected is
//! dialed when its delay has elapsed; the delay doubles after every attempt up
//! to a cap, and drops back to the minimum while the peer is connected, so a
//! lost peer is retried quickly and then less and less often.
//!
//! The schedule is plain data driven by `now`; the event loop turns the
//! returned dial options into `Swarm::dial` calls.

use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::{Multiaddr, PeerId};
use std::time::Duration;
use tokio::time::Instant;

/// A peer to keep connected to, and its redial schedule.
#[derive(Debug)]
struct Entry {
    /// One bootstrap address, or the addresses of a member's latest record.
    addresses: Vec<Multiaddr>,
    /// From the address's `/p2p/` suffix, learnt on the first connection, or
    /// the author of the address record.
    peer: Option<PeerId>,
    /// From an address record rather than from the configuration.
    learned: bool,
    next_at: Instant,
    delay: Duration,
}

/// The redial schedule of every known peer.
#[derive(Debug)]
pub(crate) struct Dialer {
    entries: Vec<Entry>,
    delay_min: Duration,
    delay_max: Duration,
}

impl Dialer {
    /// A schedule for the bootstrap addresses, skipping any that name
    /// `local` (a config shared by all nodes lists each node itself).
    pub(crate) fn new(
        local: PeerId,
        bootstrap: &[Multiaddr],
        delay_min: Duration,
        delay_max: Duration,
        now: Instant,
    ) -> Dialer {
        assert!(!delay_min.is_zero() && delay_min <= delay_max);
        let entries = bootstrap
            .iter()
            .filter(|address| peer_of_address(address) != Some(local))
            .map(|address| Entry {
                addresses: vec![address.clone()],
                peer: peer_of_address(address),
                learned: false,
                next_at: now,
                delay: delay_min,
            })
            .collect();
        Dialer {
            entries,
            delay_min,
            delay_max,
        }
    }

    /// We dialed `address` and reached `peer`: bootstrap entries at that
    /// address now know whom they point to.
    pub(crate) fn connected_by_dial(&mut self, peer: PeerId, address: &Multiaddr) {
        let dialed = without_peer(address);
        for entry in &mut self.entries {
            if entry.peer.is_none()
                && entry
                    .addresses
                    .iter()
                    .any(|known| without_peer(known) == dialed)
            {
                entry.peer = Some(peer);
            }
        }
    }

    /// A dial reached ourselves (a bootstrap address without `/p2p/` that is
    /// our own): never dial it again.
    pub(crate) fn reached_self(&mut self, address: &Multiaddr) {
        let reached = without_peer(address);
        self.entries.retain(|entry| {
            entry.learned
                || entry
                    .addresses
                    .iter()
                    .all(|known| without_peer(known) != reached)
        });
    }

    /// A member's current addresses (from its newest record).
    pub(crate) fn learn(&mut self, peer: PeerId, addresses: Vec<Multiaddr>, now: Instant) {
        if addresses.is_empty() {
            return;
        }
        match self
            .entries
            .iter_mut()
            .find(|entry| entry.learned && entry.peer == Some(peer))
        {
            Some(entry) => entry.addresses = addresses,
            None => self.entries.push(Entry {
                addresses,
                peer: Some(peer),
                learned: true,
                next_at: now,
                delay: self.delay_min,
            }),
        }
    }

    /// Drops learnt entries of peers that are no longer members. Bootstrap
    /// entries stay: the allow list refuses them while the peer is out, and
    /// they work again if it comes back.
    pub(crate) fn forget(&mut self, is_member: impl Fn(&PeerId) -> bool) {
        self.entries
            .retain(|entry| !entry.learned || entry.peer.as_ref().is_some_and(&is_member));
    }

    /// Peers that just became members are dialed at the next tick, not after
    /// the backoff they built up while they were refused.
    pub(crate) fn hurry(&mut self, is_new_member: impl Fn(&PeerId) -> bool, now: Instant) {
        for entry in &mut self.entries {
            if entry.peer.as_ref().is_some_and(&is_new_member) {
                entry.next_at = now;
                entry.delay = self.delay_min;
            }
        }
    }

    /// The dials due at `now`, and the schedule advanced past them.
    pub(crate) fn due(
        &mut self,
        now: Instant,
        is_connected: impl Fn(&PeerId) -> bool,
        is_allowed: impl Fn(&PeerId) -> bool,
    ) -> Vec<DialOpts> {
        let mut dials = Vec::new();
        for entry in &mut self.entries {
            if entry.peer.as_ref().is_some_and(&is_connected) {
                entry.delay = self.delay_min;
                entry.next_at = now;
                continue;
            }
            if now < entry.next_at || entry.peer.as_ref().is_some_and(|peer| !is_allowed(peer)) {
                continue;
            }
            dials.push(dial_opts(&entry.addresses, entry.peer));
            entry.next_at = now + entry.delay;
            entry.delay = entry.delay.saturating_mul(2).min(self.delay_max);
        }
        dials
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Dial options that avoid a second connection to a peer we already have or
/// are dialing, when its id is known.
pub(crate) fn dial_opts(addresses: &[Multiaddr], peer: Option<PeerId>) -> DialOpts {
    let peer = peer.or_else(|| addresses.iter().find_map(peer_of_address));
    match peer {
        Some(peer) => DialOpts::peer_id(peer)
            .addresses(addresses.to_vec())
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build(),
        // With no address either, the dial fails with `NoAddresses` (logged);
        // entries are built with at least one address, so this does not occur.
        None => DialOpts::unknown_peer_id()
            .address(addresses.first().cloned().unwrap_or_else(Multiaddr::empty))
            .build(),
    }
}

/// The peer id in a trailing `/p2p/<id>`, if any.
fn peer_of_address(address: &Multiaddr) -> Option<PeerId> {
    match address.iter().last() {
        Some(Protocol::P2p(peer)) => Some(peer),
        _ => None,
    }
}

/// The address without any `/p2p/<id>` component, for comparing addresses.
fn without_peer(address: &Multiaddr) -> Multiaddr {
    address
        .iter()
        .filter(|part| !matches!(part, Protocol::P2p(_)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_millis(800);

    fn address(port: u16) -> Multiaddr {
        format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()
    }

    /// How many dials are due at `now` with nobody connected and everyone allowed.
    fn dials_at(dialer: &mut Dialer, now: Instant) -> usize {
        dialer.due(now, |_| false, |_| true).len()
    }

    #[test]
    fn p2p_suffix_is_found_and_stripped() {
        let peer = PeerId::random();
        let with_peer: Multiaddr = format!("/ip4/127.0.0.1/tcp/4000/p2p/{peer}")
            .parse()
            .unwrap();
        assert_eq!(peer_of_address(&with_peer), Some(peer));
        assert_eq!(without_peer(&with_peer), address(4000));
        assert_eq!(peer_of_address(&address(4000)), None);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let start = Instant::now();
        let mut dialer = Dialer::new(PeerId::random(), &[address(1)], MIN, MAX, start);
        // Attempts at 0, then after 100, 200, 400, 800, 800 ms.
        let mut now = start;
        let mut attempts = Vec::new();
        for _ in 0..2300 / 10 {
            if dials_at(&mut dialer, now) > 0 {
                attempts.push(now.duration_since(start).as_millis());
            }
            now += Duration::from_millis(10);
        }
        assert_eq!(attempts, vec![0, 100, 300, 700, 1500]);
    }

    #[test]
    fn a_connected_peer_is_not_dialed_and_its_backoff_resets() {
        let start = Instant::now();
        let peer = PeerId::random();
        let mut dialer = Dialer::new(PeerId::random(), &[address(1)], MIN, MAX, start);
        assert_eq!(dials_at(&mut dialer, start), 1);
        assert_eq!(dials_at(&mut dialer, start + MIN), 1);
        dialer.connected_by_dial(peer, &address(1));
        let later = start + Duration::from_secs(5);
        assert!(dialer.due(later, |p| *p == peer, |_| true).is_empty());
        // Lost again: dialed at once, then after the minimum delay.
        assert_eq!(dials_at(&mut dialer, later), 1);
        assert_eq!(dials_at(&mut dialer, later + MIN / 2), 0);
        assert_eq!(dials_at(&mut dialer, later + MIN), 1);
    }

    #[test]
    fn peers_outside_the_allowed_set_are_not_dialed() {
        let start = Instant::now();
        let peer = PeerId::random();
        let mut dialer = Dialer::new(PeerId::random(), &[], MIN, MAX, start);
        dialer.learn(peer, vec![address(2)], start);
        assert!(dialer.due(start, |_| false, |p| *p != peer).is_empty());
        assert_eq!(dialer.due(start, |_| false, |_| true).len(), 1);
    }

    #[test]
    fn a_new_member_is_dialed_without_waiting_out_its_backoff() {
        let start = Instant::now();
        let peer = PeerId::random();
        let mut dialer = Dialer::new(PeerId::random(), &[], MIN, MAX, start);
        dialer.learn(peer, vec![address(2)], start);
        let mut now = start;
        for _ in 0..5 {
            dialer.due(now, |_| false, |_| true);
            now += MAX;
        }
        assert_eq!(dials_at(&mut dialer, now), 1);
        assert_eq!(dials_at(&mut dialer, now + MIN), 0);
        dialer.hurry(|p| *p == peer, now + MIN);
        assert_eq!(dials_at(&mut dialer, now + MIN), 1);
    }

    #[test]
    fn our_own_address_is_never_dialed() {
        let start = Instant::now();
        let local = PeerId::random();
        let named: Multiaddr = format!("/ip4/127.0.0.1/tcp/1/p2p/{local}").parse().unwrap();
        let mut dialer = Dialer::new(local, &[named, address(2), address(3)], MIN, MAX, start);
        assert_eq!(dialer.len(), 2);
        // address(2) turns out to be us.
        dialer.reached_self(&address(2));
        assert_eq!(dialer.len(), 1);
        assert_eq!(dials_at(&mut dialer, start), 1);
    }

    #[test]
    fn learned_addresses_are_replaced_and_forgotten() {
        let start = Instant::now();
        let (member, former) = (PeerId::random(), PeerId::random());
        let mut dialer = Dialer::new(PeerId::random(), &[address(1)], MIN, MAX, start);
        dialer.learn(member, vec![address(2)], start);
        dialer.learn(member, vec![address(3)], start);
        dialer.learn(former, vec![address(4)], start);
        dialer.learn(former, Vec::new(), start);
        assert_eq!(dialer.len(), 3);
        dialer.forget(|peer| *peer == member);
        // The bootstrap entry and the member's stay.
        assert_eq!(dialer.len(), 2);
        assert_eq!(dials_at(&mut dialer, start), 2);
    }
}
