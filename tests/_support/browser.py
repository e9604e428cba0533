"""A real headless Chromium driven over the DevTools protocol through a pipe (--remote-debugging-pipe: JSON messages
ended by a NUL byte on file descriptors 3 and 4), with the standard library only: open a file, hear its console
errors, exceptions and network requests, read the DOM, take a screenshot."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

# Debian's package; the others are where other systems put it.
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium() -> str:
    """The browser's path, or a skip that says why there is none (scripts/test installs Debian's chromium when it can)."""
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    reason = os.environ.get("DBTASKS_TEST_NO_BROWSER", "")
    pytest.skip(
        f"no headless browser: none of {', '.join(NAMES)} is on PATH"
        + (f" ({reason})" if reason else "; run python3 scripts/test, which installs Debian's chromium with apt-get")
    )


def _above_four(descriptor: int) -> int:
    moved = fcntl.fcntl(descriptor, fcntl.F_DUPFD_CLOEXEC, 10)  # only the browser gets them (dup2 onto 3 and 4)
    os.close(descriptor)
    return moved


class Page:
    """One tab of a headless Chromium of its own (its profile in `folder`), open on `path`; close() ends it."""

    def __init__(self, path: Path, folder: Path, width: int = 1280, height: int = 900) -> None:
        browser = chromium()  # a skip before any pipe is made
        ours_in, theirs_out = os.pipe()
        theirs_in, ours_out = os.pipe()
        # The child's ends above 4 first: dup2 onto 3 must not close the other end if the pipe got 3 or 4.
        theirs_in, theirs_out = (_above_four(theirs_in), _above_four(theirs_out))

        def descriptors() -> None:  # the browser reads commands on 3 and writes answers on 4
            os.dup2(theirs_in, 3)
            os.dup2(theirs_out, 4)

        arguments = [
            browser,
            "--headless=new",
            "--remote-debugging-pipe",
            f"--user-data-dir={folder / 'profile'}",
            f"--window-size={width},{height}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-gpu",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--metrics-recording-only",
            "--no-sandbox" if os.geteuid() == 0 else "--enable-sandbox",  # root cannot use Chromium's sandbox
            "about:blank",
        ]
        self.process = subprocess.Popen(
            arguments, pass_fds=(3, 4), preexec_fn=descriptors, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        os.close(theirs_in)
        os.close(theirs_out)
        self._write = os.fdopen(ours_out, "wb", buffering=0)
        self._read = os.fdopen(ours_in, "rb", buffering=0)
        self._counter = 0
        self._answers: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._listener = threading.Thread(target=self._listen, daemon=True)
        self._listener.start()
        self.url = path.resolve().as_uri()
        try:
            target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self._session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.call(f"{domain}.enable")
            self.call("Page.navigate", {"url": self.url})
            self.wait_for("Page.loadEventFired")
        except BaseException:  # the caller never gets the page to close: end the browser here
            self.close()
            raise

    def _listen(self) -> None:
        buffer = b""
        while True:
            chunk = self._read.read(65536)
            if not chunk:
                break
            buffer += chunk
            while b"\0" in buffer:
                message, buffer = buffer.split(b"\0", 1)
                found = json.loads(message)
                with self._changed:
                    if "id" in found:
                        self._answers[found["id"]] = found
                    else:
                        self.events.append(found)
                    self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self._counter += 1
        number = self._counter
        message: dict[str, Any] = {"id": number, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._write.write(json.dumps(message).encode() + b"\0")
        with self._changed:
            if not self._changed.wait_for(lambda: number in self._answers or self.process.poll() is not None, timeout=60):
                raise TimeoutError(f"the browser did not answer {method} in 60 s")
        answer = self._answers.pop(number, None)
        if answer is None:
            raise RuntimeError(f"the browser ended (exit {self.process.returncode}) before answering {method}")
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return dict(answer.get("result") or {})

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._call(method, params, self._session)

    def wait_for(self, method: str) -> dict[str, Any]:
        with self._changed:
            if not self._changed.wait_for(lambda: any(event["method"] == method for event in self.events), timeout=60):
                raise TimeoutError(f"no {method} from the browser in 60 s")
        return next(event for event in self.events if event["method"] == method)

    def evaluate(self, expression: str, wait: bool = False) -> Any:
        """The value of a JavaScript expression in the page (run by the test through the protocol, not by the page);
        `wait`: the value a promise it returns settles to."""
        found = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": wait})
        if "exceptionDetails" in found:
            raise RuntimeError(f"{expression}: {found['exceptionDetails']}")
        return found["result"].get("value")

    def errors(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and the browser's own error log entries (a refused
        resource, a Content-Security-Policy violation) the page caused."""
        found = []
        for event in self.events:
            params = event.get("params") or {}
            if event["method"] == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
                found.append(f"console.{params['type']}: {params.get('args')}")
            elif event["method"] == "Runtime.exceptionThrown":
                found.append(f"exception: {params.get('exceptionDetails')}")
            elif event["method"] == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                found.append(f"log {params['entry']['level']}: {params['entry'].get('text')}")
        return found

    def requests(self) -> list[str]:
        """Every URL the page asked for but the page itself."""
        urls = [event["params"]["request"]["url"] for event in self.events if event["method"] == "Network.requestWillBeSent"]
        return [url for url in urls if url != self.url]

    def screenshot(self, path: Path) -> Path:
        """The whole page as a PNG (beyond the window's height)."""
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self._call("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._write.close()
        self._listener.join(timeout=10)  # it ends at the end of the browser's output
        self._read.close()
