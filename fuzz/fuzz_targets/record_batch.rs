//! RecordBatch v2: validation, splitting and record decoding.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = krab::records::validate_batch(data);
    let _ = krab::records::decode_batch_records(data);
    for _ in krab::records::split_batches(data) {}
});
