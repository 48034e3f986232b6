"""Benchmark for krab in test suites (issue 13).

1. start: `krab dev` from exec to the JSON ready line (printed once it accepts connections),
   and to a first successful TCP connect, STARTS times; median and p90.
2. idle: RSS (VmRSS) after one second idle, and the broker's own CPU time for start + idle +
   stop (from wait4's rusage of the child).
3. fixtures: a generated pytest file of TESTS tests, each with its own broker from the
   krab-broker plugin (python/src), each opening one connection; the plugin's start+stop time
   summed, and the whole session's wall time.
"""
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KRAB = os.environ["KRAB_BIN"]
STARTS = int(os.environ.get("STARTS", "50"))
TESTS = int(os.environ.get("TESTS", "100"))


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def one_start():
    t0 = time.perf_counter()
    proc = subprocess.Popen([KRAB, "dev", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    ready = json.loads(proc.stdout.readline())
    t_ready = time.perf_counter() - t0
    host, port = ready["bootstrap"].rsplit(":", 1)
    socket.create_connection((host, int(port)), timeout=5).close()
    t_connect = time.perf_counter() - t0
    return proc, ready, t_ready, t_connect


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = status
    proc.stdout.close()
    return usage


def bench_start():
    ready_ms, connect_ms, stop_ms, cpu_ms = [], [], [], []
    for _ in range(STARTS):
        proc, _, t_ready, t_connect = one_start()
        ready_ms.append(t_ready * 1000)
        connect_ms.append(t_connect * 1000)
        t0 = time.perf_counter()
        usage = stop(proc)
        stop_ms.append((time.perf_counter() - t0) * 1000)
        cpu_ms.append((usage.ru_utime + usage.ru_stime) * 1000)
    print(f"start to ready line   median {statistics.median(ready_ms):6.1f} ms   p90 {pct(ready_ms, 90):6.1f} ms")
    print(f"start to first accept median {statistics.median(connect_ms):6.1f} ms   p90 {pct(connect_ms, 90):6.1f} ms")
    print(f"stop (SIGTERM to exit) median {statistics.median(stop_ms):6.1f} ms   p90 {pct(stop_ms, 90):6.1f} ms")
    print(f"broker CPU per start+stop median {statistics.median(cpu_ms):6.1f} ms")


def bench_idle():
    proc, ready, _, _ = one_start()
    time.sleep(1.0)
    rss_kb = int(next(line.split()[1] for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                      if line.startswith("VmRSS:")))
    usage = stop(proc)
    print(f"idle RSS after 1 s       {rss_kb / 1024:6.1f} MB")
    print(f"broker CPU, start + 1 s idle + stop {(usage.ru_utime + usage.ru_stime) * 1000:6.1f} ms"
          f" (max RSS {usage.ru_maxrss / 1024:.1f} MB)")


def bench_fixtures():
    with tempfile.TemporaryDirectory() as tmp:
        test_file = Path(tmp) / "test_many.py"
        test_file.write_text(textwrap.dedent(f"""
            import socket, time
            import pytest
            from krab_broker import KrabBroker

            SPENT = []

            @pytest.fixture
            def timed_broker():
                t0 = time.perf_counter()
                broker = KrabBroker().start()
                started = time.perf_counter()
                yield broker
                t1 = time.perf_counter()
                broker.stop()
                SPENT.append((started - t0) + (time.perf_counter() - t1))

            @pytest.mark.parametrize("i", range({TESTS}))
            def test_one(timed_broker, i):
                host, port = timed_broker.bootstrap.rsplit(":", 1)
                socket.create_connection((host, int(port)), timeout=5).close()

            def teardown_module():
                with open({str(Path(tmp) / "spent.txt")!r}, "w") as f:
                    f.write(repr(sum(SPENT)))
        """))
        env = dict(os.environ, PYTHONPATH=str(ROOT / "python" / "src"))
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              "-p", "krab_broker.pytest_plugin", str(test_file)],
                             cwd=tmp, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if out.returncode != 0:
            print(out.stdout[-3000:], out.stderr[-3000:])
            raise SystemExit("the fixture session failed")
        spent = float((Path(tmp) / "spent.txt").read_text())
        print(f"{TESTS} tests, a broker each: brokers (start+stop) {spent:5.2f} s total,"
              f" {spent / TESTS * 1000:5.1f} ms per test; whole pytest session {wall:5.2f} s")


if __name__ == "__main__":
    print(f"krab {subprocess.run([KRAB, '--version'], capture_output=True, text=True).stdout.strip()}"
          f" on {os.cpu_count()} cores")
    bench_start()
    bench_idle()
    bench_fixtures()
