//! Admin tools that speak the Kafka protocol to a broker (or, with
//! `--zookeeper`, read the znodes), as Kafka's own scripts do:
//! `krab topics` (kafka-topics.sh), `krab consumer-groups`
//! (kafka-consumer-groups.sh).

pub mod client;
pub mod consumer_groups;
pub mod consumer_groups_zk;
pub mod partition_offsets;
pub mod topics;
