"""pytest plugin (registered through the ``pytest11`` entry point): Kafka brokers for tests.

Fixtures:

* ``krab_broker``          a fresh :class:`~krab_broker.KrabBroker` for each test; broker
                           properties come from ``@pytest.mark.krab_properties({...})``
* ``krab_bootstrap``       that broker's ``"host:port"``, for clients' ``bootstrap.servers``
* ``krab_session_broker``  one broker shared by the whole session (isolate tests by topic name)
* ``krab_broker_factory``  ``factory(properties=None, **KrabBroker kwargs)`` -> a started
                           broker; all of them are stopped when the test ends
"""
import pytest

from krab_broker import KrabBroker

MARKER = "krab_properties"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", MARKER + "(properties): broker properties (a dict, or keyword arguments) "
                   "for the krab_broker fixture, e.g. {'num.partitions': '3'}")


def _properties(node):
    """Merge every krab_properties marker on the test, its class and its module; the closest
    one wins on conflicts."""
    props = {}
    for marker in reversed(list(node.iter_markers(MARKER))):
        if marker.args:
            props.update(marker.args[0])
        props.update(marker.kwargs)
    return props


@pytest.fixture
def krab_broker(request):
    with KrabBroker(_properties(request.node)) as broker:
        yield broker


@pytest.fixture
def krab_bootstrap(krab_broker):
    return krab_broker.bootstrap


@pytest.fixture(scope="session")
def krab_session_broker():
    with KrabBroker() as broker:
        yield broker


@pytest.fixture
def krab_broker_factory():
    brokers = []

    def start(properties=None, **kwargs):
        broker = KrabBroker(properties, **kwargs)
        brokers.append(broker)
        return broker.start()

    yield start
    for broker in brokers:
        broker.stop()
