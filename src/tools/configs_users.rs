//! `krab configs --entity-type users`: SCRAM credentials, as
//! kafka-configs.sh manages them. `--add-config
//! 'SCRAM-SHA-256=[iterations=8192,password=secret]'` (iterations default
//! to 4096) and `--delete-config SCRAM-SHA-256`; with `--zookeeper` the
//! credential is derived here and written to `/config/users/<user>` with its
//! `/config/changes` notification, with `--bootstrap-server` it goes through
//! AlterUserScramCredentials (salt and salted password computed here, as
//! Kafka's admin client does). Quota keys are not supported.

use std::collections::BTreeMap;

use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest};

use crate::security::scram::{salted_password, ScramCredential, ScramMechanism, MIN_ITERATIONS};

use super::client::Client;
use super::cluster::{connect_zookeeper, runtime};
use super::topics::kafka_error_name;

/// One `SCRAM-SHA-xxx=[iterations=N,password=P]` entry.
struct Upsert {
    mechanism: ScramMechanism,
    iterations: u32,
    password: String,
}

fn parse_upserts(add: &BTreeMap<String, String>) -> Result<Vec<Upsert>, String> {
    let mut out = Vec::new();
    for (key, value) in add {
        let mechanism = ScramMechanism::from_name(key).ok_or_else(|| {
            format!("Invalid config(s): {key} (krab supports SCRAM-SHA-256 and SCRAM-SHA-512 for users, not quotas)")
        })?;
        let mut iterations = MIN_ITERATIONS;
        let mut password = None;
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some(("iterations", n)) => {
                    iterations = n
                        .trim()
                        .parse()
                        .map_err(|_| format!("Invalid iterations {n:?} for {key}"))?
                }
                Some(("password", p)) => password = Some(p.to_string()),
                _ => {
                    return Err(format!(
                        "Invalid {key} value {part:?}: expected iterations=N,password=P"
                    ))
                }
            }
        }
        let password = password.ok_or_else(|| format!("{key} needs password=..."))?;
        if iterations < MIN_ITERATIONS {
            return Err(format!(
                "Iterations {iterations} is less than the minimum {MIN_ITERATIONS} required for {key}"
            ));
        }
        out.push(Upsert {
            mechanism,
            iterations,
            password,
        });
    }
    Ok(out)
}

fn parse_deletes(delete: &[String]) -> Result<Vec<ScramMechanism>, String> {
    delete
        .iter()
        .map(|k| ScramMechanism::from_name(k).ok_or_else(|| format!("Invalid config(s): {k}")))
        .collect()
}

/// Runs the users entity type; `user` is `--entity-name`.
pub fn run(
    zookeeper: Option<&str>,
    bootstrap: Option<&str>,
    user: Option<&str>,
    alter: bool,
    add: &BTreeMap<String, String>,
    delete: &[String],
) -> Result<String, String> {
    if alter && user.is_none() {
        return Err("--entity-name is required to alter a user's credentials".into());
    }
    let upserts = parse_upserts(add)?;
    let deletes = parse_deletes(delete)?;
    match (zookeeper, bootstrap) {
        (Some(zk), _) => with_zookeeper(zk, user, alter, upserts, deletes),
        (None, Some(bootstrap)) => {
            let mut client = Client::connect(bootstrap)?;
            if alter {
                alter_with_broker(&mut client, user.unwrap_or_default(), upserts, deletes)
            } else {
                describe_with_broker(&mut client, user)
            }
        }
        (None, None) => Err("one of --zookeeper or --bootstrap-server is required".into()),
    }
}

fn with_zookeeper(
    connect: &str,
    user: Option<&str>,
    alter: bool,
    upserts: Vec<Upsert>,
    deletes: Vec<ScramMechanism>,
) -> Result<String, String> {
    let rt = runtime()?;
    let layout = connect_zookeeper(&rt, connect)?;
    rt.block_on(async {
        let err = |e: crate::metadata::LayoutError| e.to_string();
        if !alter {
            let users = match user {
                Some(u) => vec![u.to_string()],
                None => layout.users().await.map_err(err)?,
            };
            let mut lines = Vec::new();
            for u in users {
                let config = layout.user_config(&u).await.map_err(err)?;
                let listed: Vec<String> = config.iter().map(|(k, v)| format!("{k}={v}")).collect();
                lines.push(format!("Configs for user-principal '{u}' are {}", listed.join(",")));
            }
            return Ok(lines.join("\n"));
        }
        let user = user.unwrap_or_default();
        let mut config = layout.user_config(user).await.map_err(err)?;
        for m in &deletes {
            if config.remove(m.name()).is_none() {
                return Err(format!("Invalid config(s): {}", m.name()));
            }
        }
        for u in &upserts {
            let credential = ScramCredential::new(u.mechanism, &u.password, u.iterations);
            config.insert(u.mechanism.name().to_string(), credential.to_kafka_string());
        }
        layout.change_user_config(user, &config).await.map_err(err)?;
        Ok(format!(
            "Completed updating config for entity: user-principal '{user}'."
        ))
    })
}

fn alter_with_broker(
    client: &mut Client,
    user: &str,
    upserts: Vec<Upsert>,
    deletes: Vec<ScramMechanism>,
) -> Result<String, String> {
    let name = kafka_protocol::protocol::StrBytes::from_string(user.to_string());
    let request = AlterUserScramCredentialsRequest::default()
        .with_deletions(
            deletes
                .iter()
                .map(|m| {
                    ScramCredentialDeletion::default()
                        .with_name(name.clone())
                        .with_mechanism(m.wire_code())
                })
                .collect(),
        )
        .with_upsertions(
            upserts
                .iter()
                .map(|u| {
                    // A fresh random salt, as the admin client makes one.
                    let salt = ScramCredential::new(u.mechanism, "", MIN_ITERATIONS).salt;
                    let salted = salted_password(u.mechanism, u.password.as_bytes(), &salt, u.iterations);
                    ScramCredentialUpsertion::default()
                        .with_name(name.clone())
                        .with_mechanism(u.mechanism.wire_code())
                        .with_iterations(u.iterations as i32)
                        .with_salt(salt.into())
                        .with_salted_password(salted.into())
                })
                .collect(),
        );
    let response = client.send(&request, 0)?;
    for r in &response.results {
        if r.error_code != 0 {
            return Err(format!(
                "Error while executing config command with args: {} ({})",
                kafka_error_name(r.error_code),
                r.error_message.as_deref().unwrap_or("")
            ));
        }
    }
    Ok(format!("Completed updating config for user {user}."))
}

fn describe_with_broker(client: &mut Client, user: Option<&str>) -> Result<String, String> {
    let users = user
        .map(|u| vec![UserName::default().with_name(kafka_protocol::protocol::StrBytes::from_string(u.to_string()))]);
    let response = client.send(&DescribeUserScramCredentialsRequest::default().with_users(users), 0)?;
    if response.error_code != 0 {
        return Err(format!(
            "Error while executing config command: {} {}",
            kafka_error_name(response.error_code),
            response.error_message.as_deref().unwrap_or("")
        ));
    }
    let mut lines = Vec::new();
    for r in &response.results {
        let user = r.user.as_str();
        if r.error_code == crate::protocol::ErrorCode::ResourceNotFound.code() {
            lines.push(format!("No SCRAM credentials configured for user-principal '{user}'"));
            continue;
        }
        if r.error_code != 0 {
            return Err(format!("{}: {}", user, kafka_error_name(r.error_code)));
        }
        let described: Vec<String> = r
            .credential_infos
            .iter()
            .map(|c| {
                let name = ScramMechanism::from_wire_code(c.mechanism).map_or("UNKNOWN", |m| m.name());
                format!("{name}=iterations={}", c.iterations)
            })
            .collect();
        lines.push(format!(
            "SCRAM credential configs for user-principal '{user}' are {}",
            described.join(", ")
        ));
    }
    Ok(lines.join("\n"))
}
