"""playbooks/restore.yml restores the database into a NEW Aurora cluster made like the serving
one, refuses a snapshot that is missing or another deployment's before creating anything, re-runs
without change, and lets the restored cluster serve only when asked, tagging the old one.

The emulator has no data plane: the restored data, the checks from an app node and the move of
the nodes are proven by the lab drill (tests/integration/lab/test_site.py).
"""

import pytest
from frontend_prereqs import create_prerequisites, lab_vars, write_vars
from harness.ansible import run_playbook

pytestmark = pytest.mark.slow

PROVISION = "tests/integration/aws/playbooks/database.yml"
RESTORE = "playbooks/restore.yml"
SERVING = "mattermost-db"
RESTORED = "mattermost-db-restored"
NOT_SERVING = "mattermost-ha:not-serving"


def tags_of(rds, cluster_id):
    cluster = rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
    return {t["Key"]: t["Value"] for t in cluster["TagList"]}


def cluster_ids(rds):
    return sorted(c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"])


@pytest.fixture
def deployment(aws, tmp_path):
    """The serving cluster made by the role, a snapshot of it, and a snapshot of another
    deployment's cluster; returns a function that runs a playbook with the deployment's vars."""
    values = lab_vars(aws, create_prerequisites(aws))

    def run(playbook, *args, fails=False, **more):
        return run_playbook(playbook, *args, "-e", write_vars(tmp_path / "vars.yml", dict(values, **more)), env=aws.env,
                            check=not fails)

    run(PROVISION)
    rds = aws.client("rds")
    rds.create_db_cluster_snapshot(DBClusterIdentifier=SERVING, DBClusterSnapshotIdentifier="before-the-incident",
                                   Tags=[{"Key": "mattermost-ha:deployment", "Value": "Mattermost"}])
    other = [{"Key": "mattermost-ha:deployment", "Value": "Other"}]
    rds.create_db_cluster(DBClusterIdentifier="other-db", Engine="aurora-postgresql", MasterUsername="admin1",
                          MasterUserPassword="Other-Passw0rd", Tags=other)
    rds.create_db_cluster_snapshot(DBClusterIdentifier="other-db", DBClusterSnapshotIdentifier="other-snapshot",
                                   Tags=other)
    return run, rds


@pytest.mark.parametrize("snapshot, reason", [
    ("no-such-snapshot", "it does not exist"),
    ("other-snapshot", "it belongs to the deployment Other, not to Mattermost"),
])
def test_a_missing_or_foreign_snapshot_is_refused_before_anything_is_created(deployment, snapshot, reason):
    run, rds = deployment
    before = cluster_ids(rds)
    refused = run(RESTORE, fails=True, mattermost_ha_db_restore_snapshot=snapshot,
                  mattermost_ha_db_restore_cluster_identifier=RESTORED)
    assert refused.returncode != 0
    assert f"Cannot restore from the cluster snapshot {snapshot}: {reason}. Nothing was created." in refused.folded
    assert cluster_ids(rds) == before
    assert rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [RESTORED]}])["DBInstances"] == []


def test_the_restored_cluster_is_made_like_the_serving_one_and_serves_only_when_asked(deployment):
    run, rds = deployment
    serving = rds.describe_db_clusters(DBClusterIdentifier=SERVING)["DBClusters"][0]
    restore = {"mattermost_ha_db_restore_snapshot": "before-the-incident",
               "mattermost_ha_db_restore_cluster_identifier": RESTORED}

    checked = run(RESTORE, "--check", **restore)
    assert checked.returncode == 0, checked.output
    assert RESTORED not in cluster_ids(rds)

    restored = run(RESTORE, **restore)
    assert restored.returncode == 0, restored.output
    assert f"restored from before-the-incident into the cluster {RESTORED}" in restored.folded
    new = rds.describe_db_clusters(DBClusterIdentifier=RESTORED)["DBClusters"][0]
    for setting in ("DBSubnetGroup", "DBClusterParameterGroup", "Port", "BackupRetentionPeriod",
                    "PreferredBackupWindow", "PreferredMaintenanceWindow", "StorageEncrypted"):
        assert new[setting] == serving[setting], setting
    assert [g["VpcSecurityGroupId"] for g in new["VpcSecurityGroups"]] == \
        [g["VpcSecurityGroupId"] for g in serving["VpcSecurityGroups"]]
    members = {m["DBInstanceIdentifier"]: m["IsClusterWriter"] for m in new["DBClusterMembers"]}
    assert members == {f"{RESTORED}-1": True, f"{RESTORED}-2": False}
    zones = [rds.describe_db_instances(DBInstanceIdentifier=i)["DBInstances"][0]["AvailabilityZone"] for i in members]
    assert len(set(zones)) == 2, zones  # the writer and the reader in different zones, as in the serving cluster
    tags = tags_of(rds, RESTORED)
    assert tags["mattermost-ha:deployment"] == "Mattermost"
    assert tags["mattermost-ha:restored-from"] == "before-the-incident"
    assert NOT_SERVING in tags
    # The second pass gave it mattermost_ha_db_password (a restore keeps the snapshot's).
    assert tags["mattermost-ha:master-password-digest"].startswith(f"pbkdf2-sha256$600000${RESTORED}@")
    assert NOT_SERVING not in tags_of(rds, SERVING)

    again = run(RESTORE, **restore)
    assert again.changed == 0, again.recap

    served = run(RESTORE, mattermost_ha_db_restore_serve=True, **restore)
    assert served.returncode == 0, served.output
    assert NOT_SERVING not in tags_of(rds, RESTORED)
    assert tags_of(rds, SERVING)[NOT_SERVING] == f"retired: serving moved to {RESTORED}"
    assert cluster_ids(rds).count(SERVING) == 1  # left in place for the user to delete

    # provision.yml no longer manages the retired cluster: it names the variable to change.
    refused = run(PROVISION, fails=True)
    assert refused.returncode != 0
    assert f"mattermost_ha_db_cluster_identifier names {SERVING}, which does not serve the app nodes" in refused.folded
    # Moving the serving tag changed no setting of either cluster.
    for cluster_id in (SERVING, RESTORED):
        assert rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]["BackupRetentionPeriod"] == 7
    managed = run(PROVISION, mattermost_ha_db_cluster_identifier=RESTORED)
    assert managed.changed == 0, managed.output
