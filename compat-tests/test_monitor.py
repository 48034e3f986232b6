"""The offset monitor (`krab monitor`, and `monitor.listener` on a broker) against real
consumers: a pykafka ZooKeeper-balanced consumer, a confluent-kafka group member and the
console consumer. Its numbers must equal what kazoo reads from the znodes and what
ListOffsets returns; lag must move; history must survive a restart and be pruned; bad
input must get clear answers. The page itself is tested in Chromium (test_monitor_browser)."""
import json
import re
import socket
import time

import pytest

from krabtest import (Krab, ZooKeeperServer, confluent_watermarks, unique_topic, wait_until)
from monitortest import MonitorProcess, api, group_rows, http, now_ms, refreshed_after
from test_groups_zookeeper import (GROUP_BROKER, consume, create_topic, fresh_pykafka_version_cache,  # noqa: F401
                                   group_consumer, produce, pykafka_balanced, run_cli)


def owner_znodes(zk, group, topic):
    """{partition: owner data} from /consumers/<g>/owners, in Kafka's or pykafka's naming."""
    out = {}
    base = f"/consumers/{group}/owners"
    for d in zk.get_children(base) if zk.exists(base) else []:
        if d.strip("b'") != topic:
            continue
        for node in zk.get_children(f"{base}/{d}"):
            out[int(node.rsplit("-", 1)[-1])] = zk.get(f"{base}/{d}/{node}")[0].decode()
    return out


def test_groups_match_znodes_and_list_offsets_and_lag_moves(krab, zk, zookeeper, tmp_path):
    broker = krab(mode="zookeeper", overrides=GROUP_BROKER)
    topic = unique_topic()
    create_topic(broker, topic, 4)
    produce(broker.bootstrap, topic, 80, partitions=4)
    zgroup, cgroup, console_group = unique_topic("zg"), unique_topic("cg"), unique_topic("console")

    a = pykafka_balanced(broker.bootstrap, zookeeper.hosts, topic, zgroup)
    c = group_consumer(broker.bootstrap, cgroup)
    try:
        c.subscribe([topic])
        got = consume(c, 30)
        assert len(got) == 30
        c.commit(asynchronous=False)
        out = run_cli("console-consumer", "--bootstrap-server", broker.bootstrap, "--topic", topic,
                      "--group", console_group, "--from-beginning", "--max-messages", "10")
        assert out.returncode == 0, out.stderr
        seen = set()
        deadline = time.monotonic() + 60
        while len(seen) < 80 and time.monotonic() < deadline:
            m = a.consume(block=False)
            if m is not None:
                seen.add(m.value)
        assert len(seen) == 80
        wait_until(lambda: all(zk.exists(f"/consumers/{zgroup}/offsets/{topic}/{p}") for p in range(4))
                   and sum(int(zk.get(f"/consumers/{zgroup}/offsets/{topic}/{p}")[0]) for p in range(4)) == 80,
                   timeout=30, msg="pykafka's commits")

        with MonitorProcess(tmp_path / "mon", ["--zk", zookeeper.hosts]) as mon:
            refreshed_after(mon.url, now_ms())
            ends = {p: confluent_watermarks(broker.bootstrap, topic, p)[1] for p in range(4)}
            assert sum(ends.values()) == 80
            groups = {g["name"]: g for g in api(mon.url, "/api/groups")["groups"]}
            assert {zgroup, cgroup, console_group} <= set(groups)
            assert groups[zgroup]["coordination"] == "zookeeper"
            assert groups[cgroup]["coordination"] == "broker"
            assert groups[console_group]["coordination"] == "none"
            assert groups[console_group]["state"] == "Empty"

            zk_owners = owner_znodes(zk, zgroup, topic)
            assert len(zk_owners) == 4, zk_owners
            for group in (zgroup, cgroup, console_group):
                rows = group_rows(mon.url, group)
                total = 0
                for p in range(4):
                    path = f"/consumers/{group}/offsets/{topic}/{p}"
                    if not zk.exists(path):
                        assert (topic, p) not in rows or rows[(topic, p)]["offset"] is None
                        continue
                    data, stat = zk.get(path)
                    row = rows[(topic, p)]
                    assert row["offset"] == int(data), (group, p, row)
                    assert row["log_size"] == ends[p], "LogSize is ListOffsets latest"
                    assert row["lag"] == max(0, ends[p] - int(data))
                    assert (row["created_ms"], row["last_seen_ms"]) == (stat.ctime, stat.mtime)
                    total += row["lag"]
                    if group == zgroup:
                        assert row["owner"] == zk_owners[p], "Owner is the owner znode's data"
                    elif group == cgroup:
                        assert row["owner"] == c.memberid()
                    else:
                        assert row["owner"] == "none"
                assert groups[group]["total_lag"] == total
            assert groups[zgroup]["total_lag"] == 0

            def lags():
                """Each group's lag from the znodes and ListOffsets, as the monitor must show it."""
                ends = {p: confluent_watermarks(broker.bootstrap, topic, p)[1] for p in range(4)}
                out = {}
                for group in (zgroup, cgroup, console_group):
                    paths = [(p, f"/consumers/{group}/offsets/{topic}/{p}") for p in range(4)]
                    out[group] = sum(max(0, ends[p] - int(zk.get(path)[0])) for p, path in paths if zk.exists(path))
                return out

            def monitor_lags():
                return {g["name"]: g["total_lag"] for g in api(mon.url, "/api/groups")["groups"]}

            before = lags()
            assert before[cgroup] > 0 and before[console_group] > 0
            # Lag moves up as messages are produced...
            produce(broker.bootstrap, topic, 20, partitions=4, prefix=b"more")
            refreshed_after(mon.url, now_ms())
            up = lags()
            assert up[cgroup] > before[cgroup] and up[console_group] > before[console_group]
            assert {g: monitor_lags()[g] for g in up} == up
            # ...and down as they are consumed and committed.
            got = consume(c, 70)
            assert len(got) == 70
            c.commit(asynchronous=False)
            more = 0
            deadline = time.monotonic() + 30
            while more < 20 and time.monotonic() < deadline:
                if a.consume(block=False) is not None:
                    more += 1
            assert more == 20
            wait_until(lambda: monitor_lags().get(zgroup) == 0, timeout=30, msg="the ZooKeeper group's lag back to 0")
            refreshed_after(mon.url, now_ms())
            down = lags()
            assert down[cgroup] == 0 < up[cgroup]
            assert {g: monitor_lags()[g] for g in down} == down

            # The topic page lists every group reading it; the cluster page the broker.
            consumers = {x["group"]: x for x in api(mon.url, f"/api/topics/{topic}")["consumers"]}
            assert set(consumers) == {zgroup, cgroup, console_group}
            assert consumers[cgroup]["lag"] == down[cgroup]
            cluster = api(mon.url, "/api/cluster")
            assert [b["id"] for b in cluster["brokers"]] == [0] and topic in cluster["topics"]

            # The HTML page shows the same rows; /metrics the same lag.
            status, page, _ = http(f"{mon.url}/group/{zgroup}")
            assert status == 200
            assert page.count('class="offset-row') == 4
            for owner in zk_owners.values():
                assert owner in page
            charts = re.findall(r'<svg class="chart" data-points="(\d+)"', page)
            assert len(charts) == 2 and all(int(n) > 0 for n in charts), charts
            status, metrics, headers = http(f"{mon.url}/metrics")
            assert status == 200 and headers["Content-Type"].startswith("text/plain")
            exported = [float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                    if line.startswith("krab_group_lag{") and f'group="{cgroup}"' in line]
            assert sum(exported) == down[cgroup] and len(exported) == len(group_rows(mon.url, cgroup))
    finally:
        a.stop()
        c.close()


def test_bad_input_gets_clear_answers(krab, zk, zookeeper, tmp_path):
    broker = krab(mode="zookeeper")
    topic = unique_topic()
    produce(broker.bootstrap, topic, 5)
    zk.create(f"/consumers/badg/offsets/{topic}/0", b"not-a-number", makepath=True)
    zk.create(f"/consumers/okg/offsets/{topic}/0", b"3", makepath=True)
    with MonitorProcess(tmp_path / "mon", ["--zk", zookeeper.hosts]) as mon:
        refreshed_after(mon.url, now_ms())
        row = group_rows(mon.url, "badg")[(topic, 0)]
        assert row["offset"] is None and row["lag"] is None
        assert "not a decimal" in row["invalid"], row
        status, page, _ = http(f"{mon.url}/group/badg")
        assert status == 200 and 'class="invalid"' in page, "the row is marked invalid; the page still renders"
        ok = group_rows(mon.url, "okg")[(topic, 0)]
        assert (ok["offset"], ok["log_size"], ok["lag"]) == (3, 5, 2)

        # Names are escaped in the pages and percent-encoded in links.
        weird = "x <b>\"&'% y"
        zk.create(f"/consumers/{weird}/offsets/{topic}/0", b"1", makepath=True)
        refreshed_after(mon.url, now_ms())
        status, page, _ = http(f"{mon.url}/")
        assert status == 200 and "x &lt;b&gt;&quot;&amp;&#39;% y" in page and weird not in page
        link = "/group/x%20%3Cb%3E%22%26%27%25%20y"
        assert f'href="{link}"' in page
        status, page, _ = http(mon.url + link)
        assert status == 200 and page.count('class="offset-row') == 1
        assert group_rows(mon.url, link.removeprefix("/group/"))[(topic, 0)]["lag"] == 4

        for path, needle in [("/group/nope", "nope"), ("/topic/nope", "nope"), ("/nothing/here", "no page")]:
            status, body, headers = http(mon.url + path)
            assert status == 404 and headers["Content-Type"].startswith("text/html"), path
            assert needle in body.lower() or needle in body, body
        for path in ["/api/groups/nope", "/api/topics/nope", "/api/nothing"]:
            status, body, _ = http(mon.url + path)
            assert status == 404 and "error" in json.loads(body), path
        for path in ["/group/okg?range=zz", "/group/okg?range=2.days", "/group/okg?partition=-1",
                     "/group/okg?partition=7", "/group/okg?foo=1", "/group/okg?range=1h&range=2h",
                     "/group/%ZZ", "/?x=1", f"/api/groups/okg/history", "/api/groups/okg/history?topic=t&partition=x"]:
            status, body, _ = http(mon.url + path)
            assert status == 400, (path, status, body[:200])
        status, body, _ = http(f"{mon.url}/api/groups/okg/history?topic={topic}&partition=0&range=1h")
        assert status == 200 and json.loads(body)["points"], body

        # Read-only: nothing but GET and HEAD, and nothing changes.
        for method in ["POST", "PUT", "DELETE", "PATCH"]:
            status, _, headers = http(f"{mon.url}/api/groups/okg", method=method)
            assert status == 405 and headers["Allow"] == "GET, HEAD", method
        assert zk.get(f"/consumers/okg/offsets/{topic}/0")[0] == b"3"
        status, body, _ = http(f"{mon.url}/", method="HEAD")
        assert status == 200 and body == ""

        # Garbage and oversized requests get 4xx; the monitor keeps serving.
        host, port = mon.url.removeprefix("http://").split(":")
        for raw, code in [(b"\x00\xff garbage\r\n\r\n", b"400"), (b"GET /" + b"a" * 20000, b"431")]:
            with socket.create_connection((host, int(port)), timeout=5) as s:
                s.sendall(raw)
                answer = s.recv(200)
                assert answer.split(b" ")[1] == code, answer
        assert http(mon.url + "/api/groups")[0] == 200


def test_zookeeper_down_shows_a_banner_and_keeps_the_data(tmp_path):
    server = ZooKeeperServer(tmp_path / "zk").start()
    k = Krab(name="mon-zk-down", workdir=tmp_path / "krab", mode="zookeeper", overrides=GROUP_BROKER,
             broker_id=None, zk_connect=server.hosts, config_file=None, extra_args=None)
    mon = MonitorProcess(tmp_path / "mon", ["--zk", server.hosts])
    try:
        k.start()
        topic, group = unique_topic(), unique_topic("g")
        produce(k.bootstrap, topic, 10)
        out = run_cli("console-consumer", "--bootstrap-server", k.bootstrap, "--topic", topic,
                      "--group", group, "--from-beginning", "--max-messages", "4")
        assert out.returncode == 0, out.stderr
        mon.start()
        wait_until(lambda: group_rows(mon.url, group).get((topic, 0), {}).get("offset") == 4, timeout=20,
                   msg="the group in the monitor")
        server.stop()
        wait_until(lambda: any("ZooKeeper" in e for e in api(mon.url, "/api/groups")["status"]["errors"]),
                   timeout=30, msg="the monitor to report ZooKeeper unreachable")
        answer = api(mon.url, "/api/groups")
        assert answer["status"]["data_as_of_ms"] < answer["status"]["taken_at_ms"]
        assert group_rows(mon.url, group)[(topic, 0)]["offset"] == 4, "the last known data stays"
        status, page, _ = http(f"{mon.url}/group/{group}")
        assert status == 200 and 'class="banner"' in page and "ZooKeeper" in page
        server.start()
        wait_until(lambda: not api(mon.url, "/api/groups")["status"]["errors"], timeout=40,
                   msg="the monitor to recover once ZooKeeper is back")
    finally:
        mon.stop()
        if k.running():
            k.proc.kill()
            k.proc.wait()
        k.close_files()
        server.stop()


def history(base, group, topic):
    status, body, _ = http(f"{base}/api/groups/{group}/history?topic={topic}")
    return json.loads(body)["points"] if status == 200 else []


def test_history_survives_a_restart_and_is_pruned_past_retain(krab, tmp_path):
    from confluent_kafka import TopicPartition
    broker = krab(mode="embedded", overrides=GROUP_BROKER)
    topic, group = unique_topic(), unique_topic("hg")
    produce(broker.bootstrap, topic, 10)
    c = group_consumer(broker.bootstrap, group)
    c.assign([TopicPartition(topic, 0)])
    c.commit(offsets=[TopicPartition(topic, 0, 4)], asynchronous=False)
    c.close()

    mon = MonitorProcess(tmp_path / "mon", ["--bootstrap-server", broker.bootstrap], refresh="1.seconds",
                         retain="8.seconds")
    try:
        mon.start()
        points = wait_until(lambda: len(history(mon.url, group, topic)) >= 3 and history(mon.url, group, topic),
                            timeout=20, msg="three samples")
        assert {(p["offset"], p["log_size"], p["lag"]) for p in points} == {(4, 10, 6)}
        row = group_rows(mon.url, group)[(topic, 0)]
        assert row["created_ms"] and row["last_seen_ms"], "first seen / last changed without a store"
        before = [p["t"] for p in points]
        mon.stop()
        restarted_at = now_ms()
        mon.start()
        after = wait_until(lambda: history(mon.url, group, topic), timeout=20, msg="history after restart")
        kept = [p["t"] for p in after if p["t"] < restarted_at]
        assert kept and set(kept) <= set(before) and before[-1] in kept, "samples from before the restart"

        wait_until(lambda: history(mon.url, group, topic)[0]["t"] > restarted_at, timeout=20,
                   msg="samples older than --retain to be pruned")
        # Pruned from memory (not only filtered out of the answer): at most retain / refresh
        # samples (+1 for the one being added, +1 for timing) are kept...
        wait_until(lambda: history(mon.url, group, topic)[-1]["t"] > restarted_at + 10_000, timeout=20,
                   msg="another full window of samples")
        status, metrics, _ = http(f"{mon.url}/metrics")
        kept = next(float(line.split()[1]) for line in metrics.splitlines()
                    if line.startswith("krab_monitor_history_samples "))
        assert 3 <= kept <= 10, kept
        # ...and from disk: every file left holds a sample inside the window.
        points = history(mon.url, group, topic)
        horizon = points[-1]["t"] - 8000
        assert points[0]["t"] >= horizon
        files = sorted(mon.data_dir.glob("history-*.jsonl"))
        assert files
        for f in files:
            start, span = (int(x) for x in f.name.removeprefix("history-").removesuffix(".jsonl").split("-"))
            assert start + span > horizon - 2000, (f.name, horizon)
    finally:
        mon.stop()


def test_broker_serves_the_monitor_and_metrics(krab):
    broker = krab(mode="embedded", overrides={**GROUP_BROKER, "monitor.listener": "127.0.0.1:0",
                                               "monitor.refresh.ms": 500})
    topic, group = unique_topic(), unique_topic("bg")
    produce(broker.bootstrap, topic, 12)
    c = group_consumer(broker.bootstrap, group)
    try:
        c.subscribe([topic])
        assert len(consume(c, 12)) == 12
        c.commit(asynchronous=False)
        url = broker.monitor_url
        wait_until(lambda: group_rows(url, group).get((topic, 0), {}).get("owner") == c.memberid(),
                   timeout=20, msg="the live member as the owner")
        groups = {g["name"]: g for g in api(url, "/api/groups")["groups"]}
        assert groups[group]["coordination"] == "broker" and groups[group]["state"] == "Stable"
        row = group_rows(url, group)[(topic, 0)]
        assert (row["offset"], row["log_size"], row["lag"]) == (12, 12, 0)
        status, metrics, _ = http(f"{url}/metrics")
        assert status == 200
        assert f'krab_group_lag{{group="{group}",topic="{topic}",partition="0"}} 0' in metrics
        assert (broker.log_dir / "monitor-history").is_dir()
    finally:
        c.close()


def test_old_console_consumer_owners_in_kafkas_naming(krab, zk, zookeeper, tmp_path):
    """kafka-console-consumer.sh --zookeeper (Kafka's old consumer): owner znodes named by
    partition, holding `<consumer-id>-<thread>`; the monitor shows that data as the Owner."""
    from admintools import Background
    broker = krab(mode="zookeeper")
    topic, group = unique_topic(), unique_topic("old")
    create_topic(broker, topic, 2)
    produce(broker.bootstrap, topic, 10, partitions=2)
    old = Background("kafka-console-consumer.sh", "--zookeeper", zookeeper.hosts, "--topic", topic,
                     "--group", group, "--from-beginning")
    try:
        assert len(old.read(10)) == 10
        owners = wait_until(lambda: len(owner_znodes(zk, group, topic)) == 2 and owner_znodes(zk, group, topic),
                            msg="the old consumer's owner znodes")
        assert sorted(zk.get_children(f"/consumers/{group}/owners/{topic}")) == ["0", "1"]
        with MonitorProcess(tmp_path / "mon", ["--zk", zookeeper.hosts]) as mon:
            def shown():
                rows = group_rows(mon.url, group)
                return len(rows) == 2 and all(r["offset"] == 5 for r in rows.values()) and rows
            rows = wait_until(shown, timeout=30, msg="the old consumer's committed offsets")
            for p in (0, 1):
                assert rows[(topic, p)]["owner"] == owners[p]
                assert rows[(topic, p)]["owner"].endswith("-0"), "Kafka's <consumer-id>-<thread>"
            groups = {g["name"]: g for g in api(mon.url, "/api/groups")["groups"]}
            assert groups[group]["coordination"] == "zookeeper" and groups[group]["members"] == 1
        # Without ZooKeeper access the broker's view of the same group: ListGroups,
        # DescribeGroups (members and their partitions) and OffsetFetch.
        with MonitorProcess(tmp_path / "mon-b", ["--bootstrap-server", broker.bootstrap]) as mon:
            rows = wait_until(lambda: len(group_rows(mon.url, group)) == 2 and group_rows(mon.url, group),
                              timeout=30, msg="the group through the broker")
            for p in (0, 1):
                assert rows[(topic, p)]["offset"] == 5 and rows[(topic, p)]["lag"] == 0
                assert owners[p].startswith(rows[(topic, p)]["owner"]), "the consumer id, without the thread"
            groups = {g["name"]: g for g in api(mon.url, "/api/groups")["groups"]}
            assert groups[group]["coordination"] == "zookeeper"
    finally:
        assert old.stop() == 0


def test_broker_down_shows_a_banner_and_keeps_the_data(krab, tmp_path):
    from confluent_kafka import TopicPartition
    broker = krab(mode="embedded")
    topic, group = unique_topic(), unique_topic("g")
    produce(broker.bootstrap, topic, 6)
    c = group_consumer(broker.bootstrap, group)
    c.commit(offsets=[TopicPartition(topic, 0, 2)], asynchronous=False)
    c.close()
    with MonitorProcess(tmp_path / "mon", ["--bootstrap-server", broker.bootstrap]) as mon:
        wait_until(lambda: group_rows(mon.url, group).get((topic, 0), {}).get("lag") == 4, timeout=20,
                   msg="the group in the monitor")
        samples = len(history(mon.url, group, topic))
        broker.kill()
        wait_until(lambda: any("brokers" in e for e in api(mon.url, "/api/groups")["status"]["errors"]),
                   timeout=30, msg="the monitor to report the broker unreachable")
        assert group_rows(mon.url, group)[(topic, 0)]["lag"] == 4, "the last known data stays"
        status, page, _ = http(f"{mon.url}/group/{group}")
        assert status == 200 and 'class="banner"' in page and "Showing the data of" in page
        assert len(history(mon.url, group, topic)) >= samples, "the history stays, without made-up samples"
        broker.restart()
        wait_until(lambda: not api(mon.url, "/api/groups")["status"]["errors"], timeout=30,
                   msg="the monitor to recover once the broker is back")
