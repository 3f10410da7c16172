"""A small Language Server Protocol client: talks JSON-RPC over a server's stdin/stdout as an editor does.

Enough of LSP for tests: requests with answers, notifications both ways, and the few
requests a server sends the client (answered with nothing). Messages are framed with a
Content-Length header (LSP base protocol).
"""

from __future__ import annotations

import json
import selectors
import subprocess
import time
from pathlib import Path
from typing import Any

# A guard against a server that never answers, so a broken test fails instead of hanging.
ANSWER_TIMEOUT = 60.0

Json = Any


class LanguageServer:
    """One language server process, driven over its stdin and stdout."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        self.process = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        self._next_id = 0
        self._buffer = b""
        # what the client answers workspace/configuration with, by section ("yaml", ...)
        self.settings: dict[str, Json] = {}

    def request(self, method: str, params: Json) -> Json:
        """Send a request; its result (raises on an error answer)."""
        self._next_id += 1
        ident = self._next_id
        self._send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
        while True:
            message = self._receive()
            if message.get("id") == ident and "method" not in message:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result")

    def notify(self, method: str, params: Json) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def wait_for(self, method: str) -> Json:
        """The params of the next message the server sends with `method` (a request is answered first)."""
        while True:
            message = self._receive()
            if message.get("method") == method:
                return message.get("params")

    def close(self) -> None:
        """shutdown and exit, as an editor ends a session; kills the server if it does not end."""
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            self.process.wait(timeout=ANSWER_TIMEOUT)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            for pipe in (self.process.stdin, self.process.stdout):
                if pipe:
                    pipe.close()

    def _answer(self, request: Json) -> Json:
        if request["method"] == "workspace/configuration":
            return [self.settings.get(item.get("section")) for item in request["params"]["items"]]
        return None  # client/registerCapability, window/workDoneProgress/create...: nothing to say

    def _send(self, message: Json) -> None:
        body = json.dumps(message).encode()
        assert self.process.stdin
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def _receive(self) -> Json:
        """Read one message; requests from the server are answered on the way."""
        header = self._read_until(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in header.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        message = json.loads(self._read_exactly(length))
        if "method" in message and "id" in message:
            self._send({"jsonrpc": "2.0", "id": message["id"], "result": self._answer(message)})
        return message

    def _read_until(self, end: bytes) -> bytes:
        while end not in self._buffer:
            self._fill()
        head, self._buffer = self._buffer.split(end, 1)
        return head

    def _read_exactly(self, count: int) -> bytes:
        while len(self._buffer) < count:
            self._fill()
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def _fill(self) -> None:
        stdout = self.process.stdout
        assert stdout
        deadline = time.monotonic() + ANSWER_TIMEOUT
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"language server sent nothing for {ANSWER_TIMEOUT}s")
        chunk = stdout.read1(65536)  # type: ignore[attr-defined]
        if not chunk:
            raise EOFError(f"language server ended (exit status {self.process.wait()})")
        self._buffer += chunk


def position(text: str, marker: str) -> dict[str, int]:
    """The LSP position (0-based line and character) just after the first `marker` in `text`."""
    offset = text.index(marker) + len(marker)
    before = text[:offset]
    line = before.count("\n")
    return {"line": line, "character": offset - (before.rfind("\n") + 1)}


def labels(completion: Json) -> set[str]:
    """The labels of a completion answer (a list or a CompletionList)."""
    items = completion["items"] if isinstance(completion, dict) else completion or []
    return {item["label"] for item in items}
