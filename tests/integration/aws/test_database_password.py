"""A new mattermost_ha_db_password reaches Aurora, once.

AWS never returns the master password, so the role keeps a salted PBKDF2 digest of the one it
last gave the cluster in a tag. What the role sends is read from a recording proxy in front of
the emulator (the emulator will not tell the password back either).
"""

import urllib.parse

import pytest
from frontend_prereqs import create_prerequisites, lab_vars, write_vars
from harness.ansible import run_playbook
from harness.aws_proxy import AwsProxy

pytestmark = pytest.mark.slow

PLAYBOOK = "tests/integration/aws/playbooks/database.yml"
CLUSTER = "mattermost-db"
TAG = "mattermost-ha:master-password-digest"


def passwords_sent(proxy):
    """MasterUserPassword of every ModifyDBCluster call the proxy saw."""
    sent = []
    for body in proxy.requests:
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        if form.get("Action") == ["ModifyDBCluster"] and "MasterUserPassword" in form:
            sent.append(form["MasterUserPassword"][0])
    return sent


def digest_tag(aws):
    cluster = aws.client("rds").describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]
    return {t["Key"]: t["Value"] for t in cluster["TagList"]}.get(TAG, "")


def test_a_changed_password_is_sent_once_and_the_rerun_changes_nothing(aws, tmp_path):
    prereqs = create_prerequisites(aws)
    with AwsProxy(aws.server.port) as proxy:
        def run(password, *args):
            values = lab_vars(aws, prereqs, mattermost_ha_db_password=password,
                              mattermost_ha_aws_endpoint_url=proxy.url)
            env = dict(aws.env, AWS_ENDPOINT_URL=proxy.url)
            proxy.requests.clear()
            return run_playbook(PLAYBOOK, *args, "-e", write_vars(tmp_path / "vars.yml", values), env=env)

        run("First-Passw0rd")
        first_digest = digest_tag(aws)
        assert first_digest.startswith(f"pbkdf2-sha256$600000${CLUSTER}@{aws.region}$")
        assert "First-Passw0rd" not in first_digest

        same = run("First-Passw0rd")
        assert same.changed == 0, same.output
        assert passwords_sent(proxy) == []

        check = run("Second-Passw0rd", "--check")
        assert check.changed > 0 and passwords_sent(proxy) == []
        assert digest_tag(aws) == first_digest

        changed = run("Second-Passw0rd")
        assert changed.changed > 0
        assert passwords_sent(proxy) == ["Second-Passw0rd"]
        assert "Second-Passw0rd" not in changed.output
        assert "was set to mattermost_ha_db_password" in changed.folded
        assert digest_tag(aws) not in ("", first_digest)

        again = run("Second-Passw0rd")
        assert again.changed == 0, again.output
        assert passwords_sent(proxy) == []
