//! Admin tools that speak the Kafka protocol to a broker, as Kafka's own
//! scripts do: `krab topics` (kafka-topics.sh).

pub mod client;
pub mod topics;
