"""Fixtures for the krab client-compatibility suite.

* ``zookeeper``      session-scoped real ZooKeeper server (Debian ``zookeeper`` package jars)
* ``zk``             function-scoped kazoo client on that server (tree wiped for each test)
* ``krab``           factory: ``krab(mode="embedded"|"zookeeper", overrides={...}, broker_id=N)``
                     returns a running :class:`Krab` (``.bootstrap``, ``.stop()``, ``.kill()``,
                     ``.restart()``, ``.log_dir``)
* ``metadata_mode``  parametrized over ``embedded`` / ``zookeeper``
* ``broker``         one krab in ``metadata_mode`` with default settings
* ``krab_module``    module-scoped variant of ``krab`` for tests that can share brokers
                     (embedded mode only: ``zk`` wipes ZooKeeper for every test)
* ``certs``          session-scoped test CA and certificates (:mod:`certs`, openssl CLI)

Environment: ``KRAB_BIN`` (default ``<repo>/target/release/krab``), ``ZOOKEEPER_CLASSPATH``
(override the ZooKeeper server classpath), ``KRAB_START_TIMEOUT`` (seconds, default 30).
"""
import itertools
import re
import shutil
import signal
import subprocess
import sys
import types

import pytest

# ---------------------------------------------------------------------------------------------
# Python 3.11 shim for pykafka 2.8.0.
# pykafka does ``from pkg_resources import parse_version`` in several modules.  pkg_resources
# ships with setuptools, which is no longer guaranteed to be installed (and setuptools >= 81
# removed pkg_resources).  If it is missing, provide a minimal module exposing only
# ``parse_version`` (backed by ``packaging``, a pytest dependency).  Nothing else in pykafka
# needs a shim on 3.11 (it only takes namedtuple/defaultdict from ``collections``, no ABCs;
# checked with pykafka 2.8.0 + kazoo 2.5.0 on CPython 3.11).  LZ4 with the default
# broker_version="0.9.0" additionally needs ``xxhash`` (listed in requirements.txt).
# ---------------------------------------------------------------------------------------------
try:  # pragma: no cover - depends on the installed setuptools
    import warnings as _warnings
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        import pkg_resources  # noqa: F401
except ImportError:  # pragma: no cover
    from packaging.version import parse as _parse_version
    _shim = types.ModuleType("pkg_resources")
    _shim.parse_version = _parse_version
    sys.modules["pkg_resources"] = _shim

import certs as certgen  # noqa: E402
from krabtest import (ARTIFACTS, Krab, KrabExited, ZooKeeperServer, tail,  # noqa: E402
                      unique_topic)

_KRABS_KEY = pytest.StashKey[list]()


@pytest.fixture(scope="session")
def zookeeper(tmp_path_factory):
    server = ZooKeeperServer(tmp_path_factory.mktemp("zookeeper")).start()
    yield server
    server.stop()


@pytest.fixture
def zk(request, zookeeper):
    """kazoo client on the session ZooKeeper.  The tree is wiped before the test; the krab
    factory does the same, so request this fixture *before* starting brokers or after: either
    order is fine because the wipe happens at most once per test."""
    _wipe_once(zookeeper, request.node.nodeid)
    client = zookeeper.client()
    yield client
    client.stop()
    client.close()


_wiped_for = set()


def _wipe_once(zookeeper, test_id):
    if test_id not in _wiped_for:
        _wiped_for.add(test_id)
        zookeeper.wipe()


@pytest.fixture
def krab(request, tmp_path):
    """Factory: ``krab(mode='embedded', overrides=None, broker_id=None, config_file=None,
    extra_args=None, start=True)``."""
    started = []
    request.node.stash[_KRABS_KEY] = started
    counter = itertools.count()

    def make(mode="embedded", overrides=None, broker_id=None, config_file=None,
             extra_args=None, start=True):
        assert mode in ("embedded", "zookeeper"), mode
        zk_connect = None
        if mode == "zookeeper":
            server = request.getfixturevalue("zookeeper")
            _wipe_once(server, request.node.nodeid)
            zk_connect = server.hosts
        n = next(counter)
        k = Krab(name=f"{mode}-{n}", workdir=tmp_path / f"krab{n}", mode=mode,
                 overrides=overrides, broker_id=broker_id, zk_connect=zk_connect,
                 config_file=config_file, extra_args=extra_args)
        started.append(k)
        if start:
            try:
                k.start()
            except KrabExited as e:
                pytest.fail(str(e))
        return k

    yield make

    problems = _stop_all(started)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def _stop_all(started):
    """SIGTERM every broker still running; returns the problems (died early, hung)."""
    problems = []
    for k in started:
        if k.died_unexpectedly():
            problems.append(f"krab[{k.name}] died during the test with exit code "
                            f"{k.proc.returncode}:\n{tail(k.stderr_path)}")
        elif k.running():
            k._expected_exit = True
            k.proc.send_signal(signal.SIGTERM)
            try:
                k.proc.wait(20)
            except subprocess.TimeoutExpired:
                k.proc.kill()
                k.proc.wait()
                problems.append(f"krab[{k.name}] ignored SIGTERM for 20s (killed):\n"
                                f"{tail(k.stderr_path)}")
        k.close_files()
    return problems


@pytest.fixture(scope="module")
def krab_module(request, tmp_path_factory):
    """Module-scoped factory: ``krab_module(overrides=None, broker_id=None, config_file=None,
    extra_args=None, start=True)`` starts an embedded-mode broker that lives until the module's
    last test.  Its output is attached to the report of any failing test in the module."""
    started = []
    request.node.stash[_KRABS_KEY] = started
    counter = itertools.count()
    base = tmp_path_factory.mktemp(re.sub(r"[^A-Za-z0-9_]+", "_", request.node.name)[:40])

    def make(overrides=None, broker_id=None, config_file=None, extra_args=None, start=True):
        n = next(counter)
        k = Krab(name=f"module-{n}", workdir=base / f"krab{n}", mode="embedded",
                 overrides=overrides, broker_id=broker_id, zk_connect=None,
                 config_file=config_file, extra_args=extra_args)
        started.append(k)
        if start:
            try:
                k.start()
            except KrabExited as e:
                pytest.fail(str(e))
        return k

    yield make

    problems = _stop_all(started)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """The test CA, server, client and foreign certificates (see certs.py), made once."""
    return certgen.make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(params=["embedded", "zookeeper"])
def metadata_mode(request):
    return request.param


@pytest.fixture
def broker(krab, metadata_mode):
    return krab(mode=metadata_mode)


@pytest.fixture
def topic():
    return unique_topic()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    # the test's own brokers and those of module-scoped fixtures (stashed on the module node)
    krabs = [k for node in item.listchain() for k in node.stash.get(_KRABS_KEY, [])]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[-150:]
    for k in krabs:
        text = k.log_text()
        rep.sections.append((f"krab[{k.name}] output (tail)", text))
        try:
            dest = ARTIFACTS / safe / k.name
            dest.mkdir(parents=True, exist_ok=True)
            for p in k.workdir.glob("std*.log"):
                shutil.copy(p, dest / p.name)
        except OSError:
            pass


