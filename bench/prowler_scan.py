"""Prowler's AWS checks against a deployment that playbooks/provision.yml made on the emulator.

Starts a moto server, provisions the deployment exactly as tests/integration/aws/test_provision.py
does, runs prowler (its own virtualenv, created on first use) against the server, and counts
only the FAIL findings on the deployment's own resources, leaving out those caused by what the
emulator cannot store or answer (EMULATOR_GAPS, each with its reason).

    .venv/bin/python bench/prowler_scan.py             # --keep DIR keeps prowler's output there

Not part of `make test`: prowler is about 2.3 GB installed (first run: about 10 minutes of
download), a run takes 4 to 8 minutes on 2 shared cores. See bench/README.md.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests/integration/aws")]

from harness.ansible import run_playbook  # noqa: E402
from harness.aws import AwsAccount  # noqa: E402
from harness.deployment import DEPLOYMENT_TAG  # noqa: E402
from harness.moto_server import REGION, MotoServer  # noqa: E402
from test_provision import NAME, VARS  # noqa: E402

PROWLER_VERSION = "5.46.0"  # the newest release on PyPI on 2 December 2026; runs on Python 3.11
VENV = REPO / ".bench/prowler-venv"
# The findings kept on purpose, each with its justification (docs/security-findings.md).
MUTELIST = REPO / "bench/prowler-mutelist.yaml"
SERVICES = ["ec2", "vpc", "elbv2", "rds", "s3", "iam", "acm", "cloudwatch"]
HIGH = {"High", "Critical"}

# FAIL findings on the deployment's resources that come from the emulator, not from what the
# collection asked AWS for: check id -> reason. Each was verified against the moto server's
# answers (and its log of NotImplementedError) with moto 5.2.5 and prowler 5.46.0.
EMULATOR_GAPS = {
    "rds_instance_certificate_expiration": (
        "moto does not implement rds:DescribeCertificates (500), so prowler sees no CA "
        "certificate expiry for the instances"
    ),
    "rds_instance_deprecated_engine_version": (
        "moto does not implement rds:DescribeDBEngineVersions (500), so prowler knows no "
        "current engine version and counts 16.8 as deprecated"
    ),
    "rds_instance_enhanced_monitoring_enabled": (
        "the instances have MonitoringInterval 60 and the monitoring role (stored by moto), but "
        "moto never returns EnhancedMonitoringResourceArn, which prowler tests"
    ),
    "rds_instance_iam_authentication_enabled": (
        "the cluster has IAMDatabaseAuthenticationEnabled true; moto reports false on its member "
        "instances, where AWS reports the cluster's setting"
    ),
    "rds_instance_transport_encrypted": (
        "moto's cluster parameter groups know no rds.* parameter, so the emulator runs set "
        "mattermost_ha_db_cluster_parameters: [] (EMULATOR_FRONTEND_VARS); on AWS the default "
        "sets rds.force_ssl=1"
    ),
    "ec2_securitygroup_not_used": (
        "the DB security group is attached to the Aurora instances; moto's RDS instances create "
        "no network interfaces, so prowler finds none using it"
    ),
    "ec2_instance_managed_by_ssm": (
        "moto does not implement ssm:DescribeInstanceInformation (500), so prowler sees no "
        "managed instance whatever the instance role allows"
    ),
}


def ensure_prowler():
    """The prowler virtualenv, created and filled from PyPI when absent; returns its binary."""
    binary = VENV / "bin/prowler"
    if binary.exists():
        version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
        if PROWLER_VERSION in version:
            return binary
    print(f"installing prowler {PROWLER_VERSION} into {VENV} (about 2.3 GB, several minutes)", flush=True)
    started = time.monotonic()
    shutil.rmtree(VENV, ignore_errors=True)
    VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([VENV / "bin/pip", "install", "--quiet", f"prowler=={PROWLER_VERSION}"], check=True)
    print(f"installed in {time.monotonic() - started:.0f} s", flush=True)
    return binary


def provision(server, workdir):
    """playbooks/provision.yml with the variables of tests/integration/aws/test_provision.py."""
    values = {**VARS, "mattermost_ha_certificate_records_file": str(workdir / "records.csv")}
    run_playbook("playbooks/provision.yml", "-e", json.dumps(values), env=server.env(REGION))


def untagged_members(aws):
    """IDs of what lives in the deployment's VPC without carrying its tag (default NACL, main
    route table, default security group, volumes and network interfaces of the instances)."""
    ec2 = aws.client("ec2")
    tagged = [{"Name": f"tag:{DEPLOYMENT_TAG}", "Values": [NAME]}]
    vpcs = [v["VpcId"] for v in ec2.describe_vpcs(Filters=tagged)["Vpcs"]]
    in_vpc = [{"Name": "vpc-id", "Values": vpcs}]
    ids = set(vpcs)
    ids |= {a["NetworkAclId"] for a in ec2.describe_network_acls(Filters=in_vpc)["NetworkAcls"]}
    ids |= {t["RouteTableId"] for t in ec2.describe_route_tables(Filters=in_vpc)["RouteTables"]}
    ids |= {g["GroupId"] for g in ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"]}
    ids |= {s["SubnetId"] for s in ec2.describe_subnets(Filters=in_vpc)["Subnets"]}
    ids |= {e["NetworkInterfaceId"] for e in ec2.describe_network_interfaces(Filters=in_vpc)["NetworkInterfaces"]}
    for reservation in ec2.describe_instances(Filters=in_vpc)["Reservations"]:
        for instance in reservation["Instances"]:
            ids.add(instance["InstanceId"])
            ids |= {m["Ebs"]["VolumeId"] for m in instance.get("BlockDeviceMappings", []) if "Ebs" in m}
    return ids


def run_prowler(binary, server, outdir):
    env = dict(os.environ)
    env.update(server.env(REGION), AWS_DISABLE_HOST_PREFIX_INJECTION="true")
    command = [
        binary, "aws", "--region", REGION, "--service", *SERVICES,
        "--output-formats", "json-ocsf", "--output-directory", outdir, "--output-filename", "scan",
        "--no-banner", "--no-color", "--ignore-exit-code-3",
        "--log-level", "ERROR", "--log-file", outdir / "prowler-errors.log",
        "--mutelist-file", MUTELIST,
    ]
    with open(outdir / "prowler-stdout.log", "w") as log:
        subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    return json.loads((outdir / "scan.ocsf.json").read_text())


def is_deployment_resource(resource, ids):
    if f"{DEPLOYMENT_TAG}:{NAME}" in resource.get("labels", []):
        return True
    tail = resource["uid"].replace(":", "/").rsplit("/", 1)[-1]
    return resource.get("name") in ids or tail in ids


def classify(findings, ids):
    """(counted, emulator_gaps, outside) FAIL findings as (check id, severity, resource, muted)."""
    counted, gaps, outside = [], [], []
    for finding in findings:
        if finding["status_code"] != "FAIL":
            continue
        resource = finding["resources"][0]
        # A muted finding keeps status_code FAIL; OCSF's status says Suppressed.
        row = (finding["metadata"]["event_code"], finding["severity"], resource.get("name") or resource["uid"],
               finding.get("status") == "Suppressed")
        if not is_deployment_resource(resource, ids):
            outside.append(row)
        elif row[0] in EMULATOR_GAPS:
            gaps.append(row)
        else:
            counted.append(row)
    return sorted(counted), sorted(gaps), outside


def table(rows):
    width = max([len("check id")] + [len(r[0]) for r in rows])
    lines = [f"| {'check id':<{width}} | severity | resource", f"|{'-' * (width + 2)}|----------|---------"]
    lines += [f"| {check:<{width}} | {severity:<8} | {resource}" for check, severity, resource, _ in rows]
    return "\n".join(lines)


def high(rows):
    return sum(severity in HIGH for _, severity, _, _ in rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="directory that keeps prowler's output and the moto log")
    args = parser.parse_args()
    binary = ensure_prowler()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench-prowler-"))
    workdir.mkdir(parents=True, exist_ok=True)
    server = MotoServer(workdir).start()
    try:
        started = time.monotonic()
        provision(server, workdir)
        provisioned = time.monotonic()
        print(f"provisioned {NAME} in {provisioned - started:.0f} s", flush=True)
        findings = run_prowler(binary, server, workdir)
        print(f"prowler {PROWLER_VERSION} ({', '.join(SERVICES)}) in {time.monotonic() - provisioned:.0f} s",
              flush=True)
        ids = untagged_members(AwsAccount(server))
    finally:
        server.stop()
    counted, gaps, outside = classify(findings, ids)
    print(f"\nleft out, caused by the emulator ({len(gaps)}):")
    for check, severity, resource, _ in gaps:
        print(f"  {check} ({severity}) {resource}: {EMULATOR_GAPS[check]}")
    account = Counter(check for check, _, _, _ in outside)
    print(f"\nnot counted, not the deployment's resources (account settings, moto's defaults): "
          f"{len(outside)} FAIL in {len(account)} checks")
    muted = [row for row in counted if row[3]]
    unmuted = [row for row in counted if not row[3]]
    print(f"\nFAIL on the deployment's resources: {len(counted)}, high or critical: {high(counted)}")
    print(f"muted by {MUTELIST.relative_to(REPO)} (justified): {len(muted)}, high or critical: {high(muted)}")
    print(f"unmuted FAIL: {len(unmuted)}, high or critical: {high(unmuted)}\n")
    print("unmuted:\n" + table(unmuted))
    print("\nmuted:\n" + table(muted))
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
