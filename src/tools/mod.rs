//! Admin tools that speak the Kafka protocol to a broker, or ZooKeeper's
//! znodes directly, as Kafka's own scripts do: `krab topics`
//! (kafka-topics.sh), `krab consumer-groups` (kafka-consumer-groups.sh),
//! `krab console-producer` and `krab console-consumer`.

pub mod client;
pub mod cluster;
pub mod console_consumer;
pub mod console_producer;
pub mod consumer_groups;
pub mod consumer_groups_offsets;
pub mod consumer_groups_zk;
pub mod fetcher;
mod old_consumer;
pub mod partition_offsets;
pub mod topics;
mod topics_alter;
pub mod topics_zk;
