#![no_main]
//! See `kp_fuzz::decode_proof`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kp_fuzz::decode_proof::run(data));
