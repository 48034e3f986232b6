//! Legacy MessageSet (magic 0 and 1).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = krab::records::decode_message_set(data);
    let _ = krab::records::decode_message_set_strict(data);
});
