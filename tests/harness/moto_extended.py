#!/usr/bin/env python3
"""moto's server with the AWS Backup calls this collection makes and moto 5.2.5 lacks.

    moto_extended.py [moto_server's arguments, e.g. -H 127.0.0.1 -p 4568]

The test harness (harness/moto_server.py) and the lab (tests/lab/lab.py) start moto through
this file. It adds to moto's own AWS Backup backend, before the server starts:

CreateBackupSelection, GetBackupSelection, ListBackupSelections, DeleteBackupSelection
    A plan's resource assignments, kept on moto's plan (so moto's reset forgets them with it).
    As AWS: a selection name is unique within its plan (AlreadyExistsException); a selection
    needs an IAM role ARN and at least one of Resources, ListOfTags, Conditions
    (InvalidParameterValueException, MissingParameterValueException); GetBackupSelection
    answers Conditions with its four lists, empty ones included; a deleted or unknown plan is
    ResourceNotFoundException for Get/List/Delete and InvalidParameterValueException for
    Create (the model lists no ResourceNotFoundException for it).
UpdateBackupPlan
    Replaces the plan's document: new rule IDs and defaults as moto's CreateBackupPlan gives
    them, a new VersionId.
DeleteBackupPlan
    Refused with InvalidRequestException while the plan has selections, as AWS documents;
    then moto's own.
DescribeBackupVault
    A vault that does not exist is AccessDeniedException (HTTP 403, "Insufficient privileges
    to perform this action."), as AWS answers (aws/aws-sdk-js#2625), not moto's
    ResourceNotFoundException.
CreateBackupPlan
    moto keeps deleted plans and refuses a new plan of a deleted plan's name; AWS does not.
    Here only plans not deleted count.

What it does not do (AWS does): run backup jobs, make recovery points or copies, check that
the role exists or can be assumed, check the resources' ARNs, paginate.
tests/integration/aws/test_moto_extended.py holds these answers to the service's model.
"""

import json
import sys
from typing import Any

from moto.backup import exceptions as backup_errors
from moto.backup.models import BackupBackend, Plan
from moto.backup.responses import BackupResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import unix_time
from moto.moto_api._internal import mock_random


def _plan(backend: BackupBackend, plan_id: str, missing=backup_errors.ResourceNotFoundException) -> Plan:
    plan = backend.plans.get(plan_id)
    if plan is None or plan.deletion_date is not None:
        raise missing(msg=f"Failed reading Backup plan with provided version: {plan_id}")
    if not hasattr(plan, "selections"):
        plan.selections = {}
    return plan


def create_backup_selection(self: BackupBackend, plan_id: str, selection: dict, creator_request_id: Any) -> dict:
    plan = _plan(self, plan_id, missing=backup_errors.InvalidParameterValueException)
    name = selection.get("SelectionName")
    if not name or not selection.get("IamRoleArn"):
        raise backup_errors.BackupClientError(
            "MissingParameterValueException", "SelectionName and IamRoleArn are required")
    if not (selection.get("Resources") or selection.get("ListOfTags") or selection.get("Conditions")):
        raise backup_errors.InvalidParameterValueException(
            msg="A selection needs Resources, ListOfTags or Conditions")
    if any(s["BackupSelection"]["SelectionName"] == name for s in plan.selections.values()):
        raise backup_errors.AlreadyExistsException(msg=f"Backup selection {name} already exists in the plan")
    conditions = selection.get("Conditions") or {}
    stored = dict(selection, Conditions={k: conditions.get(k, []) for k in
                                         ("StringEquals", "StringNotEquals", "StringLike", "StringNotLike")})
    entry = {
        "BackupSelection": stored,
        "SelectionId": str(mock_random.uuid4()),
        "BackupPlanId": plan_id,
        "CreationDate": unix_time(),
        "CreatorRequestId": creator_request_id,
    }
    plan.selections[entry["SelectionId"]] = entry
    return entry


def get_backup_selection(self: BackupBackend, plan_id: str, selection_id: str) -> dict:
    entry = _plan(self, plan_id).selections.get(selection_id)
    if entry is None:
        raise backup_errors.ResourceNotFoundException(msg=f"Failed reading backup selection {selection_id}")
    return entry


def delete_backup_selection(self: BackupBackend, plan_id: str, selection_id: str) -> None:
    self.get_backup_selection(plan_id, selection_id)
    del self.plans[plan_id].selections[selection_id]


def update_backup_plan(self: BackupBackend, plan_id: str, document: dict) -> Plan:
    plan = _plan(self, plan_id)
    fresh = Plan(backup_plan=document, creator_request_id=plan.creator_request_id, backend=self)
    plan.backup_plan = fresh.backup_plan
    plan.advanced_backup_settings = fresh.advanced_backup_settings
    plan.version_id = fresh.version_id
    return plan


class AccessDeniedException(backup_errors.JsonRESTError):
    code = 403

    def __init__(self):
        super().__init__("AccessDeniedException", "Insufficient privileges to perform this action.")


def describe_backup_vault(self: BackupBackend, backup_vault_name: str):
    if backup_vault_name not in self.vaults:
        raise AccessDeniedException()
    return self.vaults[backup_vault_name]


_moto_create_backup_plan = BackupBackend.create_backup_plan
_moto_delete_backup_plan = BackupBackend.delete_backup_plan


def create_backup_plan(self: BackupBackend, backup_plan, backup_plan_tags, creator_request_id):
    deleted = {k: p for k, p in self.plans.items() if p.deletion_date is not None}
    for key in deleted:  # out of moto's name check, back afterwards
        del self.plans[key]
    try:
        return _moto_create_backup_plan(self, backup_plan, backup_plan_tags, creator_request_id)
    finally:
        self.plans.update(deleted)


def delete_backup_plan(self: BackupBackend, backup_plan_id: str):
    if getattr(self.plans.get(backup_plan_id), "selections", None):
        raise backup_errors.InvalidRequestException(
            msg="Related backup plan selections must be deleted prior to backup plan deletion")
    return _moto_delete_backup_plan(self, backup_plan_id)


# The responses: the path's parameters as the service's model names them (self.uri_match), the JSON body.
def _create_backup_selection(self: BackupResponse):
    params = json.loads(self.body or "{}")
    entry = self.backup_backend.create_backup_selection(
        self.uri_match["backupPlanId"], params.get("BackupSelection") or {}, params.get("CreatorRequestId"))
    return ActionResult({k: entry[k] for k in ("SelectionId", "BackupPlanId", "CreationDate")})


def _get_backup_selection(self: BackupResponse):
    return ActionResult(self.backup_backend.get_backup_selection(
        self.uri_match["backupPlanId"], self.uri_match["selectionId"]))


def _list_backup_selections(self: BackupResponse):
    plan = _plan(self.backup_backend, self.uri_match["backupPlanId"])
    listed = [
        {"SelectionId": e["SelectionId"], "SelectionName": e["BackupSelection"]["SelectionName"],
         "BackupPlanId": e["BackupPlanId"], "CreationDate": e["CreationDate"],
         "CreatorRequestId": e["CreatorRequestId"], "IamRoleArn": e["BackupSelection"]["IamRoleArn"]}
        for e in plan.selections.values()
    ]
    return ActionResult({"BackupSelectionsList": listed})


def _delete_backup_selection(self: BackupResponse):
    self.backup_backend.delete_backup_selection(self.uri_match["backupPlanId"], self.uri_match["selectionId"])
    return EmptyResult()


def _update_backup_plan(self: BackupResponse):
    params = json.loads(self.body or "{}")
    plan = self.backup_backend.update_backup_plan(self.uri_match["backupPlanId"], params["BackupPlan"])
    return ActionResult({"BackupPlanId": plan.backup_plan_id, "BackupPlanArn": plan.backup_plan_arn,
                         "CreationDate": plan.creation_date, "VersionId": plan.version_id,
                         "AdvancedBackupSettings": plan.advanced_backup_settings})


# What install() puts on moto's classes: backend methods, then response handlers (by action).
BACKEND_CALLS = {
    "create_backup_selection": create_backup_selection, "get_backup_selection": get_backup_selection,
    "delete_backup_selection": delete_backup_selection, "update_backup_plan": update_backup_plan,
    "create_backup_plan": create_backup_plan, "delete_backup_plan": delete_backup_plan,
    "describe_backup_vault": describe_backup_vault,
}
RESPONSES = {
    "create_backup_selection": _create_backup_selection, "get_backup_selection": _get_backup_selection,
    "list_backup_selections": _list_backup_selections, "delete_backup_selection": _delete_backup_selection,
    "update_backup_plan": _update_backup_plan,
}


def install():
    """Add the calls to moto's backup backend and responses (idempotent)."""
    for cls, calls in ((BackupBackend, BACKEND_CALLS), (BackupResponse, RESPONSES)):
        for name, call in calls.items():
            setattr(cls, name, call)


if __name__ == "__main__":
    install()
    from moto.server import main

    main(sys.argv[1:])
