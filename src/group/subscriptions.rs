//! Which topics a group's members are subscribed to, read from their
//! consumer-protocol metadata (the one place the broker looks inside it):
//! OffsetDelete refuses to delete offsets of a topic a member consumes.

use std::collections::BTreeSet;

use bytes::{Buf, Bytes};
use kafka_protocol::messages::ConsumerProtocolSubscription;
use kafka_protocol::protocol::Decodable;

use super::state::Group;
use super::types::GroupState;

/// What OffsetDelete needs to know about a group the coordinator has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSubscriptions {
    pub state: GroupState,
    pub protocol_type: Option<String>,
    pub has_members: bool,
    /// Every member's topics; None when one member's cannot be read (then
    /// every topic counts as subscribed: deleting a live member's offset
    /// would be worse than refusing).
    pub topics: Option<BTreeSet<String>>,
}

impl GroupSubscriptions {
    pub fn is_subscribed(&self, topic: &str) -> bool {
        self.topics.as_ref().is_none_or(|t| t.contains(topic))
    }
}

impl Group {
    pub fn subscriptions(&self) -> GroupSubscriptions {
        let mut topics = Some(BTreeSet::new());
        for member in self.members.values() {
            // Before the first protocol is chosen, any of a member's
            // protocols carries the same subscription.
            let metadata = match &self.protocol_name {
                Some(name) => member.metadata_for(name),
                None => member.protocols.first().map(|(_, m)| m.clone()).unwrap_or_default(),
            };
            match (&mut topics, subscribed_topics(&metadata)) {
                (Some(all), Some(mine)) => all.extend(mine),
                _ => topics = None,
            }
        }
        GroupSubscriptions {
            state: self.state,
            protocol_type: self.protocol_type.clone(),
            has_members: !self.members.is_empty(),
            topics,
        }
    }
}

/// The topics of a consumer-protocol subscription (a version, then the
/// versioned body); None if it is not one.
pub fn subscribed_topics(metadata: &Bytes) -> Option<Vec<String>> {
    let mut buf = metadata.clone();
    if buf.remaining() < 2 {
        return None;
    }
    // Later versions only add fields after the topics: read them as v3.
    let version = buf.get_i16().clamp(0, 3);
    let subscription = ConsumerProtocolSubscription::decode(&mut buf, version).ok()?;
    Some(subscription.topics.iter().map(|t| t.to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;
    use kafka_protocol::protocol::{Encodable, StrBytes};

    fn subscription(version: i16, topics: &[&str]) -> Bytes {
        let s = ConsumerProtocolSubscription::default()
            .with_topics(topics.iter().map(|t| StrBytes::from_string(t.to_string())).collect());
        let mut buf = bytes::BytesMut::new();
        buf.put_i16(version);
        s.encode(&mut buf, version).unwrap();
        buf.freeze()
    }

    #[test]
    fn reads_every_version() {
        for v in 0..=3 {
            assert_eq!(
                subscribed_topics(&subscription(v, &["a", "b"])),
                Some(vec!["a".to_string(), "b".to_string()])
            );
        }
    }

    #[test]
    fn garbage_is_not_a_subscription() {
        assert_eq!(subscribed_topics(&Bytes::from_static(b"\x00")), None);
        assert_eq!(
            subscribed_topics(&Bytes::from_static(b"\x00\x00\x00\x00\x00\x05ab")),
            None
        );
    }

    #[test]
    fn unknown_subscriptions_cover_every_topic() {
        let s = GroupSubscriptions {
            state: GroupState::Stable,
            protocol_type: Some("consumer".into()),
            has_members: true,
            topics: None,
        };
        assert!(s.is_subscribed("anything"));
        let s = GroupSubscriptions {
            topics: Some(["t".to_string()].into()),
            ..s
        };
        assert!(s.is_subscribed("t"));
        assert!(!s.is_subscribed("u"));
    }
}
