"""An emulated AWS account as the tests see it."""

import boto3

from .moto_server import REGION


class AwsAccount:
    """An empty emulated AWS account: env for subprocesses, boto3 clients for assertions."""

    def __init__(self, server, region=REGION):
        self.server = server
        self.region = region
        self.env = server.env(region)
        self.session = boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
            region_name=region,
        )

    def client(self, service, region=None):
        return self.session.client(service, endpoint_url=self.server.url, region_name=region or self.region)
