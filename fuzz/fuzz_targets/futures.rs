#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| concur_fuzz_harness::futures::run(data));
