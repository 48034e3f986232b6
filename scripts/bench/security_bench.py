"""Security benchmark: what TLS and SASL cost.

1. Produce and consume throughput (records/s, MB/s) and the broker's CPU per record over
   PLAINTEXT, SSL and SASL_SSL (SCRAM-SHA-256), with the librdkafka client
   scripts/bench/krab_bench.c (security settings through KRAB_BENCH_CONF): 100-byte records,
   acks=1, linger.ms 5, one partition, a fresh topic per run, ROUNDS interleaved rounds (the
   protocol order rotates each round), medians. Target: TLS at >= 70% of PLAINTEXT.
2. SCRAM-SHA-256 logins per second at 4096 iterations: LOGIN_WORKERS processes each opening
   short connections (ApiVersions v0, SaslHandshake v1, SaslAuthenticate v0 x2, close) for
   DURATION seconds, over SASL_PLAINTEXT and over SASL_SSL (a full TLS handshake per
   connection). The client computes SaltedPassword once (RFC 5802 lets a client cache it) so
   what is measured is the broker's cost per login. Failures must be 0. Target: >= 500/s.

One `krab serve` broker (PLAINTEXT, SSL, SASL_SSL and SASL_PLAINTEXT listeners on 127.0.0.1,
EC P-256 certificates made with the openssl CLI, SAN DNS:localhost,IP:127.0.0.1) on a
temporary directory, using a copy of the krab binary (so a rebuild during the run does not
matter). Prints a markdown table and the machine.
Knobs (environment): RECORDS [1000000], ROUNDS [3], DURATION [10], LOGIN_WORKERS [3],
LINGER_MS [5], SCRAM_ITERATIONS [4096], LOGIN_API_VERSIONS [1] (0: skip ApiVersions),
KEEP_DIR [0] (1: keep the temporary directory and print its path).
Run through scripts/bench-security.sh."""
import base64
import hashlib
import hmac
import multiprocessing as mp
import os
import platform
import re
import resource
import shutil
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KRAB_SRC = os.environ.get("KRAB_BIN", str(ROOT / "target/release/krab"))
CLIENT = os.environ["BENCH_CLIENT"]
RECORDS = int(os.environ.get("RECORDS", "1000000"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = float(os.environ.get("DURATION", "10"))
WORKERS = int(os.environ.get("LOGIN_WORKERS", "3"))
LINGER_MS = os.environ.get("LINGER_MS", "5")
ITERATIONS = int(os.environ.get("SCRAM_ITERATIONS", "4096"))
API_VERSIONS = os.environ.get("LOGIN_API_VERSIONS", "1") != "0"
KEEP = os.environ.get("KEEP_DIR", "0") == "1"
USER, PASSWORD, MECHANISM = "bench", "bench-secret", "SCRAM-SHA-256"
PROTOCOLS = ["PLAINTEXT", "SSL", "SASL_SSL"]
LISTENERS = PROTOCOLS + ["SASL_PLAINTEXT"]
TPUT_TARGET, LOGIN_TARGET = 0.70, 500


def cpu_s(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_s():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


# ------------------------------------------------------------------------- certificates
def openssl(*args):
    p = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=60)
    if p.returncode != 0:
        raise SystemExit(f"openssl {' '.join(map(str, args))} failed:\n{p.stderr}")


def make_certs(d):
    """A CA and a server certificate it signed (EC P-256, PKCS#8 keys); returns (ca.pem,
    keystore.pem = server key + server cert + CA)."""
    for stem in ("ca", "server"):
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-out", d / f"{stem}.key")
    openssl("req", "-x509", "-new", "-key", d / "ca.key", "-subj", "/O=krab-bench/CN=krab bench CA",
            "-days", "3650", "-sha256", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", d / "ca.pem")
    openssl("req", "-new", "-key", d / "server.key", "-subj", "/O=krab-bench/CN=localhost",
            "-out", d / "server.csr")
    (d / "server.ext").write_text("basicConstraints=critical,CA:FALSE\n"
                                  "keyUsage=critical,digitalSignature\n"
                                  "extendedKeyUsage=serverAuth\n"
                                  "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", d / "server.csr", "-CA", d / "ca.pem", "-CAkey", d / "ca.key",
            "-set_serial", "0x1001", "-days", "825", "-sha256", "-extfile", d / "server.ext",
            "-out", d / "server.pem")
    keystore = d / "keystore.pem"
    keystore.write_text("".join((d / f).read_text() for f in ("server.key", "server.pem", "ca.pem")))
    return d / "ca.pem", keystore


# ------------------------------------------------------------------------- broker
def copy_krab(dest):
    """Copy the krab binary (waiting out a rebuild: present, unchanged for 2 s, answers
    --version)."""
    deadline = time.monotonic() + 300
    while True:
        try:
            st = os.stat(KRAB_SRC)
            time.sleep(2)
            if os.stat(KRAB_SRC).st_mtime_ns == st.st_mtime_ns:
                shutil.copy2(KRAB_SRC, dest)
                if subprocess.run([dest, "--version"], capture_output=True, timeout=30).returncode == 0:
                    return dest
        except (OSError, subprocess.TimeoutExpired):
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{KRAB_SRC}: no usable binary within 300 s")
        time.sleep(3)


class Broker:
    def __init__(self, krab, d, ca, keystore):
        self.krab, self.d = krab, d
        (d / "logs").mkdir()
        cmd = [krab, "serve",
               "--override", "listeners=" + ",".join(f"{l}://127.0.0.1:0" for l in LISTENERS),
               "--override", f"log.dirs={d / 'logs'}",
               "--override", "ssl.keystore.type=PEM",
               "--override", f"ssl.keystore.location={keystore}",
               "--override", "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
               "--override", "num.partitions=1"]
        self.out, self.err = d / "broker.out", d / "broker.err"
        self.proc = subprocess.Popen(cmd, stdout=open(self.out, "wb"), stderr=open(self.err, "wb"),
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.proc.pid
        self.addr = {}
        deadline = time.monotonic() + 60
        while len(self.addr) < len(LISTENERS):
            for m in re.finditer(r"^krab listener (\S+) \(\S+\) listening on (\S+:\d+)\s*$",
                                 self.out.read_text(errors="replace"), re.M):
                self.addr[m.group(1)] = m.group(2)
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"krab serve did not start its listeners:\n"
                                 f"{self.out.read_text()[-2000:]}\n{self.err.read_text()[-3000:]}")
            time.sleep(0.05)
        self.admin(["configs", "--alter", "--add-config",
                    f"{MECHANISM}=[iterations={ITERATIONS},password={PASSWORD}]",
                    "--entity-type", "users", "--entity-name", USER])

    def admin(self, args):
        p = subprocess.run([self.krab, *args[:1], "--bootstrap-server", self.addr["PLAINTEXT"],
                            *args[1:]], capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise SystemExit(f"krab {' '.join(args)} failed: {p.stdout}{p.stderr}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ------------------------------------------------------------------------- throughput
def client_conf(proto, ca):
    conf = [f"security.protocol={proto}"]
    if proto in ("SSL", "SASL_SSL"):
        conf.append(f"ssl.ca.location={ca}")
    if proto.startswith("SASL_"):
        conf += [f"sasl.mechanisms={MECHANISM}", f"sasl.username={USER}", f"sasl.password={PASSWORD}"]
    return ";".join(conf)


def run_client(broker, proto, ca, mode, topic):
    args = [CLIENT, mode, "-b", broker.addr[proto], "-t", topic, "-n", str(RECORDS)]
    if mode == "produce":
        args += ["-s", "100", "-a", "1", "-l", LINGER_MS]
    env = dict(os.environ, KRAB_BENCH_CONF=client_conf(proto, ca))
    c0, k0 = cpu_s(broker.pid), children_cpu_s()
    out = subprocess.run(args, capture_output=True, text=True, timeout=900, env=env)
    cpu, client_cpu = cpu_s(broker.pid) - c0, children_cpu_s() - k0
    line = next((l for l in out.stdout.splitlines() if l.startswith("RESULT")), None)
    if out.returncode != 0 or line is None:
        raise SystemExit(f"{mode} over {proto} failed (exit {out.returncode}):\n{out.stdout}"
                         f"{out.stderr[-3000:]}")
    r = dict(kv.split("=", 1) for kv in line.split()[2:])
    if int(r.get("client_errors", "0")):
        raise SystemExit(f"{mode} over {proto}: client errors:\n{out.stderr[-3000:]}")
    return {"rps": float(r["rps"]), "mbps": float(r["mbps"]), "cpu_us": cpu / RECORDS * 1e6,
            "client_cpu_us": client_cpu / RECORDS * 1e6}


# ------------------------------------------------------------------------- SCRAM logins
def _frame(api_key, version, corr, body):
    payload = struct.pack(">hhih", api_key, version, corr, 11) + b"sec-bench-1" + body
    return struct.pack(">i", len(payload)) + payload


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"closed after {len(buf)}/{n} bytes")
        buf += chunk
    return bytes(buf)


def _call(sock, api_key, version, corr, body):
    sock.sendall(_frame(api_key, version, corr, body))
    size = struct.unpack(">i", _recv_exact(sock, 4))[0]
    resp = _recv_exact(sock, size)
    got, err = struct.unpack(">ih", resp[:6])
    if got != corr:
        raise ValueError(f"api {api_key}: correlation id {got}, sent {corr}")
    return err, resp[6:]


def _authenticate(sock, corr, token):
    err, rest = _call(sock, 36, 0, corr, struct.pack(">i", len(token)) + token)
    n = struct.unpack(">h", rest[:2])[0]
    msg = rest[2:2 + n].decode(errors="replace") if n >= 0 else None
    pos = 2 + max(n, 0)
    m = struct.unpack(">i", rest[pos:pos + 4])[0]
    data = rest[pos + 4:pos + 4 + m] if m > 0 else b""
    if err:
        raise ValueError(f"SaslAuthenticate error {err}: {msg}")
    return data


class Scram:
    """RFC 5802 client for SCRAM-SHA-256, SaltedPassword cached per (salt, iterations)."""

    def __init__(self):
        self.cache = {}

    def keys(self, salt, iterations):
        k = (salt, iterations)
        if k not in self.cache:
            salted = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt, iterations)
            client_key = hmac.new(salted, b"Client Key", "sha256").digest()
            self.cache[k] = (client_key, hashlib.sha256(client_key).digest(),
                             hmac.new(salted, b"Server Key", "sha256").digest())
        return self.cache[k]

    def login(self, sock):
        corr = 1
        if API_VERSIONS:
            err, _ = _call(sock, 18, 0, corr, b"")
            if err:
                raise ValueError(f"ApiVersions error {err}")
            corr += 1
        mech = MECHANISM.encode()
        err, _ = _call(sock, 17, 1, corr, struct.pack(">h", len(mech)) + mech)
        if err:
            raise ValueError(f"SaslHandshake error {err}")
        nonce = os.urandom(18).hex()
        bare = f"n={USER},r={nonce}"
        server_first = _authenticate(sock, corr + 1, ("n,," + bare).encode()).decode()
        attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
        if not attrs["r"].startswith(nonce):
            raise ValueError(f"server nonce does not extend ours: {server_first}")
        client_key, stored_key, server_key = self.keys(base64.b64decode(attrs["s"]), int(attrs["i"]))
        without_proof = f"c=biws,r={attrs['r']}"
        auth_message = f"{bare},{server_first},{without_proof}".encode()
        sig = hmac.new(stored_key, auth_message, "sha256").digest()
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        final = f"{without_proof},p={base64.b64encode(proof).decode()}".encode()
        server_final = _authenticate(sock, corr + 2, final).decode()
        expect = "v=" + base64.b64encode(hmac.new(server_key, auth_message, "sha256").digest()).decode()
        if server_final != expect:
            raise ValueError(f"server signature does not verify: {server_final}")


def login_worker(addr, ca, start, deadline, results):
    host, port = addr.rsplit(":", 1)
    ctx = None
    if ca:
        ctx = ssl.create_default_context(cafile=ca)
    scram = Scram()

    def one():
        sock = socket.create_connection((host, int(port)), timeout=10)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if ctx:
                sock = ctx.wrap_socket(sock, server_hostname=host)
            scram.login(sock)
        finally:
            sock.close()

    ok, failures, errors, lat = 0, 0, [], []
    try:
        one()  # warm-up: learns the salt, computes SaltedPassword once
    except Exception as e:  # noqa: BLE001 (reported, counted)
        failures += 1
        errors.append(f"warm-up: {e!r}")
    while time.time() < start:
        time.sleep(0.001)
    cpu0 = time.process_time()
    while True:
        t0 = time.time()
        if t0 >= deadline:
            break
        try:
            one()
            t1 = time.time()
            if t1 <= deadline:
                ok += 1
                lat.append(t1 - t0)
        except Exception as e:  # noqa: BLE001
            failures += 1
            if len(errors) < 5:
                errors.append(repr(e))
    results.put((ok, failures, errors, lat, time.process_time() - cpu0))


def login_rate(broker, listener, ca):
    results = mp.Queue()
    start = time.time() + 1.0
    deadline = start + DURATION
    procs = [mp.Process(target=login_worker, args=(broker.addr[listener], ca, start, deadline, results))
             for _ in range(WORKERS)]
    for p in procs:
        p.start()
    time.sleep(max(0.0, start - time.time()))
    c0 = cpu_s(broker.pid)
    time.sleep(max(0.0, deadline - time.time()))
    cpu = cpu_s(broker.pid) - c0
    got = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    ok = sum(g[0] for g in got)
    failures = sum(g[1] for g in got)
    errors = [e for g in got for e in g[2]][:5]
    lat = sorted(x for g in got for x in g[3])

    def pct(p):
        return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1e3 if lat else float("nan")
    client_cpu = sum(g[4] for g in got)
    return {"rate": ok / DURATION, "logins": ok, "failures": failures, "errors": errors,
            "cpu_us": cpu / ok * 1e6 if ok else float("nan"),
            "client_cpu_us": client_cpu / ok * 1e6 if ok else float("nan"),
            "p50": pct(50), "p99": pct(99)}


# ------------------------------------------------------------------------- report
def machine():
    model = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                  if l.startswith("model name")), platform.processor() or "?")
    load = Path("/proc/loadavg").read_text().split()[:3]
    rdk = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "librdkafka1"],
                         capture_output=True, text=True).stdout.strip() or "?"
    return (f"{os.cpu_count()} cores ({model}), Linux {platform.release()}, "
            f"Python {platform.python_version()}, librdkafka {rdk}, load average {' '.join(load)} at start")


def main():
    load0 = machine()
    d = Path(tempfile.mkdtemp(prefix="krab-security-bench."))
    broker = None
    try:
        krab = copy_krab(str(d / "krab"))
        ca, keystore = make_certs(d)
        broker = Broker(krab, d, ca, keystore)
        print(f"krab serve pid {broker.pid}: " + ", ".join(f"{k} {v}" for k, v in broker.addr.items()),
              file=sys.stderr, flush=True)

        # Interleaved rounds; the protocol order rotates so none always runs first.
        runs = {p: {"produce": [], "consume": []} for p in PROTOCOLS}
        for rnd in range(ROUNDS):
            order = PROTOCOLS[rnd % 3:] + PROTOCOLS[:rnd % 3]
            for proto in order:
                topic = f"sec-{proto.lower()}-{rnd}"
                broker.admin(["topics", "--create", "--topic", topic, "--partitions", "1"])
                for mode in ("produce", "consume"):
                    r = run_client(broker, proto, ca, mode, topic)
                    runs[proto][mode].append(r)
                    print(f"round {rnd + 1}/{ROUNDS} {proto:9} {mode:7} {r['rps']:>10,.0f} records/s "
                          f"{r['mbps']:6.1f} MB/s  CPU µs/record: broker {r['cpu_us']:.2f}, "
                          f"client {r['client_cpu_us']:.2f}",
                          file=sys.stderr, flush=True)

        logins = {}
        for listener, tls_ca in (("SASL_PLAINTEXT", None), ("SASL_SSL", str(ca))):
            logins[listener] = r = login_rate(broker, listener, tls_ca)
            print(f"logins over {listener}: {r['rate']:,.0f}/s, {r['failures']} failures "
                  f"{r['errors']}", file=sys.stderr, flush=True)
    finally:
        if broker:
            broker.stop()
        if KEEP:
            print(f"kept {d}", file=sys.stderr)
        else:
            shutil.rmtree(d, ignore_errors=True)

    med = {p: {m: {k: statistics.median(r[k] for r in runs[p][m]) for k in ("rps", "mbps", "cpu_us")}
               for m in ("produce", "consume")} for p in PROTOCOLS}
    base = med["PLAINTEXT"]
    print(f"\n### Throughput: {RECORDS:,} records of 100 B, acks=1, linger.ms={LINGER_MS}, "
          f"1 partition, median of {ROUNDS} interleaved round(s)\n")
    print("| listener | produce records/s | MB/s | vs PLAINTEXT | broker CPU µs/record "
          "| consume records/s | MB/s | vs PLAINTEXT | broker CPU µs/record |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for p in PROTOCOLS:
        cells = []
        for m in ("produce", "consume"):
            x = med[p][m]
            cells += [f"{x['rps']:,.0f}", f"{x['mbps']:.1f}", f"{x['rps'] / base[m]['rps'] * 100:.0f}%",
                      f"{x['cpu_us']:.2f}"]
        name = p + (f" ({MECHANISM})" if p.startswith("SASL") else "")
        print(f"| {name} | " + " | ".join(cells) + " |")

    print(f"\n### {MECHANISM} logins, {ITERATIONS} iterations: {WORKERS} client processes, "
          f"{DURATION:g} s, one connection per login "
          f"({'ApiVersions v0, ' if API_VERSIONS else ''}SaslHandshake v1, SaslAuthenticate v0 x2)\n")
    print("| listener | logins/s | failures | broker CPU µs/login | client CPU µs/login "
          "| login p50 ms | login p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for listener, r in logins.items():
        tls = " (full TLS handshake each)" if listener == "SASL_SSL" else ""
        print(f"| {listener}{tls} | {r['rate']:,.0f} | {r['failures']} | {r['cpu_us']:.0f} "
              f"| {r['client_cpu_us']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} |")

    print("\nrounds (records/s): " + "; ".join(
        f"{p} produce {[round(r['rps']) for r in runs[p]['produce']]} "
        f"consume {[round(r['rps']) for r in runs[p]['consume']]}" for p in PROTOCOLS))
    verdicts = []
    for p in ("SSL", "SASL_SSL"):
        for m in ("produce", "consume"):
            ratio = med[p][m]["rps"] / base[m]["rps"]
            verdicts.append(f"{p} {m} {ratio * 100:.1f}% "
                            f"{'ok' if ratio >= TPUT_TARGET else 'BELOW'}")
    sasl = logins["SASL_PLAINTEXT"]["rate"]
    print(f"targets: TLS >= {TPUT_TARGET * 100:.0f}% of PLAINTEXT: " + ", ".join(verdicts)
          + f"; SCRAM logins >= {LOGIN_TARGET}/s: {sasl:,.0f}/s {'ok' if sasl >= LOGIN_TARGET else 'BELOW'}")
    print(f"machine: {load0}")
    failed = sum(r["failures"] for r in logins.values())
    if failed:
        print("login failures: " + "; ".join(f"{k}: {r['errors']}" for k, r in logins.items()
                                             if r["failures"]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
