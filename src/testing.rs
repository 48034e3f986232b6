//! Brokers for tests: a broker on port 0 with its data in a temporary
//! directory, stopped and removed when the handle is dropped.
//!
//! ```
//! use std::io::{Read, Write};
//!
//! let broker = krab::testing::TestBroker::builder()
//!     .property("num.partitions", "3")
//!     .start()
//!     .expect("broker starts");
//! // Any Kafka client takes this bootstrap string; here, a raw ApiVersions v0.
//! let mut conn = std::net::TcpStream::connect(broker.bootstrap()).unwrap();
//! let mut request = vec![0, 0, 0, 14, 0, 18, 0, 0, 0, 0, 0, 7, 0, 4];
//! request.extend_from_slice(b"test");
//! conn.write_all(&request).unwrap();
//! let mut size = [0u8; 4];
//! conn.read_exact(&mut size).unwrap();
//! let mut body = vec![0u8; u32::from_be_bytes(size) as usize];
//! conn.read_exact(&mut body).unwrap();
//! assert_eq!(&body[..4], &[0, 0, 0, 7], "the correlation id comes back");
//! assert_eq!(&body[4..6], &[0, 0], "no error");
//! let data = broker.data_dir().to_path_buf();
//! drop(broker); // shuts the broker down and removes its directory
//! assert!(!data.exists());
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{BrokerConfig, RawConfig};

/// A directory `<parent>/krab-<pid>-<random>`, removed (with everything in
/// it) when dropped. The pid in the name tells whose it is.
#[derive(Debug)]
pub struct EphemeralDir {
    path: PathBuf,
}

impl EphemeralDir {
    pub fn new_in(parent: &Path) -> std::io::Result<EphemeralDir> {
        std::fs::create_dir_all(parent)?;
        for _ in 0..16 {
            let path = parent.join(format!("krab-{}-{:08x}", std::process::id(), rand::random::<u32>()));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(EphemeralDir { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other("cannot find a free temporary directory name"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for EphemeralDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(dir = %self.path.display(), error = %e, "cannot remove temporary directory");
            }
        }
    }
}

/// The properties of a throw-away broker: one PLAINTEXT listener, data in
/// `dir`, the embedded store, and no initial rebalance delay (a test's
/// consumer should not wait three seconds for a group that has one member).
pub fn ephemeral_properties(dir: &Path, host: &str, port: u16) -> RawConfig {
    let mut raw = RawConfig::new();
    raw.insert("listeners".into(), format!("PLAINTEXT://{host}:{port}"));
    raw.insert("log.dirs".into(), dir.display().to_string());
    raw.insert("group.initial.rebalance.delay.ms".into(), "0".into());
    raw
}

/// Validates `raw`, refusing settings an ephemeral broker cannot honour.
pub fn ephemeral_config(raw: &RawConfig) -> Result<BrokerConfig, String> {
    if raw.get("zookeeper.connect").is_some_and(|v| !v.is_empty()) {
        return Err("an ephemeral broker keeps its metadata in its temporary directory; \
                    zookeeper.connect is not allowed (run `krab serve` for a ZooKeeper broker)"
            .into());
    }
    let (config, warnings) = BrokerConfig::from_raw(raw).map_err(|e| e.to_string())?;
    if let Some(key) = warnings.unknown_keys.first() {
        return Err(format!("unknown broker property {key:?}"));
    }
    Ok(config)
}

/// Builds a [`TestBroker`].
#[derive(Debug, Default)]
pub struct TestBrokerBuilder {
    properties: Vec<(String, String)>,
    parent_dir: Option<PathBuf>,
}

impl TestBrokerBuilder {
    /// Sets a broker property (`server.properties` key), e.g. `num.partitions`.
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.push((key.into(), value.into()));
        self
    }

    /// Where the temporary data directory is made (default: the system's).
    pub fn parent_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.parent_dir = Some(dir.into());
        self
    }

    /// Starts the broker on 127.0.0.1, port 0, and returns once it accepts
    /// connections.
    pub fn start(self) -> Result<TestBroker, String> {
        let parent = self.parent_dir.unwrap_or_else(std::env::temp_dir);
        let dir = EphemeralDir::new_in(&parent)
            .map_err(|e| format!("cannot create a directory in {}: {e}", parent.display()))?;
        let mut raw = ephemeral_properties(dir.path(), "127.0.0.1", 0);
        raw.extend(self.properties);
        let config = ephemeral_config(&raw)?;
        // The broker gets its own runtime on its own thread, so it works
        // under #[test], #[tokio::test] and plain main alike.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("krab-test-broker")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a runtime: {e}"))?;
        // block_on on a thread of our own: the caller may itself be async.
        let started = std::thread::scope(|s| s.spawn(|| runtime.block_on(crate::broker::run(config))).join())
            .map_err(|_| "the broker panicked while starting".to_string())
            .and_then(|r| r);
        let running = match started {
            Ok(running) => running,
            Err(e) => {
                // Dropping a runtime blocks, which panics inside an async caller.
                runtime.shutdown_background();
                return Err(e);
            }
        };
        Ok(TestBroker {
            bootstrap: running.local_addr.to_string(),
            running: Some(running),
            runtime: Some(runtime),
            dir: Some(dir),
        })
    }
}

/// A running broker owned by a test. Dropping it shuts the broker down and
/// deletes its data.
pub struct TestBroker {
    bootstrap: String,
    running: Option<crate::broker::RunningBroker>,
    runtime: Option<tokio::runtime::Runtime>,
    dir: Option<EphemeralDir>,
}

impl TestBroker {
    pub fn builder() -> TestBrokerBuilder {
        TestBrokerBuilder::default()
    }

    /// `host:port`, for `bootstrap.servers`.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// The broker's data directory (`log.dirs`).
    pub fn data_dir(&self) -> &Path {
        self.dir.as_ref().map(EphemeralDir::path).unwrap_or(Path::new(""))
    }

    /// The broker itself, for tests that look inside.
    pub fn broker(&self) -> Option<&std::sync::Arc<crate::broker::Broker>> {
        self.running.as_ref().map(|r| &r.broker)
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if let (Some(running), Some(runtime)) = (self.running.take(), self.runtime.take()) {
            let _ = std::thread::spawn(move || {
                runtime.block_on(running.shutdown());
                runtime.shutdown_timeout(Duration::from_secs(2));
            })
            .join();
        }
        // The directory goes last, after every file in it is closed.
        self.dir.take();
    }
}
