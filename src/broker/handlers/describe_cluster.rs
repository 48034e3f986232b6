//! DescribeCluster (key 60), v0: cluster id, controller and live brokers,
//! from the same view Metadata answers from, and (when asked) the cluster's
//! authorized operations (see `broker::authorizer`).
//! Not implemented: v1 (endpoint type: krab has no controller listeners).

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};

use crate::broker::authorizer::{authorized_operations, Resource};
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::RequestFrame;

use super::{decode, respond, str_bytes};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: DescribeClusterRequest = decode(&frame)?;
    let view = broker.cluster_view();
    let mut brokers: Vec<DescribeClusterBroker> = Vec::new();
    for b in &view.brokers {
        // This broker as it advertises itself, the others as registered.
        let (host, port) = if b.id == broker.config.broker_id {
            (broker.advertised.0.clone(), broker.advertised.1)
        } else {
            (b.host.clone(), b.port)
        };
        brokers.push(
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(b.id))
                .with_host(str_bytes(&host))
                .with_port(port as i32)
                .with_rack(b.rack.as_deref().map(str_bytes)),
        );
    }
    if !brokers.iter().any(|b| b.broker_id.0 == broker.config.broker_id) {
        // Not yet in the view (startup, or the store is away): still us.
        brokers.push(
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(broker.config.broker_id))
                .with_host(str_bytes(&broker.advertised.0))
                .with_port(broker.advertised.1 as i32),
        );
    }
    brokers.sort_by_key(|b| b.broker_id.0);
    let mut response = DescribeClusterResponse::default()
        .with_cluster_id(str_bytes(&broker.cluster_id))
        .with_controller_id(BrokerId(view.controller.unwrap_or(broker.config.broker_id)))
        .with_brokers(brokers);
    if request.include_cluster_authorized_operations {
        response.cluster_authorized_operations = authorized_operations(Resource::Cluster);
    }
    respond(&frame, &response)
}
