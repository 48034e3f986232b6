"""The monitor's group page in a real headless Chromium: it loads with no request leaving
localhost (all assets are inside the binary), shows one row per partition with the owners,
draws the charts, refreshes itself, and is saved as a screenshot artifact."""
import time

import pytest

from browser import Chromium, artifacts_dir, require_chromium
from krabtest import unique_topic, wait_until
from monitortest import MonitorProcess, api, group_rows, now_ms, refreshed_after
from test_groups_zookeeper import (GROUP_BROKER, consume, create_topic, fresh_pykafka_version_cache,  # noqa: F401
                                   group_consumer, produce, pykafka_balanced)


def take(consumer, n, timeout=30):
    got = 0
    deadline = time.monotonic() + timeout
    while got < n and time.monotonic() < deadline:
        if consumer.consume(block=False) is not None:
            got += 1
    return got


@pytest.mark.timeout(180)
def test_group_page_in_headless_chromium(krab, zk, zookeeper, tmp_path):
    chromium = require_chromium()
    broker = krab(mode="zookeeper", overrides=GROUP_BROKER)
    topic, zgroup, cgroup = unique_topic("orders"), unique_topic("billing"), unique_topic("audit")
    create_topic(broker, topic, 4)
    a = pykafka_balanced(broker.bootstrap, zookeeper.hosts, topic, zgroup)
    c = group_consumer(broker.bootstrap, cgroup)
    c.subscribe([topic])
    try:
        with MonitorProcess(tmp_path / "mon", ["--zk", zookeeper.hosts], refresh="1.seconds") as mon:
            # A few refreshes with traffic, so the charts have lines that move.
            for round_ in range(5):
                produce(broker.bootstrap, topic, 40, partitions=4, prefix=b"r%d" % round_)
                assert take(a, 30) == 30
                consume(c, 20)
                c.commit(asynchronous=False)
                refreshed_after(mon.url, now_ms())
            wait_until(lambda: len(group_rows(mon.url, zgroup)) == 4
                       and all(r["owner"] != "none" for r in group_rows(mon.url, zgroup).values()),
                       timeout=30, msg="the pykafka group's four owned partitions")
            owners = {r["owner"] for r in group_rows(mon.url, zgroup).values()}
            total_lag = next(g["total_lag"] for g in api(mon.url, "/api/groups")["groups"] if g["name"] == zgroup)

            with Chromium(chromium, width=1280, height=1000) as browser:
                page = browser.open(f"{mon.url}/group/{zgroup}")
                page.wait_for("document.querySelectorAll('tr.offset-row').length === 4")
                cells = page.evaluate("Array.from(document.querySelectorAll('tr.offset-row td.owner'))"
                                      ".map(td => td.textContent)")
                assert set(cells) == owners
                headers = page.evaluate("Array.from(document.querySelectorAll('table.offsets th'))"
                                        ".map(th => th.textContent)")
                assert headers == ["Topic", "Partition", "Offset", "LogSize", "Lag", "Owner", "Created",
                                   "Last Seen"]
                shown_lag = page.evaluate("Number(document.querySelector('.total-lag').textContent)")
                assert shown_lag >= 0 and abs(shown_lag - total_lag) <= 120, (shown_lag, total_lag)
                # Two charts for the topic (offset and log size; lag), each line with several points.
                lines = page.evaluate("Array.from(document.querySelectorAll('svg.chart polyline'))"
                                      ".map(p => p.getAttribute('points').trim().split(' ').length)")
                assert len(lines) == 3 and min(lines) >= 3, lines
                rendered = page.evaluate("document.querySelector('svg.chart').getBoundingClientRect().height")
                assert rendered > 50, "the chart is drawn at a visible size"
                # Auto-refresh swaps in fresh content without a reload.
                page.wait_for("Number(document.body.dataset.refreshes || 0) >= 1", timeout=15)
                page.wait_for("document.querySelectorAll('tr.offset-row').length === 4")
                shot = artifacts_dir() / "monitor-group-page.png"
                page.screenshot(shot)
                assert shot.stat().st_size > 10_000
                assert any(u.endswith("/assets/app.js") for u in page.requests)
                assert any(u.endswith("/assets/style.css") for u in page.requests)
                assert page.non_local_requests() == [], "nothing may leave localhost"
                assert page.console_errors == []

                groups = browser.open(f"{mon.url}/")
                groups.wait_for("document.querySelectorAll('tr.group-row').length >= 2")
                names = groups.evaluate("Array.from(document.querySelectorAll('tr.group-row'))"
                                        ".map(tr => tr.dataset.group)")
                assert {zgroup, cgroup} <= set(names)
                groups.screenshot(artifacts_dir() / "monitor-groups.png")
                assert groups.non_local_requests() == []

                # The topic page: its consumption history, one line per group.
                page = browser.open(f"{mon.url}/topic/{topic}")
                page.wait_for("document.querySelectorAll('tr.consumer-row').length === 2")
                legends = page.evaluate("Array.from(document.querySelectorAll('figure.chart'))"
                                        ".map(f => Array.from(f.querySelectorAll('.legend .key'))"
                                        ".map(k => k.textContent))")
                assert legends == [["LogSize", *sorted([zgroup, cgroup])], sorted([zgroup, cgroup])], legends
                lines = page.evaluate("Array.from(document.querySelectorAll('svg.chart polyline'))"
                                      ".map(p => p.getAttribute('points').trim().split(' ').length)")
                assert len(lines) == 5 and min(lines) >= 3, lines
                page.screenshot(artifacts_dir() / "monitor-topic-page.png")
                assert page.non_local_requests() == [] and page.console_errors == []
    finally:
        a.stop()
        c.close()
