//! DeleteTopics (key 20), v0–3: marks the topic under /admin/delete_topics
//! and, with `delete.topic.enable` (the default), removes its data and
//! znodes before answering, so the name can be reused at once. With deletion
//! disabled the answer is TOPIC_DELETION_DISABLED and nothing changes.
//! Not implemented: deletion by topic id (v6+).

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::RequestFrame;

use super::{decode, respond};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: DeleteTopicsRequest = decode(&frame)?;
    let mut results = Vec::with_capacity(request.topic_names.len());
    for name in &request.topic_names {
        let mut result = DeletableTopicResult::default().with_name(Some(name.clone()));
        if !super::authorize_topic(broker, &frame, AclOperation::Delete, name.as_str()) {
            result.error_code = crate::protocol::ErrorCode::TopicAuthorizationFailed.code();
        } else if let Err(e) = broker.delete_topic(name.as_str()).await {
            tracing::info!(topic = %name.as_str(), error = %e, "topic deletion refused");
            result.error_code = e.code().code();
        }
        results.push(result);
    }
    respond(&frame, &DeleteTopicsResponse::default().with_responses(results))
}
