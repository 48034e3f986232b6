//! The broker's listeners at run time: each one's security settings, its
//! TLS configuration and the address it advertises; and which address of
//! another broker a client on a given listener is told (Kafka answers
//! Metadata and FindCoordinator with the endpoints of the listener the
//! request came in on).

use std::sync::Arc;

use crate::metadata::kafka_json::parse_endpoint;
use crate::metadata::BrokerInfo;
use crate::security::tls::ReloadingTls;
use crate::security::ListenerSecurity;

use super::Broker;

pub struct ListenerRuntime {
    pub security: Arc<ListenerSecurity>,
    /// Host and port written to `/brokers/ids/<id>` for this listener.
    pub advertised: (String, u16),
    pub tls: Option<ReloadingTls>,
}

impl ListenerRuntime {
    pub fn name(&self) -> &str {
        &self.security.name
    }
}

/// `b`'s address on `listener`: its registered endpoint of that name. A
/// registration without endpoints (written by an old tool) stands for a
/// PLAINTEXT listener.
pub fn endpoint_of(b: &BrokerInfo, listener: &str) -> Option<(String, u16)> {
    if b.endpoints.is_empty() {
        return (listener == "PLAINTEXT").then(|| (b.host.clone(), b.port));
    }
    b.endpoints
        .iter()
        .filter_map(|e| parse_endpoint(e))
        .find(|(name, _, _)| name.eq_ignore_ascii_case(listener))
        .map(|(_, host, port)| (host.to_string(), port))
}

impl Broker {
    /// The listener a request came in on (the first one when unknown).
    pub fn listener_named(&self, name: Option<&str>) -> Option<&Arc<ListenerRuntime>> {
        match name {
            Some(name) => self.listeners.iter().find(|l| l.name() == name),
            None => self.listeners.first(),
        }
    }

    /// This broker's advertised address on `listener`.
    pub fn own_address(&self, listener: Option<&str>) -> (String, u16) {
        self.listener_named(listener)
            .map(|l| l.advertised.clone())
            .unwrap_or_else(|| self.advertised.clone())
    }

    /// The address of broker `b` as a client of `listener` must use; `None`
    /// when `b` has no such listener (it is then left out, as in Kafka).
    pub fn address_for(&self, b: &BrokerInfo, listener: Option<&str>) -> Option<(String, u16)> {
        if b.id == self.config.broker_id {
            return Some(self.own_address(listener));
        }
        match listener.or_else(|| self.listeners.first().map(|l| l.name())) {
            Some(name) => endpoint_of(b, name),
            None => Some((b.host.clone(), b.port)),
        }
    }

    /// The address of a broker for inter-broker traffic (replication,
    /// transaction markers): its endpoint on `inter.broker.listener.name`.
    pub fn inter_broker_address(&self, b: &BrokerInfo) -> (String, u16) {
        endpoint_of(b, &self.config.security.inter_broker_listener).unwrap_or_else(|| (b.host.clone(), b.port))
    }
}
