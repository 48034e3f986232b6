//! Every codec's decoder, bounded output.
#![no_main]
use krab::records::{decompress_with_limit, Compression};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
        let _ = decompress_with_limit(codec, data, 1 << 20);
    }
});
