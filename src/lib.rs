//! krab: a Kafka-wire-protocol compatible message broker.
//!
//! Layers, bottom up: `records` (sans-IO batch and message-set codecs), `log`
//! (segmented partition logs on disk), `metadata` (a znode store: embedded or
//! ZooKeeper, in Kafka's layout), `protocol` (framing and the API registry),
//! `broker` (state, connections and one handler per API), `tools` (admin CLIs),
//! `monitor` (the offset monitor's pages, JSON API and history), `replica`
//! (followers, ISR, high watermarks), `controller` (leader elections) and
//! `testing` (throw-away brokers for tests).
//! `metrics` is a
//! dependency-free Prometheus text writer used by the broker and the monitor.

pub mod broker;
pub mod config;
pub mod controller;
pub mod group;
pub mod log;
pub mod metadata;
pub mod metrics;
pub mod monitor;
pub mod protocol;
pub mod records;
pub mod replica;
pub mod security;
pub mod testing;
pub mod tools;
pub mod txn;
