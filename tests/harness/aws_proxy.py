"""A thin HTTP proxy in front of the moto server that answers like real AWS for a while.

Real AWS is eventually consistent: a resource made seconds ago can be refused by the next
call. moto never does that. The proxy forwards every request to moto unchanged, except
requests a rule matches: those get the documented AWS error for the rule's first ``times``
matches, then go through. ``rule.seen`` counts the refusals, so tests can tell the caller
retried. ``requests`` keeps every request body, so tests can tell what was sent.
"""

import http.client
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Rule:
    """Refuse ``times`` requests whose form-encoded body has every pair in ``match``."""

    match: dict
    code: str
    message: str
    times: int
    status: int = 400
    # The error document's namespace (RDS, IAM, ...), or "ec2" for EC2's own format.
    xmlns: str = "http://rds.amazonaws.com/doc/2014-10-31/"
    seen: int = 0

    def applies(self, body):
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return all(key in form and (value is None or value in form[key]) for key, value in self.match.items())

    def error_body(self):
        if self.xmlns == "ec2":
            # EC2's query API has its own error document.
            return (
                f"<Response><Errors><Error><Code>{self.code}</Code><Message>{self.message}</Message></Error></Errors>"
                "<RequestID>mattermost-ha-proxy</RequestID></Response>"
            ).encode()
        return (
            f'<ErrorResponse xmlns="{self.xmlns}"><Error><Type>Sender</Type><Code>{self.code}</Code>'
            f"<Message>{self.message}</Message></Error><RequestId>mattermost-ha-proxy</RequestId></ErrorResponse>"
        ).encode()


class AwsProxy:
    def __init__(self, target_port):
        self.rules = []
        self.requests = []
        self.target_port = target_port
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                proxy.requests.append(body)
                for rule in proxy.rules:
                    if rule.seen < rule.times and rule.applies(body):
                        rule.seen += 1
                        payload = rule.error_body()
                        self.send_response(rule.status)
                        self.send_header("Content-Type", "text/xml")
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                connection = http.client.HTTPConnection("127.0.0.1", proxy.target_port, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                connection.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

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
