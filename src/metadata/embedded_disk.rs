//! On-disk format of the embedded store: snapshot, journal lines, the journal writer
//! thread (group commit) and loading on open.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, OnceLock};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::Tree;
use crate::metadata::store::StoreError;

pub(super) const SNAPSHOT_FILE: &str = "snapshot.json";
pub(super) const SNAPSHOT_TMP_FILE: &str = "snapshot.json.tmp";
pub(super) const JOURNAL_FILE: &str = "journal.jsonl";
pub(super) const LOCK_FILE: &str = "lock";
pub(super) const SNAPSHOT_FORMAT: u32 = 1;
/// Upper bound of journal lines written under one fsync.
pub(super) const MAX_GROUP_COMMIT: usize = 4096;

/// Node data on disk: a plain string when UTF-8 (a readable journal), else base64.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(untagged)]
pub(super) enum Payload {
    Text(String),
    Binary { b64: String },
}

impl Payload {
    pub(super) fn from_bytes(data: &[u8]) -> Payload {
        match std::str::from_utf8(data) {
            Ok(text) => Payload::Text(text.to_owned()),
            Err(_) => Payload::Binary {
                b64: BASE64.encode(data),
            },
        }
    }

    pub(super) fn to_bytes(&self) -> Result<Vec<u8>, String> {
        match self {
            Payload::Text(text) => Ok(text.as_bytes().to_vec()),
            Payload::Binary { b64 } => BASE64.decode(b64).map_err(|e| format!("bad base64: {e}")),
        }
    }
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(super) enum JournalEntry {
    Create {
        zxid: i64,
        path: String,
        data: Payload,
        ctime: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sequence: Option<i64>,
    },
    Set {
        zxid: i64,
        path: String,
        data: Payload,
        mtime: i64,
        version: i32,
    },
    Delete {
        zxid: i64,
        path: String,
    },
    /// Only advances the zxid (an ephemeral was created).
    Zxid {
        zxid: i64,
    },
}

impl JournalEntry {
    pub(super) fn zxid(&self) -> i64 {
        match self {
            JournalEntry::Create { zxid, .. }
            | JournalEntry::Set { zxid, .. }
            | JournalEntry::Delete { zxid, .. }
            | JournalEntry::Zxid { zxid } => *zxid,
        }
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct Snapshot {
    pub(super) format: u32,
    pub(super) last_zxid: i64,
    pub(super) nodes: Vec<SnapshotNode>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct SnapshotNode {
    pub(super) path: String,
    pub(super) data: Payload,
    pub(super) version: i32,
    pub(super) ctime: i64,
    pub(super) mtime: i64,
    pub(super) czxid: i64,
    #[serde(default)]
    pub(super) next_sequence: i64,
}

pub(super) type Ack = oneshot::Sender<Result<(), StoreError>>;

pub(super) enum WriterCommand {
    Append { line: Vec<u8>, ack: Ack },
    Snapshot(Snapshot),
}

pub(super) fn io_error(path: &Path, what: &str, err: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("{what} {}: {err}", path.display()))
}

pub(super) fn load_tree(dir: &Path, snapshot_every: usize) -> Result<Tree, StoreError> {
    let snapshot_path = dir.join(SNAPSHOT_FILE);
    let mut tree = match std::fs::read(&snapshot_path) {
        Ok(bytes) => {
            let snapshot: Snapshot = serde_json::from_slice(&bytes)
                .map_err(|e| StoreError::Invalid(format!("{}: {e}", snapshot_path.display())))?;
            Tree::from_snapshot(snapshot, snapshot_every)
                .map_err(|e| StoreError::Invalid(format!("{}: {e}", snapshot_path.display())))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Tree::new(snapshot_every),
        Err(e) => return Err(io_error(&snapshot_path, "reading", e)),
    };
    let snapshot_zxid = tree.last_zxid;

    let journal_path = dir.join(JOURNAL_FILE);
    let journal = match std::fs::read(&journal_path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io_error(&journal_path, "reading", e)),
    };
    let lines: Vec<(usize, &[u8])> = journal
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.trim_ascii().is_empty())
        .collect();
    for (index, (line_number, line)) in lines.iter().enumerate() {
        let entry: JournalEntry = match serde_json::from_slice(line) {
            Ok(entry) => entry,
            // A crash mid-append leaves a partial last line: that write was never acknowledged.
            Err(e) if index + 1 == lines.len() => {
                tracing::warn!(path = %journal_path.display(), line = line_number + 1, error = %e, "ignoring torn last journal line");
                break;
            }
            Err(e) => {
                return Err(StoreError::Invalid(format!(
                    "{} line {}: {e}",
                    journal_path.display(),
                    line_number + 1
                )))
            }
        };
        // Entries already in the snapshot (crash between snapshot rename and journal truncation).
        if entry.zxid() <= snapshot_zxid {
            continue;
        }
        tree.replay(entry)
            .map_err(|e| StoreError::Invalid(format!("{} line {}: {e}", journal_path.display(), line_number + 1)))?;
    }
    Ok(tree)
}

pub(super) fn write_snapshot(dir: &Path, snapshot: &Snapshot) -> Result<(), StoreError> {
    let tmp_path = dir.join(SNAPSHOT_TMP_FILE);
    let final_path = dir.join(SNAPSHOT_FILE);
    let bytes = serde_json::to_vec(snapshot).map_err(|e| StoreError::Invalid(format!("snapshot encode: {e}")))?;
    let mut tmp = File::create(&tmp_path).map_err(|e| io_error(&tmp_path, "creating", e))?;
    tmp.write_all(&bytes).map_err(|e| io_error(&tmp_path, "writing", e))?;
    tmp.sync_all().map_err(|e| io_error(&tmp_path, "syncing", e))?;
    drop(tmp);
    std::fs::rename(&tmp_path, &final_path).map_err(|e| io_error(&final_path, "renaming to", e))?;
    // Make the rename itself durable.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, "syncing", e))
}

/// Journal writer thread: appends queued lines, one fsync per batch, then acknowledges.
pub(super) fn run_writer(
    commands: mpsc::Receiver<WriterCommand>,
    mut journal: File,
    dir: PathBuf,
    failure: Arc<OnceLock<String>>,
) {
    let journal_path = dir.join(JOURNAL_FILE);
    let mut buffer = Vec::new();
    let mut acks: Vec<Ack> = Vec::new();
    let flush = |journal: &mut File, buffer: &mut Vec<u8>, acks: &mut Vec<Ack>| {
        if acks.is_empty() {
            return;
        }
        let result = match failure.get() {
            Some(reason) => Err(reason.clone()),
            None => journal
                .write_all(buffer)
                .and_then(|()| journal.sync_data())
                .map_err(|e| {
                    let reason = format!("writing {}: {e}", journal_path.display());
                    tracing::error!("{reason}; embedded metadata store is now read-only");
                    let _ = failure.set(reason.clone());
                    reason
                }),
        };
        buffer.clear();
        for ack in acks.drain(..) {
            let _ = ack.send(result.clone().map_err(StoreError::Unavailable));
        }
    };
    while let Ok(first) = commands.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_GROUP_COMMIT {
            match commands.try_recv() {
                Ok(command) => batch.push(command),
                Err(_) => break,
            }
        }
        for command in batch {
            match command {
                WriterCommand::Append { line, ack } => {
                    buffer.extend_from_slice(&line);
                    acks.push(ack);
                }
                WriterCommand::Snapshot(snapshot) => {
                    flush(&mut journal, &mut buffer, &mut acks);
                    if failure.get().is_some() {
                        continue;
                    }
                    // On failure the journal is simply kept: replay still covers everything.
                    match write_snapshot(&dir, &snapshot) {
                        Ok(()) => {
                            if let Err(e) = journal.set_len(0).and_then(|()| journal.sync_all()) {
                                tracing::warn!(path = %journal_path.display(), error = %e, "journal truncation failed");
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "metadata snapshot failed; journal keeps growing")
                        }
                    }
                }
            }
        }
        flush(&mut journal, &mut buffer, &mut acks);
    }
}
