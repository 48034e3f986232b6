//! The wire protocol around the messages: request framing and headers, the
//! registry of implemented API versions, and Kafka's error codes. Sans-IO:
//! bytes in, typed values out; the network layer lives in `broker::connection`.

pub mod emulation;
pub mod error_code;
pub mod frame;
pub mod fuzz_support;
pub mod registry;

pub use error_code::ErrorCode;
pub use frame::{encode_response, parse_request_header, FrameError, RequestFrame};
pub use registry::{supported_range, SUPPORTED_APIS};
