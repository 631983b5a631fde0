//! Address records: how members find each other beyond their bootstrap list.
//!
//! Every node gossips, on an internal topic `kpledger/<chain_id>/peers`, a
//! small record of the addresses it can be dialed at. Gossipsub signs it with
//! the node key, and the event loop accepts it only from an allowed author, so
//! a record binds a member's peer id to its addresses. A node that learns a
//! record of a member it is not connected to dials that member (with the
//! member's peer id, so noise refuses anyone else answering at the address).
//!
//! A node announces when it connects to a new peer (so a newcomer is found by
//! everyone within one gossip round) and then periodically. The record carries
//! a sequence number that increases with each announcement, so a replayed old
//! record does not overwrite a newer one, and two announcements never share a
//! gossip message id (which would make the second a suppressed duplicate).
//!
//! Wire format (big-endian): version `u8` = 1, sequence `u64`, count `u8`
//! (at most [`ADDRESSES_MAX`]), then per address a `u16` length (at most
//! [`ADDRESS_BYTES_MAX`]) and the multiaddr bytes. Nothing may follow. The
//! largest record fits the smallest allowed gossip payload.

use crate::config::MESSAGE_BYTES_MIN;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// Least time between two announcements, however many peers connect: a
/// network-wide restart must not turn into a storm of records.
const ANNOUNCE_GAP_MIN: Duration = Duration::from_secs(1);

/// Most addresses in one record.
pub const ADDRESSES_MAX: usize = 4;
/// Longest encoded address.
pub const ADDRESS_BYTES_MAX: usize = 200;
const VERSION: u8 = 1;
const HEADER_BYTES: usize = 1 + 8 + 1;
/// Size of the largest valid record.
pub const RECORD_BYTES_MAX: usize = HEADER_BYTES + ADDRESSES_MAX * (2 + ADDRESS_BYTES_MAX);
const _: () = assert!(RECORD_BYTES_MAX <= MESSAGE_BYTES_MIN);

/// Where a member can be dialed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressRecord {
    /// Increases with every announcement of the same node.
    pub sequence: u64,
    /// At most [`ADDRESSES_MAX`] addresses.
    pub addresses: Vec<Multiaddr>,
}

impl AddressRecord {
    /// A record of the first addresses that fit the bounds (longer ones are
    /// skipped, extra ones dropped).
    pub fn new(sequence: u64, addresses: &[Multiaddr]) -> AddressRecord {
        let addresses = addresses
            .iter()
            .filter(|address| address.len() <= ADDRESS_BYTES_MAX)
            .take(ADDRESSES_MAX)
            .cloned()
            .collect();
        AddressRecord {
            sequence,
            addresses,
        }
    }

    /// The wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        assert!(
            self.addresses.len() <= ADDRESSES_MAX,
            "record over its bound"
        );
        let mut out = Vec::with_capacity(RECORD_BYTES_MAX);
        out.push(VERSION);
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.push(self.addresses.len() as u8);
        for address in &self.addresses {
            let bytes = address.to_vec();
            assert!(bytes.len() <= ADDRESS_BYTES_MAX, "address over its bound");
            out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
            out.extend_from_slice(&bytes);
        }
        assert!(out.len() <= RECORD_BYTES_MAX);
        out
    }

    /// Parses wire bytes; `None` for anything malformed, over a bound, or
    /// followed by trailing bytes.
    pub fn decode(bytes: &[u8]) -> Option<AddressRecord> {
        if bytes.len() > RECORD_BYTES_MAX {
            return None;
        }
        let (&version, rest) = bytes.split_first()?;
        if version != VERSION {
            return None;
        }
        let (sequence, rest) = rest.split_at_checked(8)?;
        let sequence = u64::from_be_bytes(sequence.try_into().ok()?);
        let (&count, mut rest) = rest.split_first()?;
        if usize::from(count) > ADDRESSES_MAX {
            return None;
        }
        let mut addresses = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let (length, after) = rest.split_at_checked(2)?;
            let length = usize::from(u16::from_be_bytes(length.try_into().ok()?));
            if length > ADDRESS_BYTES_MAX {
                return None;
            }
            let (address, after) = after.split_at_checked(length)?;
            addresses.push(Multiaddr::try_from(address.to_vec()).ok()?);
            rest = after;
        }
        if !rest.is_empty() {
            return None;
        }
        Some(AddressRecord {
            sequence,
            addresses,
        })
    }
}

/// Announcement schedule and the newest record sequence seen per member.
#[derive(Debug)]
pub(crate) struct Discovery {
    interval: Duration,
    /// Addresses to announce instead of the listen addresses (behind NAT, or
    /// when listening on an address others cannot reach).
    external: Vec<Multiaddr>,
    next_at: Instant,
    last_at: Option<Instant>,
    /// Set when a peer connects: announce at the next opportunity.
    pub(crate) due: bool,
    sequence: u64,
    /// Keys are allowed authors only (the event loop checks before calling),
    /// and former members are forgotten, so this is bounded by the allowed set.
    seen: BTreeMap<PeerId, u64>,
}

impl Discovery {
    pub(crate) fn new(interval: Duration, external: Vec<Multiaddr>, now: Instant) -> Discovery {
        Discovery {
            interval,
            external,
            next_at: now,
            last_at: None,
            due: true,
            sequence: sequence_start(),
            seen: BTreeMap::new(),
        }
    }

    pub(crate) fn wants_to_announce(&self, now: Instant) -> bool {
        let gap = ANNOUNCE_GAP_MIN.min(self.interval);
        let rested = self
            .last_at
            .is_none_or(|last| now.saturating_duration_since(last) >= gap);
        rested && (self.due || now >= self.next_at)
    }

    /// The record to announce: the external addresses if configured, else
    /// the listen addresses with loopback ones last (a node listening on
    /// 0.0.0.0 reports one address per interface, and only 4 fit).
    pub(crate) fn record(&self, listen_addrs: &[Multiaddr]) -> AddressRecord {
        if !self.external.is_empty() {
            return AddressRecord::new(self.sequence, &self.external);
        }
        let mut addresses = listen_addrs.to_vec();
        addresses.sort_by_key(is_loopback);
        AddressRecord::new(self.sequence, &addresses)
    }

    pub(crate) fn announced(&mut self, now: Instant) {
        self.sequence = self.sequence.saturating_add(1);
        self.due = false;
        self.last_at = Some(now);
        self.next_at = now + self.interval;
    }

    /// Whether `sequence` is newer than the last record seen from `author`;
    /// if so it becomes the last one.
    pub(crate) fn is_newer(&mut self, author: PeerId, sequence: u64) -> bool {
        match self.seen.get(&author) {
            Some(seen) if *seen >= sequence => false,
            _ => {
                self.seen.insert(author, sequence);
                true
            }
        }
    }

    pub(crate) fn forget(&mut self, gone: impl Fn(&PeerId) -> bool) {
        self.seen.retain(|peer, _| !gone(peer));
    }
}

fn is_loopback(address: &Multiaddr) -> bool {
    address.iter().any(|part| match part {
        Protocol::Ip4(ip) => ip.is_loopback(),
        Protocol::Ip6(ip) => ip.is_loopback(),
        _ => false,
    })
}

/// Milliseconds since the epoch: a restarted node's records then outrank the
/// ones it sent before the restart (which peers may still remember).
fn sequence_start() -> u64 {
    kp_types::time::wall_clock().0.min(u64::MAX / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(port: u16) -> Multiaddr {
        format!("/ip4/10.0.0.1/tcp/{port}").parse().unwrap()
    }

    #[test]
    fn announces_when_due_then_rests() {
        let start = Instant::now();
        let mut discovery = Discovery::new(Duration::from_secs(30), Vec::new(), start);
        assert!(discovery.wants_to_announce(start));
        let first = discovery.record(&[address(1)]);
        discovery.announced(start);
        assert!(!discovery.wants_to_announce(start));
        // A peer connects: due, but not before the minimum gap.
        discovery.due = true;
        assert!(!discovery.wants_to_announce(start + Duration::from_millis(10)));
        assert!(discovery.wants_to_announce(start + ANNOUNCE_GAP_MIN));
        discovery.announced(start + ANNOUNCE_GAP_MIN);
        let second = discovery.record(&[address(1)]);
        assert!(second.sequence > first.sequence);
        // Periodic announcement.
        assert!(!discovery.wants_to_announce(start + Duration::from_secs(30)));
        assert!(discovery.wants_to_announce(start + Duration::from_secs(32)));
    }

    #[test]
    fn loopback_addresses_are_announced_last() {
        let discovery = Discovery::new(Duration::from_secs(1), Vec::new(), Instant::now());
        let loopback: Multiaddr = "/ip4/127.0.0.1/tcp/7".parse().unwrap();
        let listen = [
            loopback.clone(),
            address(1),
            address(2),
            address(3),
            address(4),
        ];
        let record = discovery.record(&listen);
        assert_eq!(record.addresses, listen[1..].to_vec());
        assert_eq!(
            discovery.record(std::slice::from_ref(&loopback)).addresses,
            vec![loopback]
        );
    }

    #[test]
    fn external_addresses_replace_listen_addresses() {
        let discovery = Discovery::new(Duration::from_secs(1), vec![address(9)], Instant::now());
        assert_eq!(discovery.record(&[address(1)]).addresses, vec![address(9)]);
    }

    #[test]
    fn old_records_do_not_overwrite_newer_ones() {
        let mut discovery = Discovery::new(Duration::from_secs(1), Vec::new(), Instant::now());
        let peer = PeerId::random();
        assert!(discovery.is_newer(peer, 5));
        assert!(!discovery.is_newer(peer, 5));
        assert!(!discovery.is_newer(peer, 4));
        assert!(discovery.is_newer(peer, 6));
        discovery.forget(|gone| *gone == peer);
        assert!(discovery.is_newer(peer, 1));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_decode_canonically_or_not_at_all(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1100)
        ) {
            if let Some(record) = AddressRecord::decode(&bytes) {
                proptest::prop_assert_eq!(record.encode(), bytes);
            }
        }

        #[test]
        fn records_round_trip(
            sequence in proptest::prelude::any::<u64>(),
            ports in proptest::collection::vec(proptest::prelude::any::<u16>(), 0..=ADDRESSES_MAX),
            flip in proptest::prelude::any::<(usize, u8)>(),
        ) {
            let addresses: Vec<Multiaddr> = ports.iter().map(|port| address(*port)).collect();
            let record = AddressRecord::new(sequence, &addresses);
            let mut bytes = record.encode();
            proptest::prop_assert_eq!(AddressRecord::decode(&bytes), Some(record));
            // A corrupted byte decodes to nothing or to a record that encodes
            // back to exactly the corrupted bytes.
            let (index, mask) = flip;
            let index = index % bytes.len();
            bytes[index] ^= mask;
            if let Some(other) = AddressRecord::decode(&bytes) {
                proptest::prop_assert_eq!(other.encode(), bytes);
            }
        }
    }

    #[test]
    fn round_trips() {
        let record = AddressRecord::new(42, &[address(1), address(2)]);
        assert_eq!(AddressRecord::decode(&record.encode()), Some(record));
        let empty = AddressRecord::new(0, &[]);
        assert_eq!(AddressRecord::decode(&empty.encode()), Some(empty));
    }

    #[test]
    fn new_keeps_within_bounds() {
        let many: Vec<Multiaddr> = (1..=10).map(address).collect();
        let record = AddressRecord::new(1, &many);
        assert_eq!(record.addresses, many[..ADDRESSES_MAX].to_vec());
        assert!(record.encode().len() <= RECORD_BYTES_MAX);
    }

    #[test]
    fn malformed_records_are_refused() {
        let good = AddressRecord::new(7, &[address(1)]).encode();
        // Trailing byte.
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(AddressRecord::decode(&trailing), None);
        // Truncated anywhere.
        for cut in 0..good.len() {
            assert_eq!(AddressRecord::decode(&good[..cut]), None, "cut at {cut}");
        }
        // Unknown version.
        let mut version = good.clone();
        version[0] = 2;
        assert_eq!(AddressRecord::decode(&version), None);
        // Too many addresses announced.
        let mut count = good.clone();
        count[9] = (ADDRESSES_MAX + 1) as u8;
        assert_eq!(AddressRecord::decode(&count), None);
        // An address that is not a multiaddr.
        let mut garbage = good[..HEADER_BYTES].to_vec();
        garbage.extend_from_slice(&3u16.to_be_bytes());
        garbage.extend_from_slice(&[0xff, 0xff, 0xff]);
        assert_eq!(AddressRecord::decode(&garbage), None);
        // Oversized input.
        assert_eq!(
            AddressRecord::decode(&vec![1u8; RECORD_BYTES_MAX + 1]),
            None
        );
    }
}
