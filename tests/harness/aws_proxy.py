"""A thin HTTP proxy in front of the moto server that answers like real AWS for a while.

Real AWS is eventually consistent: a resource made seconds ago can be refused by the next
call. moto never does that. The proxy forwards every request to moto unchanged, except
requests a rule matches: those get the documented AWS error for the rule's first ``times``
matches, then go through. ``rule.seen`` counts the refusals, so tests can tell the caller
retried. ``requests`` keeps every request body, so tests can tell what was sent.

``ForwardingHandler`` is the forwarding itself, shared with the lab's controller
(tests/lab/controller.py): each request goes to the backend as it came (method, path,
headers but the hop-by-hop ones, body), each answer back as it came.
"""

import http.client
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

# Headers of one connection, not of the request or the answer (RFC 9110 7.6.1); an Expect:
# 100-continue is answered by the proxy itself, which then has the whole body to send on.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
                        "te", "trailer", "transfer-encoding", "upgrade", "expect"})
RDS_XMLNS = "http://rds.amazonaws.com/doc/2014-10-31/"


def error_body(code, message, xmlns=RDS_XMLNS):
    """An AWS query-protocol error document: RDS's (and IAM's, ...) by namespace, or "ec2" for EC2's own."""
    code, message = escape(code), escape(message)
    if xmlns == "ec2":
        return (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            "<RequestID>mattermost-ha-proxy</RequestID></Response>"
        ).encode()
    return (
        f'<ErrorResponse xmlns="{xmlns}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>mattermost-ha-proxy</RequestId></ErrorResponse>"
    ).encode()


class BackendUnavailable(Exception):
    """The backend could not be reached or did not answer."""


@dataclass
class Answer:
    """The backend's answer to one request: status line, headers in order, body."""

    status: int
    reason: str
    headers: list
    payload: bytes

    @property
    def ok(self):
        return self.status < 300


class ForwardingHandler(BaseHTTPRequestHandler):
    """Forwards every request to ``backend`` (host, port); a subclass overrides ``handle_body``."""

    protocol_version = "HTTP/1.1"
    backend = ("127.0.0.1", 0)
    backend_timeout = 120

    def log_message(self, *args):
        pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailer fields
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def fetch(self, body, headers=None):
        """Send the request (or `body` with `headers` instead of the request's) to the backend."""
        if headers is None:
            # Content-Length is the body's as sent: a chunked request's, or one a subclass rewrote.
            headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {"content-length"}]
            if body or "Content-Length" in self.headers:
                headers.append(("Content-Length", str(len(body))))
        connection = http.client.HTTPConnection(*self.backend, timeout=self.backend_timeout)
        try:
            # The request's own Host header goes along (http.client adds none when there is one).
            connection.putrequest(self.command, self.path, skip_host=any(k.lower() == "host" for k, _ in headers),
                                  skip_accept_encoding=True)
            for key, value in headers:
                connection.putheader(key, value)
            connection.endheaders(body or None)
            response = connection.getresponse()
            payload = response.read()
            answer_headers = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
            if response.chunked or response.getheader("Content-Length") is None:
                answer_headers = [(k, v) for k, v in answer_headers if k.lower() != "content-length"]
                answer_headers.append(("Content-Length", str(len(payload))))
            return Answer(response.status, response.reason, answer_headers, payload)
        except (OSError, http.client.HTTPException) as exc:
            raise BackendUnavailable(f"{self.backend[0]}:{self.backend[1]}: {type(exc).__name__}: {exc}") from exc
        finally:
            connection.close()

    def relay(self, answer):
        self.send_response_only(answer.status, answer.reason)
        for key, value in answer.headers:
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.payload)

    def answer(self, status, payload, content_type="text/xml"):
        """An answer of the proxy's own (not the backend's)."""
        self.relay(Answer(status, None, [("Content-Type", content_type), ("Content-Length", str(len(payload)))],
                          payload))

    def handle_body(self, body):
        self.relay(self.fetch(body))

    def _dispatch(self):
        body = self.read_body()
        try:
            self.handle_body(body)
        except BackendUnavailable as exc:  # say so rather than drop the connection
            self.answer(502, f"{exc}\n".encode(), content_type="text/plain")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _dispatch


@dataclass
class Rule:
    """Refuse ``times`` requests whose form-encoded body has every pair in ``match``."""

    match: dict
    code: str
    message: str
    times: int
    status: int = 400
    # The error document's namespace (RDS, IAM, ...), or "ec2" for EC2's own format.
    xmlns: str = RDS_XMLNS
    seen: int = 0

    def applies(self, body):
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return all(key in form and (value is None or value in form[key]) for key, value in self.match.items())

    def error_body(self):
        return error_body(self.code, self.message, self.xmlns)


class AwsProxy:
    def __init__(self, target_port):
        self.rules = []
        self.requests = []
        self.target_port = target_port
        proxy = self

        class Handler(ForwardingHandler):
            backend = ("127.0.0.1", target_port)

            def handle_body(self, body):
                proxy.requests.append(body)
                for rule in proxy.rules:
                    if rule.seen < rule.times and rule.applies(body):
                        rule.seen += 1
                        self.answer(rule.status, rule.error_body())
                        return
                self.relay(self.fetch(body))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def refuse(self, rule):
        self.rules.append(rule)
        return rule

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
