//! DescribeCluster (key 60), v0–1: cluster id, controller and live brokers,
//! from the same view Metadata answers from, and (when asked) the cluster's
//! authorized operations (see `broker::authorizer`). v1 is served because
//! kafka-python reads its endpoint_type; only broker endpoints (1) exist:
//! asking for controllers (2) gets MISMATCHED_ENDPOINT_TYPE, as a Kafka
//! broker answers, anything else UNSUPPORTED_ENDPOINT_TYPE.
//! Not implemented: v2 (fenced brokers: krab never fences one).

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};

use crate::broker::authorizer::Resource;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::RequestFrame;

use super::{decode, respond, str_bytes};

const BROKER_ENDPOINTS: i8 = 1;
const CONTROLLER_ENDPOINTS: i8 = 2;
// Kafka's codes (Errors.java); only this handler uses them.
const MISMATCHED_ENDPOINT_TYPE: i16 = 114;
const UNSUPPORTED_ENDPOINT_TYPE: i16 = 115;

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: DescribeClusterRequest = decode(&frame)?;
    if frame.api_version >= 1 && request.endpoint_type != BROKER_ENDPOINTS {
        let error = if request.endpoint_type == CONTROLLER_ENDPOINTS {
            MISMATCHED_ENDPOINT_TYPE
        } else {
            UNSUPPORTED_ENDPOINT_TYPE
        };
        let response = DescribeClusterResponse::default()
            .with_error_code(error)
            .with_endpoint_type(request.endpoint_type);
        return respond(&frame, &response);
    }
    let view = broker.cluster_view();
    let mut brokers: Vec<DescribeClusterBroker> = Vec::new();
    let listener = frame.listener.as_deref();
    for b in &view.brokers {
        // This broker as it advertises itself, the others as registered,
        // on the listener this request came in on.
        let Some((host, port)) = broker.address_for(b, listener) else {
            continue;
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
        let (host, port) = broker.own_address(listener);
        brokers.push(
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(broker.config.broker_id))
                .with_host(str_bytes(&host))
                .with_port(port as i32),
        );
    }
    brokers.sort_by_key(|b| b.broker_id.0);
    let mut response = DescribeClusterResponse::default()
        .with_cluster_id(str_bytes(&broker.cluster_id))
        .with_controller_id(BrokerId(view.controller.unwrap_or(broker.config.broker_id)))
        .with_brokers(brokers);
    if frame.api_version >= 1 {
        response.endpoint_type = BROKER_ENDPOINTS;
    }
    if request.include_cluster_authorized_operations {
        response.cluster_authorized_operations = broker.authorized_operations(&frame, Resource::Cluster);
    }
    respond(&frame, &response)
}
