//! A Bloom filter of hashes: 32-byte keys that are already uniformly
//! distributed (transaction hashes), so their bytes serve as the filter's
//! hash functions. It grows in layers of doubling capacity, about 10 bits per
//! hash, and never forgets a hash (no false negatives); each layer at
//! capacity answers "maybe" for about 0.8 % of hashes it was never given.
//!
//! Used by the ledger's replay-memory filter and by the node's filter of
//! its block index.

/// Bits per expected hash, and probes per hash: a false-positive rate of
/// about 0.8 % per layer at capacity.
pub const BITS_PER_KEY: u64 = 10;
/// Bit positions probed per hash.
pub const PROBES: u64 = 7;
/// Capacity of the first layer, at least.
pub const CAPACITY_MIN: u64 = 1 << 16;

/// One Bloom filter of fixed capacity.
#[derive(Clone)]
struct Layer {
    words: Vec<u64>,
    /// Number of bits (`words.len() * 64`).
    bits: u64,
    capacity: u64,
    noted: u64,
}

// The bits themselves would flood any debug output.
impl std::fmt::Debug for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layer")
            .field("bits", &self.bits)
            .field("capacity", &self.capacity)
            .field("noted", &self.noted)
            .finish_non_exhaustive()
    }
}

impl Layer {
    fn with_capacity(capacity: u64) -> Layer {
        let words = (capacity * BITS_PER_KEY).div_ceil(64).max(1);
        Layer {
            words: vec![0; usize::try_from(words).unwrap_or(usize::MAX)],
            bits: words * 64,
            capacity,
            noted: 0,
        }
    }

    fn insert(&mut self, digest: Digest) {
        for pos in positions(self.bits, digest) {
            self.words[(pos / 64) as usize] |= 1 << (pos % 64);
        }
        self.noted += 1;
    }

    fn may_contain(&self, digest: Digest) -> bool {
        positions(self.bits, digest)
            .all(|pos| self.words[(pos / 64) as usize] & (1 << (pos % 64)) != 0)
    }
}

/// The probe positions of a digest in `bits` bits (double hashing over its
/// two independent, uniformly distributed halves).
fn positions(bits: u64, (a, b): Digest) -> impl Iterator<Item = u64> {
    let b = b | 1;
    (0..PROBES).map(move |i| {
        let x = a.wrapping_add(i.wrapping_mul(b));
        // Multiply-shift: x scaled to [0, bits) without a division.
        ((u128::from(x) * u128::from(bits)) >> 64) as u64
    })
}

/// Two independent 64-bit halves of a uniformly distributed hash.
type Digest = (u64, u64);

fn halves(hash: &[u8; 32]) -> Digest {
    let mut a = [0u8; 8];
    let mut b = [0u8; 8];
    a.copy_from_slice(&hash[..8]);
    b.copy_from_slice(&hash[8..16]);
    (u64::from_le_bytes(a), u64::from_le_bytes(b))
}

/// See the module documentation.
#[derive(Clone, Debug, Default)]
pub struct HashBloom {
    layers: Vec<Layer>,
}

impl HashBloom {
    /// An empty filter; its first layer is made on the first insert.
    pub fn new() -> HashBloom {
        HashBloom::default()
    }

    /// An empty filter whose first layer holds `capacity` hashes (at least
    /// [`CAPACITY_MIN`]).
    pub fn with_capacity(capacity: u64) -> HashBloom {
        HashBloom {
            layers: vec![Layer::with_capacity(capacity.max(CAPACITY_MIN))],
        }
    }

    /// Remembers `hash`.
    pub fn insert(&mut self, hash: &[u8; 32]) {
        let full = self.layers.last().is_none_or(|l| l.noted >= l.capacity);
        if full {
            let capacity = self
                .layers
                .last()
                .map_or(CAPACITY_MIN, |l| l.capacity.saturating_mul(2));
            self.layers.push(Layer::with_capacity(capacity));
        }
        if let Some(layer) = self.layers.last_mut() {
            layer.insert(halves(hash));
        }
    }

    /// False only if `hash` was never inserted.
    pub fn may_contain(&self, hash: &[u8; 32]) -> bool {
        let digest = halves(hash);
        self.layers.iter().any(|l| l.may_contain(digest))
    }

    /// Hashes inserted so far.
    pub fn len(&self) -> u64 {
        self.layers.iter().map(|l| l.noted).sum()
    }

    /// Whether nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of layers.
    pub fn layers(&self) -> usize {
        self.layers.len()
    }

    /// Bytes of filter memory.
    pub fn bytes(&self) -> usize {
        self.layers.iter().map(|l| l.words.len() * 8).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kp_types::Hash;

    fn hash(i: u64) -> [u8; 32] {
        Hash::of(kp_types::hash::Domain::Transaction, &i.to_le_bytes()).0
    }

    #[test]
    fn no_false_negatives_across_layers_and_few_false_positives() {
        let mut bloom = HashBloom::new();
        assert!(bloom.is_empty() && !bloom.may_contain(&hash(0)));
        let n = 5 * CAPACITY_MIN;
        for i in 0..n {
            bloom.insert(&hash(i));
        }
        assert!(bloom.layers() >= 3, "grew in layers: {}", bloom.layers());
        assert!((0..n).all(|i| bloom.may_contain(&hash(i))));
        let false_positives = (n..n + 100_000)
            .filter(|&i| bloom.may_contain(&hash(i)))
            .count();
        // Each layer is at most at capacity: about 0.8 % each, a few layers.
        assert!(false_positives < 4_000, "{false_positives} false positives");
        assert_eq!(bloom.len(), n);
        assert!(bloom.bytes() as u64 <= 2 * n * BITS_PER_KEY / 8 + CAPACITY_MIN * 2);
    }
}
