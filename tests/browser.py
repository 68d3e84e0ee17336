"""A page measured in headless Chromium through the DevTools protocol (no new dependency).

Chromium clamps `--window-size` to 500 px wide, so a phone's 390 px is emulated as the
DevTools do it (Emulation.setDeviceMetricsOverride); the protocol runs over
`--remote-debugging-pipe` (commands on fd 3, replies on fd 4, each JSON message ended
by a NUL), so no port is opened.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BASH = shutil.which("bash")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
)


def above_four(fd: int) -> int:
    """The same pipe end on a descriptor numbered 10 or more (the old one closed)."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class Chromium:
    """One headless Chromium, driven over its debugging pipe; a context manager."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="ganbench-chromium-")
        commands_read, self.commands = os.pipe()
        self.replies, replies_write = os.pipe()
        # above 4, so that putting one on fd 3 never closes the other (pytest holds fds)
        commands_read, replies_write = (above_four(fd) for fd in (commands_read, replies_write))
        # bash puts the two pipe ends on the fds Chromium expects (3 and 4); dash (sh)
        # reads no descriptor above 9
        flags = " ".join(FLAGS)
        line = f'exec "$0" {flags} --user-data-dir="$1" 3<&{commands_read} 4>&{replies_write}'

        self.process = subprocess.Popen(
            [BASH, "-c", line, CHROMIUM, self.profile],
            pass_fds=(commands_read, replies_write),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(commands_read)
        os.close(replies_write)
        self.buffer = b""
        self.next_id = 0

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError, TimeoutError, RuntimeError):
            self.send("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self.commands)
        os.close(self.replies)
        shutil.rmtree(self.profile, ignore_errors=True)

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.replies], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self.replies, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed its debugging pipe")
            self.buffer += chunk
        raw, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(raw)

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Sends a command and returns its result (events met on the way are dropped,
        but for the load event, which `open` waits for)."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._message(deadline)
            if reply.get("method") == "Page.loadEventFired":
                self.loaded = True
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def open(self, url: str, width: int, height: int) -> str:
        """A tab laid out at width x height CSS px (a phone below 600 px), loaded with
        `url`; returns its session."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.send(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=width < 600,
        )
        self.send("Page.enable", session)
        self.loaded = False
        self.send("Page.navigate", session, url=url)
        deadline = time.monotonic() + self.timeout
        while not self.loaded:
            if self._message(deadline).get("method") == "Page.loadEventFired":
                self.loaded = True
        return session

    def evaluate(self, session: str, expression: str) -> Any:
        result = self.send("Runtime.evaluate", session, expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}...: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, session: str, path: Path) -> Path:
        """The whole page (not only the viewport) as a PNG."""
        data = self.send(
            "Page.captureScreenshot", session, format="png", captureBeyondViewport=True
        )
        path.write_bytes(base64.b64decode(data["data"]))
        return path
