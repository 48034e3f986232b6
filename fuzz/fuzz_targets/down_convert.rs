//! Down-conversion of stored batches for old Fetch versions.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let offset = data.first().copied().unwrap_or(0) as i64;
    let _ = krab::records::down_convert(data, 0, offset);
    let _ = krab::records::down_convert(data, 1, offset);
});
