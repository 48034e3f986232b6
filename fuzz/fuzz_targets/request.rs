//! Request header plus the body decoder of every API and version krab serves.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    krab::protocol::fuzz_support::decode_any_request(bytes::Bytes::copy_from_slice(data));
});
