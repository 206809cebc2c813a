"""The stand-in's /metrics: the real server's metric names, types and labels, for what it imitates.

Every family exported here is in tests/mattermost_standin/reference/mattermost-metrics.md
(section 1, the real server's catalogue), with the labels listed there;
tests/integration/standin/test_standin_metrics.py holds it to that. Values are the stand-in's own:
request counts and durations it measured, its process's CPU, memory and file descriptors, its
one database connection. Labelled series appear only after their first observation, as in the
real server (client_golang vectors), so a fresh node shows no mattermost_api_time series.
What the stand-in does not do (websockets, jobs, gossip, store timings) it does not export,
except where the real server exports an unlabelled or pre-created series anyway (its value is 0).
"""

import os
import resource
import threading

# Prometheus client_golang's default histogram buckets (the server's, unless the catalogue says otherwise).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# The Go handler names of the routes the stand-in serves (server/channels/api4), by method.
HANDLERS = {
    "r_ping": "getSystemPing",
    "r_login": "login",
    "r_cluster_status": "getClusterStatus",
    "r_config": {"GET": "localGetConfig", "PUT": "localUpdateConfig"},
    "r_config_patch": "localPatchConfig",
    "r_config_reload": "configReload",
    "r_config_migrate": "migrateConfig",
    "r_users": {"GET": "localGetUsers", "POST": "localCreateUser"},
    "r_user_by_username": "localGetUserByUsername",
    "r_user_by_email": "localGetUserByEmail",
    "r_user": "localGetUser",
    "r_user_roles": "updateUserRoles",
    "r_user_password": "localUpdatePassword",
    "r_teams": {"GET": "localGetAllTeams", "POST": "localCreateTeam"},
    "r_team_search": "searchTeams",
    "r_team_by_name": "getTeamByName",
    "r_team": "localGetTeam",
    "r_team_members": "localAddTeamMember",
    "r_channel_by_name": "getChannelByNameForTeamName",
    "r_create_post": "localCreatePost",
    "r_post": "localGetPost",
    "r_channel_posts": "getPostsForChannel",
    "r_license": "localAddLicense",
}
# Cluster message types the real server pre-creates at 0 (a subset: see the README).
CLUSTER_EVENT_TYPES = ("publish", "update_status", "invalidate_all_caches", "clear_session_user", "other")


def handler_name(function, method):
    name = HANDLERS.get(function, function)
    return name.get(method, function) if isinstance(name, dict) else name


def _family(lines, name, kind, help_text):
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} {kind}")


def _labels(pairs):
    return "{" + ",".join(f'{k}="{v}"' for k, v in pairs) + "}" if pairs else ""


def _histogram(lines, name, series):
    """series: {label pairs tuple: (bucket counts, sum, count)}."""
    for labels, (counts, total, count) in sorted(series.items()):
        for bound, bucket in zip(BUCKETS, counts, strict=True):
            lines.append(f"{name}_bucket{_labels(labels + (('le', repr(float(bound))),))} {bucket}")
        lines.append(f"{name}_bucket{_labels(labels + (('le', '+Inf'),))} {count}")
        lines.append(f"{name}_sum{_labels(labels)} {total}")
        lines.append(f"{name}_count{_labels(labels)} {count}")


def _proc_status():
    fields = {}
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                fields[key] = value.split()
    except OSError:
        pass
    return fields


class Metrics:
    def __init__(self, started):
        self.started = started
        self.lock = threading.Lock()
        self.requests = 0
        self.errors = 0
        self.logins = 0
        self.logins_failed = 0
        self.posts = 0
        self.api_time = {}

    def observe_request(self, handler, method, status, seconds):
        """One request through the handler layer (mattermost_http_*), and api_time for a routed one."""
        with self.lock:
            self.requests += 1
            if status >= 400:
                self.errors += 1
            if handler is None:
                return
            if handler == "login":
                if status == 200:
                    self.logins += 1
                else:
                    self.logins_failed += 1
            if handler.endswith("CreatePost") and status == 201:
                self.posts += 1
            key = (("handler", handler), ("method", method), ("status_code", str(status)),
                   ("origin_client", "unknown"), ("page_load_context", ""))
            counts, total, count = self.api_time.get(key, ([0] * len(BUCKETS), 0.0, 0))
            counts = [c + (1 if seconds <= bound else 0) for c, bound in zip(counts, BUCKETS, strict=True)]
            self.api_time[key] = (counts, total + seconds, count + 1)

    def text(self, app):
        with self.lock:
            api_time = dict(self.api_time)
            requests, errors = self.requests, self.errors
            logins, logins_failed, posts = self.logins, self.logins_failed, self.posts
        sql = app.config.get("SqlSettings", {})
        max_open = int(sql.get("MaxOpenConns") or 300)
        status = _proc_status()
        page = os.sysconf("SC_PAGE_SIZE")
        with open("/proc/self/stat") as handle:
            stat = handle.read().rsplit(")", 1)[1].split()
        vsize, rss_pages = int(stat[20]), int(stat[21])
        usage = resource.getrusage(resource.RUSAGE_SELF)
        threads = int(status.get("Threads", ["1"])[0])
        open_fds = len(os.listdir("/proc/self/fd"))
        max_fds = resource.getrlimit(resource.RLIMIT_NOFILE)[0]

        lines = []
        _family(lines, "mattermost_api_time", "histogram", "Time to execute the api handler")
        _histogram(lines, "mattermost_api_time", api_time)
        for name, kind, value, text in (
            ("mattermost_http_requests_total", "counter", requests, "The total number of http API requests."),
            ("mattermost_http_errors_total", "counter", errors, "The total number of http API errors."),
            ("mattermost_login_logins_total", "counter", logins, "The total number of successful logins."),
            ("mattermost_login_logins_fail_total", "counter", logins_failed, "The total number of failed logins."),
            ("mattermost_post_total", "counter", posts, "The total number of posts created."),
            ("mattermost_db_master_connections_total", "gauge", 1,
             "The total number of connections to the master database."),
            ("mattermost_db_read_replica_connections_total", "gauge", 0,
             "The total number of connections to all the read replica databases."),
            ("mattermost_cluster_cluster_health_score", "gauge", 0,
             "A score that gives an idea of how well it is meeting the soft-real time requirements of the gossip "
             "protocol."),
            ("mattermost_cluster_cluster_requests_total", "counter", 0,
             "The total number of inter-node requests."),
            ("mattermost_system_server_start_time", "gauge", f"{self.started:.3f}",
             "The time the server started."),
        ):
            _family(lines, name, kind, text)
            lines.append(f"{name} {value}")
        _family(lines, "mattermost_cluster_cluster_request_duration_seconds", "histogram",
                "The total duration in seconds of the inter-node cluster requests.")
        _histogram(lines, "mattermost_cluster_cluster_request_duration_seconds", {(): ([0] * len(BUCKETS), 0.0, 0)})
        _family(lines, "mattermost_cluster_cluster_event_type_totals", "counter",
                "The total number of cluster requests sent for any type.")
        lines.extend(f'mattermost_cluster_cluster_event_type_totals{{name="{t}"}} 0' for t in CLUSTER_EVENT_TYPES)
        # The process collector (namespace mattermost) and the Go collector of the real binary.
        for name, kind, value, text in (
            ("mattermost_process_cpu_seconds_total", "counter", f"{usage.ru_utime + usage.ru_stime:.2f}",
             "Total user and system CPU time spent in seconds."),
            ("mattermost_process_open_fds", "gauge", open_fds, "Number of open file descriptors."),
            ("mattermost_process_max_fds", "gauge", max_fds, "Maximum number of open file descriptors."),
            ("mattermost_process_resident_memory_bytes", "gauge", rss_pages * page, "Resident memory size in bytes."),
            ("mattermost_process_virtual_memory_bytes", "gauge", vsize, "Virtual memory size in bytes."),
            ("mattermost_process_start_time_seconds", "gauge", f"{self.started:.3f}",
             "Start time of the process since unix epoch in seconds."),
            ("go_goroutines", "gauge", threads, "Number of goroutines that currently exist."),
            ("go_threads", "gauge", threads, "Number of OS threads created."),
            ("go_memstats_alloc_bytes", "gauge", rss_pages * page, "Number of bytes allocated and still in use."),
            ("go_memstats_heap_inuse_bytes", "gauge", rss_pages * page, "Number of heap bytes that are in use."),
        ):
            _family(lines, name, kind, text)
            lines.append(f"{name} {value}")
        # database/sql pool statistics of the master pool (the stand-in keeps one connection).
        for name, kind, value, text in (
            ("go_sql_max_open_connections", "gauge", max_open, "Maximum number of open connections to the database."),
            ("go_sql_open_connections", "gauge", 1, "The number of established connections both in use and idle."),
            ("go_sql_in_use_connections", "gauge", 0, "The number of connections currently in use."),
            ("go_sql_idle_connections", "gauge", 1, "The number of idle connections."),
            ("go_sql_wait_count_total", "counter", 0, "The total number of connections waited for."),
            ("go_sql_wait_duration_seconds_total", "counter", 0,
             "The total time blocked waiting for a new connection."),
            ("go_sql_max_idle_closed_total", "counter", 0,
             "The total number of connections closed due to SetMaxIdleConns."),
            ("go_sql_max_idle_time_closed_total", "counter", 0,
             "The total number of connections closed due to SetConnMaxIdleTime."),
            ("go_sql_max_lifetime_closed_total", "counter", 0,
             "The total number of connections closed due to SetConnMaxLifetime."),
        ):
            _family(lines, name, kind, text)
            lines.append(f'{name}{{db_name="master"}} {value}')
        return "\n".join(lines) + "\n"
