//! The fuzz targets of kpledger's light client, as plain functions.
//!
//! Each target module has `run(data)`, what its libFuzzer binary
//! (`fuzz_targets/*.rs`) calls on every input, and `seeds()`, the valid
//! inputs the `seeds` binary writes to `corpus/<target>/`. Keeping the
//! bodies here lets the seeds binary replay them on the stable toolchain.
//!
//! A target may panic only through an `assert!` of its own oracle (a
//! soundness property); any other panic is a bug of the code under test.
//!
//! What a hostile node can compute is fair game for the harnesses: they
//! recompute hashes, Merkle paths and records roots ("fix-ups") so that the
//! fuzzer gets past the hash checks to the logic behind them. What it cannot
//! compute (a signature by a key it does not hold) they never make, except
//! with the small-order keys ZIP-215 accepts ([`small_order`]), which anyone
//! can "sign" with.

pub mod chain;
pub mod decode_header;
pub mod decode_proof;
pub mod forge;
pub mod light_verify;
pub mod sealed_envelope;
pub mod smt_proof;

pub use chain::CHAIN;

/// Small-order ed25519 points, and the signature that verifies for every
/// message under each of them (ZIP-215, cofactored: `s = 0`, `R` the
/// identity).
pub mod small_order {
    use kp_types::{PublicKey, Signature};

    /// The encodings of the eight small-order points (the identity, the point
    /// of order 2, two of order 4, four of order 8).
    pub const KEYS: [[u8; 32]; 8] = [
        hex32("0100000000000000000000000000000000000000000000000000000000000000"),
        hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        hex32("0000000000000000000000000000000000000000000000000000000000000000"),
        hex32("0000000000000000000000000000000000000000000000000000000000000080"),
        hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
        hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
        hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
        hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
    ];

    /// The `i`-th small-order key (mod 8).
    pub fn key(i: usize) -> PublicKey {
        PublicKey(KEYS[i % KEYS.len()])
    }

    /// Whether `k` is one of [`KEYS`].
    pub fn is_small(k: &PublicKey) -> bool {
        KEYS.contains(&k.0)
    }

    /// `R` = the identity, `s` = 0.
    pub fn signature() -> Signature {
        let mut s = [0u8; 64];
        s[0] = 1;
        Signature(s)
    }

    const fn hex32(text: &str) -> [u8; 32] {
        let b = text.as_bytes();
        let mut out = [0u8; 32];
        let mut i = 0;
        while i < 32 {
            out[i] = nibble(b[2 * i]) << 4 | nibble(b[2 * i + 1]);
            i += 1;
        }
        out
    }

    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a hex digit"),
        }
    }
}

/// Reads bytes off the front of a fuzz input.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// Over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    /// The next byte, or 0 when none is left.
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    /// The next `N` bytes, zero-padded.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        out
    }

    /// Whatever is left.
    pub fn rest(&self) -> &'a [u8] {
        self.data
    }

    /// Whether nothing is left.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use crate::decode_proof::{check, skeleton, Kind};
    use crate::forge::{self, forge};
    use kp_client::proof::Finding;

    #[test]
    fn seeds_replay() {
        for data in crate::decode_header::seeds() {
            crate::decode_header::run(&data);
        }
        for data in crate::decode_proof::seeds() {
            crate::decode_proof::run(&data);
        }
        for data in crate::smt_proof::seeds() {
            crate::smt_proof::run(&data);
        }
        for data in crate::light_verify::seeds() {
            crate::light_verify::run(&data);
        }
    }

    #[test]
    fn forged_proofs_verify() {
        let all = forge::GENESIS
            | forge::SIGN_SMALL
            | forge::LINK_ACTS
            | forge::LINK_HEIGHTS
            | forge::CHAIN_ID;
        for (kind, found) in [
            (Kind::Issued, true),
            (Kind::ConfirmedAndSeized, true),
            (Kind::AbsentSeized, false),
        ] {
            for opts in [0, forge::GENESIS, all] {
                let mut p = skeleton(kind);
                forge(&mut p, opts);
                let finding = check(&p).unwrap_or_else(|| {
                    let e = kp_client::proof::verify(
                        &p,
                        &p.number,
                        &kp_types::Hash::ZERO,
                        crate::decode_proof::today(),
                    );
                    panic!("{kind:?} with {opts:#x}: {e:?}")
                });
                assert_eq!(matches!(finding, Finding::Found(_)), found, "{kind:?}");
            }
        }
    }

    #[test]
    fn forged_light_blocks_are_refused() {
        use kp_client::light::{LightClient, LightError, TrustOptions};
        let c = crate::chain::chain();
        for seed in crate::light_verify::seeds().iter().rev().take(2) {
            let mut b: kp_api::proof::LightBlock =
                kp_types::decode(&seed[3..], seed.len()).unwrap();
            assert!(b.validators.iter().all(|(_, k)| crate::small_order::is_small(k)));
            b.commit.signatures.truncate(4);
            let mut client = LightClient::new(c.genesis_root(), TrustOptions::default(), None)
                .unwrap();
            let now = crate::chain::time_of(crate::chain::LEN);
            let err = client
                .verify(&b, now, &mut |h| c.get(h))
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    LightError::Fetch { .. } | LightError::BadValidatorSet { .. }
                ),
                "{err}"
            );
        }
    }
}
