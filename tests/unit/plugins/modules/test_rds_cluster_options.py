"""rds_cluster_options: I/O-Optimized storage and IAM authentication through ModifyDBCluster."""

from stubbed_aws_module import run_module, stubbed_client

ID = {"DBClusterIdentifier": "mattermost-db"}


def _cluster(**fields):
    return {"DBClusters": [dict({"DBClusterIdentifier": "mattermost-db", "Status": "available"}, **fields)]}


def test_switches_standard_cluster_to_io_optimized():
    client, stub = stubbed_client("rds")
    # Aurora Standard clusters report no StorageType at all.
    stub.add_response("describe_db_clusters", _cluster(IAMDatabaseAuthenticationEnabled=True),
                      {"DBClusterIdentifier": "mattermost-db"})
    stub.add_response("modify_db_cluster", {"DBCluster": {"DBClusterIdentifier": "mattermost-db"}},
                      {"DBClusterIdentifier": "mattermost-db", "StorageType": "aurora-iopt1", "ApplyImmediately": True})
    stub.add_response("describe_db_clusters", _cluster(StorageType="aurora-iopt1"), ID)
    with stub:
        result, failed, _ = run_module("rds_cluster_options", {
            "db_cluster_identifier": "mattermost-db", "storage_type": "aurora-iopt1",
            "enable_iam_database_authentication": True}, client)
    stub.assert_no_pending_responses()
    assert not failed
    assert result["changed"] is True
    assert result["storage_type"] == "aurora-iopt1"
    assert result["diff"]["before"]["storage_type"] == "aurora"


def test_io_optimized_cluster_is_left_alone():
    client, stub = stubbed_client("rds")
    current = _cluster(StorageType="aurora-iopt1", IAMDatabaseAuthenticationEnabled=True)
    stub.add_response("describe_db_clusters", current, ID)
    with stub:
        result, failed, _ = run_module("rds_cluster_options", {
            "db_cluster_identifier": "mattermost-db", "storage_type": "aurora-iopt1",
            "enable_iam_database_authentication": True}, client)
    stub.assert_no_pending_responses()
    assert (failed, result["changed"]) == (False, False)


def test_turns_on_iam_authentication_in_check_mode_without_calling_modify():
    client, stub = stubbed_client("rds")
    current = _cluster(StorageType="aurora-iopt1", IAMDatabaseAuthenticationEnabled=False)
    stub.add_response("describe_db_clusters", current, ID)
    with stub:
        result, _, _ = run_module("rds_cluster_options", {
            "db_cluster_identifier": "mattermost-db", "enable_iam_database_authentication": True}, client,
            check_mode=True)
    stub.assert_no_pending_responses()
    assert result["changed"] is True
    assert result["iam_database_authentication_enabled"] is True
