"""Hand-built Kafka wire protocol pieces for the raw-socket tests.

Only what test_bad_input.py needs: request framing (header v1, non-flexible), ApiVersions v0,
Metadata v1, Produce v3 with a RecordBatch v2 (CRC-32C computed here), ListOffsets v1.
"""
import socket
import struct
import time

# --------------------------------------------------------------------------- primitives


def i8(v):
    return struct.pack(">b", v)


def i16(v):
    return struct.pack(">h", v)


def i32(v):
    return struct.pack(">i", v)


def i64(v):
    return struct.pack(">q", v)


def string(s):
    if s is None:
        return i16(-1)
    b = s.encode() if isinstance(s, str) else s
    return i16(len(b)) + b


def nbytes(b):
    if b is None:
        return i32(-1)
    return i32(len(b)) + b


def array(items):
    return i32(len(items)) + b"".join(items)


def uvarint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint(v):  # zig-zag
    return uvarint((v << 1) ^ (v >> 63))


def varbytes(b):
    if b is None:
        return varint(-1)
    return varint(len(b)) + b


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError(f"short response: need {n} bytes at {self.pos}, have {len(self.data)}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def i8(self):
        return struct.unpack(">b", self.take(1))[0]

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def remaining(self):
        return len(self.data) - self.pos


# --------------------------------------------------------------------------- CRC-32C

_CRC32C_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC32C_TABLE.append(_c)


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC32C_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# --------------------------------------------------------------------------- RecordBatch v2


def record_batch(values, base_timestamp=None, corrupt_crc=False, producer_id=-1,
                 producer_epoch=-1, base_sequence=-1, attributes=0, timestamp_deltas=None):
    """An uncompressed magic-2 batch holding ``values`` (bytes, key null, no headers);
    ``attributes`` sets flags such as transactional (0x10), never a codec;
    ``timestamp_deltas`` gives each record's timestamp relative to the base (default 0)."""
    ts = int(time.time() * 1000) if base_timestamp is None else base_timestamp
    deltas = timestamp_deltas or [0] * len(values)
    records = b""
    for delta, value in enumerate(values):
        body = (i8(0) + varint(deltas[delta]) + varint(delta) + varbytes(None) + varbytes(value)
                + varint(0))
        records += varint(len(body)) + body
    # attributes .. end (the CRC-covered part)
    after_crc = (i16(attributes) + i32(len(values) - 1) + i64(ts) + i64(ts)
                 + i64(producer_id) + i16(producer_epoch) + i32(base_sequence)
                 + i32(len(values)) + records)
    crc = crc32c(after_crc)
    if corrupt_crc:
        crc ^= 0x5A5A5A5A
    # partitionLeaderEpoch, magic, crc, rest
    tail = i32(-1) + i8(2) + struct.pack(">I", crc) + after_crc
    return i64(0) + i32(len(tail)) + tail


# --------------------------------------------------------------------------- connection


class Conn:
    def __init__(self, host, port, timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.corr = 0

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def request_bytes(self, api_key, version, body, client_id="compat-raw", corr=None):
        if corr is None:
            self.corr += 1
            corr = self.corr
        payload = i16(api_key) + i16(version) + i32(corr) + string(client_id) + body
        return i32(len(payload)) + payload, corr

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError(f"connection closed after {len(buf)}/{n} bytes")
            buf += chunk
        return buf

    def recv_response(self):
        size = struct.unpack(">i", self.recv_exact(4))[0]
        return self.recv_exact(size)

    def call(self, api_key, version, body, **kw):
        """Send a request and return a Reader positioned after the correlation id."""
        data, corr = self.request_bytes(api_key, version, body, **kw)
        self.sock.sendall(data)
        resp = self.recv_response()
        r = Reader(resp)
        got = r.i32()
        assert got == corr, f"correlation id mismatch: sent {corr}, got {got}"
        return r

    def closed_by_peer(self, timeout=5.0):
        """True if the peer closes (EOF / reset) within ``timeout``; any bytes received before
        the close are returned in ``self.leftover``."""
        self.leftover = b""
        self.sock.settimeout(0.25)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not chunk:
                return True
            self.leftover += chunk
        return False


# --------------------------------------------------------------------------- requests


def api_versions_v0(conn):
    """Returns (error_code, {api_key: (min, max)})."""
    r = conn.call(18, 0, b"")
    err = r.i16()
    apis = {}
    for _ in range(r.i32()):
        k, lo, hi = r.i16(), r.i16(), r.i16()
        apis[k] = (lo, hi)
    return err, apis


def metadata_v1(conn, topics):
    """Metadata v1; returns {topic: (error_code, partition_count)}."""
    r = conn.call(3, 1, array([string(t) for t in topics]) if topics is not None else i32(-1))
    for _ in range(r.i32()):  # brokers
        r.i32()
        r.string()
        r.i32()
        r.string()  # rack
    r.i32()  # controller id
    out = {}
    for _ in range(r.i32()):
        err = r.i16()
        name = r.string()
        r.i8()  # is_internal
        nparts = r.i32()
        for _ in range(nparts):
            r.i16()
            r.i32()
            r.i32()
            for _ in range(r.i32()):
                r.i32()
            for _ in range(r.i32()):
                r.i32()
        out[name] = (err, nparts)
    return out


def produce_v3(conn, topic, partition, batch, acks=1, timeout_ms=10000):
    """Produce v3; returns (error_code, base_offset)."""
    body = (string(None) + i16(acks) + i32(timeout_ms)
            + array([string(topic) + array([i32(partition) + nbytes(batch)])]))
    r = conn.call(0, 3, body)
    result = None
    for _ in range(r.i32()):
        r.string()
        for _ in range(r.i32()):
            r.i32()
            err = r.i16()
            base = r.i64()
            r.i64()  # log_append_time
            result = (err, base)
    return result


def init_producer_id_v0(conn, transaction_timeout_ms=60000):
    """InitProducerId v0 (idempotent, no transactional id); returns (error, pid, epoch)."""
    r = conn.call(22, 0, string(None) + i32(transaction_timeout_ms))
    r.i32()  # throttle
    return r.i16(), r.i64(), r.i16()


def list_offsets_latest_v1(conn, topic, partition=0):
    """ListOffsets v1 with timestamp -1; returns (error_code, offset)."""
    body = i32(-1) + array([string(topic) + array([i32(partition) + i64(-1)])])
    r = conn.call(2, 1, body)
    result = None
    for _ in range(r.i32()):
        r.string()
        for _ in range(r.i32()):
            r.i32()
            err = r.i16()
            r.i64()  # timestamp
            off = r.i64()
            result = (err, off)
    return result


def fetch_v4(conn, topic, partitions, max_bytes, partition_max_bytes, max_wait_ms=100):
    """Fetch v4 from offset 0 of each partition; returns {partition: (error_code, record bytes)}."""
    parts = array([i32(p) + i64(0) + i32(partition_max_bytes) for p in partitions])
    body = (i32(-1) + i32(max_wait_ms) + i32(1) + i32(max_bytes) + i8(0)
            + array([string(topic) + parts]))
    r = conn.call(1, 4, body)
    r.i32()  # throttle
    out = {}
    for _ in range(r.i32()):
        r.string()
        for _ in range(r.i32()):
            p = r.i32()
            err = r.i16()
            r.i64()  # high watermark
            r.i64()  # last stable offset
            for _ in range(max(r.i32(), 0)):  # aborted transactions
                r.i64()
                r.i64()
            size = r.i32()
            out[p] = (err, r.take(size) if size > 0 else b"")
    return out


def fetch_v2_error(conn, topic, partition=0):
    """Fetch v2 from offset 0; returns (error_code, record bytes) of the partition."""
    body = (i32(-1) + i32(100) + i32(1)
            + array([string(topic) + array([i32(partition) + i64(0) + i32(1 << 20)])]))
    r = conn.call(1, 2, body)
    r.i32()  # throttle
    result = None
    for _ in range(r.i32()):
        r.string()
        for _ in range(r.i32()):
            r.i32()
            err = r.i16()
            r.i64()  # high watermark
            size = r.i32()
            result = (err, r.take(size) if size > 0 else b"")
    return result


def produce_v8(conn, topic, partition, batch, acks=1, timeout_ms=10000):
    """Produce v8; returns (error_code, base_offset, [(batch_index, message)], error_message)."""
    body = (string(None) + i16(acks) + i32(timeout_ms)
            + array([string(topic) + array([i32(partition) + nbytes(batch)])]))
    r = conn.call(0, 8, body)
    result = None
    for _ in range(r.i32()):
        r.string()
        for _ in range(r.i32()):
            r.i32()
            err = r.i16()
            base = r.i64()
            r.i64()  # log_append_time
            r.i64()  # log_start_offset
            record_errors = [(r.i32(), r.string()) for _ in range(max(r.i32(), 0))]
            result = (err, base, record_errors, r.string())
    return result
