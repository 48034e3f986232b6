"""kafka-configs.sh (issue 14): topic and broker configs with --zookeeper and
--bootstrap-server, stored in /config/topics/<t> and /config/brokers/<id|<default>> with
/config/changes notifications as Kafka writes them; dynamic broker configs applied live on
every broker; static and unknown keys refused with nothing written."""
import time

from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource

from admintools import failed, ok, topics, wrapper
from krabtest import confluent_watermarks, json_znode, unique_topic, wait_until


def configs(*args):
    return wrapper("kafka-configs.sh", *args)


def test_topic_configs_with_zookeeper_and_bootstrap(krab, zk, zookeeper):
    b = krab(mode="zookeeper", broker_id=0)
    t = unique_topic("cfg")
    ok(topics("--zookeeper", zookeeper.hosts, "--create", "--topic", t, "--partitions", "1",
              "--replication-factor", "1"))
    out = ok(configs("--zookeeper", zookeeper.hosts, "--entity-type", "topics", "--entity-name", t,
                     "--alter", "--add-config", "retention.ms=3600000,cleanup.policy=[compact,delete]"))
    assert out.strip() == f"Completed updating config for entity: topic '{t}'."
    assert json_znode(zk, f"/config/topics/{t}")[0] == {
        "version": 1, "config": {"retention.ms": "3600000", "cleanup.policy": "compact,delete"}}
    out = ok(configs("--zookeeper", zookeeper.hosts, "--describe", "--entity-type", "topics", "--entity-name", t))
    assert out.strip() == f"Configs for topic '{t}' are cleanup.policy=compact,delete,retention.ms=3600000"
    # the broker applied it (notification) and reports it
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    res = ConfigResource(ConfigResource.Type.TOPIC, t)
    wait_until(lambda: admin.describe_configs([res])[res].result(10)["retention.ms"].value == "3600000",
               timeout=5, msg="the broker follows the change")
    out = ok(configs("--bootstrap-server", b.bootstrap, "--describe", "--topic", t))
    lines = out.strip().splitlines()
    assert lines[0] == f"Dynamic configs for topic {t} are:"
    assert "  retention.ms=3600000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=3600000, " \
        "DEFAULT_CONFIG:log.retention.ms=604800000}" in lines, lines
    assert len(lines) == 3
    ok(configs("--bootstrap-server", b.bootstrap, "--alter", "--topic", t, "--delete-config", "cleanup.policy"))
    assert json_znode(zk, f"/config/topics/{t}")[0]["config"] == {"retention.ms": "3600000"}
    # a bad value: a one-line error naming key and value, nothing written
    for mode in (["--zookeeper", zookeeper.hosts], ["--bootstrap-server", b.bootstrap]):
        failed(configs(*mode, "--alter", "--entity-type", "topics", "--entity-name", t,
                       "--add-config", "segment.bytes=10,retention.ms=5"), "segment.bytes", "10")
    assert json_znode(zk, f"/config/topics/{t}")[0]["config"] == {"retention.ms": "3600000"}


def test_dynamic_broker_default_retention_applies_live_on_every_broker(krab, zk, zookeeper):
    """`--entity-default --add-config log.retention.ms=...` reaches every running broker through
    /config/changes and deletes old segments there within a second, with no restart."""
    from clustertest import Cluster
    c = Cluster(krab, zk, 2, overrides={"log.retention.check.interval.ms": 200})
    t = unique_topic("dyn")
    ok(topics("--zookeeper", zookeeper.hosts, "--create", "--topic", t, "--replica-assignment", "0,1",
              "--config", "segment.bytes=1024"))
    c.wait_metadata(t, 2)
    from confluent_kafka import Producer
    prod = Producer({"bootstrap.servers": c.bootstrap, "linger.ms": 0, "batch.num.messages": 1})
    old = int(time.time() * 1000) - 3_600_000
    for p in (0, 1):  # partition p is led by broker p; 200-byte records roll 1 KiB segments
        for _ in range(12):
            prod.produce(t, value=b"o" * 200, partition=p, timestamp=old)
            prod.flush(10)
    assert confluent_watermarks(c.bootstrap, t, 0)[0] == 0 and confluent_watermarks(c.bootstrap, t, 1)[0] == 0
    out = ok(configs("--bootstrap-server", c.bootstrap, "--alter", "--entity-type", "brokers",
                     "--entity-default", "--add-config", "log.retention.ms=60000"))
    assert out.strip() == "Completed updating default config for brokers in the cluster."
    assert json_znode(zk, "/config/brokers/<default>")[0] == {"version": 1, "config": {"log.retention.ms": "60000"}}
    changed_at = time.monotonic()
    for p in (0, 1):
        wait_until(lambda: confluent_watermarks(c.bootstrap, t, p)[0] > 0, timeout=5,
                   msg=f"old segments of partition {p} deleted by the dynamic retention")
    assert time.monotonic() - changed_at < 3
    # each broker reports the value and where it comes from
    for broker_id, b in enumerate(c.brokers):
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        res = ConfigResource(ConfigResource.Type.BROKER, str(broker_id))
        entries = admin.describe_configs([res])[res].result(10)
        assert entries["log.retention.ms"].value == "60000"
        assert entries["log.retention.ms"].source == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value
        topic_res = ConfigResource(ConfigResource.Type.TOPIC, t)
        entry = admin.describe_configs([topic_res])[topic_res].result(10)["retention.ms"]
        assert entry.value == "60000" and entry.source == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value
    out = ok(configs("--zookeeper", zookeeper.hosts, "--describe", "--entity-type", "brokers", "--entity-default"))
    assert out.strip() == "Configs for default brokers are log.retention.ms=60000"


def test_static_and_unknown_broker_keys_are_refused(krab, zk, zookeeper):
    b = krab(mode="zookeeper", broker_id=0)
    for mode in (["--zookeeper", zookeeper.hosts], ["--bootstrap-server", b.bootstrap]):
        failed(configs(*mode, "--alter", "--entity-type", "brokers", "--entity-name", "0",
                       "--add-config", "log.retention.ms=1000,broker.id=5"),
               "Cannot update these configs dynamically", "broker.id")
        failed(configs(*mode, "--alter", "--entity-type", "brokers", "--entity-name", "0",
                       "--add-config", "log.retention.msec=1000"), "log.retention.msec")
        failed(configs(*mode, "--alter", "--entity-type", "brokers", "--entity-name", "0",
                       "--add-config", "min.insync.replicas=0"), "min.insync.replicas", "at least 1")
    assert not zk.exists("/config/brokers/0")
    ok(configs("--bootstrap-server", b.bootstrap, "--alter", "--broker", "0", "--add-config",
               "message.max.bytes=2000000"))
    out = ok(configs("--bootstrap-server", b.bootstrap, "--describe", "--broker", "0"))
    assert "  message.max.bytes=2000000 sensitive=false synonyms={}" in out.splitlines(), out


def test_max_connections_changes_live(krab):
    """max.connections is dynamic (as in Kafka 2.x): lowered through kafka-configs.sh, new
    connections beyond it are refused while open ones keep working; raised, they are let in."""
    from test_bad_input import healthy, open_conn
    b = krab()
    conns = [open_conn(b) for _ in range(3)]
    for c in conns:
        healthy(c)
    ok(configs("--bootstrap-server", b.bootstrap, "--alter", "--entity-type", "brokers", "--entity-default",
               "--add-config", "max.connections=3"))

    def refused():
        try:
            c = open_conn(b)
        except OSError:
            return True
        try:
            healthy(c)
            return False
        except Exception:  # noqa: BLE001 - closed by the broker is what is waited for
            return True
        finally:
            c.close()
    wait_until(refused, timeout=5, msg="a 4th connection refused at max.connections=3")
    for c in conns:
        healthy(c)
    # The tool's own connection counts too: make room for it first.
    conns.pop().close()
    wait_until(lambda: not refused(), timeout=5, msg="a slot freed by a closed connection")
    failed(configs("--bootstrap-server", b.bootstrap, "--alter", "--entity-type", "brokers",
                   "--entity-default", "--add-config", "max.connections=-1"), "max.connections")
    ok(configs("--bootstrap-server", b.bootstrap, "--alter", "--entity-type", "brokers", "--entity-default",
               "--add-config", "max.connections=10"))
    wait_until(lambda: not refused(), timeout=5, msg="new connections after raising the limit")
    for c in conns:
        c.close()
