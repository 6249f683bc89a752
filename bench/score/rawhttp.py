"""A minimal HTTP/1.1 client over raw sockets: sends prepared bytes exactly as given (no
normalization), reads one response, reuses the connection when both sides allow it."""

from __future__ import annotations

import socket
import threading

MAX_HEAD = 256 * 1024


class Result:
    __slots__ = ("status", "upstream", "error")

    def __init__(self, status=None, upstream=False, error=None):
        self.status = status      # int, or None when no response was read
        self.upstream = upstream  # the response carries X-Upstream: 1
        self.error = error        # "timeout", "reset", "badresp", ... when status is None

    def label(self) -> str:
        return str(self.status) if self.status is not None else self.error or "error"


class _Closed(Exception):
    pass


class _Conn:
    def __init__(self, port: int, timeout: float):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.sock.makefile("rb", buffering=65536)
        self.used = 0

    def close(self):
        for thing in (self.rfile, self.sock):
            try:
                thing.close()
            except OSError:
                pass

    def readline(self) -> bytes:
        line = self.rfile.readline(MAX_HEAD)
        if not line:
            raise _Closed()
        return line

    def read_exact(self, n: int):
        while n > 0:
            chunk = self.rfile.read(min(n, 1 << 20))
            if not chunk:
                raise _Closed()
            n -= len(chunk)

    def read_to_eof(self):
        while self.rfile.read(1 << 16):
            pass


def _read_response(conn: _Conn, is_head: bool):
    """-> (status, headers dict lower-name -> [values], must_close)"""
    while True:
        line = conn.readline()
        if not line.startswith(b"HTTP/"):
            return None, {}, True
        parts = line.split(None, 2)
        try:
            status = int(parts[1])
        except (IndexError, ValueError):
            return None, {}, True
        version = parts[0]
        headers: dict[bytes, list[bytes]] = {}
        size = 0
        while True:
            h = conn.readline()
            size += len(h)
            if size > MAX_HEAD:
                return None, {}, True
            if h in (b"\r\n", b"\n"):
                break
            name, _, value = h.partition(b":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        if 100 <= status < 200 and status != 101:
            continue  # interim response (100 Continue): the final one follows
        conn_tokens = b",".join(headers.get(b"connection", [])).lower()
        must_close = b"close" in conn_tokens or (version == b"HTTP/1.0" and b"keep-alive" not in conn_tokens)
        if is_head or status in (204, 304):
            pass
        elif b"chunked" in b",".join(headers.get(b"transfer-encoding", [])).lower():
            while True:
                size_line = conn.readline().split(b";", 1)[0].strip()
                n = int(size_line, 16)
                if n == 0:
                    while conn.readline() not in (b"\r\n", b"\n"):
                        pass
                    break
                conn.read_exact(n + 2)
        elif b"content-length" in headers:
            conn.read_exact(int(headers[b"content-length"][0]))
        else:
            conn.read_to_eof()
            must_close = True
        return status, headers, must_close


class Client:
    """Thread-safe: each thread keeps its own keep-alive connection per port."""

    def __init__(self, timeout: float = 10.0):
        self.timeout = timeout
        self.local = threading.local()

    def _conns(self) -> dict:
        c = getattr(self.local, "conns", None)
        if c is None:
            c = self.local.conns = {}
        return c

    def close_all(self):
        for conn in self._conns().values():
            conn.close()
        self._conns().clear()

    def send(self, port: int, data: bytes, fresh: bool = False) -> Result:
        """Send `data` as is, read one response. fresh: on a new connection, closed after."""
        head = data.split(b"\r\n\r\n", 1)[0].lower()
        wants_close = fresh or b"\r\nconnection: close" in head or b"\nconnection:close" in head
        is_head = data[:5] == b"HEAD "
        conns = self._conns()
        for attempt in (0, 1):
            conn = None if fresh else conns.pop(port, None)
            reused = conn is not None
            try:
                if conn is None:
                    conn = _Conn(port, self.timeout)
            except OSError as e:
                return Result(error=f"connect:{type(e).__name__}")
            try:
                try:
                    conn.sock.sendall(data)
                except (BrokenPipeError, ConnectionResetError):
                    # The server may have answered early (e.g. 413) and closed: read it.
                    pass
                status, headers, must_close = _read_response(conn, is_head)
            except socket.timeout:
                conn.close()
                return Result(error="timeout")
            except (_Closed, ConnectionError, ValueError, OSError) as e:
                conn.close()
                if reused and attempt == 0:
                    continue  # a kept-alive connection the server had closed: once more, fresh
                return Result(error="closed" if isinstance(e, _Closed) else "reset"
                              if isinstance(e, ConnectionError) else f"badresp:{type(e).__name__}")
            if status is None:
                conn.close()
                return Result(error="badresp")
            conn.used += 1
            upstream = b"1" in headers.get(b"x-upstream", [])
            # Reuse a connection only after an ordinary forwarded exchange: a server that
            # refused a request early may not have read all of it, and its leftovers must not
            # be taken for the next request.
            if must_close or wants_close or not upstream:
                conn.close()
            else:
                conns[port] = conn
            return Result(status=status, upstream=upstream)
        return Result(error="closed")
