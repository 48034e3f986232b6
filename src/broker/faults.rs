//! Faults injected on purpose, for tests: answer an API with an error code,
//! add latency, close the connection, stop fetch progress on a partition,
//! fail appends as a full disk would, or cut the broker off from
//! replication (`isolate`). Leadership moves are `control`'s. Faults are added, listed and
//! removed through the control endpoint (`control.listener`, see
//! `broker::control`) and `krab fault`; each fires a given number of times
//! (`count`) and/or for a given time (`duration_ms`), then retires itself.
//!
//! With no fault registered every check is one relaxed atomic load.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::ApiKey;
use serde::{Deserialize, Serialize};

/// What a fault does when it fires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer with this Kafka error code (per partition for Produce, Fetch
    /// and ListOffsets; for the whole request elsewhere).
    Error(i16),
    /// Hold the response back this many milliseconds.
    LatencyMs(u64),
    /// Close the connection instead of answering.
    Close,
    /// Fetches of the partition return no records (the log is untouched).
    StallFetch,
    /// Appends fail with KAFKA_STORAGE_ERROR, as on ENOSPC.
    DiskFull,
    /// The broker is cut off from the other brokers' replication: it
    /// refuses their follower fetches (closing the connection) and its own
    /// followers stop fetching. Clients and the metadata store still reach it.
    Isolate,
}

/// A fault as the control endpoint receives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// API name (`Produce`) or key (`0`); absent: every API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub action: FaultAction,
    /// Fire at most this many times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Stay active this long after being added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// A registered fault, as listed.
#[derive(Clone, Debug, Serialize)]
pub struct FaultView {
    pub id: u64,
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// Times it has fired.
    pub fired: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_ms: Option<u64>,
}

/// APIs whose error can be injected for the whole request: their responses
/// have one obvious error code to set (see `fault_responses`).
pub const REQUEST_LEVEL_ERROR_APIS: &[ApiKey] = &[
    ApiKey::FindCoordinator,
    ApiKey::JoinGroup,
    ApiKey::SyncGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
    ApiKey::OffsetCommit,
    ApiKey::InitProducerId,
];

/// APIs whose error is injected per partition, by the handler.
pub const PARTITION_LEVEL_ERROR_APIS: &[ApiKey] = &[ApiKey::Produce, ApiKey::Fetch, ApiKey::ListOffsets];

struct ActiveFault {
    id: u64,
    spec: FaultSpec,
    api: Option<ApiKey>,
    expires: Option<Instant>,
    remaining: Option<u64>,
    fired: u64,
}

impl ActiveFault {
    fn live(&self, now: Instant) -> bool {
        self.remaining != Some(0) && self.expires.is_none_or(|t| now < t)
    }

    fn matches_partition(&self, topic: &str, partition: i32) -> bool {
        self.spec.topic.as_deref().is_none_or(|t| t == topic) && self.spec.partition.is_none_or(|p| p == partition)
    }

    fn fire(&mut self) {
        self.fired += 1;
        if let Some(n) = &mut self.remaining {
            *n = n.saturating_sub(1);
        }
    }
}

/// An error to put into the partitions of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InjectedError {
    pub code: i16,
    pub topic: Option<String>,
    pub partition: Option<i32>,
}

impl InjectedError {
    /// The code for this partition, if the fault covers it.
    pub fn for_partition(&self, topic: &str, partition: i32) -> Option<i16> {
        let hit = self.topic.as_deref().is_none_or(|t| t == topic) && self.partition.is_none_or(|p| p == partition);
        hit.then_some(self.code)
    }
}

/// What the faults matching one request ask for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Injection {
    pub latency: Duration,
    pub close: bool,
    pub error: Option<InjectedError>,
}

/// Fired faults by kind, for `/metrics`.
#[derive(Default)]
pub struct FaultCounters {
    pub error: AtomicU64,
    pub latency: AtomicU64,
    pub close: AtomicU64,
    pub stall_fetch: AtomicU64,
    pub disk_full: AtomicU64,
    pub isolate: AtomicU64,
    pub move_leader: AtomicU64,
}

#[derive(Default)]
pub struct FaultRegistry {
    any: AtomicBool,
    next_id: AtomicU64,
    faults: Mutex<Vec<ActiveFault>>,
    pub fired: FaultCounters,
}

/// `Produce`, `produce` or `0` → the API key.
pub fn parse_api(text: &str) -> Result<ApiKey, String> {
    let text = text.trim();
    if let Ok(key) = text.parse::<i16>() {
        return ApiKey::try_from(key).map_err(|_| format!("unknown API key {key}"));
    }
    let wanted: String = text.chars().filter(|c| *c != '_' && *c != '-').collect();
    (0..1000)
        .filter_map(|k| ApiKey::try_from(k).ok())
        .find(|api| format!("{api:?}").eq_ignore_ascii_case(&wanted))
        .ok_or_else(|| format!("unknown API {text:?} (use a name such as Produce or a key such as 0)"))
}

/// `NOT_LEADER_OR_FOLLOWER`, `6` → 6, refusing codes Kafka does not define.
pub fn parse_error_code(text: &str) -> Result<i16, String> {
    let text = text.trim();
    let known = |code: i16| ResponseError::try_from_code(code).filter(|e| !matches!(e, ResponseError::Unknown(_)));
    let code = match text.parse::<i16>() {
        Ok(code) => code,
        Err(_) => (-1..=200)
            .find(|c| known(*c).is_some_and(|e| error_name(e).eq_ignore_ascii_case(text)))
            .ok_or_else(|| {
                format!("unknown error {text:?} (use a Kafka name such as NOT_LEADER_OR_FOLLOWER or a code)")
            })?,
    };
    match known(code) {
        Some(_) => Ok(code),
        None if code == 0 => Err("error code 0 is NONE, not an error".into()),
        None => Err(format!("unknown Kafka error code {code}")),
    }
}

/// Kafka's name for an error: `NotLeaderOrFollower` → `NOT_LEADER_OR_FOLLOWER`.
pub fn error_name(error: ResponseError) -> String {
    let mut name = String::new();
    for (i, c) in format!("{error:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

impl FaultRegistry {
    /// Validates and registers a fault; its id.
    pub fn add(&self, spec: FaultSpec) -> Result<u64, String> {
        let api = spec.api.as_deref().map(parse_api).transpose()?;
        match &spec.action {
            FaultAction::Error(code) => {
                parse_error_code(&code.to_string())?;
                let api = api.ok_or("an error fault needs an API (--api)")?;
                let partition_level = PARTITION_LEVEL_ERROR_APIS.contains(&api);
                if !partition_level && !REQUEST_LEVEL_ERROR_APIS.contains(&api) {
                    return Err(format!(
                        "errors cannot be injected into {api:?}; they can into {:?} and {:?} (latency and close work for every API)",
                        PARTITION_LEVEL_ERROR_APIS, REQUEST_LEVEL_ERROR_APIS
                    ));
                }
                if !partition_level && (spec.topic.is_some() || spec.partition.is_some()) {
                    return Err(format!(
                        "{api:?} errors apply to the whole request: drop the topic and partition"
                    ));
                }
            }
            FaultAction::StallFetch if spec.topic.is_none() => return Err("stall_fetch needs a topic".into()),
            FaultAction::StallFetch | FaultAction::DiskFull | FaultAction::Isolate if api.is_some() => {
                return Err("stall_fetch, disk_full and isolate apply to Fetch and appends; drop the API".into())
            }
            FaultAction::Isolate if spec.topic.is_some() || spec.client_id.is_some() => {
                return Err("isolate applies to the whole broker: drop the topic and client id".into())
            }
            _ => {}
        }
        if spec.partition.is_some() && spec.topic.is_none() {
            return Err("a partition needs its topic".into());
        }
        let partition_wide = matches!(
            spec.action,
            FaultAction::StallFetch | FaultAction::DiskFull | FaultAction::Isolate
        );
        if partition_wide && spec.client_id.is_some() {
            return Err("stall_fetch, disk_full and isolate act on partitions, not clients: drop the client id".into());
        }
        if matches!(spec.action, FaultAction::StallFetch | FaultAction::Isolate) && spec.count.is_some() {
            return Err("stall_fetch and isolate last a duration (duration_ms) or until removed, not a count".into());
        }
        if !partition_wide && spec.topic.is_some() && api.is_some_and(|a| !PARTITION_LEVEL_ERROR_APIS.contains(&a)) {
            return Err(format!(
                "a topic filter applies to {PARTITION_LEVEL_ERROR_APIS:?} requests only"
            ));
        }
        if spec.count == Some(0) {
            return Err("count must be at least 1".into());
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let expires = spec.duration_ms.map(|ms| Instant::now() + Duration::from_millis(ms));
        let fault = ActiveFault {
            id,
            remaining: spec.count,
            spec,
            api,
            expires,
            fired: 0,
        };
        let mut faults = self.lock();
        faults.push(fault);
        self.any.store(true, Ordering::Release);
        Ok(id)
    }

    pub fn list(&self) -> Vec<FaultView> {
        let now = Instant::now();
        let mut faults = self.lock();
        self.prune(&mut faults, now);
        faults
            .iter()
            .map(|f| FaultView {
                id: f.id,
                spec: f.spec.clone(),
                fired: f.fired,
                remaining: f.remaining,
                expires_in_ms: f.expires.map(|t| t.saturating_duration_since(now).as_millis() as u64),
            })
            .collect()
    }

    /// Removes one fault; whether it existed.
    pub fn remove(&self, id: u64) -> bool {
        let mut faults = self.lock();
        let before = faults.len();
        faults.retain(|f| f.id != id);
        self.any.store(!faults.is_empty(), Ordering::Release);
        faults.len() != before
    }

    /// Removes every fault; how many there were.
    pub fn clear(&self) -> usize {
        let mut faults = self.lock();
        let n = faults.len();
        faults.clear();
        self.any.store(false, Ordering::Release);
        n
    }

    /// The latency, close and error faults that fire for one request.
    /// `touched` lists the request's (topic, partition)s; it is called (out
    /// of the lock: it decodes the request) only when a fault names a topic.
    /// A close fires alone: an error or latency would never reach the client.
    pub fn on_request(
        &self,
        api: ApiKey,
        client_id: Option<&str>,
        touched: impl FnOnce() -> Vec<(String, i32)>,
    ) -> Injection {
        let mut injection = Injection::default();
        if !self.any.load(Ordering::Acquire) {
            return injection;
        }
        let applies = |fault: &ActiveFault| {
            !matches!(
                fault.spec.action,
                FaultAction::StallFetch | FaultAction::DiskFull | FaultAction::Isolate
            ) && fault.api.is_none_or(|a| a == api)
                && fault.spec.client_id.as_deref().is_none_or(|c| Some(c) == client_id)
        };
        let needs_topics = {
            let mut faults = self.lock();
            self.prune(&mut faults, Instant::now());
            faults.iter().any(|f| applies(f) && f.spec.topic.is_some())
        };
        let touched = if needs_topics { touched() } else { Vec::new() };
        let mut faults = self.lock();
        let mut firing: Vec<usize> = faults
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                applies(f) && (f.spec.topic.is_none() || touched.iter().any(|(t, p)| f.matches_partition(t, *p)))
            })
            .map(|(i, _)| i)
            .collect();
        if let Some(close) = firing
            .iter()
            .copied()
            .find(|i| faults[*i].spec.action == FaultAction::Close)
        {
            firing = vec![close];
        }
        for i in firing {
            let fault = &mut faults[i];
            match &fault.spec.action {
                FaultAction::LatencyMs(ms) => {
                    injection.latency += Duration::from_millis(*ms);
                    self.fired.latency.fetch_add(1, Ordering::Relaxed);
                }
                FaultAction::Close => {
                    injection.close = true;
                    self.fired.close.fetch_add(1, Ordering::Relaxed);
                }
                // One error per request: the first registered wins.
                FaultAction::Error(code) if injection.error.is_none() => {
                    injection.error = Some(InjectedError {
                        code: *code,
                        topic: fault.spec.topic.clone(),
                        partition: fault.spec.partition,
                    });
                    self.fired.error.fetch_add(1, Ordering::Relaxed);
                }
                _ => continue,
            }
            fault.fire();
        }
        self.prune(&mut faults, Instant::now());
        injection
    }

    /// Whether fetches of this partition are to return nothing now.
    pub fn fetch_stalled(&self, topic: &str, partition: i32) -> bool {
        self.partition_fault(topic, partition, &FaultAction::StallFetch, &self.fired.stall_fetch)
    }

    /// Whether an append to this partition is to fail as on a full disk.
    pub fn disk_full(&self, topic: &str, partition: i32) -> bool {
        self.partition_fault(topic, partition, &FaultAction::DiskFull, &self.fired.disk_full)
    }

    /// Whether replication to and from this broker is cut now.
    pub fn isolated(&self) -> bool {
        self.partition_fault("", 0, &FaultAction::Isolate, &self.fired.isolate)
    }

    fn partition_fault(&self, topic: &str, partition: i32, action: &FaultAction, counter: &AtomicU64) -> bool {
        if !self.any.load(Ordering::Acquire) {
            return false;
        }
        let now = Instant::now();
        let mut faults = self.lock();
        self.prune(&mut faults, now);
        let hit = faults
            .iter_mut()
            .find(|f| f.spec.action == *action && f.matches_partition(topic, partition));
        match hit {
            Some(fault) => {
                fault.fire();
                counter.fetch_add(1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Drops faults that have fired their count or outlived their duration.
    fn prune(&self, faults: &mut Vec<ActiveFault>, now: Instant) {
        faults.retain(|f| f.live(now));
        self.any.store(!faults.is_empty(), Ordering::Release);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ActiveFault>> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
#[path = "faults_tests.rs"]
mod tests;
