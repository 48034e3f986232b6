//! User entities: `/config/users/<sanitized user>` holds a user's SCRAM
//! credentials as Kafka writes them
//! (`{"version":1,"config":{"SCRAM-SHA-256":"salt=...,stored_key=...,server_key=...,iterations=8192"}}`),
//! each change announced as `users/<sanitized user>` under `/config/changes`.

use std::collections::BTreeMap;

use super::layout::{KafkaLayout, LayoutError};
use crate::security::sanitize::{desanitize, sanitize};

pub const CONFIG_USERS: &str = "/config/users";

fn user_path(user: &str) -> String {
    format!("{CONFIG_USERS}/{}", sanitize(user))
}

impl KafkaLayout {
    /// A user's config entries (SCRAM credentials by mechanism name); empty
    /// when the user has none.
    pub async fn user_config(&self, user: &str) -> Result<BTreeMap<String, String>, LayoutError> {
        let path = user_path(user);
        match self.store().get(&path).await? {
            None => Ok(BTreeMap::new()),
            Some((data, _)) => {
                super::kafka_json::parse_entity_config(&data).map_err(|r| super::layout::malformed(&path, r))
            }
        }
    }

    /// Replaces a user's config and announces it, as kafka-configs.sh does.
    pub async fn change_user_config(&self, user: &str, config: &BTreeMap<String, String>) -> Result<(), LayoutError> {
        let path = user_path(user);
        self.upsert(&path, &super::kafka_json::entity_config(config)).await?;
        self.announce_config_change(&format!("users/{}", sanitize(user))).await
    }

    /// Every user with an entity znode (desanitized); names that do not
    /// decode are skipped.
    pub async fn users(&self) -> Result<Vec<String>, LayoutError> {
        let mut names: Vec<String> = self
            .children_or_empty(CONFIG_USERS)
            .await?
            .iter()
            .filter_map(|n| desanitize(n).ok())
            .collect();
        names.sort();
        Ok(names)
    }
}
