//! `krab transactions`: list and describe transactions, like Kafka's
//! kafka-transactions.sh (`--bootstrap-server B list`, `describe
//! --transactional-id ID`), with its columns. Listing asks every broker
//! (each answers for the ids it coordinates); describing asks the id's
//! coordinator (FindCoordinator). Not implemented: `abort`,
//! `find-hanging` and `force-terminate`.

use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use kafka_protocol::messages::{
    DescribeTransactionsRequest, FindCoordinatorRequest, ListTransactionsRequest, MetadataRequest, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;

use super::client::Client;

#[derive(Args, Debug)]
pub struct TransactionsArgs {
    /// The broker to talk to: HOST:PORT[,HOST:PORT...].
    #[arg(long, value_name = "HOST:PORT")]
    pub bootstrap_server: String,
    #[command(subcommand)]
    pub action: TransactionsCommand,
}

#[derive(Subcommand, Debug)]
pub enum TransactionsCommand {
    /// List the transactional ids every broker coordinates, with their state.
    List,
    /// Describe one transactional id: producer, epoch, state, partitions.
    Describe {
        /// The transactional id.
        #[arg(long)]
        transactional_id: String,
    },
}

/// The text `run` prints.
pub fn render(args: &TransactionsArgs) -> Result<String, String> {
    let text = match &args.action {
        TransactionsCommand::List => list(&args.bootstrap_server)?,
        TransactionsCommand::Describe { transactional_id } => describe(&args.bootstrap_server, transactional_id)?,
    };
    Ok(text.trim_end().to_string())
}

fn brokers(bootstrap: &str) -> Result<Vec<(i32, String)>, String> {
    let metadata = Client::connect(bootstrap)?.send(&MetadataRequest::default().with_topics(Some(vec![])), 1)?;
    Ok(metadata
        .brokers
        .iter()
        .map(|b| (b.node_id.0, format!("{}:{}", b.host, b.port)))
        .collect())
}

/// Columns padded to their widest cell, as Kafka's tool prints them.
fn table(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        out.push_str(cells.join(" ").trim_end());
        out.push('\n');
    }
    out
}

fn list(bootstrap: &str) -> Result<String, String> {
    let mut rows = vec![["TransactionalId", "Coordinator", "ProducerId", "TransactionState"]
        .map(String::from)
        .to_vec()];
    for (id, address) in brokers(bootstrap)? {
        let response =
            Client::connect(&address)?.send(&ListTransactionsRequest::default().with_duration_filter(-1), 1)?;
        if response.error_code != 0 {
            return Err(format!(
                "broker {id} answered ListTransactions with error {}",
                response.error_code
            ));
        }
        for state in response.transaction_states {
            rows.push(vec![
                state.transactional_id.to_string(),
                id.to_string(),
                state.producer_id.0.to_string(),
                state.transaction_state.to_string(),
            ]);
        }
    }
    Ok(table(&rows))
}

fn describe(bootstrap: &str, transactional_id: &str) -> Result<String, String> {
    let found = Client::connect(bootstrap)?.send(
        &FindCoordinatorRequest::default()
            .with_key(StrBytes::from_string(transactional_id.to_string()))
            .with_key_type(1),
        1,
    )?;
    if found.error_code != 0 {
        return Err(format!(
            "FindCoordinator for {transactional_id:?} failed with error {}",
            found.error_code
        ));
    }
    let coordinator = format!("{}:{}", found.host, found.port);
    let response = Client::connect(&coordinator)?.send(
        &DescribeTransactionsRequest::default().with_transactional_ids(vec![TransactionalId(StrBytes::from_string(
            transactional_id.to_string(),
        ))]),
        0,
    )?;
    let state = response
        .transaction_states
        .into_iter()
        .next()
        .ok_or("the coordinator described nothing")?;
    match state.error_code {
        0 => {}
        105 => return Err(format!("Transactional id {transactional_id} not found")),
        code => return Err(format!("DescribeTransactions failed with error {code}")),
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let (start, duration) = if state.transaction_start_time_ms >= 0 {
        (
            state.transaction_start_time_ms.to_string(),
            (now - state.transaction_start_time_ms).to_string(),
        )
    } else {
        ("None".to_string(), "None".to_string())
    };
    let partitions: Vec<String> = state
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(move |p| format!("{}-{p}", t.topic.as_str())))
        .collect();
    let rows = vec![
        [
            "CoordinatorId",
            "TransactionalId",
            "ProducerId",
            "ProducerEpoch",
            "TransactionState",
            "TransactionTimeoutMs",
            "CurrentTransactionStartTimeMs",
            "TransactionDurationMs",
            "TopicPartitions",
        ]
        .map(String::from)
        .to_vec(),
        vec![
            found.node_id.0.to_string(),
            transactional_id.to_string(),
            state.producer_id.0.to_string(),
            state.producer_epoch.to_string(),
            state.transaction_state.to_string(),
            state.transaction_timeout_ms.to_string(),
            start,
            duration,
            partitions.join(","),
        ],
    ];
    Ok(table(&rows))
}
