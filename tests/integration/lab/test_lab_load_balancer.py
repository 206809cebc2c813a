"""The lab's load balancer: HAProxy in mmha-lab-lb, kept in step with the target group by the controller.

On the lab as `lab.py up` makes it, without site.yml: the deployment's target group
(Mattermost-Targets, 5 s checks, 2 to rise and to fall, a 4 s deregistration delay) and two
EC2 instances named as the deployment names them, played by the app containers, in each of
which a tiny HTTP server on 8065 answers the ping and names its node. Registered targets are
`initial` and get no request until they passed their checks, then `healthy`; requests spread
over both; the MMCSRF cookie sticks a client to the node that set it; a deregistered target
gets no new request, drains for the delay, then is `unused`, and registered again comes back
through its checks; a node whose ping answers 500 is `unhealthy` and gets no traffic; a
terminated instance drains, then leaves HAProxy.

The tests run in file order and share one lab and one target group (module scope).
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import boto3
import pytest
from harness.ansible import REPO
from harness.deployment import make_network, tags

pytestmark = pytest.mark.slow

LAB = [sys.executable, str(REPO / "tests/lab/lab.py")]
LB_SOCKET = REPO / ".lab/lb/admin.sock"
GROUP = "Mattermost-Targets"
NODES = ("mmha-lab-app-01", "mmha-lab-app-02")
DELAY = 4  # deregistration_delay.timeout_seconds
FAIL_FLAG = "/tmp/mmha-lb-ping-fails"
REQUEST_LOG = "/tmp/mmha-lb-requests.log"
TIMES = {}
# The app: the ping answers 200 {"status":"OK"} (500 while FAIL_FLAG exists), every answer
# names the node, /login sets an MMCSRF cookie; requests other than the ping go to REQUEST_LOG.
APP = f"""
import http.server, os, socket, uuid
NODE = socket.gethostname()
class App(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ping = self.path == "/api/v4/system/ping"
        code = 500 if ping and os.path.exists("{FAIL_FLAG}") else 200
        body = ('{{"status":"%s","node":"%s"}}' % ("OK" if code == 200 else "FAIL", NODE)).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.path == "/login":
            self.send_header("Set-Cookie", "MMCSRF=%s; Path=/" % uuid.uuid4().hex)
        self.end_headers()
        self.wfile.write(body)
        if not ping:
            with open("{REQUEST_LOG}", "a") as log:
                log.write(self.path + "\\n")
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8065), App).serve_forever()
"""


def lab_env():
    sys.path.insert(0, str(REPO / "tests/lab"))
    import lab

    return lab.lab_env()


def podman(*argv, check=True):
    env = dict(os.environ, CONTAINERS_CONF=str(REPO / "tests/images/containers.conf"))
    return subprocess.run(["podman", *argv], check=check, capture_output=True, text=True, env=env)


def client(service, env):
    return boto3.client(service, endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def haproxy(command):
    """HAProxy's runtime API, through the socket the lab shares with the controller."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(LB_SOCKET))
        sock.sendall(command.encode() + b"\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer.decode()


def haproxy_servers():
    """The backend's servers: name -> srv_op_state, srv_admin_state."""
    rows = [line.split() for line in haproxy("show servers state targets").splitlines()[2:] if line]
    return {row[3]: (row[5], row[6]) for row in rows}


def get(url, path="/", cookie=None):
    """(status, node that answered or None, MMCSRF cookie set) of one request through the load balancer."""
    request = urllib.request.Request(url + path, headers={"Cookie": f"MMCSRF={cookie}"} if cookie else {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as answer:
            set_cookie = answer.headers.get("Set-Cookie", "")
            token = set_cookie.split(";")[0].partition("=")[2] if set_cookie.startswith("MMCSRF=") else None
            return answer.status, json.loads(answer.read())["node"], token
    except urllib.error.HTTPError as error:
        return error.code, None, None


def nodes_answering(url, count=12, cookie=None):
    return [get(url, "/spread", cookie)[1] for _ in range(count)]


def requests_seen(node):
    return podman("exec", node, "sh", "-c", f"cat {REQUEST_LOG} 2>/dev/null | wc -l").stdout.strip()


def health(elbv2, arn, *instances):
    """instance id -> (State, Reason, Description); asked by id when `instances` are given."""
    targets = {"Targets": [{"Id": i} for i in instances]} if instances else {}
    described = elbv2.describe_target_health(TargetGroupArn=arn, **targets)["TargetHealthDescriptions"]
    return {d["Target"]["Id"]: (d["TargetHealth"]["State"], d["TargetHealth"].get("Reason"),
                                d["TargetHealth"].get("Description")) for d in described}


def wait_for(what, condition, timeout=40):
    started = time.monotonic()
    while not (result := condition()):
        assert time.monotonic() - started < timeout, f"waited {timeout}s for {what}"
        time.sleep(0.5)
    TIMES[what] = round(time.monotonic() - started, 1)
    return result


def states(elbv2, arn, *instances):
    return {target: found[0] for target, found in health(elbv2, arn, *instances).items()}


# The lab and the deployment's target group, once for the module.

@pytest.fixture(scope="module")
def lab():
    subprocess.run([*LAB, "up"], check=True, cwd=REPO)
    yield lab_env()
    subprocess.run([*LAB, "down"], check=True, cwd=REPO)
    print("load balancer times:", json.dumps(TIMES))


@pytest.fixture(scope="module")
def elbv2(lab):
    return client("elbv2", lab)


@pytest.fixture(scope="module")
def group(lab, elbv2):
    """The target group and the two instances (ids in NODES' order), the app running in both containers."""
    vpc, subnets = make_network(lambda service: client(service, lab), cidr="10.43.0.0/16")
    arn = elbv2.create_target_group(
        Name=GROUP, Protocol="HTTP", Port=8065, VpcId=vpc, HealthCheckPath="/api/v4/system/ping",
        HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
        UnhealthyThresholdCount=2, Matcher={"HttpCode": "200"})["TargetGroups"][0]["TargetGroupArn"]
    elbv2.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": str(DELAY)}])
    ec2 = client("ec2", lab)
    instances = [ec2.run_instances(ImageId="ami-12c6146b", InstanceType="t3.medium", MinCount=1, MaxCount=1,
                                   SubnetId=next(iter(subnets.values())), TagSpecifications=[
                                       {"ResourceType": "instance", "Tags": tags({"Name": f"Mattermost-App-0{n}"})}],
                                   )["Instances"][0]["InstanceId"] for n in (1, 2)]
    for node in NODES:
        podman("exec", "-d", node, "python3", "-c", APP)
    for node in NODES:
        wait_for(f"the app on {node}", lambda node=node: podman("exec", node, "curl", "-sf", "-o", "/dev/null",
                                                                "http://127.0.0.1:8065/api/v4/system/ping",
                                                                check=False).returncode == 0)
    return {"arn": arn, "instances": instances, "url": lab["MMHA_LAB_LB_URL"], "ec2": ec2}


def test_registered_targets_are_initial_and_get_no_request_until_their_checks_pass(elbv2, group):
    arn, instances, url = group["arn"], group["instances"], group["url"]
    elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": i} for i in instances])
    assert health(elbv2, arn) == {i: ("initial", "Elb.RegistrationInProgress", "Target registration is in progress")
                                  for i in instances}
    # In HAProxy, in maintenance while their checks run: the load balancer has no target yet.
    assert sorted(haproxy_servers().values()) == [("0", "1"), ("0", "1")]
    assert get(url)[0] == 503
    assert [requests_seen(node) for node in NODES] == ["0", "0"]
    wait_for("registered targets to be healthy",
             lambda: states(elbv2, arn) == {i: "healthy" for i in instances})
    # Two checks 5 s apart: at least one interval after registration.
    assert TIMES["registered targets to be healthy"] >= 4
    assert get(url)[0] == 200


def test_requests_are_spread_over_both_targets(group):
    assert set(nodes_answering(group["url"])) == set(NODES)


def test_a_request_with_the_mmcsrf_cookie_sticks_to_the_node_that_set_it(group):
    cookies = {}
    while len(cookies) < 2:
        _status, node, token = get(group["url"], "/login")
        cookies[node] = token
    for node, token in cookies.items():
        assert set(nodes_answering(group["url"], cookie=token)) == {node}


def test_a_deregistered_target_gets_no_new_request_drains_for_the_delay_then_is_unused(elbv2, group):
    arn, (first, second), url = group["arn"], group["instances"], group["url"]
    _status, _node, sticky_to_second = next(answer for answer in iter(lambda: get(url, "/login"), None)
                                            if answer[1] == NODES[1])
    elbv2.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": second}])
    deregistered = time.monotonic()
    # At once, even for a client sticky to it (redispatched).
    before = requests_seen(NODES[1])
    assert set(nodes_answering(url)) == {NODES[0]}
    assert set(nodes_answering(url, cookie=sticky_to_second)) == {NODES[0]}
    group["sticky to the second node"] = sticky_to_second
    assert requests_seen(NODES[1]) == before
    draining = ("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")
    assert health(elbv2, arn) == {first: ("healthy", None, None), second: draining}
    assert health(elbv2, arn, second) == {second: draining}
    wait_for("the deregistered target to be unused",
             lambda: health(elbv2, arn, second)[second][0] == "unused")
    assert time.monotonic() - deregistered >= DELAY - 0.5
    assert health(elbv2, arn, second) == {
        second: ("unused", "Target.NotRegistered", "Target is not registered to the target group")}
    assert health(elbv2, arn) == {first: ("healthy", None, None)}
    assert [name.split("_")[0] for name in haproxy_servers()] == [first]


def test_a_target_registered_again_while_draining_comes_back_through_its_checks(elbv2, group):
    arn, (first, second), url = group["arn"], group["instances"], group["url"]
    elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": second}])
    wait_for("the target registered again to be healthy", lambda: states(elbv2, arn)[second] == "healthy")
    # A client whose target went away stays with the one it was sent to, as with an ALB.
    assert set(nodes_answering(url, cookie=group["sticky to the second node"])) == {NODES[0]}
    elbv2.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": second}])
    assert states(elbv2, arn) == {first: "healthy", second: "draining"}
    elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": second}])
    assert states(elbv2, arn) == {first: "healthy", second: "initial"}
    assert set(nodes_answering(url)) == {NODES[0]}
    wait_for("the target registered while draining to be healthy", lambda: states(elbv2, arn)[second] == "healthy")
    assert set(nodes_answering(url)) == set(NODES)


def test_a_node_whose_ping_answers_500_turns_unhealthy_and_gets_no_traffic(elbv2, group):
    arn, second, url = group["arn"], group["instances"][1], group["url"]
    podman("exec", NODES[1], "touch", FAIL_FLAG)
    wait_for("the failing node to be unhealthy", lambda: states(elbv2, arn)[second] == "unhealthy")
    assert health(elbv2, arn)[second] == ("unhealthy", "Target.ResponseCodeMismatch",
                                          "Health checks failed with these codes: [500]")
    assert set(nodes_answering(url)) == {NODES[0]}
    # Registered again while it fails: `initial`, then `unhealthy` once UnhealthyThresholdCount checks failed.
    elbv2.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": second}])
    elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": second}])
    assert states(elbv2, arn)[second] == "initial"
    wait_for("the failing node registered again to be unhealthy", lambda: states(elbv2, arn)[second] == "unhealthy")
    assert TIMES["the failing node registered again to be unhealthy"] >= 4
    assert set(nodes_answering(url)) == {NODES[0]}
    podman("exec", NODES[1], "rm", FAIL_FLAG)
    wait_for("the recovered node to be healthy", lambda: states(elbv2, arn)[second] == "healthy")
    assert set(nodes_answering(url)) == set(NODES)


def test_a_terminated_instance_drains_then_leaves_haproxy(elbv2, group):
    arn, (first, second), url = group["arn"], group["instances"], group["url"]
    group["ec2"].terminate_instances(InstanceIds=[second])
    assert set(nodes_answering(url)) == {NODES[0]}
    assert states(elbv2, arn) == {first: "healthy", second: "draining"}
    wait_for("the terminated instance to leave HAProxy", lambda: len(haproxy_servers()) == 1)
    assert states(elbv2, arn, second) == {second: "unused"}
    assert states(elbv2, arn) == {first: "healthy"}
