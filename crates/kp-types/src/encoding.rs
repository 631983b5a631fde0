//! The one canonical encoding of kpledger.
//!
//! bincode 2 through serde, with the configuration [`config`]: big-endian,
//! fixed-width integers (so an object's size does not depend on its values and
//! hand-written decoders in other languages stay simple), and a hard limit of
//! [`DECODE_BYTES_MAX`] bytes on what a decoder may claim or allocate.
//! Decoding additionally takes a caller's limit on the input length and refuses
//! trailing bytes, so one value has exactly one encoding that decodes.

use serde::{de::DeserializeOwned, Serialize};
use thiserror::Error;

/// Upper bound on anything the decoder will read or allocate, whatever the caller asks.
pub const DECODE_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Largest encoded transaction accepted anywhere (RPC, mempool, block).
pub const TX_BYTES_MAX: usize = 64 * 1024;

/// The bincode configuration of every signed, hashed, stored or sent object.
pub fn config() -> bincode::config::Configuration<
    bincode::config::BigEndian,
    bincode::config::Fixint,
    bincode::config::Limit<DECODE_BYTES_MAX>,
> {
    bincode::config::standard()
        .with_big_endian()
        .with_fixed_int_encoding()
        .with_limit::<DECODE_BYTES_MAX>()
}

/// Why bytes could not be encoded or decoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EncodingError {
    /// The input is longer than the caller allows.
    #[error("input of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Length of the input.
        len: usize,
        /// The caller's limit.
        limit: usize,
    },
    /// Bytes were left after the value.
    #[error("{trailing} trailing bytes after the encoded value")]
    TrailingBytes {
        /// How many bytes were left over.
        trailing: usize,
    },
    /// The bytes are not a valid encoding of the expected type.
    #[error("malformed encoding: {reason}")]
    Malformed {
        /// What the decoder reported.
        reason: String,
    },
    /// The value could not be encoded (a bug: every type here is encodable).
    #[error("cannot encode value: {reason}")]
    Encode {
        /// What the encoder reported.
        reason: String,
    },
}

/// Most bytes of the per-thread buffer that [`encode`] and [`with_encoded`]
/// keep between calls (a transaction, a record, a small block's receipts);
/// a larger encoding takes the buffer with it, so that no thread keeps a
/// block's worth of memory.
const SCRATCH_KEEP_MAX: usize = 64 * 1024;

thread_local! {
    /// Where encodings are written first. A `Vec` that grows while a value is
    /// written moves its bytes at every doubling: a certificate record took
    /// seven reallocations. Written here, an encoding of up to
    /// [`SCRATCH_KEEP_MAX`] bytes is copied once, at its final size, or not
    /// at all ([`with_encoded`]).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A bincode writer that appends to a `Vec`.
struct Append<'a>(&'a mut Vec<u8>);

impl bincode::enc::write::Writer for Append<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

/// Writes `value`'s encoding into `buf` (after what it holds).
fn encode_into<T: Serialize + ?Sized>(value: &T, buf: &mut Vec<u8>) {
    if let Err(e) = bincode::serde::encode_into_writer(value, Append(buf), config()) {
        unreachable_encode(e);
    }
}

/// Encodes a value canonically.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    with_buffer(value, |buf| {
        if buf.len() > SCRATCH_KEEP_MAX {
            std::mem::take(buf)
        } else {
            buf.to_vec()
        }
    })
}

/// Calls `f` with `value`'s canonical encoding, without allocating it: for
/// an encoding that is only read (hashed, measured), not kept.
pub fn with_encoded<T: Serialize + ?Sized, R>(value: &T, f: impl FnOnce(&[u8]) -> R) -> R {
    with_buffer(value, |buf| f(buf))
}

/// Writes `value`'s encoding into the thread's buffer and calls `f` with it;
/// `f` may take the buffer. A buffer grown past [`SCRATCH_KEEP_MAX`] is not
/// kept. Called while the buffer is in use (an encoding within an
/// encoding), it uses a buffer of its own.
fn with_buffer<T: Serialize + ?Sized, R>(value: &T, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            encode_into(value, &mut buf);
            let out = f(&mut buf);
            if buf.capacity() > SCRATCH_KEEP_MAX {
                *buf = Vec::new();
            }
            out
        }
        Err(_) => {
            let mut buf = Vec::new();
            encode_into(value, &mut buf);
            f(&mut buf)
        }
    })
}

/// Length of [`encode`]'s output, computed without allocating it.
pub fn encoded_len<T: Serialize + ?Sized>(value: &T) -> usize {
    let mut size = bincode::enc::write::SizeWriter::default();
    match bincode::serde::encode_into_writer(value, &mut size, config()) {
        Ok(()) => size.bytes_written,
        Err(e) => unreachable_encode(e).len(),
    }
}

#[cold]
fn unreachable_encode(e: bincode::error::EncodeError) -> Vec<u8> {
    // Kept as an assertion: a failure here is a programming error.
    #[allow(clippy::panic)]
    {
        panic!("canonical encoding failed: {e}")
    }
}

/// Decodes untrusted bytes: at most `limit` bytes, no trailing bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], limit: usize) -> Result<T, EncodingError> {
    let (value, read) = decode_leading(bytes, limit)?;
    if read != bytes.len() {
        return Err(EncodingError::TrailingBytes {
            trailing: bytes.len() - read,
        });
    }
    Ok(value)
}

/// Decodes a `T` from the start of `bytes` and ignores what follows: the
/// leading field of a larger value (a block's header before its
/// transactions), to decide whether the rest is worth decoding.
pub fn decode_prefix<T: DeserializeOwned>(bytes: &[u8], limit: usize) -> Result<T, EncodingError> {
    decode_leading(bytes, limit).map(|(value, _)| value)
}

/// A `T` from the start of at most `limit` bytes, and how many it read.
fn decode_leading<T: DeserializeOwned>(
    bytes: &[u8],
    limit: usize,
) -> Result<(T, usize), EncodingError> {
    let limit = limit.min(DECODE_BYTES_MAX);
    if bytes.len() > limit {
        return Err(EncodingError::TooLarge {
            len: bytes.len(),
            limit,
        });
    }
    bincode::serde::decode_from_slice::<T, _>(bytes, config()).map_err(|e| {
        EncodingError::Malformed {
            reason: e.to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value whose encoding encodes another value inside it, as a
    /// `Serialize` impl may: the inner call finds the buffer in use.
    struct Nested(u32);

    impl Serialize for Nested {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&encode(&(self.0, "inner")))
        }
    }

    #[test]
    fn a_prefix_decodes_alone_and_a_short_one_is_malformed() {
        let bytes = encode(&(("chain".to_string(), 42u64), vec![7u8; 1000]));
        let head: (String, u64) = decode_prefix(&bytes, DECODE_BYTES_MAX).unwrap();
        assert_eq!(head, ("chain".to_string(), 42));
        assert!(decode::<(String, u64)>(&bytes, DECODE_BYTES_MAX).is_err());
        assert!(matches!(
            decode_prefix::<(String, u64)>(&bytes[..4], DECODE_BYTES_MAX),
            Err(EncodingError::Malformed { .. })
        ));
        assert!(matches!(
            decode_prefix::<(String, u64)>(&bytes, 10),
            Err(EncodingError::TooLarge { .. })
        ));
    }

    #[test]
    fn the_buffered_encoding_is_bincodes_own_at_every_size_and_nesting() {
        let small = (7u32, "seven".to_string(), vec![1u64, 2, 3]);
        let large = vec![0xA5u8; SCRATCH_KEEP_MAX + 10];
        for _ in 0..3 {
            assert_eq!(encode(&small), plain(&small));
            assert_eq!(encode(&large), plain(&large));
            assert_eq!(encode(&Nested(5)), plain(&Nested(5)));
            assert_eq!(
                with_encoded(&small, <[u8]>::to_vec),
                plain(&small),
                "with_encoded"
            );
            assert_eq!(with_encoded(&Nested(9), <[u8]>::to_vec), plain(&Nested(9)));
            assert_eq!(with_encoded(&large, |b| b.len()), plain(&large).len());
        }
        // Nothing larger than the bound stays behind.
        SCRATCH.with(|b| assert!(b.borrow().capacity() <= SCRATCH_KEEP_MAX));
    }

    /// bincode's own `encode_to_vec`, for comparison.
    fn plain<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
        bincode::serde::encode_to_vec(value, config()).unwrap()
    }

    #[test]
    fn encoded_len_is_the_length_of_the_encoding() {
        let value = (7u32, "seven".to_string(), vec![1u64, 2, 3], Some([9u8; 5]));
        assert_eq!(encoded_len(&value), encode(&value).len());
        assert_eq!(encoded_len(&()), 0);
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = encode(&7u32);
        bytes.push(0);
        assert_eq!(
            decode::<u32>(&bytes, 16),
            Err(EncodingError::TrailingBytes { trailing: 1 })
        );
    }

    #[test]
    fn oversized_input_is_refused_before_decoding() {
        let bytes = encode(&vec![1u8; 100]);
        assert!(matches!(
            decode::<Vec<u8>>(&bytes, 50),
            Err(EncodingError::TooLarge { .. })
        ));
    }

    #[test]
    fn huge_length_prefix_does_not_allocate() {
        // A vector claiming u64::MAX elements in 8 bytes.
        let bytes = u64::MAX.to_be_bytes();
        assert!(decode::<Vec<u64>>(&bytes, 64).is_err());
    }

    #[test]
    fn integers_are_big_endian_fixed_width() {
        assert_eq!(encode(&1u32), vec![0, 0, 0, 1]);
    }
}
