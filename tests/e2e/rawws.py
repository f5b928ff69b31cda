"""A raw WebSocket client over a plain socket: sends what a library would refuse to.

Used for hostile input (non-ASCII headers, invalid UTF-8) and for a client that
connects and then never reads.
"""

from __future__ import annotations

import base64
import os
import socket
import struct


def handshake(
    port: int,
    path: str,
    headers: dict[str, str] | None = None,
    *,
    rcvbuf: int | None = None,
    timeout: float = 10.0,
) -> socket.socket:
    """Open ``path`` and finish the upgrade; the response headers are read and dropped."""
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError(f"closed during the handshake: {response!r}")
        response += chunk
    if not response.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(f"upgrade refused: {response!r}")
    return sock


def send_frame(sock: socket.socket, payload: bytes, opcode: int = 0x1) -> None:
    """One masked, final frame (a client must mask)."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(header + mask + masked)


def _exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def read_frame(sock: socket.socket) -> tuple[int, bytes]:
    """(opcode, payload) of the next frame from the server (never masked)."""
    first, second = _exactly(sock, 2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", _exactly(sock, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", _exactly(sock, 8))[0]
    return first & 0x0F, _exactly(sock, length)


def read_close(sock: socket.socket) -> tuple[int, str]:
    """Skip data frames up to the close frame; its (code, reason)."""
    while True:
        opcode, payload = read_frame(sock)
        if opcode == 0x8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            return code, payload[2:].decode("utf-8")
