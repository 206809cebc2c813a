#!/usr/bin/env python3
"""Time mattermost_ha.aws.aws_mattermost against amazon.aws.aws_ec2 on one emulated account.

The account (a moto server started here) holds 2,000 running instances, of which 2 belong to
the deployment "Demo"; the rest belong to other deployments or carry no deployment tag. Demo
also has its Aurora cluster, ALB and file-store bucket. Each inventory configuration is run
with `ansible-inventory --list` cold (no cache) and cached (jsonfile cache, primed once), a few
times each; the table shows medians. See bench/README.md.

    .venv/bin/python bench/inventory_bench.py [--instances 2000] [--reps 5] [--json out.json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import boto3  # noqa: E402
from harness.deployment import DEPLOYMENT_TAG, ZONES, create_deployment, image_id, tags  # noqa: E402
from harness.moto_server import REGION, MotoServer  # noqa: E402

BATCH = 250
STATIC = "ansible-inventory, static 2 hosts"

CONFIGS = {
    # What a user of aws_ec2 writes to get the deployment's hosts: the tag filter server-side.
    "aws_ec2 (tag filter)": (
        "filtered.aws_ec2.yml",
        {
            "plugin": "amazon.aws.aws_ec2",
            "regions": [REGION],
            "filters": {f"tag:{DEPLOYMENT_TAG}": "Demo", "instance-state-name": "running"},
        },
    ),
    # The typical config without a filter: every instance of the region.
    "aws_ec2 (no filter)": (
        "unfiltered.aws_ec2.yml",
        {"plugin": "amazon.aws.aws_ec2", "regions": [REGION]},
    ),
    "aws_mattermost": (
        "demo.aws_mattermost.yml",
        {"plugin": "mattermost_ha.aws.aws_mattermost", "deployment": "Demo", "regions": [REGION]},
    ),
}


def populate(server, total):
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", aws_session_token="testing", region_name=REGION
    )

    def client(service):
        return session.client(service, endpoint_url=server.url)

    # /20 subnets: room for 2,000 instances (a /24 holds 251).
    ec2 = client("ec2")
    # The deployment's VPC carries its tag, as provisioning makes it (the plugin trusts no other).
    vpc = ec2.create_vpc(
        CidrBlock="10.0.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": tags({DEPLOYMENT_TAG: "Demo"})}],
    )["Vpc"]["VpcId"]
    subnets = {
        f"{REGION}{zone}": ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.0.{16 * index}.0/20", AvailabilityZone=f"{REGION}{zone}"
        )["Subnet"]["SubnetId"]
        for index, zone in enumerate(ZONES)
    }
    demo = create_deployment(client, "Demo", app_count=2, subnets=subnets)
    ami = image_id(client)
    zones = sorted(subnets)
    remaining, batch_number = total - len(demo.instance_ids), 0
    while remaining > 0:
        count = min(BATCH, remaining)
        # Half the others belong to other deployments, half carry only unrelated tags.
        owner = {DEPLOYMENT_TAG: f"Other-{batch_number}"} if batch_number % 2 == 0 else {"team": "analytics"}
        ec2.run_instances(
            ImageId=ami,
            InstanceType="t3.small",
            MinCount=count,
            MaxCount=count,
            SubnetId=subnets[zones[batch_number % len(zones)]],
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags(dict(owner, Name=f"other-{batch_number}"))}],
        )
        remaining -= count
        batch_number += 1
    running = sum(
        len(r["Instances"])
        for page in ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-state-name", "Values": ["running"]}]
        )
        for r in page["Reservations"]
    )
    return demo, running


def write_config(directory, name, config, cache_dir=None):
    config = dict(config)
    if cache_dir is not None:
        config.update(
            cache=True, cache_plugin="ansible.builtin.jsonfile", cache_connection=str(cache_dir), cache_timeout=86400
        )
    path = directory / name
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def run(source, env, *args):
    binary = Path(sys.executable).parent / "ansible-inventory"
    start = time.perf_counter()
    proc = subprocess.run(
        [str(binary), "-i", str(source), "--list", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"ansible-inventory -i {source} failed:\n{proc.stderr}")
    groups = json.loads(proc.stdout)
    return elapsed, len({host for name, group in groups.items() if name != "_meta" for host in group.get("hosts", [])})


def print_table(results, reps):
    reference = {mode: statistics.median(results["aws_mattermost"][mode]) for mode in ("cold", "cached")}
    header = (
        f"| {'inventory':<34} | {'hosts':>5} | {'cold median s':>13} | {'cold min s':>10} | {'ratio':>5} "
        f"| {'cached median s':>15} | {'cached min s':>12} | {'ratio':>5} |"
    )
    print()
    print(f"{reps} runs each; ratio = median time / aws_mattermost's median time")
    print(header)
    print("|" + "|".join("-" * len(cell) for cell in header.split("|")[1:-1]) + "|")
    for label, entry in results.items():
        cells = [f"{label:<34}", f"{entry['hosts']:>5}"]
        for mode, width in (("cold", 13), ("cached", 15)):
            times = entry[mode]
            if times:
                median = statistics.median(times)
                cells += [f"{median:>{width}.2f}", f"{min(times):>{width - 3}.2f}", f"{median / reference[mode]:>5.2f}"]
            else:
                cells += [f"{'-':>{width}}", f"{'-':>{width - 3}}", f"{'-':>5}"]
        print("| " + " | ".join(cells) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=2000, help="instances in the account (default 2000)")
    parser.add_argument("--reps", type=int, default=5, help="timed runs per configuration and mode (default 5)")
    parser.add_argument("--json", type=Path, help="also write the raw timings here")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="inventory-bench-") as tmp:
        tmp = Path(tmp)
        server = MotoServer(tmp).start()
        try:
            started = time.perf_counter()
            demo, running = populate(server, options.instances)
            print(
                f"moto: {running} running instances ({len(demo.instance_ids)} in Demo), "
                f"populated in {time.perf_counter() - started:.1f}s"
            )

            env = dict(os.environ)
            env.update(server.env(REGION))
            env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_INVENTORY_UNPARSED_FAILED="1")

            # Fixed cost of ansible-inventory itself: a static inventory of two hosts.
            static = tmp / "static.yml"
            static.write_text("all:\n  hosts:\n    a: {}\n    b: {}\n")
            sources = {STATIC: {"cold": static}}
            results = {STATIC: {"cold": [], "cached": [], "hosts": None}}
            for label, (name, config) in CONFIGS.items():
                for mode in ("cold", "cached"):
                    (tmp / mode).mkdir(exist_ok=True)
                sources[label] = {
                    "cold": write_config(tmp / "cold", name, config),
                    "cached": write_config(tmp / "cached", name, config, cache_dir=tmp / f"cache-{name}"),
                }
                results[label] = {"cold": [], "cached": [], "hosts": None}
                run(sources[label]["cached"], env)  # prime the cache

            # Interleaved (one run of each configuration per round) so that load from other
            # processes on the machine spreads over all of them.
            for round_number in range(options.reps):
                for label, by_mode in sources.items():
                    for mode, source in by_mode.items():
                        elapsed, hosts = run(source, env)
                        entry = results[label]
                        assert entry["hosts"] in (None, hosts), (label, mode, hosts, entry["hosts"])
                        entry["hosts"] = hosts
                        entry[mode].append(elapsed)
                print(f"  round {round_number + 1}/{options.reps} done", flush=True)
        finally:
            server.stop()

    print_table(results, options.reps)
    if options.json:
        options.json.write_text(
            json.dumps({"instances": options.instances, "reps": options.reps, "results": results}, indent=2)
        )


if __name__ == "__main__":
    main()
