//! One refresh: read the store (if any) and ask the brokers, then merge both
//! into a `Snapshot`. A refresh that cannot reach ZooKeeper or any broker
//! keeps the previous data and says why, so pages never go blank.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use super::collect_brokers::{self, BrokerSide};
use super::collect_store::{self, StoredGroup};
use super::snapshot::{lag, Coordination, GroupRow, MemberRow, OffsetRow, Snapshot};
use crate::metadata::KafkaLayout;

/// A ZooKeeper connection attempt longer than this counts as a failure.
const ZOOKEEPER_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Long invalid znode contents are cut to this many characters.
const MAX_REASON: usize = 120;

/// Where the committed offsets and ZooKeeper consumers are read from.
pub enum StoreSource {
    /// No store: offsets through OffsetFetch (`krab monitor --bootstrap-server`).
    None,
    /// `krab monitor --zk`: a session of our own, reopened after failures.
    Zookeeper {
        connect: String,
        layout: Option<KafkaLayout>,
    },
    /// The broker's own store (the monitor a broker serves).
    Shared(KafkaLayout),
}

pub struct Collector {
    store: StoreSource,
    /// Brokers to bootstrap from; `None`: those registered in /brokers/ids.
    bootstrap: Option<String>,
    /// Without a store, when each offset was first seen and last changed.
    seen: HashMap<(String, String, i32), Seen>,
}

struct Seen {
    first_ms: i64,
    changed_ms: i64,
    observed_ms: i64,
    value: i64,
}

impl Collector {
    pub fn new(store: StoreSource, bootstrap: Option<String>) -> Collector {
        Collector {
            store,
            bootstrap,
            seen: HashMap::new(),
        }
    }

    /// Where the data comes from, for the page header.
    pub fn describe(&self) -> String {
        match (&self.store, &self.bootstrap) {
            (StoreSource::Zookeeper { connect, .. }, _) => format!("ZooKeeper {connect}"),
            (StoreSource::Shared(_), _) => "this broker".to_string(),
            (StoreSource::None, bootstrap) => format!("brokers {}", bootstrap.as_deref().unwrap_or("-")),
        }
    }

    pub async fn refresh(&mut self, previous: &Snapshot, now_ms: i64) -> Snapshot {
        match self.try_refresh(now_ms).await {
            Ok(snapshot) => snapshot,
            Err(error) => {
                tracing::warn!(%error, "monitor refresh failed; keeping the last data");
                Snapshot {
                    taken_at_ms: now_ms,
                    errors: vec![error],
                    ..previous.clone()
                }
            }
        }
    }

    async fn try_refresh(&mut self, now_ms: i64) -> Result<Snapshot, String> {
        let layout = self.layout().await?;
        let stored = match &layout {
            Some(layout) => Some(
                collect_store::read_groups(layout)
                    .await
                    .map_err(|e| self.store_failed(e))?,
            ),
            None => None,
        };
        let bootstrap = match (&self.bootstrap, &layout) {
            (Some(bootstrap), _) => bootstrap.clone(),
            (None, Some(layout)) => {
                let brokers = layout.live_brokers().await.map_err(|e| self.store_failed(e))?;
                if brokers.is_empty() {
                    return Err("no broker is registered in /brokers/ids".to_string());
                }
                let addresses: Vec<String> = brokers.iter().map(|b| format!("{}:{}", b.host, b.port)).collect();
                addresses.join(",")
            }
            (None, None) => return Err("no broker to ask".to_string()),
        };
        let fetch_offsets = stored.is_none();
        let asked = bootstrap.clone();
        let side = tokio::task::spawn_blocking(move || collect_brokers::collect(&asked, fetch_offsets))
            .await
            .map_err(|e| format!("broker refresh failed: {e}"))?
            .map_err(|e| format!("brokers ({bootstrap}): {e}"))?;
        Ok(self.merge(side, stored, now_ms))
    }

    async fn layout(&mut self) -> Result<Option<KafkaLayout>, String> {
        match &mut self.store {
            StoreSource::None => Ok(None),
            StoreSource::Shared(layout) => Ok(Some(layout.clone())),
            StoreSource::Zookeeper { connect, layout } => {
                if layout.is_none() {
                    let opened = tokio::time::timeout(
                        ZOOKEEPER_CONNECT_TIMEOUT,
                        crate::metadata::open_store(Some(connect), Duration::from_secs(10), std::path::Path::new("")),
                    )
                    .await
                    .map_err(|_| format!("ZooKeeper {connect}: no answer within 5 s"))?
                    .map_err(|e| format!("ZooKeeper {connect}: {e}"))?;
                    *layout = Some(KafkaLayout::new(opened));
                }
                Ok(layout.clone())
            }
        }
    }

    /// Reports a store error, and drops our own ZooKeeper session so that
    /// the next refresh opens a fresh one.
    fn store_failed(&mut self, error: crate::metadata::LayoutError) -> String {
        match &mut self.store {
            StoreSource::Zookeeper { connect, layout } => {
                *layout = None;
                format!("ZooKeeper {connect}: {error}")
            }
            _ => format!("metadata store: {error}"),
        }
    }

    fn merge(&mut self, mut side: BrokerSide, stored: Option<BTreeMap<String, StoredGroup>>, now_ms: i64) -> Snapshot {
        let mut groups = BTreeMap::new();
        let names: BTreeSet<String> = side
            .groups
            .keys()
            .chain(stored.iter().flat_map(|s| s.keys()))
            .cloned()
            .collect();
        let mut stored = stored.unwrap_or_default();
        for name in names {
            let coordinated = side.groups.remove(&name);
            let from_store = stored.remove(&name);
            let row = self.group_row(&name, coordinated, from_store, &side, now_ms);
            groups.insert(name, row);
        }
        // Offsets that are gone (group or partition deleted) are forgotten.
        self.seen.retain(|_, s| s.observed_ms == now_ms);
        Snapshot {
            taken_at_ms: now_ms,
            data_as_of_ms: now_ms,
            errors: side.errors,
            brokers: side.brokers,
            controller: side.controller,
            topics: side.topics,
            groups,
        }
    }

    fn group_row(
        &mut self,
        name: &str,
        coordinated: Option<collect_brokers::CoordinatedGroup>,
        stored: Option<StoredGroup>,
        side: &BrokerSide,
        now_ms: i64,
    ) -> GroupRow {
        let StoredGroup {
            members: zookeeper_members,
            offsets: stored_offsets,
            mut owners,
        } = stored.unwrap_or_default();
        let coordinated = coordinated.unwrap_or_default();
        // (topic, partition) → owner; ZooKeeper consumers' owner znodes first.
        for (member, owned) in &coordinated.members {
            for tp in owned {
                owners.entry(tp.clone()).or_insert_with(|| member.id.clone());
            }
        }
        let mut keys: BTreeSet<(String, i32)> = stored_offsets.keys().cloned().collect();
        keys.extend(coordinated.offsets.keys().cloned());
        keys.extend(owners.keys().cloned());
        let mut partitions = Vec::with_capacity(keys.len());
        for key in keys {
            let log_size = side
                .topics
                .get(&key.0)
                .and_then(|t| t.partitions.iter().find(|p| p.partition == key.1))
                .and_then(|p| p.log_size);
            let (offset, invalid, created_ms, last_seen_ms) = match stored_offsets.get(&key) {
                Some(s) => match &s.value {
                    Ok(v) => (Some(*v), None, Some(s.ctime_ms), Some(s.mtime_ms)),
                    Err(reason) => (None, Some(shorten(reason)), Some(s.ctime_ms), Some(s.mtime_ms)),
                },
                None => match coordinated.offsets.get(&key) {
                    Some(v) => {
                        let (first, changed) = self.observe(name, &key, *v, now_ms);
                        (Some(*v), None, Some(first), Some(changed))
                    }
                    None => (None, None, None, None),
                },
            };
            partitions.push(OffsetRow {
                owner: owners.get(&key).cloned().unwrap_or_else(|| "none".to_string()),
                lag: lag(offset, log_size),
                topic: key.0,
                partition: key.1,
                offset,
                invalid,
                log_size,
                created_ms,
                last_seen_ms,
            });
        }
        let zookeeper_members: Vec<MemberRow> = zookeeper_members
            .iter()
            .map(|m| MemberRow {
                id: m.id.clone(),
                client_id: String::new(),
                host: m.host.clone(),
            })
            .collect();
        let (coordination, state, members) = if !coordinated.members.is_empty() {
            let kind = if coordinated.zookeeper {
                Coordination::Zookeeper
            } else {
                Coordination::Broker
            };
            let members = coordinated.members.into_iter().map(|(m, _)| m).collect();
            (kind, coordinated.state, members)
        } else if !zookeeper_members.is_empty() {
            (Coordination::Zookeeper, "Stable".to_string(), zookeeper_members)
        } else {
            let state = if coordinated.state.is_empty() || coordinated.state == "Dead" {
                "Empty".to_string()
            } else {
                coordinated.state
            };
            (Coordination::None, state, vec![])
        };
        GroupRow {
            state,
            coordination,
            members,
            partitions,
        }
    }

    /// First-seen and last-changed times of an offset known only from OffsetFetch.
    fn observe(&mut self, group: &str, key: &(String, i32), value: i64, now_ms: i64) -> (i64, i64) {
        let seen = self
            .seen
            .entry((group.to_string(), key.0.clone(), key.1))
            .or_insert(Seen {
                first_ms: now_ms,
                changed_ms: now_ms,
                observed_ms: now_ms,
                value,
            });
        seen.observed_ms = now_ms;
        if seen.value != value {
            seen.value = value;
            seen.changed_ms = now_ms;
        }
        (seen.first_ms, seen.changed_ms)
    }
}

fn shorten(reason: &str) -> String {
    if reason.chars().count() <= MAX_REASON {
        return reason.to_string();
    }
    let cut: String = reason.chars().take(MAX_REASON).collect();
    format!("{cut}…")
}
