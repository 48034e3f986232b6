"""Chrome DevTools Protocol over ``--remote-debugging-pipe``: the transport under browser.py.

The browser reads NUL-terminated JSON commands on its fd 3 and writes replies and events on its
fd 4.  ``launch()`` starts it with those pipes; ``Connection`` matches replies to calls by id
(with a timeout, so a wedged browser cannot hang a test) and hands events to per-session
handlers; ``shutdown()`` stops it, by force if need be.
"""
import fcntl
import itertools
import json
import os
import signal
import subprocess
import threading


class CDPError(RuntimeError):
    """A DevTools command failed or got no reply, or the browser went away."""


class Connection:
    """One reader thread; event handlers run on it, so they may send() but must not call()."""

    def __init__(self, rfd, wfd):
        self._rfd, self._wfd = rfd, wfd
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._pending = {}  # id -> [threading.Event, reply]
        self.handlers = {}  # sessionId -> fn(method, params)
        self.closed = None  # why, once the pipe is gone
        self._reader = threading.Thread(target=self._read_loop, name="cdp-reader", daemon=True)
        self._reader.start()

    def send(self, method, params=None, session=None, msg_id=None):
        """Send a command without waiting for its reply (which is then dropped)."""
        msg = {"id": msg_id or next(self._ids), "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        with self._write_lock:
            while data:
                data = data[os.write(self._wfd, data):]

    def call(self, method, params=None, session=None, timeout=10.0):
        """Send a command and return its result; CDPError on error, no reply or a dead browser."""
        slot = [threading.Event(), None]
        with self._lock:
            if self.closed:
                raise CDPError(f"{method}: {self.closed}")
            # Registered before sending, so a fast reply always finds its slot.
            msg_id = next(self._ids)
            self._pending[msg_id] = slot
        try:
            self.send(method, params, session, msg_id)
            if not slot[0].wait(timeout):
                raise CDPError(f"{method}: no reply within {timeout:.1f}s")
        except OSError as e:
            raise CDPError(f"{method}: writing to the browser failed: {e}") from None
        finally:
            with self._lock:
                self._pending.pop(msg_id, None)
        reply = slot[1]
        if reply is None:
            raise CDPError(f"{method}: {self.closed}")
        if "error" in reply:
            err = reply["error"]
            raise CDPError(f"{method}: {err.get('message')} (code {err.get('code')})"
                           + (f": {err['data']}" if err.get("data") else ""))
        return reply.get("result", {})

    def _read_loop(self):
        parts = []  # pieces of a message not yet terminated (screenshots run to megabytes)
        while True:
            try:
                chunk = os.read(self._rfd, 1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                break
            while (end := chunk.find(b"\0")) >= 0:
                parts.append(chunk[:end])
                self._dispatch(b"".join(parts))
                parts, chunk = [], chunk[end + 1:]
            parts.append(chunk)
        with self._lock:
            self.closed = "the browser closed the DevTools pipe (exited?)"
            for slot in self._pending.values():
                slot[0].set()

    def _dispatch(self, raw):
        msg = json.loads(raw)
        if "id" in msg:
            with self._lock:
                slot = self._pending.get(msg["id"])
            if slot:
                slot[1] = msg
                slot[0].set()
            return
        handler = self.handlers.get(msg.get("sessionId"))
        if handler:
            try:
                handler(msg["method"], msg.get("params", {}))
            except Exception as e:  # a handler bug must not kill the reader thread
                print(f"cdp: error handling {msg.get('method')}: {e!r}")

    def close(self):
        for fd in (self._wfd, self._rfd):
            try:
                os.close(fd)
            except OSError:
                pass
        self._reader.join(2)


def _above_4(fd):
    """The fd, moved above 4 (if need be) so that remapping onto 3 and 4 cannot clobber it."""
    if fd > 4:
        return fd
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 5)
    os.close(fd)
    return moved


def launch(args, env, log_path):
    """Start the browser (args must include --remote-debugging-pipe) in its own process group:
    (Popen, Connection)."""
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()
    # The browser's ends must be fds 3 and 4, which pass_fds alone cannot arrange (it keeps fd
    # numbers), so they are dup2'ed there just before exec.  dup2 clears CLOEXEC on 3 and 4
    # only and every fd Python opens is CLOEXEC, hence close_fds=False leaks nothing else.
    child_r, child_w = _above_4(to_browser_r), _above_4(from_browser_w)

    def remap():
        os.dup2(child_r, 3)
        os.dup2(child_w, 4)
    try:
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=log, close_fds=False, preexec_fn=remap,
                                    start_new_session=True)
    except BaseException:
        os.close(to_browser_w)
        os.close(from_browser_r)
        raise
    finally:
        os.close(child_r)
        os.close(child_w)
    return proc, Connection(from_browser_r, to_browser_w)


def shutdown(proc, conn, grace=5.0):
    """Browser.close, then SIGTERM, then SIGKILL; then kill what is left of its process group."""
    if proc.poll() is None:
        try:
            conn.send("Browser.close")
            proc.wait(grace)
        except (OSError, subprocess.TimeoutExpired):
            proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    try:  # renderers, zygotes, GPU and network processes: the group launch() made
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    conn.close()
