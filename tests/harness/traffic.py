"""A bounded request loop through the lab's load balancer: what users see during a day-2 change.

    with RequestLoop("http://127.0.0.1:8080/api/v4/system/ping", rate=20) as loop:
        ...                       # upgrade, scale, change a setting
    loop.report()                 # {"sent": ..., "failed": ..., "p99_ms": ..., "errors": {...}}

Bounds, whatever the caller asks: at most 50 requests per second, at most 10 minutes (then it
stops by itself), and only to 127.0.0.1. One request at a time, each on a new connection (as
many independent clients would), with a 5 s timeout. A request fails when it gets no answer,
an answer other than 200, or a body without Mattermost's `"status":"OK"`. The answer's
X-Version-Id header says which version served it.
"""

import http.client
import threading
import time
import urllib.parse
from collections import Counter

MAX_RATE = 50
MAX_SECONDS = 600
TIMEOUT = 5


class RequestLoop:
    def __init__(self, url, rate=20, max_seconds=MAX_SECONDS):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "http" or parsed.hostname != "127.0.0.1":
            raise ValueError(f"the request loop only calls http://127.0.0.1, not {url}")
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
        self.rate = min(float(rate), MAX_RATE)
        self.max_seconds = min(float(max_seconds), MAX_SECONDS)
        self.results = []  # (seconds since start, latency s, ok, what: status or error, version)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="request-loop", daemon=True)
        self.started = self.ended = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self.started = time.monotonic()
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()

    def _run(self):
        sent = 0
        while not self._stop.is_set():
            elapsed = time.monotonic() - self.started
            if elapsed >= self.max_seconds:
                break
            self.results.append((elapsed, *self._one()))
            sent += 1
            # The next request at its slot (never two at once, never faster than the rate).
            wait = self.started + sent / self.rate - time.monotonic()
            if wait > 0:
                self._stop.wait(wait)
        self.ended = time.monotonic()

    def _one(self):
        began = time.monotonic()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        try:
            conn.request("GET", self.path, headers={"Connection": "close"})
            answer = conn.getresponse()
            body = answer.read()
            version = (answer.getheader("X-Version-Id") or "").split(".", 3)
            version = ".".join(version[:3]) if len(version) >= 3 else ""
            ok = answer.status == 200 and b'"status":"OK"' in body
            return time.monotonic() - began, ok, str(answer.status), version
        except (OSError, http.client.HTTPException) as exc:
            return time.monotonic() - began, False, type(exc).__name__, ""
        finally:
            conn.close()

    def failures(self):
        return [r for r in self.results if not r[2]]

    def versions(self):
        return Counter(r[4] for r in self.results if r[2])

    def report(self):
        latencies = sorted(r[1] for r in self.results)
        p99 = latencies[max(0, int(len(latencies) * 0.99 + 0.5) - 1)] if latencies else None
        return {
            "sent": len(self.results),
            "failed": len(self.failures()),
            "p99_ms": round(p99 * 1000, 1) if p99 is not None else None,
            "seconds": round((self.ended or time.monotonic()) - self.started, 1),
            "errors": dict(Counter(r[3] for r in self.failures())),
            "served_by_version": dict(self.versions()),
        }
