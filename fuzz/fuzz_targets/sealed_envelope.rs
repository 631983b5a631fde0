#![no_main]
//! See `kp_fuzz::sealed_envelope`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kp_fuzz::sealed_envelope::run(data));
