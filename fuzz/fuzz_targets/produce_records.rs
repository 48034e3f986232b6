//! What a Produce request carries, at every version class.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for version in [0, 2, 3, 9] {
        let _ = krab::records::produce_to_batches(data, version);
    }
});
