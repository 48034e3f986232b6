//! `krab dump-log`: kafka-dump-log.sh for segment files. Prints each batch
//! as Kafka's tool does (offsets, count, sequences, producer, partition
//! leader epoch, flags, position, timestamp, size, magic, codec, CRC and
//! whether it is valid), and with `--print-data-log` each record with its
//! key and payload. Reads the file as it is: a torn tail or a damaged batch
//! is reported, never trusted.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::records::{decode_batch_records, split_batches, validate_batch, Compression};

#[derive(clap::Args, Debug)]
pub struct DumpLogArgs {
    /// Segment files to dump, comma-separated: 00000000000000000000.log,...
    #[arg(long, value_delimiter = ',', required = true)]
    pub files: Vec<PathBuf>,
    /// Also print every record: offset, timestamp, key and payload.
    #[arg(long)]
    pub print_data_log: bool,
    /// Accepted for Kafka's scripts; v2 batches are always read record by record.
    #[arg(long)]
    pub deep_iteration: bool,
}

/// Dumps every file; the first unreadable one is the error.
pub fn run(args: &DumpLogArgs) -> Result<String, String> {
    let mut out = String::new();
    for file in &args.files {
        out.push_str(&dump_file(file, args.print_data_log)?);
    }
    Ok(out.trim_end().to_string())
}

/// The dump of one `.log` file.
pub fn dump_file(path: &Path, print_data: bool) -> Result<String, String> {
    let name = path.display().to_string();
    if path.extension().and_then(|e| e.to_str()) != Some("log") {
        return Err(format!("{name}: only segment files (.log) can be dumped"));
    }
    let data = std::fs::read(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    let mut out = format!("Dumping {name}\n");
    let base = path
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0);
    let _ = writeln!(out, "Starting offset: {base}");
    out.push_str(&dump_bytes(&data, print_data));
    Ok(out)
}

/// The batch and record lines for a segment's bytes.
pub fn dump_bytes(data: &[u8], print_data: bool) -> String {
    let mut out = String::new();
    let mut position = 0usize;
    for item in split_batches(data) {
        let (header, bytes) = match item {
            Ok(found) => found,
            Err(e) => {
                let _ = writeln!(out, "Found an unreadable batch at position {position}: {e}");
                return out;
            }
        };
        // A legacy (magic 0/1) entry was CRC-checked by split_batches already.
        let valid = header.magic < 2 || validate_batch(bytes).is_ok();
        let codec = match header.compression() {
            Ok(Compression::None) => "NONE",
            Ok(Compression::Gzip) => "GZIP",
            Ok(Compression::Snappy) => "SNAPPY",
            Ok(Compression::Lz4) => "LZ4",
            Ok(Compression::Zstd) => "ZSTD",
            Err(_) => "UNKNOWN",
        };
        let last_sequence = if header.base_sequence < 0 {
            -1
        } else {
            header.base_sequence.wrapping_add(header.last_offset_delta)
        };
        let time_type = if header.attributes & 0x08 != 0 {
            "LogAppendTime"
        } else {
            "CreateTime"
        };
        let _ = writeln!(
            out,
            "baseOffset: {} lastOffset: {} count: {} baseSequence: {} lastSequence: {} producerId: {} \
             producerEpoch: {} partitionLeaderEpoch: {} isTransactional: {} isControl: {} position: {} \
             {}: {} size: {} magic: {} compresscodec: {} crc: {} isvalid: {}",
            header.base_offset,
            header.last_offset(),
            header.record_count,
            header.base_sequence,
            last_sequence,
            header.producer_id,
            header.producer_epoch,
            header.partition_leader_epoch,
            header.attributes & 0x10 != 0,
            header.attributes & 0x20 != 0,
            position,
            time_type,
            header.max_timestamp,
            bytes.len(),
            header.magic,
            codec,
            header.crc,
            valid
        );
        if print_data && valid {
            match decode_batch_records(bytes) {
                Ok((_, records)) => {
                    for (i, r) in records.iter().enumerate() {
                        let sequence = if header.base_sequence < 0 {
                            -1
                        } else {
                            header.base_sequence.wrapping_add(i as i32)
                        };
                        let text = |b: &Option<bytes::Bytes>| {
                            b.as_ref()
                                .map_or(String::new(), |v| String::from_utf8_lossy(v).into_owned())
                        };
                        let header_keys: Vec<&str> = r.headers.iter().map(|(k, _)| k.as_str()).collect();
                        let _ = write!(
                            out,
                            "| offset: {} {}: {} keysize: {} valuesize: {} sequence: {} headerKeys: [{}]",
                            r.offset,
                            time_type,
                            r.timestamp,
                            r.key.as_ref().map_or(-1, |k| k.len() as i64),
                            r.value.as_ref().map_or(-1, |v| v.len() as i64),
                            sequence,
                            header_keys.join(","),
                        );
                        if r.key.is_some() {
                            let _ = write!(out, " key: {}", text(&r.key));
                        }
                        let _ = writeln!(out, " payload: {}", text(&r.value));
                    }
                }
                Err(e) => {
                    let _ = writeln!(out, "| cannot decode the records: {e}");
                }
            }
        }
        position += bytes.len();
    }
    if position < data.len() {
        let _ = writeln!(
            out,
            "Found {} trailing bytes at position {position} (a partial batch)",
            data.len() - position
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::encode_batch;

    #[test]
    fn batches_and_records_are_printed_and_damage_reported() {
        let records = vec![crate::records::Record {
            offset: 0,
            timestamp: 1000,
            key: Some(bytes::Bytes::from_static(b"k")),
            value: Some(bytes::Bytes::from_static(b"hello")),
            headers: vec![],
        }];
        let batch = encode_batch(&records, Compression::None, 0, -1, -1, -1, None).expect("encode");
        let text = dump_bytes(&batch, true);
        assert!(text.contains("baseOffset: 0 lastOffset: 0 count: 1"), "{text}");
        assert!(text.contains("isvalid: true"), "{text}");
        assert!(text.contains("key: k payload: hello"), "{text}");
        let mut damaged = batch.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 0xff;
        let text = dump_bytes(&damaged, true);
        assert!(text.contains("isvalid: false"), "{text}");
        let mut torn = batch.clone();
        torn.extend_from_slice(&batch[..20]);
        assert!(dump_bytes(&torn, false).contains("trailing bytes"));
    }
}
