"""Regenerates docs/monitor-group-page.png, the README's picture of the monitor's group page:
a ZooKeeper-mode krab, a pykafka balanced consumer falling behind a bursty producer and
catching up, `krab monitor --zk` sampling every second, and headless Chromium.

    python3 scripts/monitor-screenshot.py [SECONDS]   (needs what scripts/test.sh installs)
"""
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "compat-tests"))

import conftest  # noqa: E402,F401  (pykafka's pkg_resources shim)
from browser import Chromium, require_chromium  # noqa: E402
from krabtest import Krab, ZooKeeperServer  # noqa: E402
from monitortest import MonitorProcess  # noqa: E402
from test_groups_zookeeper import create_topic, produce, pykafka_balanced  # noqa: E402


def main(seconds):
    out = ROOT / "docs" / "monitor-group-page.png"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        zk = ZooKeeperServer(tmp / "zk").start()
        broker = Krab(name="docs", workdir=tmp / "krab", mode="zookeeper", overrides={}, broker_id=None,
                      zk_connect=zk.hosts, config_file=None, extra_args=None)
        consumer = None
        try:
            broker.start()
            create_topic(broker, "orders", 4)
            consumer = pykafka_balanced(broker.bootstrap, zk.hosts, "orders", "billing")
            with MonitorProcess(tmp / "mon", ["--zk", zk.hosts], refresh="1.seconds") as mon:
                start = time.monotonic()
                while time.monotonic() - start < seconds:
                    elapsed = time.monotonic() - start
                    burst = 120 if elapsed < seconds * 0.6 else 40  # fall behind, then catch up (partly)
                    produce(broker.bootstrap, "orders", burst, partitions=4, prefix=b"order")
                    deadline = time.monotonic() + 1
                    while time.monotonic() < deadline:
                        consumer.consume(block=False)
                        time.sleep(0.012)
                with Chromium(require_chromium(), width=1280, height=1000) as browser:
                    page = browser.open(f"{mon.url}/group/billing")
                    page.wait_for("document.querySelectorAll('tr.offset-row').length === 4")
                    out.parent.mkdir(exist_ok=True)
                    page.screenshot(out)
            print(f"wrote {out}")
        finally:
            if consumer is not None:
                consumer.stop()
            if broker.running():
                broker.stop()
            broker.close_files()
            zk.stop()


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 40)
