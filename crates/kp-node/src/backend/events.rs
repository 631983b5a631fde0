//! Server-sent events: what one applied block tells subscribers, the ids
//! that let a reader resume, and the recent events kept for it.
//!
//! An event's id is `HEIGHT.INDEX`: the height of the block it comes from
//! and its place among that block's events (the `block` event first). Ids
//! follow the chain, not the process, so they are the same on every node
//! and after a restart: a reader may resume on another node of the network.
//! The node keeps the events of its last applied blocks, at most
//! [`EVENT_RING_EVENTS_MAX`] (whole blocks), in memory; a reader that asks
//! for events older than those is told so with a `lagged` event.

use super::{NodeEvent, Shared};
use futures::stream::{BoxStream, StreamExt};
use kp_ledger::{BlockReceipt, LedgerEvent};
use kp_rpc::ApiEvent;
use kp_types::{CertificateNumber, ParticipantCode};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use tokio::sync::broadcast;

/// Most events kept for readers that reconnect (`Last-Event-ID`).
pub const EVENT_RING_EVENTS_MAX: usize = 4096;

/// A certificate's exporting and importing sides, by its number.
pub type Parties =
    dyn Fn(&CertificateNumber) -> Option<(ParticipantCode, ParticipantCode)> + Send + Sync;

/// The events of one applied block, in order, with their ids.
///
/// They are built from the block's receipt when they are first read, by a
/// subscriber or a reader that resumes, on that reader's task, and then kept.
/// The node task only keeps the receipt: a node that nobody reads events from
/// builds none. (Built at once, a block of 2,000 certificates cost the node
/// task 2,000 certificate reads and JSON values, about 5 % of an observer's
/// CPU while it caught up.)
#[derive(Clone)]
pub struct BlockEvents(Arc<Pending>);

struct Pending {
    height: u64,
    /// How many events the block has (its `block` event, then one per
    /// ledger event), known before they are built.
    count: usize,
    /// The receipt and the certificates' sides to build from.
    source: Option<(BlockReceipt, Box<Parties>)>,
    built: OnceLock<Vec<ApiEvent>>,
}

impl std::fmt::Debug for BlockEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockEvents")
            .field("height", &self.0.height)
            .field("count", &self.0.count)
            .field("built", &self.0.built.get().is_some())
            .finish()
    }
}

impl BlockEvents {
    /// The events of the block of `receipt`, to be built when first read;
    /// `parties` gives a certificate's sides then.
    pub fn of_receipt(receipt: BlockReceipt, parties: Box<Parties>) -> BlockEvents {
        BlockEvents(Arc::new(Pending {
            height: receipt.height,
            count: 1 + receipt.events.len(),
            source: Some((receipt, parties)),
            built: OnceLock::new(),
        }))
    }

    /// Events already built (for tests).
    #[cfg(test)]
    pub fn built(height: u64, events: Vec<ApiEvent>) -> BlockEvents {
        BlockEvents(Arc::new(Pending {
            height,
            count: events.len(),
            source: None,
            built: OnceLock::from(events),
        }))
    }

    /// The block's height.
    pub fn height(&self) -> u64 {
        self.0.height
    }

    /// How many events the block has.
    fn len(&self) -> usize {
        self.0.count
    }

    /// The events, built on the first call.
    pub fn events(&self) -> &[ApiEvent] {
        self.0.built.get_or_init(|| match &self.0.source {
            Some((receipt, parties)) => block_events(receipt, parties),
            None => Vec::new(),
        })
    }
}

/// The events of the last applied blocks, oldest first, whole blocks, at
/// most [`EVENT_RING_EVENTS_MAX`] events (and always the newest block).
#[derive(Debug, Default)]
pub struct EventRing {
    blocks: VecDeque<BlockEvents>,
    events: usize,
}

impl EventRing {
    /// Keeps the events of one more block, dropping the oldest blocks beyond
    /// the bound.
    pub fn push(&mut self, events: BlockEvents) {
        self.events += events.len();
        self.blocks.push_back(events);
        while self.events > EVENT_RING_EVENTS_MAX && self.blocks.len() > 1 {
            if let Some(dropped) = self.blocks.pop_front() {
                self.events -= dropped.len();
            }
        }
    }

    /// The height of the oldest block kept.
    pub fn oldest_height(&self) -> Option<u64> {
        self.blocks.front().map(BlockEvents::height)
    }

    /// The kept blocks from `height` on, oldest first (cheap: their events
    /// are shared, and built by [`replay`] outside the ring's lock).
    pub fn blocks_from(&self, height: u64) -> Vec<BlockEvents> {
        self.blocks
            .iter()
            .filter(|b| b.height() >= height)
            .cloned()
            .collect()
    }
}

/// The events of `blocks` after `after`, in order.
pub fn replay(blocks: &[BlockEvents], after: (u64, u32)) -> Vec<ApiEvent> {
    blocks
        .iter()
        .flat_map(|block| {
            let height = block.height();
            block
                .events()
                .iter()
                .enumerate()
                .filter(move |(i, _)| (height, *i as u32) > after)
                .map(|(_, e)| e.clone())
        })
        .collect()
}

/// `HEIGHT.INDEX` as numbers.
pub fn parse_event_id(text: &str) -> Option<(u64, u32)> {
    let (height, index) = text.trim().split_once('.')?;
    Some((height.parse().ok()?, index.parse().ok()?))
}

/// Publishes the events of an applied block: kept for readers that
/// reconnect, and sent to the subscribers, both to be built when read.
pub fn publish(shared: &Arc<Shared>, receipt: BlockReceipt) {
    // The certificate's two sides, so that the RPC can show a Participant
    // only the events of its own certificates (the block is stored: its
    // records are readable). A certificate's sides never change, so reading
    // them later gives what reading them now would. The weak handle lets
    // kept events outlive the node; their sides are then unknown, and the
    // RPC shows such a certificate event to no Participant.
    let weak = Arc::downgrade(shared);
    let parties = move |number: &CertificateNumber| {
        weak.upgrade()?
            .ledger
            .certificate(number)
            .ok()
            .flatten()
            .map(|r| (r.certificate.exporting, r.certificate.importing))
    };
    let events = BlockEvents::of_receipt(receipt, Box::new(parties));
    shared
        .recent_events
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(events.clone());
    // Nobody listening is fine; a lagging subscriber is told it lagged.
    let _ = shared.events.send(NodeEvent { events });
}

/// The live events after `after` (all of them with `None`).
pub fn live(
    receiver: broadcast::Receiver<NodeEvent>,
    after: Option<(u64, u32)>,
) -> BoxStream<'static, ApiEvent> {
    futures::stream::unfold(receiver, |mut receiver| async move {
        let events: Vec<(Option<(u64, u32)>, ApiEvent)> = match receiver.recv().await {
            Ok(event) => event
                .events
                .events()
                .iter()
                .enumerate()
                .map(|(i, e)| (Some((event.events.height(), i as u32)), e.clone()))
                .collect(),
            Err(broadcast::error::RecvError::Lagged(lost)) => vec![(
                None,
                ApiEvent {
                    kind: "lagged".into(),
                    data: json!({ "lost_blocks": lost }),
                    id: None,
                },
            )],
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((futures::stream::iter(events), receiver))
    })
    .flatten()
    .filter_map(move |(position, event)| {
        let keep = match (position, after) {
            (Some(position), Some(after)) => position > after,
            _ => true,
        };
        futures::future::ready(keep.then_some(event))
    })
    .boxed()
}

/// The blocks, first and last, whose events after `after` a reader may
/// have lost: those before the oldest block kept (`oldest`; the next one
/// after `applied` when none is kept yet). The block of `after` itself
/// counts when it is not kept: whether it had events after `after` is not
/// known any more.
pub fn lost_blocks(after: (u64, u32), oldest: Option<u64>, applied: u64) -> Option<(u64, u64)> {
    let kept_from = oldest.unwrap_or(applied.saturating_add(1));
    (after.0 < kept_from).then(|| (after.0, kept_from - 1))
}

/// The events after `last_event_id`: those kept, then the live ones, with a
/// `lagged` event first when some after it are no longer kept.
pub fn resume(shared: &Shared, last_event_id: &str) -> BoxStream<'static, ApiEvent> {
    // Subscribe before reading what is kept: an event published in between
    // is then in both, and the live stream skips what was replayed.
    let receiver = shared.events.subscribe();
    let Some(after) = parse_event_id(last_event_id) else {
        let notice = ApiEvent {
            kind: "lagged".into(),
            data: json!({
                "last_event_id": last_event_id,
                "message": "not an event id (HEIGHT.INDEX): the stream goes on from now",
            }),
            id: None,
        };
        return futures::stream::iter([notice])
            .chain(live(receiver, None))
            .boxed();
    };
    let (kept, oldest) = {
        let ring = shared
            .recent_events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        (ring.blocks_from(after.0), ring.oldest_height())
    };
    let replay = replay(&kept, after);
    let applied = shared
        .status
        .read()
        .map(|s| s.height)
        .unwrap_or_else(|poisoned| poisoned.into_inner().height);
    let mut first = Vec::new();
    if let Some((from, to)) = lost_blocks(after, oldest, applied) {
        first.push(ApiEvent {
            kind: "lagged".into(),
            data: json!({
                "last_event_id": last_event_id,
                "oldest_event_id": format!("{}.0", to + 1),
                "message": format!(
                    "the events after {last_event_id} are no longer kept (this node keeps its last \
                     {EVENT_RING_EVENTS_MAX} since it started); read blocks {from} to {to} from /v1/blocks/HEIGHT"
                ),
            }),
            id: None,
        });
    }
    let last_replayed = replay
        .last()
        .and_then(|e| e.id.as_deref())
        .and_then(parse_event_id)
        .map_or(after, |last| last.max(after));
    futures::stream::iter(first.into_iter().chain(replay))
        .chain(live(receiver, Some(last_replayed)))
        .boxed()
}

/// The events API subscribers see for one applied block, with their ids.
/// A certificate's events carry its `exporting` and `importing` sides, as
/// `parties` gives them.
pub fn block_events(receipt: &BlockReceipt, parties: &Parties) -> Vec<ApiEvent> {
    let rejected = receipt
        .receipts
        .iter()
        .filter(|r| r.result.is_err())
        .count();
    let id = |index: usize| Some(format!("{}.{index}", receipt.height));
    let mut out = vec![ApiEvent {
        kind: "block".into(),
        data: json!({
            "height": receipt.height,
            "hash": receipt.block_hash,
            "state_root": receipt.state_root,
            "txs": receipt.receipts.len(),
            "rejected": rejected,
        }),
        id: id(0),
    }];
    for event in &receipt.events {
        let kind = match event {
            LedgerEvent::CertificateStatusChanged { .. }
            | LedgerEvent::CertificateApproved { .. }
            | LedgerEvent::DiscrepancyRecorded { .. } => "certificate",
            LedgerEvent::ResolutionProposed { .. }
            | LedgerEvent::ResolutionAdopted { .. }
            | LedgerEvent::ResolutionFailed { .. }
            | LedgerEvent::ResolutionRejected { .. }
            | LedgerEvent::ResolutionLapsed { .. } => "resolution",
            LedgerEvent::SeizureReported { .. } => "seizure",
            _ => "ledger",
        };
        let mut data = serde_json::to_value(event).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut data {
            map.insert("height".into(), json!(receipt.height));
            let number = match event {
                LedgerEvent::CertificateStatusChanged { number, .. }
                | LedgerEvent::CertificateApproved { number, .. }
                | LedgerEvent::DiscrepancyRecorded { number, .. } => Some(number),
                _ => None,
            };
            if let Some((exporting, importing)) = number.and_then(parties) {
                map.insert("exporting".into(), json!(exporting));
                map.insert("importing".into(), json!(importing));
            }
        }
        out.push(ApiEvent {
            kind: kind.into(),
            data,
            id: id(out.len()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(height: u64, count: usize) -> BlockEvents {
        BlockEvents::built(
            height,
            (0..count)
                .map(|i| ApiEvent {
                    kind: "block".into(),
                    data: json!({ "height": height }),
                    id: Some(format!("{height}.{i}")),
                })
                .collect(),
        )
    }

    fn after(ring: &EventRing, after: (u64, u32)) -> Vec<ApiEvent> {
        replay(&ring.blocks_from(after.0), after)
    }

    fn ids(events: &[ApiEvent]) -> Vec<String> {
        events.iter().filter_map(|e| e.id.clone()).collect()
    }

    #[test]
    fn ids_parse_as_height_and_index() {
        assert_eq!(parse_event_id("12.3"), Some((12, 3)));
        assert_eq!(parse_event_id(" 7.0 "), Some((7, 0)));
        for bad in ["", "12", "12.", ".3", "a.b", "-1.0", "1.2.3"] {
            assert_eq!(parse_event_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn what_a_resuming_reader_lost_is_named_by_blocks() {
        // Blocks 10 on are kept: a reader at 12.1 lost nothing.
        assert_eq!(lost_blocks((12, 1), Some(10), 20), None);
        assert_eq!(lost_blocks((10, 0), Some(10), 20), None);
        // A reader at 7.2 may have lost the rest of 7, and 8 and 9.
        assert_eq!(lost_blocks((7, 2), Some(10), 20), Some((7, 9)));
        // Nothing kept yet (a node that just started at height 20): the
        // blocks up to 20 are not kept; a reader already past them lost none.
        assert_eq!(lost_blocks((15, 0), None, 20), Some((15, 20)));
        assert_eq!(lost_blocks((21, 0), None, 20), None);
    }

    #[test]
    fn the_ring_replays_after_an_id_and_keeps_whole_blocks_within_its_bound() {
        let mut ring = EventRing::default();
        ring.push(block(5, 2));
        ring.push(block(6, 3));
        assert_eq!(ids(&after(&ring, (5, 0))), ["5.1", "6.0", "6.1", "6.2"]);
        assert_eq!(ids(&after(&ring, (6, 1))), ["6.2"]);
        assert!(after(&ring, (6, 2)).is_empty());
        assert_eq!(
            ids(&after(&ring, (4, 9))),
            ["5.0", "5.1", "6.0", "6.1", "6.2"]
        );
        // Past the bound the oldest whole blocks go.
        let big = EVENT_RING_EVENTS_MAX - 3;
        ring.push(block(7, big));
        assert_eq!(ring.oldest_height(), Some(6));
        assert_eq!(ring.events, 3 + big);
        // A block larger than the bound alone is still kept, as the newest.
        ring.push(block(8, EVENT_RING_EVENTS_MAX + 1));
        assert_eq!(ring.oldest_height(), Some(8));
        assert_eq!(ring.events, EVENT_RING_EVENTS_MAX + 1);
    }

    #[test]
    fn a_blocks_events_are_built_when_first_read_and_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let number = CertificateNumber::new("BW-000001").unwrap();
        let receipt = BlockReceipt {
            height: 9,
            block_hash: kp_types::Hash::ZERO,
            state_root: kp_types::Hash::ZERO,
            receipts: Vec::new(),
            events: vec![LedgerEvent::CertificateStatusChanged {
                number: number.clone(),
                from: None,
                to: kp_ledger::CertificateStatus::Issued,
                tx: None,
            }],
        };
        let asked = Arc::new(AtomicUsize::new(0));
        let counter = asked.clone();
        let parties = move |n: &CertificateNumber| {
            counter.fetch_add(1, Ordering::SeqCst);
            (n.as_str() == "BW-000001").then(|| {
                (
                    ParticipantCode::new("BW").unwrap(),
                    ParticipantCode::new("EU").unwrap(),
                )
            })
        };
        let events = BlockEvents::of_receipt(receipt, Box::new(parties));
        // Kept and counted without building them.
        let mut ring = EventRing::default();
        ring.push(events.clone());
        assert_eq!(events.len(), 2);
        assert_eq!(ring.events, 2);
        assert_eq!(asked.load(Ordering::SeqCst), 0, "nothing read yet");
        // The first reader builds them, with the certificate's sides.
        let read = after(&ring, (8, 0));
        assert_eq!(ids(&read), ["9.0", "9.1"]);
        assert_eq!(read[0].kind, "block");
        assert_eq!(read[0].data["height"], 9);
        assert_eq!(read[1].kind, "certificate");
        assert_eq!(read[1].data["exporting"], "BW");
        assert_eq!(read[1].data["importing"], "EU");
        assert_eq!(events.events().len(), events.len());
        // Later readers share them.
        assert_eq!(ids(&after(&ring, (9, 0))), ["9.1"]);
        assert_eq!(asked.load(Ordering::SeqCst), 1, "built once");
    }
}
