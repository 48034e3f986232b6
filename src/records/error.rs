//! The one error type of the record codecs.

use thiserror::Error;

/// Why a record buffer could not be read, written or converted.
///
/// The variants map onto Kafka error codes at the protocol layer:
/// `CorruptMessage` and `Truncated` to CORRUPT_MESSAGE, `InvalidRecord` to
/// INVALID_RECORD, `UnsupportedCompression` to UNSUPPORTED_COMPRESSION_TYPE,
/// `UnsupportedMagic` to UNSUPPORTED_FOR_MESSAGE_FORMAT.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordError {
    /// The buffer ended before a field or frame it announced.
    #[error("record data is truncated")]
    Truncated,
    /// A checksum mismatch or a malformed batch or message frame.
    #[error("corrupt message: {0}")]
    CorruptMessage(String),
    /// A magic byte this code does not read (or cannot write).
    #[error("unsupported magic byte {0}")]
    UnsupportedMagic(i8),
    /// A codec id that is unknown, or not representable in the target format.
    #[error("unsupported compression codec {0}")]
    UnsupportedCompression(u8),
    /// The codec failed, or its output would exceed the decompression cap.
    #[error("compression error: {0}")]
    Compression(String),
    /// A well-framed batch whose records are malformed or inconsistent.
    #[error("invalid record: {0}")]
    InvalidRecord(String),
}

pub(crate) type Result<T, E = RecordError> = std::result::Result<T, E>;
