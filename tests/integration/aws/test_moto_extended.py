"""The AWS Backup calls tests/harness/moto_extended.py adds to moto answer as AWS does: shapes
the service's model describes (botocore parses every answer with it) and errors the model lists
for the operation, or that AWS is known to give (DescribeBackupVault)."""

import botocore.session
import pytest

pytestmark = pytest.mark.slow

ROLE = "arn:aws:iam::123456789012:role/backup"
MODEL = botocore.session.get_session().get_service_model("backup")


def plan_document(name="plan", rule="daily"):
    return {"BackupPlanName": name, "Rules": [{"RuleName": rule, "TargetBackupVaultName": "vault"}]}


def error_of(operation, call):
    """The error code of the call, checked to be one the model lists for the operation."""
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call()
    code = raised.value.response["Error"]["Code"]
    known = [shape.name for shape in MODEL.operation_model(operation).error_shapes]
    if operation == "DescribeBackupVault":  # not in the model, but AWS's answer (aws/aws-sdk-js#2625)
        known.append("AccessDeniedException")
    assert code in known
    return code


def test_a_selection_is_created_listed_read_and_deleted_with_the_answers_of_the_model(aws):
    backup = aws.client("backup")
    plan_id = backup.create_backup_plan(BackupPlan=plan_document())["BackupPlanId"]
    created = backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection={
        "SelectionName": "data", "IamRoleArn": ROLE, "Resources": ["arn:aws:s3:::bucket"]})
    assert created["BackupPlanId"] == plan_id and created["SelectionId"] and created["CreationDate"]
    [listed] = backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"]
    assert (listed["SelectionId"], listed["SelectionName"], listed["IamRoleArn"]) == (
        created["SelectionId"], "data", ROLE)
    read = backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=created["SelectionId"])
    # AWS answers the four condition lists, empty ones included.
    assert read["BackupSelection"] == {
        "SelectionName": "data", "IamRoleArn": ROLE, "Resources": ["arn:aws:s3:::bucket"],
        "Conditions": {"StringEquals": [], "StringNotEquals": [], "StringLike": [], "StringNotLike": []}}
    assert error_of("CreateBackupSelection", lambda: backup.create_backup_selection(
        BackupPlanId=plan_id, BackupSelection={"SelectionName": "data", "IamRoleArn": ROLE,
                                               "Resources": ["arn:aws:s3:::other"]})) == "AlreadyExistsException"
    assert error_of("CreateBackupSelection", lambda: backup.create_backup_selection(
        BackupPlanId=plan_id, BackupSelection={"SelectionName": "nothing", "IamRoleArn": ROLE})) == \
        "InvalidParameterValueException"
    backup.delete_backup_selection(BackupPlanId=plan_id, SelectionId=created["SelectionId"])
    assert backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"] == []
    assert error_of("GetBackupSelection", lambda: backup.get_backup_selection(
        BackupPlanId=plan_id, SelectionId=created["SelectionId"])) == "ResourceNotFoundException"


def test_a_plan_with_a_selection_is_not_deleted_and_a_deleted_plans_name_is_free_again(aws):
    backup = aws.client("backup")
    plan_id = backup.create_backup_plan(BackupPlan=plan_document())["BackupPlanId"]
    selection = backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection={
        "SelectionName": "data", "IamRoleArn": ROLE, "Resources": ["arn:aws:s3:::bucket"]})["SelectionId"]
    assert error_of("DeleteBackupPlan", lambda: backup.delete_backup_plan(BackupPlanId=plan_id)) == \
        "InvalidRequestException"
    backup.delete_backup_selection(BackupPlanId=plan_id, SelectionId=selection)
    backup.delete_backup_plan(BackupPlanId=plan_id)
    assert error_of("ListBackupSelections", lambda: backup.list_backup_selections(BackupPlanId=plan_id)) == \
        "ResourceNotFoundException"
    again = backup.create_backup_plan(BackupPlan=plan_document())["BackupPlanId"]
    assert again != plan_id
    assert [p["BackupPlanId"] for p in backup.list_backup_plans()["BackupPlansList"]] == [again]


def test_an_updated_plan_has_the_new_rules_and_a_new_version(aws):
    backup = aws.client("backup")
    created = backup.create_backup_plan(BackupPlan=plan_document())
    updated = backup.update_backup_plan(BackupPlanId=created["BackupPlanId"],
                                        BackupPlan=plan_document(rule="nightly"))
    assert updated["BackupPlanId"] == created["BackupPlanId"]
    assert updated["VersionId"] != created["VersionId"]
    [rule] = backup.get_backup_plan(BackupPlanId=created["BackupPlanId"])["BackupPlan"]["Rules"]
    assert rule["RuleName"] == "nightly" and rule["RuleId"]


def test_a_vault_that_does_not_exist_is_access_denied_as_aws_answers(aws):
    backup = aws.client("backup")
    assert error_of("DescribeBackupVault", lambda: backup.describe_backup_vault(BackupVaultName="missing")) == \
        "AccessDeniedException"
    backup.create_backup_vault(BackupVaultName="present")
    assert backup.describe_backup_vault(BackupVaultName="present")["BackupVaultName"] == "present"
