//! Direct messages over one long-lived stream per peer and direction
//! (`/kpledger/direct/2`).
//!
//! A frame is a 4-byte big-endian length and that many bytes, at most
//! `message_bytes_max`. Each peer we send to has a writer task fed by a
//! bounded queue ([`QUEUE_PER_PEER`] frames): it opens the stream on first
//! use, writes every frame already queued in one go, and reopens the stream
//! after a write error. A full queue drops the new frame (the caller counts
//! it): a peer that stopped reading must not make us buffer without bound,
//! and consensus re-sends what is still current. Each inbound stream has a
//! reader task that hands frames to the event loop through one bounded
//! channel, where membership and the per-peer rate are checked; a frame over
//! the limit closes that stream.
//!
//! This replaced a request-response exchange per message (a new yamux
//! stream, protocol negotiation, an empty answer and a timer each): with 60
//! validators on one machine, vote traffic cost about 270 µs of CPU per
//! message that way.

use crate::codec::read_frame;
use futures::{AsyncWriteExt, StreamExt};
use libp2p::{PeerId, Stream, StreamProtocol};
use libp2p_stream::Control;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::{self, error::TrySendError};
use tracing::debug;

/// The protocol name.
pub(crate) const PROTOCOL: StreamProtocol = StreamProtocol::new("/kpledger/direct/2");
/// Frames queued for one peer before new ones are dropped.
pub(crate) const QUEUE_PER_PEER: usize = 128;
/// Frames from all peers waiting for the event loop before new ones are
/// dropped.
pub(crate) const INBOUND_QUEUE: usize = 1024;
/// Inbound direct streams one peer may hold open at once.
pub(crate) const STREAMS_PER_PEER: usize = 2;
/// Most bytes written in one go when frames are queued back to back.
const WRITE_BATCH_BYTES: usize = 1 << 20;

/// What a reader task hands to the event loop.
pub(crate) enum Inbound {
    /// A whole frame.
    Frame(Vec<u8>),
    /// The peer sent a frame over the limit; its stream was closed.
    Oversized,
}

/// The frame bytes of `payload`: its length, then itself.
pub(crate) fn frame(payload: &[u8]) -> Option<Vec<u8>> {
    let len = u32::try_from(payload.len()).ok()?;
    let mut out = Vec::with_capacity(4 + payload.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Some(out)
}

/// Why a frame was not queued.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NotQueued {
    /// The peer's queue is full.
    Full,
}

/// The writer tasks, one per peer we send to.
pub(crate) struct Writers {
    control: Control,
    peers: BTreeMap<PeerId, mpsc::Sender<Vec<u8>>>,
}

impl Writers {
    pub(crate) fn new(control: Control) -> Writers {
        Writers {
            control,
            peers: BTreeMap::new(),
        }
    }

    /// Queues an already framed message for `peer`, starting its writer if
    /// needed. Must run inside the tokio runtime.
    pub(crate) fn send(&mut self, peer: PeerId, framed: Vec<u8>) -> Result<(), NotQueued> {
        let control = &self.control;
        let sender = self
            .peers
            .entry(peer)
            .or_insert_with(|| spawn_writer(control.clone(), peer));
        match sender.try_send(framed) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(NotQueued::Full),
            Err(TrySendError::Closed(framed)) => {
                // The writer ended (it never does on its own; be safe).
                let sender = spawn_writer(self.control.clone(), peer);
                let result = sender.try_send(framed).map_err(|_| NotQueued::Full);
                self.peers.insert(peer, sender);
                result
            }
        }
    }

    /// Stops the writer of a peer that disconnected once it has written what
    /// it holds (its stream is gone anyway).
    pub(crate) fn remove(&mut self, peer: &PeerId) {
        self.peers.remove(peer);
    }
}

fn spawn_writer(mut control: Control, peer: PeerId) -> mpsc::Sender<Vec<u8>> {
    let (sender, mut queue) = mpsc::channel::<Vec<u8>>(QUEUE_PER_PEER);
    tokio::spawn(async move {
        let mut stream: Option<Stream> = None;
        while let Some(first) = queue.recv().await {
            let mut batch = first;
            while batch.len() < WRITE_BATCH_BYTES {
                match queue.try_recv() {
                    Ok(next) => batch.extend_from_slice(&next),
                    Err(_) => break,
                }
            }
            if stream.is_none() && queue.is_closed() {
                // The peer disconnected: do not dial it to drain the queue.
                break;
            }
            if stream.is_none() {
                match control.open_stream(peer, PROTOCOL).await {
                    Ok(opened) => stream = Some(opened),
                    Err(e) => {
                        debug!(%peer, error = %e, "direct stream not opened; frames dropped");
                        continue;
                    }
                }
            }
            if let Some(open) = stream.as_mut() {
                let written = async {
                    open.write_all(&batch).await?;
                    open.flush().await
                };
                if let Err(e) = written.await {
                    debug!(%peer, error = %e, "direct stream failed; reopening on the next frame");
                    stream = None;
                }
            }
        }
        if let Some(mut open) = stream {
            let _ = open.close().await;
        }
    });
    sender
}

/// Accepts inbound direct streams and starts a reader for each.
pub(crate) fn spawn_acceptor(
    mut control: Control,
    bytes_max: usize,
    inbound: mpsc::Sender<(PeerId, Inbound)>,
    dropped: Arc<AtomicU64>,
) -> Result<(), libp2p_stream::AlreadyRegistered> {
    let mut incoming = control.accept(PROTOCOL)?;
    let open = Arc::new(Mutex::new(BTreeMap::<PeerId, usize>::new()));
    tokio::spawn(async move {
        while let Some((peer, stream)) = incoming.next().await {
            // A peer needs one stream (two while a reconnection overlaps);
            // each reader may hold a frame of up to `bytes_max`, so more
            // streams from one peer would only multiply what it can make us
            // allocate.
            let Some(guard) = StreamGuard::new(&open, peer) else {
                debug!(%peer, "too many direct streams from one peer; stream refused");
                continue;
            };
            let reader = read_frames(peer, stream, bytes_max, inbound.clone(), dropped.clone());
            tokio::spawn(async move {
                reader.await;
                drop(guard);
            });
        }
    });
    Ok(())
}

/// Counts a peer's open inbound streams while it lives.
struct StreamGuard {
    open: Arc<Mutex<BTreeMap<PeerId, usize>>>,
    peer: PeerId,
}

impl StreamGuard {
    /// A guard for one more stream of `peer`, or `None` at the limit.
    fn new(open: &Arc<Mutex<BTreeMap<PeerId, usize>>>, peer: PeerId) -> Option<StreamGuard> {
        let mut counts = open.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(peer).or_default();
        if *count >= STREAMS_PER_PEER {
            return None;
        }
        *count += 1;
        Some(StreamGuard {
            open: open.clone(),
            peer,
        })
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut counts = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&self.peer) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.peer);
            }
        }
    }
}

async fn read_frames(
    peer: PeerId,
    mut stream: Stream,
    bytes_max: usize,
    inbound: mpsc::Sender<(PeerId, Inbound)>,
    dropped: Arc<AtomicU64>,
) {
    loop {
        // The length is checked before the body is allocated or read.
        let frame = match read_frame(&mut stream, bytes_max).await {
            Ok(frame) => frame,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                let _ = inbound.try_send((peer, Inbound::Oversized));
                return;
            }
            Err(_) => return,
        };
        match inbound.try_send((peer, Inbound::Frame(frame))) {
            Ok(()) => {}
            // The event loop is behind: the frame is lost, like an event the
            // node's queue cannot take, and counted with those.
            Err(TrySendError::Full(_)) => {
                dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Closed(_)) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use futures::executor::block_on;
    use futures::io::Cursor;

    #[test]
    fn a_frame_is_its_length_then_itself() {
        assert_eq!(frame(b"abc").unwrap(), vec![0, 0, 0, 3, b'a', b'b', b'c']);
        assert_eq!(frame(b"").unwrap(), vec![0, 0, 0, 0]);
    }

    #[test]
    fn a_peer_holds_at_most_its_share_of_inbound_streams() {
        let open = Arc::new(Mutex::new(BTreeMap::new()));
        let (a, b) = (PeerId::random(), PeerId::random());
        let guards: Vec<_> = (0..STREAMS_PER_PEER)
            .map(|_| StreamGuard::new(&open, a).expect("within the limit"))
            .collect();
        assert!(StreamGuard::new(&open, a).is_none());
        // Another peer is not affected, and a closed stream frees a slot.
        let other = StreamGuard::new(&open, b).expect("other peer");
        drop(guards);
        assert!(StreamGuard::new(&open, a).is_some());
        drop(other);
        assert!(open.lock().unwrap().is_empty());
    }

    #[test]
    fn frames_written_back_to_back_read_back_in_order_and_bounded() {
        let messages: Vec<Vec<u8>> = vec![b"one".to_vec(), Vec::new(), vec![7; 300]];
        let batch: Vec<u8> = messages.iter().flat_map(|m| frame(m).unwrap()).collect();
        let mut wire = Cursor::new(batch.clone());
        for m in &messages {
            assert_eq!(&block_on(read_frame(&mut wire, 300)).unwrap(), m);
        }
        // The same bytes with a smaller bound: the 300-byte frame is refused
        // as invalid data, before its body is read.
        let mut wire = Cursor::new(batch);
        block_on(read_frame(&mut wire, 299)).unwrap();
        block_on(read_frame(&mut wire, 299)).unwrap();
        let refused = block_on(read_frame(&mut wire, 299)).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::InvalidData);
    }
}
