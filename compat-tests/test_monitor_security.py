"""The monitor port's optional protection: HTTPS with monitor.ssl.keystore.location and
HTTP basic authentication with monitor.basic.auth.users (both off by default, which the
rest of the suite covers). Asserts: 401 with a Basic challenge without or with wrong
credentials, 200 and the metrics with the right ones, a plain-HTTP request on the TLS
port gets no page, and a broker without the settings still serves plain HTTP."""

import base64
import http.client
import ssl

import pytest


def get(url, path, auth=None, cafile=None):
    scheme, rest = url.split("://", 1)
    host, port = rest.rstrip("/").rsplit(":", 1)
    if scheme == "https":
        ctx = ssl.create_default_context(cafile=str(cafile))
        conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=10)
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = {}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), body


def test_https_and_basic_auth(krab, certs):
    b = krab(overrides={
        "monitor.listener": "127.0.0.1:0",
        "monitor.ssl.keystore.location": str(certs.server.keystore),
        "monitor.basic.auth.users": "ops:s3cret,viewer:v1ew",
    })
    url = b.monitor_url
    assert url.startswith("https://"), url
    status, headers, _ = get(url, "/metrics", cafile=certs.ca_cert)
    assert status == 401
    assert headers.get("WWW-Authenticate", "").startswith("Basic realm="), headers
    assert get(url, "/metrics", auth="ops:wrong", cafile=certs.ca_cert)[0] == 401
    assert get(url, "/metrics", auth="nobody:s3cret", cafile=certs.ca_cert)[0] == 401
    for user in ("ops:s3cret", "viewer:v1ew"):
        status, _, body = get(url, "/metrics", auth=user, cafile=certs.ca_cert)
        assert status == 200, (user, status)
        assert b"krab_connections_accepted_total" in body
    # Plain HTTP on the TLS port: no page comes back.
    plain = url.replace("https://", "http://")
    with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
        status, _, body = get(plain, "/metrics", auth="ops:s3cret")
        assert b"krab_" not in body
        raise ConnectionError("answered without TLS")
    b.check_alive()


def test_basic_auth_without_tls(krab):
    b = krab(overrides={"monitor.listener": "127.0.0.1:0", "monitor.basic.auth.users": "ops:s3cret"})
    url = b.monitor_url
    assert url.startswith("http://")
    assert get(url, "/")[0] == 401
    assert get(url, "/", auth="ops:s3cret")[0] == 200


def test_bad_monitor_settings_stop_startup(krab, certs):
    from krabtest import KrabExited
    for overrides in ({"monitor.basic.auth.users": "nocolon"},
                      {"monitor.ssl.keystore.type": "JKS",
                       "monitor.ssl.keystore.location": str(certs.server.keystore)}):
        b = krab(overrides={"monitor.listener": "127.0.0.1:0", **overrides}, start=False)
        with pytest.raises(KrabExited) as e:
            b.start()
        assert "monitor." in str(e.value)
