"""The stand-in's /metrics against the real server's catalogue (reference/mattermost-metrics.md).

A name, a type or a label the real server does not export would let a dashboard or an alert
rule pass in the lab and find nothing in production: every family the stand-in exports must be
in section 1 of the reference, with its type and exactly its labels.
"""

import re
from pathlib import Path

import pytest
from mattermost_standin.build_release import write_test_license
from mattermost_standin.fixtures import MattermostProcess, api, configure, free_port, http_get

REFERENCE = Path(__file__).resolve().parents[2] / "mattermost_standin/reference/mattermost-metrics.md"


def _expand(token):
    """`a_{x,y}` -> [a_x, a_y]."""
    match = re.search(r"\{([^}]*)\}", token)
    if not match:
        return [token]
    return [token[: match.start()] + part + token[match.end():] for part in match.group(1).split(",")]


def catalogue():
    """{name or prefix*: (type or None, set of labels or None)} from the reference's section 1 tables."""
    entries = {}
    text = REFERENCE.read_text().split("## 2.", 1)[0]
    columns = []
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] in ("Name", "Series"):
            columns = cells
            continue
        if set(cells[0]) <= set("-: "):
            continue
        names, base = [], None
        for token in re.findall(r"`([^`]+)`", cells[0]):
            if token.startswith(("mattermost_", "go_")):
                base = base or "_".join(token.split("_")[:2])
                names.extend(_expand(token))
            elif token.startswith("_") and base:
                names.extend(base + t for t in _expand(token))
        kind, labels = None, None
        if columns[:3] == ["Name", "Type", "Labels"]:
            kind = cells[1]
            if cells[2] in ("–", "-"):
                labels = set()
            elif "base +" not in cells[2]:
                labels = {re.match(r"\s*([a-z_A-Z]+)", part).group(1) for part in cells[2].split(",")}
        elif "`db_name`" in cells[-1]:
            labels = {"db_name"}
        elif columns and columns[0] == "Series":
            labels = set()
        for name in names:
            entries[name] = (kind, labels)
    return entries


def parse(text):
    """{family: type}, [(sample name, {labels})] from the Prometheus text format."""
    types, samples = {}, []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            types[name] = kind
        elif line and not line.startswith("#"):
            match = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)", line)
            assert match, line
            labels = dict(re.findall(r'([a-zA-Z_]+)="([^"]*)"', match.group(3) or ""))
            samples.append((match.group(1), labels, float(match.group(4))))
    return types, samples


def _family_of(sample, types):
    for suffix in ("_bucket", "_sum", "_count", ""):
        if sample.endswith(suffix) and sample[: len(sample) - len(suffix)] in types:
            return sample[: len(sample) - len(suffix)]
    return sample


def _lookup(entries, family):
    if family in entries:
        return entries[family]
    for name, entry in entries.items():
        if name.endswith("_*") and family.startswith(name[:-1]):
            return entry
    return None


def test_the_catalogue_parser_reads_the_reference():
    entries = catalogue()
    assert entries["mattermost_api_time"] == ("histogram", {"handler", "method", "status_code", "origin_client",
                                                            "page_load_context"})
    assert entries["mattermost_login_logins_fail_total"] == ("counter", set())
    assert entries["mattermost_process_open_fds"][1] == set()
    assert entries["go_sql_wait_count_total"][1] == {"db_name"}
    assert "mattermost_cluster_cluster_enabled" not in entries


@pytest.fixture
def metrics_text(installed, tmp_path, database):
    license_file = write_test_license(tmp_path / "test.mattermost-license")
    metrics_port = free_port()
    port, socket_path = configure(installed, tmp_path, database.dsn(),
                                  ServiceSettings={"LicenseFileLocation": str(license_file)},
                                  MetricsSettings={"Enable": True, "ListenAddress": f"127.0.0.1:{metrics_port}"})
    server = MattermostProcess(installed).start(port)
    try:
        assert http_get(f"http://127.0.0.1:{port}/api/v4/system/ping")[0] == 200
        failed = api(port, "POST", "/users/login", {"login_id": "nobody", "password": "x"})
        assert failed[0] == 401
        status, text, _ = http_get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert status == 200
        yield text
    finally:
        server.stop()


def test_every_exported_family_is_in_the_real_catalogue_with_its_type_and_labels(metrics_text):
    entries = catalogue()
    types, samples = parse(metrics_text)
    for family, kind in types.items():
        entry = _lookup(entries, family)
        assert entry is not None, f"{family} is not a metric the real server exports"
        if entry[0]:
            assert kind == entry[0], family
    for name, labels, _ in samples:
        family = _family_of(name, types)
        assert family in types, f"sample {name} has no TYPE line"
        expected = _lookup(entries, family)[1]
        if expected is not None:
            assert set(labels) - {"le"} == expected, (name, labels)


def test_requests_errors_and_the_handler_latency_are_counted(metrics_text):
    _, samples = parse(metrics_text)
    values = {(name, tuple(sorted(labels.items()))): value for name, labels, value in samples}
    assert values[("mattermost_http_requests_total", ())] >= 2
    assert values[("mattermost_http_errors_total", ())] >= 1
    assert values[("mattermost_login_logins_fail_total", ())] == 1
    ping = [(labels, value) for name, labels, value in samples
            if name == "mattermost_api_time_count" and labels["handler"] == "getSystemPing"]
    assert ping and ping[0][0]["status_code"] == "200" and ping[0][1] >= 1
    assert values[("go_sql_max_open_connections", (("db_name", "master"),))] > 0
