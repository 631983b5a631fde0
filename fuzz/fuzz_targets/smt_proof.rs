#![no_main]
//! See `kp_fuzz::smt_proof`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kp_fuzz::smt_proof::run(data));
