//! The control endpoint (`control.listener`): fault injection for tests.
//! It never starts unless configured. The protocol is one JSON object per
//! line each way, so `krab fault`, a test's socket or `nc` can drive it:
//!
//! ```text
//! {"op":"add","fault":{"api":"Produce","action":{"error":6},"count":3}}  → {"ok":true,"id":1}
//! {"op":"list"}                                                          → {"ok":true,"faults":[...]}
//! {"op":"remove","id":1}                                                 → {"ok":true}
//! {"op":"clear"}                                                         → {"ok":true,"removed":2}
//! {"op":"move_leader","topic":"t","partition":0,"to":2}                  → {"ok":true,"leader_epoch":5}
//! ```
//! Anything else gets `{"ok":false,"error":"..."}` and changes nothing.

use std::sync::{Arc, Weak};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::faults::FaultSpec;
use super::Broker;

/// Longest request line; faults are small.
const MAX_LINE: u64 = 64 * 1024;
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum ControlRequest {
    Add { fault: FaultSpec },
    List,
    Remove { id: u64 },
    Clear,
    MoveLeader { topic: String, partition: i32, to: i32 },
}

/// Answers one request line.
pub async fn answer(broker: &Arc<Broker>, line: &str) -> Value {
    let faults = &broker.faults;
    let request: ControlRequest = match serde_json::from_str(line) {
        Ok(r) => r,
        Err(e) => return json!({"ok": false, "error": format!("bad control request: {e}")}),
    };
    match request {
        ControlRequest::Add { fault } => match faults.add(fault) {
            Ok(id) => {
                tracing::info!(id, "fault injected");
                json!({"ok": true, "id": id})
            }
            Err(e) => json!({"ok": false, "error": e}),
        },
        ControlRequest::List => json!({"ok": true, "faults": faults.list()}),
        ControlRequest::Remove { id } => {
            if faults.remove(id) {
                tracing::info!(id, "fault removed");
                json!({"ok": true})
            } else {
                json!({"ok": false, "error": format!("no fault {id} (it may have fired its count or expired)")})
            }
        }
        ControlRequest::Clear => {
            let removed = faults.clear();
            tracing::info!(removed, "faults cleared");
            json!({"ok": true, "removed": removed})
        }
        ControlRequest::MoveLeader { topic, partition, to } => {
            match crate::controller::preferred::move_leader(broker, &topic, partition, to).await {
                Ok(epoch) => {
                    faults
                        .fired
                        .move_leader
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    json!({"ok": true, "leader_epoch": epoch})
                }
                Err(e) => json!({"ok": false, "error": e}),
            }
        }
    }
}

/// Accepts control connections until shutdown. Holds the broker weakly, so
/// it never keeps a stopped broker alive.
pub async fn serve(listener: TcpListener, broker: Weak<Broker>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((socket, _)) => {
                tokio::spawn(connection(socket, broker.clone()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "control accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn connection(socket: TcpStream, broker: Weak<Broker>) {
    let (reader, mut writer) = socket.into_split();
    let mut reader = BufReader::new(reader);
    loop {
        let mut line = Vec::new();
        let mut limited = (&mut reader).take(MAX_LINE);
        match tokio::time::timeout(IDLE_TIMEOUT, limited.read_until(b'\n', &mut line)).await {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => return,
            Ok(Ok(_)) => {}
        }
        let complete = line.ends_with(b"\n");
        let reply = if !complete && line.len() as u64 >= MAX_LINE {
            json!({"ok": false, "error": "control request of 64 KiB or more without a newline"})
        } else {
            let Some(broker) = broker.upgrade() else { return };
            match std::str::from_utf8(&line) {
                Ok(text) if text.trim().is_empty() => continue,
                Ok(text) => answer(&broker, text.trim()).await,
                Err(_) => json!({"ok": false, "error": "control requests are UTF-8 JSON"}),
            }
        };
        let mut out = reply.to_string();
        out.push('\n');
        if writer.write_all(out.as_bytes()).await.is_err() || !complete {
            return;
        }
    }
}
