//! A real ZooKeeper server for tests: `java -cp <zookeeper jars> ZooKeeperServerMain zoo.cfg`
//! on a free port with a temporary data dir, killed on drop.
//!
//! Jars: `$ZOOKEEPER_CLASSPATH`, else Debian's /usr/share/java/zookeeper.jar (its manifest
//! Class-Path pulls in the dependencies), else `lib/*.jar` of `$ZOOKEEPER_HOME`,
//! /usr/share/zookeeper or /opt/zookeeper. Without java or jars, [`TestZooKeeper::start`]
//! returns `None` after a loud message, unless `KRAB_REQUIRE_ZOOKEEPER=1` makes that a failure.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) struct TestZooKeeper {
    server: Child,
    port: u16,
    log_path: PathBuf,
    _work_dir: tempfile::TempDir,
}

fn zookeeper_classpath() -> Option<String> {
    if let Ok(classpath) = std::env::var("ZOOKEEPER_CLASSPATH") {
        if !classpath.is_empty() {
            return Some(classpath);
        }
    }
    let debian = Path::new("/usr/share/java/zookeeper.jar");
    if debian.exists() {
        return Some(debian.display().to_string());
    }
    let homes = std::env::var("ZOOKEEPER_HOME")
        .ok()
        .into_iter()
        .chain(["/usr/share/zookeeper".into(), "/opt/zookeeper".into()]);
    for home in homes {
        let mut jars: Vec<PathBuf> = ["lib", "."]
            .iter()
            .filter_map(|sub| std::fs::read_dir(Path::new(&home).join(sub)).ok())
            .flatten()
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "jar"))
            .collect();
        jars.sort();
        if !jars.is_empty() {
            return Some(
                jars.iter()
                    .map(|j| j.display().to_string())
                    .collect::<Vec<_>>()
                    .join(":"),
            );
        }
    }
    None
}

fn java_binary() -> Option<PathBuf> {
    let from_home = std::env::var_os("JAVA_HOME").map(|home| Path::new(&home).join("bin/java"));
    let on_path = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("java"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    from_home
        .into_iter()
        .chain(on_path)
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// ZooKeeper's "ruok" four-letter command.
fn answers_ruok(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut answer = String::new();
    stream.write_all(b"ruok").is_ok() && stream.read_to_string(&mut answer).is_ok() && answer == "imok"
}

impl TestZooKeeper {
    /// Starts a server, or returns `None` when java or the ZooKeeper jars are missing.
    /// Panics if they are present but the server does not come up.
    pub(crate) fn start(test_name: &str) -> Option<TestZooKeeper> {
        let (Some(java), Some(classpath)) = (java_binary(), zookeeper_classpath()) else {
            let message = format!(
                "\n!!!!!!!! SKIPPING {test_name}: java or the ZooKeeper jars are missing \
                 (apt-get install zookeeper, or set ZOOKEEPER_CLASSPATH). THIS TEST DID NOT RUN. !!!!!!!!\n"
            );
            if std::env::var("KRAB_REQUIRE_ZOOKEEPER").is_ok_and(|v| v == "1") {
                panic!("{message}");
            }
            // Straight to fd 2: eprintln! would be swallowed by the test harness on success.
            let _ = writeln!(std::io::stderr(), "{message}");
            return None;
        };
        // The free port may be taken between probing and binding; try a few.
        let mut last_failure = String::new();
        for _ in 0..3 {
            match Self::launch(&java, &classpath) {
                Ok(server) => return Some(server),
                Err(failure) => last_failure = failure,
            }
        }
        panic!("ZooKeeper did not start: {last_failure}");
    }

    fn launch(java: &Path, classpath: &str) -> Result<TestZooKeeper, String> {
        let work_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = free_port();
        let data_dir = work_dir.path().join("data");
        std::fs::create_dir_all(&data_dir).map_err(|e| e.to_string())?;
        let config_path = work_dir.path().join("zoo.cfg");
        // Short ticks so session-expiry tests are quick; no admin server (port 8080 clashes).
        let config = format!(
            "tickTime=500\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\n\
             minSessionTimeout=1000\nmaxSessionTimeout=6000\nadmin.enableServer=false\n4lw.commands.whitelist=*\n",
            data_dir.display()
        );
        std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
        let log_path = work_dir.path().join("zookeeper.log");
        let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let server = Command::new(java)
            .args(["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
            .args([
                "-Dzookeeper.admin.enableServer=false",
                "-Dzookeeper.4lw.commands.whitelist=*",
            ])
            .arg("-cp")
            .arg(classpath)
            .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("spawning {}: {e}", java.display()))?;
        let mut server = TestZooKeeper {
            server,
            port,
            log_path,
            _work_dir: work_dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = server.server.try_wait() {
                return Err(format!("exited with {status}:\n{}", server.log_tail()));
            }
            if answers_ruok(port) {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(format!("no answer to ruok within 60s:\n{}", server.log_tail()))
    }

    /// "127.0.0.1:<port>"
    pub(crate) fn hosts(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for TestZooKeeper {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// A TCP proxy in front of the server whose link can be cut, to partition a client from
/// ZooKeeper for longer than its session timeout (that is how sessions expire in practice).
pub(crate) struct CuttableProxy {
    port: u16,
    cut: Arc<tokio::sync::watch::Sender<bool>>,
    acceptor: tokio::task::JoinHandle<()>,
}

impl CuttableProxy {
    pub(crate) async fn start(target_port: u16) -> CuttableProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let port = listener.local_addr().expect("proxy address").port();
        let cut = Arc::new(tokio::sync::watch::channel(false).0);
        let cut_for_acceptor = Arc::clone(&cut);
        let acceptor = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if *cut_for_acceptor.borrow() {
                    continue; // refused: dropping closes it
                }
                let mut cut_signal = cut_for_acceptor.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut_signal.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        CuttableProxy { port, cut, acceptor }
    }

    pub(crate) fn hosts(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Cuts (drops every connection and refuses new ones) or restores the link.
    pub(crate) fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}
