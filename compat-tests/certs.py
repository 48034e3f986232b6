"""Test certificates for the TLS tests, made with the ``openssl`` command-line tool (no Python
``cryptography`` dependency).  EC P-256 keys throughout (fast to generate), keys written as
unencrypted PKCS#8 PEM (``-----BEGIN PRIVATE KEY-----``, what ``ssl.keystore.type=PEM``
expects).

:func:`make_certs` writes, into one directory:

* ``ca.pem`` / ``ca.key``: the CA the broker and the clients trust
* ``server.pem`` / ``server.key``: signed by that CA, SAN ``DNS:localhost, IP:127.0.0.1``
  (librdkafka >= 2.0 and kafka-python verify the host name by default), EKU serverAuth
* ``server-keystore.pem``: the server key followed by its chain (server cert, CA cert), the
  file ``ssl.keystore.location`` points at with ``ssl.keystore.type=PEM``
* ``server.p12``: the server key and chain as PKCS#12, password ``p12pass`` (AES-256-CBC,
  HMAC-SHA256: OpenSSL 3's defaults, spelled out so OpenSSL 1.1 writes the same)
* ``client.pem`` / ``client.key``: ``CN=alice-client,O=krab-tests`` (RFC 2253 order, i.e. the
  principal Kafka derives), EKU clientAuth, signed by the CA
* ``other-ca.pem`` and ``rogue-client.pem`` / ``rogue-client.key``: an unrelated CA and a
  client certificate it signed (same subject as the good one), which the broker must refuse

:meth:`Certs.issue_server` signs further server certificates (new key, chosen serial) for
the reload test.
"""
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

P12_PASSWORD = "p12pass"
SERVER_SAN = "DNS:localhost,IP:127.0.0.1"


def openssl(*args, cwd=None):
    exe = shutil.which("openssl")
    if exe is None:
        pytest.fail("openssl not found (apt-get install openssl)")
    p = subprocess.run([exe, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                       timeout=60, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(map(str, args))} failed ({p.returncode}):\n"
                           f"{p.stderr}")
    return p.stdout


def new_key(path):
    """An EC P-256 private key as unencrypted PKCS#8 PEM."""
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
    text = Path(path).read_text()
    assert text.startswith("-----BEGIN PRIVATE KEY-----"), f"{path} is not PKCS#8:\n{text[:80]}"
    return Path(path)


def _dn_section(subject):
    """``[dn]`` lines for ``subject``: a list of (attribute, value), most significant first
    (so ``[("O", "x"), ("CN", "y")]`` has the RFC 2253 form ``CN=y,O=x``)."""
    return "\n".join(f"{i}.{attr} = {value}" for i, (attr, value) in enumerate(subject))


def _req_config(path, subject):
    Path(path).write_text("[req]\ndistinguished_name = dn\nprompt = no\n"
                          f"[dn]\n{_dn_section(subject)}\n")
    return path


def make_ca(directory, stem, subject):
    d = Path(directory)
    key = new_key(d / f"{stem}.key")
    cnf = _req_config(d / f"{stem}.cnf", subject)
    with open(cnf, "a") as f:
        f.write("[v3_ca]\nbasicConstraints = critical, CA:TRUE\n"
                "keyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\n")
    cert = d / f"{stem}.pem"
    openssl("req", "-x509", "-new", "-key", key, "-config", cnf, "-extensions", "v3_ca",
            "-days", "3650", "-sha256", "-set_serial", "1", "-out", cert)
    return cert, key


def sign_leaf(directory, stem, subject, ca_cert, ca_key, serial, server):
    """A new key and a certificate for it signed by ``ca_cert``; returns (cert, key)."""
    d = Path(directory)
    key = new_key(d / f"{stem}.key")
    csr = d / f"{stem}.csr"
    openssl("req", "-new", "-key", key, "-config", _req_config(d / f"{stem}.cnf", subject),
            "-out", csr)
    ext = d / f"{stem}.ext"
    lines = ["[leaf]", "basicConstraints = critical, CA:FALSE",
             "keyUsage = critical, digitalSignature",
             f"extendedKeyUsage = {'serverAuth' if server else 'clientAuth'}",
             "subjectKeyIdentifier = hash", "authorityKeyIdentifier = keyid"]
    if server:
        lines.append(f"subjectAltName = {SERVER_SAN}")
    ext.write_text("\n".join(lines) + "\n")
    cert = d / f"{stem}.pem"
    openssl("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key,
            "-set_serial", serial, "-days", "825", "-sha256", "-extfile", ext,
            "-extensions", "leaf", "-out", cert)
    csr.unlink()
    return cert, key


def der(cert_path):
    """The DER bytes of a PEM certificate file (its first certificate)."""
    return ssl.PEM_cert_to_DER_cert(Path(cert_path).read_text())


def serial_of(cert_path):
    """The serial number (hex, upper case, as ``openssl x509 -serial`` prints it)."""
    return openssl("x509", "-in", cert_path, "-noout", "-serial").strip().split("=", 1)[1]


def serial_of_der(der_bytes, scratch):
    p = Path(scratch)
    p.write_bytes(der_bytes)
    return openssl("x509", "-inform", "DER", "-in", p, "-noout", "-serial").strip().split("=", 1)[1]


@dataclass
class ServerCert:
    cert: Path
    key: Path
    keystore: Path   # key + cert + CA in one PEM file (ssl.keystore.location, type PEM)
    serial: str


@dataclass
class Certs:
    dir: Path
    ca_cert: Path
    ca_key: Path
    server: ServerCert
    server_p12: Path
    p12_password: str
    client_cert: Path
    client_key: Path
    client_dn: str
    other_ca_cert: Path
    rogue_client_cert: Path
    rogue_client_key: Path

    def issue_server(self, directory, stem, serial):
        """Another server certificate (new key, serial ``serial`` as a hex string) from the
        same CA, with the same subject and SAN."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        cert, key = sign_leaf(d, stem, [("O", "krab-tests"), ("CN", "localhost")],
                              self.ca_cert, self.ca_key, serial, server=True)
        keystore = d / f"{stem}-keystore.pem"
        keystore.write_text(key.read_text() + cert.read_text() + Path(self.ca_cert).read_text())
        return ServerCert(cert=cert, key=key, keystore=keystore, serial=serial_of(cert))


def make_certs(directory):
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = make_ca(d, "ca", [("O", "krab-tests"), ("CN", "krab test CA")])
    other_ca_cert, other_ca_key = make_ca(d, "other-ca", [("O", "somebody else"),
                                                           ("CN", "unrelated CA")])
    partial = Certs(dir=d, ca_cert=ca_cert, ca_key=ca_key, server=None, server_p12=None,
                    p12_password=P12_PASSWORD, client_cert=None, client_key=None,
                    client_dn="CN=alice-client,O=krab-tests", other_ca_cert=other_ca_cert,
                    rogue_client_cert=None, rogue_client_key=None)
    partial.server = partial.issue_server(d, "server", "0x1001")
    client_subject = [("O", "krab-tests"), ("CN", "alice-client")]
    partial.client_cert, partial.client_key = sign_leaf(d, "client", client_subject, ca_cert,
                                                        ca_key, "0x2001", server=False)
    partial.rogue_client_cert, partial.rogue_client_key = sign_leaf(
        d, "rogue-client", client_subject, other_ca_cert, other_ca_key, "0x3001", server=False)
    p12 = d / "server.p12"
    openssl("pkcs12", "-export", "-inkey", partial.server.key, "-in", partial.server.cert,
            "-certfile", ca_cert, "-name", "krab-server", "-out", p12,
            "-passout", f"pass:{P12_PASSWORD}", "-keypbe", "AES-256-CBC",
            "-certpbe", "AES-256-CBC", "-macalg", "sha256")
    partial.server_p12 = p12
    return partial
