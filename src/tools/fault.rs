//! `krab fault`: add, list and remove faults on a broker's control endpoint
//! (`control.listener`, see `broker::control`).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::broker::faults::{parse_error_code, FaultAction, FaultSpec};

#[derive(Args, Debug)]
pub struct FaultArgs {
    /// The broker's control endpoint (its control.listener): HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub control: String,
    #[command(subcommand)]
    pub action: FaultCommand,
}

#[derive(Subcommand, Debug)]
pub enum FaultCommand {
    /// Inject a fault; prints its id.
    Add(AddArgs),
    /// List the active faults with how often each has fired.
    List,
    /// Remove one fault by id.
    Remove {
        /// The id `add` printed.
        id: u64,
    },
    /// Remove every fault.
    Clear,
    /// Move a partition's leadership to another in-sync replica.
    MoveLeader {
        #[arg(long)]
        topic: String,
        #[arg(long)]
        partition: i32,
        /// The broker id to lead.
        #[arg(long)]
        to: i32,
    },
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["error", "latency_ms", "close", "stall_fetch", "disk_full", "isolate"])))]
pub struct AddArgs {
    /// The API to act on, by name (Produce, Fetch, FindCoordinator...) or key.
    #[arg(long)]
    pub api: Option<String>,
    /// Answer with this Kafka error, by name (NOT_LEADER_OR_FOLLOWER) or code (6).
    #[arg(long, value_name = "ERROR")]
    pub error: Option<String>,
    /// Delay responses by this many milliseconds.
    #[arg(long, value_name = "MS")]
    pub latency_ms: Option<u64>,
    /// Close the connection instead of answering.
    #[arg(long)]
    pub close: bool,
    /// Fetches of --topic (and --partition) return no records.
    #[arg(long)]
    pub stall_fetch: bool,
    /// Appends fail with KAFKA_STORAGE_ERROR, as on a full disk.
    #[arg(long)]
    pub disk_full: bool,
    /// Cut the broker off from replication: it refuses follower fetches and
    /// its own followers stop fetching.
    #[arg(long)]
    pub isolate: bool,
    /// Only requests touching this topic.
    #[arg(long)]
    pub topic: Option<String>,
    /// Only this partition of --topic.
    #[arg(long)]
    pub partition: Option<i32>,
    /// Only requests from this client id.
    #[arg(long)]
    pub client_id: Option<String>,
    /// Fire at most this many times.
    #[arg(long)]
    pub count: Option<u64>,
    /// Stay active this many milliseconds.
    #[arg(long, value_name = "MS")]
    pub duration_ms: Option<u64>,
}

impl AddArgs {
    fn spec(&self) -> Result<FaultSpec, String> {
        let action = if let Some(error) = &self.error {
            FaultAction::Error(parse_error_code(error)?)
        } else if let Some(ms) = self.latency_ms {
            FaultAction::LatencyMs(ms)
        } else if self.close {
            FaultAction::Close
        } else if self.stall_fetch {
            FaultAction::StallFetch
        } else if self.isolate {
            FaultAction::Isolate
        } else {
            FaultAction::DiskFull
        };
        Ok(FaultSpec {
            api: self.api.clone(),
            topic: self.topic.clone(),
            partition: self.partition,
            client_id: self.client_id.clone(),
            action,
            count: self.count,
            duration_ms: self.duration_ms,
        })
    }
}

pub fn run(args: &FaultArgs) -> Result<String, String> {
    let request = match &args.action {
        FaultCommand::Add(add) => json!({"op": "add", "fault": add.spec()?}),
        FaultCommand::List => json!({"op": "list"}),
        FaultCommand::Remove { id } => json!({"op": "remove", "id": id}),
        FaultCommand::Clear => json!({"op": "clear"}),
        FaultCommand::MoveLeader { topic, partition, to } => {
            json!({"op": "move_leader", "topic": topic, "partition": partition, "to": to})
        }
    };
    let reply = call(&args.control, &request)?;
    if reply["ok"] != Value::Bool(true) {
        return Err(format!(
            "Error: {}",
            reply["error"].as_str().unwrap_or("the broker refused the request")
        ));
    }
    Ok(match &args.action {
        FaultCommand::Add(_) => reply["id"].to_string(),
        FaultCommand::List => list_table(&reply["faults"]),
        FaultCommand::Remove { id } => format!("removed fault {id}"),
        FaultCommand::Clear => format!("removed {} fault(s)", reply["removed"]),
        FaultCommand::MoveLeader { topic, partition, to } => {
            format!(
                "broker {to} leads {topic}-{partition} (leader epoch {})",
                reply["leader_epoch"]
            )
        }
    })
}

/// One request line, one reply line.
pub fn call(control: &str, request: &Value) -> Result<Value, String> {
    let unreachable = |e: std::io::Error| {
        format!("Error: cannot reach the control endpoint at {control}: {e} (is control.listener set on the broker?)")
    };
    let addr = std::net::ToSocketAddrs::to_socket_addrs(control)
        .map_err(unreachable)?
        .next()
        .ok_or_else(|| format!("Error: {control} resolves to no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(unreachable)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(unreachable)?;
    let mut line = request.to_string();
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(unreachable)?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).map_err(unreachable)?;
    serde_json::from_str(&reply).map_err(|e| format!("Error: unreadable reply from {control}: {e}"))
}

fn list_table(faults: &Value) -> String {
    let mut out = String::from("ID\tAPI\tTOPIC\tPARTITION\tCLIENT\tACTION\tFIRED\tREMAINING\tEXPIRES_MS");
    for f in faults.as_array().into_iter().flatten() {
        let text = |key: &str| match &f[key] {
            Value::Null => "-".to_string(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push_str(&format!(
            "\n{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            text("id"),
            text("api"),
            text("topic"),
            text("partition"),
            text("client_id"),
            text("action"),
            text("fired"),
            text("remaining"),
            text("expires_in_ms"),
        ));
    }
    out
}
