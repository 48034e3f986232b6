//! `krab console-consumer --zookeeper`: Kafka's old ZooKeeper consumer
//! (0.8 – 1.1) as kafka-console-consumer.sh ran it. It registers
//! EPHEMERAL /consumers/<g>/ids/<id>, claims EPHEMERAL
//! /consumers/<g>/owners/<t>/<p>, keeps its offsets in
//! /consumers/<g>/offsets/<t>/<p> (plain decimal) and fetches from the
//! leaders named by the partition state znodes. A generated group
//! (`console-consumer-<n>`) is removed on exit, as Kafka's tool did.
//! Not implemented: rebalancing among several consumers of one group (a
//! partition already owned by another consumer is skipped).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;

use crate::metadata::KafkaLayout;

use super::cluster::{connect_zookeeper, leaders_via_zookeeper};
use super::console_consumer::{consume, explicit_offset, Committer, ConsumerArgs, Limits};
use super::fetcher::{Fetcher, Formatter};

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// `<group>_<hostname>-<ms>-<8 hex digits>`, as ZookeeperConsumerConnector names itself.
fn consumer_id(group: &str) -> String {
    let suffix: u32 = rand::thread_rng().gen();
    format!("{group}_{}-{}-{suffix:08x}", hostname(), crate::broker::now_ms())
}

pub(super) fn run(
    rt: &tokio::runtime::Runtime,
    args: &ConsumerArgs,
    connect: &str,
    group: Option<String>,
    formatter: &Formatter,
    out: &mut dyn Write,
    stop: &AtomicBool,
) -> Result<u64, String> {
    let layout = connect_zookeeper(rt, connect)?;
    let zk = |e: crate::metadata::LayoutError| format!("ZooKeeper: {e}");
    if rt.block_on(layout.live_brokers()).map_err(zk)?.is_empty() {
        return Err("No brokers found in ZK.".into());
    }
    let generated = group.is_none();
    let group = group.unwrap_or_else(|| format!("console-consumer-{}", rand::thread_rng().gen_range(0..100_000)));
    if args.delete_consumer_offsets {
        rt.block_on(layout.delete_group_tree(&group)).map_err(zk)?;
    } else if !generated && args.from_beginning && rt.block_on(layout.group_has_offsets(&group)).map_err(zk)? {
        return Err(format!(
            "Found previous offset information for this group {group}. Please use --delete-consumer-offsets to delete previous offsets metadata"
        ));
    }
    let id = consumer_id(&group);
    rt.block_on(layout.register_old_consumer(&group, &id, &args.topic))
        .map_err(zk)?;
    let result = consume_as(rt, &layout, args, &group, &id, formatter, out, stop);
    // Leave as the old consumer did on shutdown: ownership and registration
    // go now rather than when the session expires; a generated group goes whole.
    let cleanup = async {
        let base = format!("/consumers/{group}");
        if generated {
            layout.delete_group_tree(&group).await
        } else {
            let owners = format!("{base}/owners/{}", args.topic);
            for p in layout.store().children(&owners).await?.unwrap_or_default() {
                let path = format!("{owners}/{p}");
                if let Some((data, _)) = layout.store().get(&path).await? {
                    if data.starts_with(id.as_bytes()) {
                        layout.store().delete(&path, false).await?;
                    }
                }
            }
            layout.store().delete(&format!("{base}/ids/{id}"), false).await?;
            Ok(())
        }
    };
    if let Err(e) = rt.block_on(cleanup) {
        eprintln!("WARN cannot remove this consumer's znodes: {e}");
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn consume_as(
    rt: &tokio::runtime::Runtime,
    layout: &KafkaLayout,
    args: &ConsumerArgs,
    group: &str,
    id: &str,
    formatter: &Formatter,
    out: &mut dyn Write,
    stop: &AtomicBool,
) -> Result<u64, String> {
    let zk = |e: crate::metadata::LayoutError| format!("ZooKeeper: {e}");
    let started = Instant::now();
    let timeout = args.timeout_ms.map(Duration::from_millis);
    // The old consumer waits for a topic that does not exist yet.
    let leaders = loop {
        if let Some(l) = leaders_via_zookeeper(rt.handle(), layout, &args.topic)? {
            break l.leaders;
        }
        if stop.load(Ordering::Acquire) || timeout.is_some_and(|t| started.elapsed() >= t) {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let mut fetcher = Fetcher::new(&args.topic);
    {
        let (handle, layout, topic) = (rt.handle().clone(), layout.clone(), args.topic.clone());
        fetcher.set_leader_source(Box::new(move || {
            leaders_via_zookeeper(&handle, &layout, &topic)?
                .map(|l| l.leaders)
                .ok_or_else(|| format!("topic {topic} has partitions without a leader"))
        }));
    }
    for (p, leader) in &leaders {
        if args.partition.is_some_and(|only| only != *p) {
            continue;
        }
        let owner = format!("{id}-0");
        if !rt
            .block_on(layout.claim_partition(group, &args.topic, *p, &owner))
            .map_err(zk)?
        {
            eprintln!(
                "WARN partition {p} of {} is owned by another consumer of group {group}; skipped",
                args.topic
            );
            continue;
        }
        let committed = rt.block_on(layout.fetch_offset(group, &args.topic, *p)).map_err(zk)?;
        let explicit = args.offset.as_deref().map(explicit_offset).transpose()?;
        fetcher.start_at(*p, leader, explicit, committed, args.from_beginning)?;
    }
    let limits = Limits {
        max_messages: args.max_messages,
        timeout,
        commit_every: Duration::from_secs(1),
    };
    let topic = args.topic.clone();
    let mut last: BTreeMap<i32, i64> = BTreeMap::new();
    let commit: Committer<'_> = Box::new(move |positions| {
        for (p, o) in positions {
            if last.get(p) != Some(o) {
                rt.block_on(layout.commit_offset(group, &topic, *p, *o)).map_err(zk)?;
                last.insert(*p, *o);
            }
        }
        Ok(())
    });
    consume(&mut fetcher, formatter, out, &limits, stop, commit)
}
