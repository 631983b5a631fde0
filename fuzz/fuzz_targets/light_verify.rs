#![no_main]
//! See `kp_fuzz::light_verify`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kp_fuzz::light_verify::run(data));
