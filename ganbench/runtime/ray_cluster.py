"""What the command line knows of Ray before importing it (or torch): the extra that
installs it, and whether a cluster answers at an address, in bounded time."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

from ganbench.errors import GanbenchError

EXTRA = "pip install -e '.[ray]'"
MISSING = f"--executor ray needs the ray package; run: {EXTRA}"


#: Where `ray start` records the address of the cluster it started on this machine.
CURRENT_CLUSTER = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
#: Seconds to wait for a Ray head to answer before saying nothing does.
CONNECT_TIMEOUT_S = 5.0


def check_address(address: str) -> None:
    """One line naming the address, in bounded time, when no Ray cluster is there: Ray's
    own client waits 36 s for a ray:// address and forever for a bare HOST:PORT."""
    fix = "start one with `ray start --head`, or leave out --address to start Ray for this run"
    if address == "auto":
        if not (os.environ.get("RAY_ADDRESS") or CURRENT_CLUSTER.is_file()):
            raise GanbenchError(f"--address auto: no Ray cluster runs on this machine; {fix}")
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise GanbenchError(f"--address {address!r}: expected HOST:PORT, ray://HOST:PORT or auto")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), CONNECT_TIMEOUT_S) as conn:
            speaks_grpc = answers_http2(conn)
    except OSError as e:
        reason = "no answer" if isinstance(e, TimeoutError) else (e.strerror or str(e))
        raise GanbenchError(
            f"--address {address}: no Ray cluster answers at {host}:{port} ({reason}); {fix}"
        ) from None
    if not speaks_grpc:
        # Ray's client would retry for ever ("Failed to get cluster ID from GCS server")
        raise GanbenchError(
            f"--address {address}: something listens at {host}:{port} but it is not Ray (it "
            f"does not answer gRPC's HTTP/2 greeting within {CONNECT_TIMEOUT_S:g} s); {fix}"
        )


#: HTTP/2's client preface and an empty SETTINGS frame (RFC 9113, 3.4 and 6.5).
HTTP2_GREETING = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
SETTINGS_FRAME = 4


def answers_http2(conn: socket.socket) -> bool:
    """Whether the server answers HTTP/2's greeting with a SETTINGS frame, as every gRPC
    server (Ray's GCS and its client server) does at once; a server of another protocol
    sends something else, closes, or stays silent."""
    conn.settimeout(CONNECT_TIMEOUT_S)
    try:
        conn.sendall(HTTP2_GREETING)
        header = b""
        while len(header) < 9:
            chunk = conn.recv(9 - len(header))
            if not chunk:
                return False
            header += chunk
    except OSError:
        return False
    return header[3] == SETTINGS_FRAME
