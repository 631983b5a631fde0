//! The block-sync wire protocol, `/kpledger/sync/1`, and the frame format
//! it shares with direct messages (`/kpledger/direct/2`, see `direct`).
//!
//! One request and one response per stream. Each is a frame: a 4-byte
//! big-endian length, then that many bytes. The reader checks the length
//! against a hard bound *before* allocating or reading the body, so a peer
//! cannot make us buffer more than the bound.
//!
//! * Request body: exactly 12 bytes, `from_height: u64` then `max: u32`, both
//!   big-endian. Any other length is refused.
//! * Response body: opaque bytes (the node encodes blocks with kp-types), at
//!   most `response_bytes_max`.

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::{request_response, StreamProtocol};
use std::io;

/// The protocol name negotiated by multistream-select.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/kpledger/sync/1");

/// Size of a request body.
pub const REQUEST_BYTES: usize = 12;

/// "Send me up to `max` blocks starting at height `from_height`".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncRequest {
    /// First height wanted.
    pub from_height: u64,
    /// Most blocks wanted.
    pub max: u32,
}

impl SyncRequest {
    /// The 12-byte body.
    pub fn to_bytes(self) -> [u8; REQUEST_BYTES] {
        let mut out = [0u8; REQUEST_BYTES];
        out[..8].copy_from_slice(&self.from_height.to_be_bytes());
        out[8..].copy_from_slice(&self.max.to_be_bytes());
        out
    }

    /// Parses a body; anything but exactly 12 bytes is refused.
    pub fn from_bytes(bytes: &[u8]) -> Option<SyncRequest> {
        let bytes: &[u8; REQUEST_BYTES] = bytes.try_into().ok()?;
        let (height, max) = bytes.split_at(8);
        Some(SyncRequest {
            from_height: u64::from_be_bytes(height.try_into().ok()?),
            max: u32::from_be_bytes(max.try_into().ok()?),
        })
    }
}

/// Length-prefixed codec with hard size bounds.
#[derive(Clone, Copy, Debug)]
pub struct SyncCodec {
    /// Largest response body accepted or sent.
    pub response_bytes_max: usize,
}

/// Reads one frame whose body is at most `bytes_max` long.
pub async fn read_frame<T>(io: &mut T, bytes_max: usize) -> io::Result<Vec<u8>>
where
    T: AsyncRead + Unpin + Send,
{
    let mut prefix = [0u8; 4];
    io.read_exact(&mut prefix).await?;
    let length = u32::from_be_bytes(prefix) as usize;
    if length > bytes_max {
        return Err(too_large(length, bytes_max));
    }
    let mut body = vec![0u8; length];
    io.read_exact(&mut body).await?;
    Ok(body)
}

/// Writes one frame; refuses a body over `bytes_max` (or over 4 GiB).
pub async fn write_frame<T>(io: &mut T, body: &[u8], bytes_max: usize) -> io::Result<()>
where
    T: AsyncWrite + Unpin + Send,
{
    let length = u32::try_from(body.len())
        .ok()
        .filter(|_| body.len() <= bytes_max)
        .ok_or_else(|| too_large(body.len(), bytes_max))?;
    io.write_all(&length.to_be_bytes()).await?;
    io.write_all(body).await?;
    io.flush().await?;
    Ok(())
}

fn too_large(length: usize, bytes_max: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("frame of {length} bytes exceeds the limit of {bytes_max}"),
    )
}

impl request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = SyncRequest;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        let body = read_frame(io, REQUEST_BYTES).await?;
        SyncRequest::from_bytes(&body).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "sync request must be 12 bytes")
        })
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, self.response_bytes_max).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: SyncRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &request.to_bytes(), REQUEST_BYTES).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &response, self.response_bytes_max).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use futures::io::Cursor;
    use request_response::Codec;

    #[test]
    fn request_round_trips() {
        let request = SyncRequest {
            from_height: 1 << 40,
            max: 77,
        };
        let mut codec = SyncCodec {
            response_bytes_max: 100,
        };
        let mut wire = Cursor::new(Vec::new());
        block_on(codec.write_request(&PROTOCOL, &mut wire, request)).unwrap();
        assert_eq!(wire.get_ref().len(), 4 + REQUEST_BYTES);
        wire.set_position(0);
        let back = block_on(codec.read_request(&PROTOCOL, &mut wire)).unwrap();
        assert_eq!(back, request);
    }

    #[test]
    fn response_round_trips_up_to_the_bound() {
        let mut codec = SyncCodec {
            response_bytes_max: 100,
        };
        let body = vec![7u8; 100];
        let mut wire = Cursor::new(Vec::new());
        block_on(codec.write_response(&PROTOCOL, &mut wire, body.clone())).unwrap();
        wire.set_position(0);
        assert_eq!(
            block_on(codec.read_response(&PROTOCOL, &mut wire)).unwrap(),
            body
        );
    }

    #[test]
    fn oversized_response_is_refused_before_reading_the_body() {
        // A peer announcing a 4 GiB body with nothing behind it: the reader
        // must fail on the prefix, not try to allocate or read.
        let mut wire = Cursor::new(u32::MAX.to_be_bytes().to_vec());
        let mut codec = SyncCodec {
            response_bytes_max: 1000,
        };
        let error = block_on(codec.read_response(&PROTOCOL, &mut wire)).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn oversized_response_is_not_sent() {
        let mut codec = SyncCodec {
            response_bytes_max: 10,
        };
        let mut wire = Cursor::new(Vec::new());
        let result = block_on(codec.write_response(&PROTOCOL, &mut wire, vec![0; 11]));
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::InvalidData);
        assert!(wire.get_ref().is_empty());
    }

    #[test]
    fn request_of_wrong_length_is_refused() {
        let mut codec = SyncCodec {
            response_bytes_max: 10,
        };
        for length in [0usize, 11, 13, 1000] {
            let mut bytes = (length as u32).to_be_bytes().to_vec();
            bytes.extend(vec![0u8; length]);
            let result = block_on(codec.read_request(&PROTOCOL, &mut Cursor::new(bytes)));
            assert!(result.is_err(), "length {length} accepted");
        }
    }

    #[test]
    fn truncated_frame_is_an_error() {
        let mut bytes = 50u32.to_be_bytes().to_vec();
        bytes.extend([1u8; 20]);
        let result = block_on(read_frame(&mut Cursor::new(bytes), 100));
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }
}
