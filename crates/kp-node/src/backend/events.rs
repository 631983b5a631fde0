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
use std::sync::Arc;
use tokio::sync::broadcast;

/// Most events kept for readers that reconnect (`Last-Event-ID`).
pub const EVENT_RING_EVENTS_MAX: usize = 4096;

/// The events of one applied block, in order, with their ids.
pub type BlockEvents = Arc<Vec<ApiEvent>>;

/// The events of the last applied blocks, oldest first, whole blocks, at
/// most [`EVENT_RING_EVENTS_MAX`] events (and always the newest block).
#[derive(Debug, Default)]
pub struct EventRing {
    blocks: VecDeque<(u64, BlockEvents)>,
    events: usize,
}

impl EventRing {
    /// Keeps `events` of block `height`, dropping the oldest blocks beyond
    /// the bound.
    pub fn push(&mut self, height: u64, events: BlockEvents) {
        self.events += events.len();
        self.blocks.push_back((height, events));
        while self.events > EVENT_RING_EVENTS_MAX && self.blocks.len() > 1 {
            if let Some((_, dropped)) = self.blocks.pop_front() {
                self.events -= dropped.len();
            }
        }
    }

    /// The height of the oldest block kept.
    pub fn oldest_height(&self) -> Option<u64> {
        self.blocks.front().map(|(h, _)| *h)
    }

    /// The kept events after `after`, in order.
    pub fn after(&self, after: (u64, u32)) -> Vec<ApiEvent> {
        self.blocks
            .iter()
            .filter(|(height, _)| *height >= after.0)
            .flat_map(|(height, events)| {
                events
                    .iter()
                    .enumerate()
                    .filter(move |(i, _)| (*height, *i as u32) > after)
                    .map(|(_, e)| e.clone())
            })
            .collect()
    }
}

/// `HEIGHT.INDEX` as numbers.
pub fn parse_event_id(text: &str) -> Option<(u64, u32)> {
    let (height, index) = text.trim().split_once('.')?;
    Some((height.parse().ok()?, index.parse().ok()?))
}

/// Publishes the events of an applied block: kept for readers that
/// reconnect, then sent to the subscribers.
pub fn publish(shared: &Shared, receipt: &BlockReceipt) {
    // The certificate's two sides, so that the RPC can show a Participant
    // only the events of its own certificates (the block is stored: its
    // records are readable).
    let parties = |number: &CertificateNumber| {
        shared
            .ledger
            .certificate(number)
            .ok()
            .flatten()
            .map(|r| (r.certificate.exporting, r.certificate.importing))
    };
    let events: BlockEvents = Arc::new(block_events(receipt, parties));
    shared
        .recent_events
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(receipt.height, events.clone());
    // Nobody listening is fine; a lagging subscriber is told it lagged.
    let _ = shared.events.send(NodeEvent {
        height: receipt.height,
        events,
    });
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
                .iter()
                .enumerate()
                .map(|(i, e)| (Some((event.height, i as u32)), e.clone()))
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
    let (replay, oldest) = {
        let ring = shared
            .recent_events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        (ring.after(after), ring.oldest_height())
    };
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
pub fn block_events(
    receipt: &BlockReceipt,
    parties: impl Fn(&CertificateNumber) -> Option<(ParticipantCode, ParticipantCode)>,
) -> Vec<ApiEvent> {
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
            if let Some((exporting, importing)) = number.and_then(&parties) {
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
        Arc::new(
            (0..count)
                .map(|i| ApiEvent {
                    kind: "block".into(),
                    data: json!({ "height": height }),
                    id: Some(format!("{height}.{i}")),
                })
                .collect(),
        )
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
        ring.push(5, block(5, 2));
        ring.push(6, block(6, 3));
        assert_eq!(ids(&ring.after((5, 0))), ["5.1", "6.0", "6.1", "6.2"]);
        assert_eq!(ids(&ring.after((6, 1))), ["6.2"]);
        assert!(ring.after((6, 2)).is_empty());
        assert_eq!(
            ids(&ring.after((4, 9))),
            ["5.0", "5.1", "6.0", "6.1", "6.2"]
        );
        // Past the bound the oldest whole blocks go.
        let big = EVENT_RING_EVENTS_MAX - 3;
        ring.push(7, block(7, big));
        assert_eq!(ring.oldest_height(), Some(6));
        assert_eq!(ring.events, 3 + big);
        // A block larger than the bound alone is still kept, as the newest.
        ring.push(8, block(8, EVENT_RING_EVENTS_MAX + 1));
        assert_eq!(ring.oldest_height(), Some(8));
        assert_eq!(ring.events, EVENT_RING_EVENTS_MAX + 1);
    }
}
