"""The krab-broker Python package (python/): build the wheel with maturin, install it into a
fresh venv with the real clients, and run its sample tests there with KRAB_BIN unset, so the
`krab` inside the wheel is the one that runs.  Then check that a broker started from Python
does not outlive a SIGKILLed parent (`krab dev --exit-with-parent`)."""
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from krabtest import REPO, wait_until

PYTHON_DIR = REPO / "python"
REQUIREMENTS = REPO / "compat-tests" / "requirements.txt"
CLIENTS = ("pytest", "confluent-kafka", "pykafka")
SAMPLE_TESTS = 8  # test functions in python/tests/test_sample.py

# The first test pays for the module fixtures: maturin (a release build; incremental when
# target/release is fresh, which scripts/test.sh ensures), venv creation and pip installs.
pytestmark = pytest.mark.timeout(900)


def pinned(names):
    """``name==version`` lines of requirements.txt for ``names``: the venv gets the same
    client versions as the rest of the suite."""
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        m = re.match(r"\s*([A-Za-z0-9_.-]+)\s*==\s*(\S+)", line)
        if m:
            pins[m.group(1).lower()] = line.strip()
    missing = [n for n in names if n not in pins]
    assert not missing, f"{missing} not pinned in {REQUIREMENTS}"
    return [pins[n] for n in names]


def run(cmd, timeout, **kwargs):
    res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout,
                         stdin=subprocess.DEVNULL, **kwargs)
    if res.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited with {res.returncode}\n"
                    f"--- stdout ---\n{res.stdout[-6000:]}\n--- stderr ---\n{res.stderr[-6000:]}")
    return res


def env_without_krab_bin():
    env = dict(os.environ)
    env.pop("KRAB_BIN", None)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    # Run from python/: maturin's -m takes a Cargo.toml, and python/pyproject.toml points at
    # ../Cargo.toml (manifest-path), so cargo shares the repository's target/.
    run([sys.executable, "-m", "maturin", "build", "--release", "-o", out],
        cwd=PYTHON_DIR, timeout=840)
    wheels = list(out.glob("krab_broker-0.1.0-*.whl"))
    assert len(wheels) == 1, list(out.iterdir())
    return wheels[0]


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory):
    root = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", root], timeout=120)
    run([root / "bin" / "python", "-m", "pip", "install", "--disable-pip-version-check", "-q",
         wheel, *pinned(CLIENTS)], timeout=600)
    return root


def test_wheel_runs_its_sample_tests(venv, tmp_path):
    version = run([venv / "bin" / "krab", "--version"], timeout=30)
    assert version.stdout.startswith("krab "), version.stdout
    # Run from tmp_path with an explicit path so nothing from the checkout is importable:
    # krab_broker must come from the installed wheel.
    res = subprocess.run([venv / "bin" / "python", "-m", "pytest", "-v", "-p", "no:cacheprovider",
                          PYTHON_DIR / "tests"], cwd=tmp_path, env=env_without_krab_bin(),
                         capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-8000:]
    summary = re.findall(r"^=+ (.+) in [\d.]+s.* =+$", res.stdout, re.M)
    assert summary and re.fullmatch(rf"{SAMPLE_TESTS} passed(, \d+ warnings?)?", summary[-1]), \
        out[-8000:]


STARTER = """
import json, time
import krab_broker
broker = krab_broker.KrabBroker().start()
print(json.dumps({"pid": broker.pid, "data_dir": broker.data_dir, "log": broker.log_path,
                  "bootstrap": broker.bootstrap, "binary": krab_broker.krab_binary()}), flush=True)
time.sleep(600)
"""


def process_gone(pid):
    """True once ``pid`` has exited.  A zombie counts as gone: after its parent died it waits
    for whoever PID 1 is to reap it, which is not krab's doing."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def test_broker_dies_with_sigkilled_parent(venv, tmp_path):
    script = tmp_path / "starter.py"
    script.write_text(STARTER)
    parent = subprocess.Popen([venv / "bin" / "python", script], env=env_without_krab_bin(),
                              stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        ready, _, _ = select.select([parent.stdout], [], [], 30)
        assert ready, "the starter script printed nothing within 30 s"
        info = json.loads(parent.stdout.readline())
    except BaseException:
        parent.kill()
        parent.wait()
        raise
    try:
        assert info["binary"] == str(venv / "bin" / "krab")  # the wheel's binary, not KRAB_BIN
        host, port = info["bootstrap"].rsplit(":", 1)
        socket.create_connection((host, int(port)), timeout=5).close()
        assert os.path.isdir(info["data_dir"])

        parent.send_signal(signal.SIGKILL)  # no atexit, no fixture teardown: only the broker
        parent.wait(10)                      # itself can notice (it polls its parent pid)
        wait_until(lambda: process_gone(info["pid"]), timeout=5,
                   msg=f"krab dev (pid {info['pid']}) to exit after its parent was SIGKILLed")
        wait_until(lambda: not os.path.exists(info["data_dir"]), timeout=5,
                   msg=f"{info['data_dir']} to be removed")
    finally:
        if not process_gone(info["pid"]):
            os.kill(info["pid"], signal.SIGKILL)
        if info.get("log"):
            Path(info["log"]).unlink(missing_ok=True)  # KrabBroker.stop() never ran
