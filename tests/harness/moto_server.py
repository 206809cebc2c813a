"""A moto server on a free loopback port: the real HTTP endpoint the tests call AWS on.

The environment it hands out also guards against real AWS: dummy credentials, no shared
config or credentials files, and an HTTP(S) proxy that does not exist for every host but
loopback, so a call that escapes the emulator fails at once instead of reaching AWS.
"""

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from .net import free_port, wait_for_port

REGION = "us-west-1"
# A port on which nothing listens: connection refused, immediately.
DEAD_PROXY = "http://127.0.0.1:9"


class MotoServer:
    def __init__(self, log_dir, acm_validation_wait=0, port=None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_dir) / f"moto-{self.port}.log"
        self.acm_validation_wait = acm_validation_wait
        self.proc = None

    def start(self):
        env = dict(os.environ)
        env.update(
            MOTO_IAM_LOAD_MANAGED_POLICIES="true",
            MOTO_ACM_VALIDATION_WAIT=str(self.acm_validation_wait),
        )
        # moto's server with the AWS Backup calls moto lacks (moto_extended.py).
        server = [sys.executable, str(Path(__file__).with_name("moto_extended.py"))]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the server's life
        self.proc = subprocess.Popen(
            [*server, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            wait_for_port(self.port, timeout=60, proc=self.proc)
        except BaseException:
            self.stop()  # a server that never answered is not left running
            raise
        return self

    def reset(self):
        """Forget every resource: each test starts from an empty account."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self._log.close()
            self.proc = None

    def env(self, region=REGION):
        """Environment for boto3, the AWS CLI and ansible-playbook talking to this server."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "HTTP_PROXY": DEAD_PROXY,
            "HTTPS_PROXY": DEAD_PROXY,
            "http_proxy": DEAD_PROXY,
            "https_proxy": DEAD_PROXY,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }

    def describe(self):
        return json.dumps({"url": self.url, "log": str(self.log_path)})
