//! The fetch loop both console consumers share: a position per partition,
//! Fetch v4 to each partition's leader, and the records decoded in order.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest};

use crate::records::{decode_batch_records, split_batches};

use super::client::Client;
use super::cluster::{list_offset, topic_name, EARLIEST, LATEST};

/// One record as the console consumer prints it.
#[derive(Clone, Debug)]
pub struct Consumed {
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
}

/// Bytes asked for per partition and per request.
const PARTITION_MAX_BYTES: i32 = 1 << 20;
const ERROR_OFFSET_OUT_OF_RANGE: i16 = 1;
/// UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER.
const RETRIABLE: [i16; 3] = [3, 5, 6];

/// Where the current partition leaders ("host:port") are looked up again
/// after a leader moved or went away.
pub type LeaderSource = Box<dyn FnMut() -> Result<BTreeMap<i32, String>, String>>;

pub struct Fetcher {
    topic: String,
    clients: HashMap<String, Client>,
    /// Partition → (leader "host:port", next offset to read).
    positions: BTreeMap<i32, (String, i64)>,
    leader_source: Option<LeaderSource>,
}

impl Fetcher {
    pub fn new(topic: &str) -> Fetcher {
        Fetcher {
            topic: topic.to_string(),
            clients: HashMap::new(),
            positions: BTreeMap::new(),
            leader_source: None,
        }
    }

    /// With a source, a lost connection or NOT_LEADER makes `poll` look the
    /// leaders up again and carry on, instead of failing.
    pub fn set_leader_source(&mut self, source: LeaderSource) {
        self.leader_source = Some(source);
    }

    /// Forgets the connection to `addr` (it failed).
    pub fn drop_client(&mut self, addr: &str) {
        self.clients.remove(addr);
    }

    /// Re-reads the leaders; a failure keeps the old ones for the next try.
    fn refresh_leaders(&mut self) {
        let Some(source) = self.leader_source.as_mut() else {
            return;
        };
        match source() {
            Ok(leaders) => {
                for (p, (leader, _)) in self.positions.iter_mut() {
                    if let Some(new) = leaders.get(p) {
                        leader.clone_from(new);
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "cannot refresh partition leaders"),
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    /// A connection to `addr`, opened on first use.
    pub fn client(&mut self, addr: &str) -> Result<&mut Client, String> {
        if !self.clients.contains_key(addr) {
            let client = Client::connect(addr)?;
            self.clients.insert(addr.to_string(), client);
        }
        self.clients
            .get_mut(addr)
            .ok_or_else(|| format!("no connection to {addr}"))
    }

    /// The offset of `partition` at `timestamp` (EARLIEST / LATEST), from `addr`.
    pub fn offset_at(&mut self, addr: &str, partition: i32, timestamp: i64) -> Result<i64, String> {
        let topic = self.topic.clone();
        list_offset(self.client(addr)?, &topic, partition, timestamp)
    }

    pub fn set_position(&mut self, partition: i32, leader: &str, offset: i64) {
        self.positions.insert(partition, (leader.to_string(), offset));
    }

    /// Where a console consumer starts reading `partition`: an explicit
    /// offset (`--offset`, possibly EARLIEST / LATEST), else the committed
    /// one, else the log start with `--from-beginning` or the log end.
    pub fn start_at(
        &mut self,
        partition: i32,
        leader: &str,
        explicit: Option<i64>,
        committed: Option<i64>,
        from_beginning: bool,
    ) -> Result<(), String> {
        let start = match (explicit, committed) {
            (Some(o), _) => o,
            (None, Some(o)) if o >= 0 => o,
            _ if from_beginning => EARLIEST,
            _ => LATEST,
        };
        let offset = if start < 0 {
            self.offset_at(leader, partition, start)?
        } else {
            start
        };
        self.set_position(partition, leader, offset);
        Ok(())
    }

    /// Partition → next offset to read.
    pub fn positions(&self) -> BTreeMap<i32, i64> {
        self.positions.iter().map(|(p, (_, o))| (*p, *o)).collect()
    }

    /// One round of fetches (each leader waits up to `max_wait_ms` for
    /// data); returns the new records, partition by partition in order.
    pub fn poll(&mut self, max_wait_ms: i32) -> Result<Vec<Consumed>, String> {
        let mut by_leader: BTreeMap<String, Vec<(i32, i64)>> = BTreeMap::new();
        for (p, (leader, offset)) in &self.positions {
            by_leader.entry(leader.clone()).or_default().push((*p, *offset));
        }
        let wait = max_wait_ms / by_leader.len().max(1) as i32;
        let mut out = Vec::new();
        let mut stale_leaders = false;
        for (leader, partitions) in by_leader {
            let request = FetchRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_max_wait_ms(wait)
                .with_min_bytes(1)
                .with_max_bytes(16 * PARTITION_MAX_BYTES)
                .with_topics(vec![FetchTopic::default()
                    .with_topic(topic_name(&self.topic))
                    .with_partitions(
                        partitions
                            .iter()
                            .map(|(p, offset)| {
                                FetchPartition::default()
                                    .with_partition(*p)
                                    .with_fetch_offset(*offset)
                                    .with_partition_max_bytes(PARTITION_MAX_BYTES)
                            })
                            .collect(),
                    )]);
            let response = match self.client(&leader).and_then(|c| c.send(&request, 4)) {
                Ok(response) => response,
                Err(e) if self.leader_source.is_some() => {
                    tracing::debug!(%leader, error = %e, "fetch failed; looking up the leaders again");
                    self.drop_client(&leader);
                    stale_leaders = true;
                    continue;
                }
                Err(e) => return Err(e),
            };
            for topic in &response.responses {
                for data in &topic.partitions {
                    let p = data.partition_index;
                    if data.error_code == ERROR_OFFSET_OUT_OF_RANGE {
                        // Retention moved the start past us: begin again at it.
                        let earliest = self.offset_at(&leader, p, EARLIEST)?;
                        self.set_position(p, &leader, earliest);
                        continue;
                    }
                    if RETRIABLE.contains(&data.error_code) {
                        // A leader that has not loaded the topic yet, or one
                        // that is not the leader any more: try again next round.
                        if self.leader_source.is_some() && data.error_code != 3 {
                            stale_leaders = true;
                        } else {
                            std::thread::sleep(std::time::Duration::from_millis(100));
                        }
                        continue;
                    }
                    if data.error_code != 0 {
                        return Err(format!("fetch {}-{p}: error code {}", self.topic, data.error_code));
                    }
                    let Some(records) = data.records.as_ref() else {
                        continue;
                    };
                    let Some((_, next)) = self.positions.get_mut(&p) else {
                        continue;
                    };
                    for batch in split_batches(records) {
                        let (header, bytes) = batch.map_err(|e| format!("fetch {}-{p}: {e}", self.topic))?;
                        if header.last_offset() < *next {
                            continue;
                        }
                        if !header.is_control() {
                            let (_, records) =
                                decode_batch_records(bytes).map_err(|e| format!("fetch {}-{p}: {e}", self.topic))?;
                            for r in records.into_iter().filter(|r| r.offset >= *next) {
                                out.push(Consumed {
                                    partition: p,
                                    offset: r.offset,
                                    timestamp: r.timestamp,
                                    key: r.key,
                                    value: r.value,
                                });
                            }
                        }
                        *next = header.last_offset() + 1;
                    }
                }
            }
        }
        if stale_leaders {
            self.refresh_leaders();
        }
        Ok(out)
    }
}

/// How a record is printed: `--property print.key=true`,
/// `key.separator`, `print.timestamp`, `print.partition`, `print.offset`.
#[derive(Clone, Debug)]
pub struct Formatter {
    pub print_key: bool,
    pub print_timestamp: bool,
    pub print_partition: bool,
    pub print_offset: bool,
    pub key_separator: String,
}

impl Formatter {
    pub fn from_properties(properties: &BTreeMap<String, String>) -> Formatter {
        let flag = |k: &str| properties.get(k).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        Formatter {
            print_key: flag("print.key"),
            print_timestamp: flag("print.timestamp"),
            print_partition: flag("print.partition"),
            print_offset: flag("print.offset"),
            key_separator: properties.get("key.separator").cloned().unwrap_or_else(|| "\t".into()),
        }
    }

    /// One output line, without the newline.
    pub fn format(&self, r: &Consumed) -> Vec<u8> {
        let mut line = Vec::new();
        if self.print_timestamp {
            line.extend_from_slice(format!("CreateTime:{}\t", r.timestamp).as_bytes());
        }
        if self.print_partition {
            line.extend_from_slice(format!("Partition:{}\t", r.partition).as_bytes());
        }
        if self.print_offset {
            line.extend_from_slice(format!("Offset:{}\t", r.offset).as_bytes());
        }
        let bytes = |b: &Option<Bytes>| b.as_ref().map_or(b"null".to_vec(), |b| b.to_vec());
        if self.print_key {
            line.extend_from_slice(&bytes(&r.key));
            line.extend_from_slice(self.key_separator.as_bytes());
        }
        line.extend_from_slice(&bytes(&r.value));
        line
    }
}
