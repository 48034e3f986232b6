//! Admin tools that speak the Kafka protocol to a broker, or ZooKeeper's
//! znodes directly, as Kafka's own scripts do: `krab topics`
//! (kafka-topics.sh), `krab consumer-groups` (kafka-consumer-groups.sh),
//! `krab console-producer`, `krab console-consumer`, `krab dump-log`,
//! `krab reassign-partitions`, `krab leader-election`,
//! `krab preferred-replica-election`, `krab configs` (kafka-configs.sh),
//! `krab dev` (a throw-away broker for tests) and `krab fault` (fault
//! injection through a broker's control endpoint).

pub mod acls;
pub mod client;
pub mod cluster;
pub mod configs;
pub mod configs_users;
pub mod console_consumer;
pub mod console_producer;
pub mod consumer_groups;
pub mod consumer_groups_offsets;
pub mod consumer_groups_zk;
pub mod dev;
pub mod dump_log;
pub mod fault;
pub mod fetcher;
pub mod leader_election;
mod old_consumer;
pub mod partition_offsets;
pub mod reassign;
pub mod topics;
mod topics_alter;
pub mod topics_zk;
pub mod transactions;
