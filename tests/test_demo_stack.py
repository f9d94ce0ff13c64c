"""The demo stack: it starts and serves, ingestion runs, every fault shows and clears, stop leaves nothing.

One stack for the module (about 1.5 s to start); every fault test clears what it injected.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
import requests

from fixtures.demo import FAULTS, DemoNotRunning, DemoStack, StackInfo

ROOT = Path(__file__).resolve().parents[1]
USABLE_SLOTS = 40 - 3  # max_connections - superuser_reserved_connections

# one worker runs this module: its own stack starts once, not once per xdist worker (make test: loadgroup)
pytestmark = [pytest.mark.timeout(60), pytest.mark.xdist_group("demo_stack_module")]


def eventually(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def stack() -> Iterator[DemoStack]:
    tmp = ROOT / ".tmp"
    tmp.mkdir(exist_ok=True)
    tmp.chmod(0o755)
    state_dir = Path(tempfile.mkdtemp(prefix="demo-stack-", dir=tmp))
    state_dir.chmod(0o755)
    demo = DemoStack(state_dir)
    try:
        demo.start()
        yield demo
    finally:
        demo.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture
def info(stack: DemoStack) -> StackInfo:
    return stack.info()


@pytest.fixture
def healthy(stack: DemoStack) -> Iterator[DemoStack]:
    """The stack, with every fault cleared after the test (also when it failed half-way)."""
    yield stack
    stack.clear()


def get(info: StackInfo, path: str, timeout: float = 5.0) -> requests.Response:
    return requests.get(info.base_url + path, timeout=timeout)


def oncall(info: StackInfo) -> psycopg.Connection:
    """The suite's read-only role, through the proxy."""
    return psycopg.connect(info.dsn, autocommit=True, connect_timeout=3)


def scalar(conn: psycopg.Connection, statement: str) -> Any:
    row = conn.execute(statement).fetchone()
    assert row is not None
    return row[0]


def one(stack: DemoStack, statement: str, params: Any = None) -> Any:
    return stack.sql(statement, params)[0][0]


def newest_age_s(stack: DemoStack, source: str) -> float:
    return float(
        one(stack, "SELECT extract(epoch FROM now() - max(created_at)) FROM events WHERE source = %s", (source,))
    )


# --- starting and serving ---------------------------------------------------------------------------


def test_health_endpoints(info: StackInfo) -> None:
    assert get(info, "/health").json() == {"status": "ok"}
    reply = get(info, "/api/health")
    assert reply.status_code == 200
    assert reply.json() == {"status": "ok", "database": "up"}


@pytest.mark.parametrize("page", ["/", "/discover", "/map", "/venues"])
def test_pages_are_the_single_page_shell(info: StackInfo, page: str) -> None:
    reply = get(info, page)
    assert reply.status_code == 200
    html = reply.text
    assert "<title>SceneScout</title>" in html
    for tag in ("<header>", "<nav>", "<main>", "<footer>", 'class="location-banner"', "/static/app.js"):
        assert tag in html
    for link in ('href="/"', 'href="/discover"', 'href="/map"', 'href="/venues"'):
        assert link in html


def test_api_serves_events_venues_and_assets(info: StackInfo) -> None:
    events = get(info, "/api/events?limit=24").json()["events"]
    assert len(events) == 24
    assert {"title", "venue", "city", "date", "image_url", "source"} <= events[0].keys()
    assert get(info, events[0]["image_url"]).headers["content-type"].startswith("image/svg")
    assert len(get(info, "/api/venues").json()["venues"]) == 40
    script = get(info, "/static/app.js").text
    for marker in ("event-card", "venue-card", "spinner", "empty-state", "scenescout.city"):
        assert marker in script
    assert get(info, "/upstream/songkick/events").json()["events"]


def test_stack_json_is_private_and_complete(info: StackInfo) -> None:
    path = info.state_dir / "stack.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    state = json.loads(path.read_text())
    assert {"base_url", "dsn", "admin_dsn", "ports", "pids", "logs", "sources"} <= state.keys()
    assert set(state["ports"]) == {"postgres", "proxy", "app"}
    assert {"postgres", "proxy", "app", "ingestion"} <= state["pids"].keys()
    assert state["logs"] == {"application": str(info.app_log), "ingestion": str(info.ingestion_log)}
    assert f":{state['ports']['proxy']}/" in info.dsn  # the suite goes through the proxy


def test_database_schema_seed_and_roles(stack: DemoStack, info: StackInfo) -> None:
    with oncall(info) as conn:
        sources: dict[str, int] = dict(conn.execute("SELECT source, count(*) FROM events GROUP BY source").fetchall())
        assert set(sources) == set(info.sources)
        assert sum(sources.values()) >= 4000
        assert conn.execute("SELECT count(*) FROM cities").fetchone() == (10,)
        assert conn.execute("SELECT bool_and(enabled) FROM api_configurations").fetchone() == (True,)
        assert conn.execute("SELECT count(*) > 0 FROM job_runs WHERE status = 'failed'").fetchone() == (True,)
        # pg_stat_statements is installed and oncall (pg_monitor) reads what other roles run: a statement no one
        # else runs, run once by the superuser, is counted once more
        statement = "SELECT count(*) FROM cities AS here, cities AS there"
        counted = "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query = %s"
        before = conn.execute(counted, (statement,)).fetchone()
        stack.sql(statement)
        assert before is not None and conn.execute(counted, (statement,)).fetchone() == (before[0] + 1,)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("DELETE FROM events")
    assert one(stack, "SELECT count(*) FROM pg_indexes WHERE indexname = 'events_source_created_at_idx'") == 1
    settings = dict(
        stack.sql(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('max_connections', 'superuser_reserved_connections', 'fsync')"
        )
    )
    assert settings == {"max_connections": "40", "superuser_reserved_connections": "3", "fsync": "off"}


def test_ingestion_adds_events_and_job_runs(stack: DemoStack, info: StackInfo) -> None:
    before = one(stack, "SELECT max(id) FROM events")
    runs_before = one(stack, "SELECT max(id) FROM job_runs")
    eventually(lambda: one(stack, "SELECT count(*) FROM events WHERE id > %s", (before,)) >= 4, what="new events")
    eventually(
        lambda: (
            one(
                stack,
                "SELECT count(DISTINCT job_name) FROM job_runs WHERE id > %s AND status = 'success'",
                (runs_before,),
            )
            == 4
        ),
        what="job_runs of every source",
    )
    lines = info.ingestion_log.read_text().splitlines()
    assert any(" INFO ingest_meetup: inserted " in line for line in lines)


def test_application_log_is_pino_json_without_secrets(info: StackInfo) -> None:
    get(info, "/upstream/ticketmaster/events?apikey=sekrit-key-123&page=2")
    eventually(lambda: "/upstream/ticketmaster/events" in info.app_log.read_text(), what="the access log line")
    text = info.app_log.read_text()
    assert "sekrit-key-123" not in text
    line = next(json.loads(raw) for raw in text.splitlines() if "/upstream/ticketmaster" in raw)
    assert line["level"] == 30 and isinstance(line["time"], int) and line["res"]["statusCode"] == 200
    assert line["req"] == {"method": "GET", "url": "/upstream/ticketmaster/events?apikey=[REDACTED]&page=2"}
    state = json.loads((info.state_dir / "stack.json").read_text())
    for secret in state["passwords"].values():
        assert secret not in text and secret not in info.ingestion_log.read_text()


def test_start_is_idempotent(stack: DemoStack) -> None:
    pids = json.loads((stack.state_dir / "stack.json").read_text())["pids"]
    started = time.monotonic()
    assert stack.start() == stack.info()
    assert time.monotonic() - started < 1.0
    assert json.loads((stack.state_dir / "stack.json").read_text())["pids"] == pids
    assert stack.status()["running"] is True


# --- faults of the app ------------------------------------------------------------------------------


def test_api_5xx(healthy: DemoStack, info: StackInfo) -> None:
    healthy.inject("api_5xx")
    assert get(info, "/api/health").status_code == 500
    assert get(info, "/api/events").status_code == 500
    assert get(info, "/health").status_code == 200
    assert get(info, "/").status_code == 200
    healthy.clear("api_5xx")
    assert get(info, "/api/health").status_code == 200


def test_app_down(healthy: DemoStack, info: StackInfo) -> None:
    healthy.inject("app_down")
    with pytest.raises(requests.ConnectionError):
        get(info, "/health")
    assert healthy.status()["components"]["app"] is False
    assert healthy.status()["running"] is True  # stopped on purpose
    healthy.clear("app_down")
    assert get(info, "/health").status_code == 200  # same port


def test_app_hanging(healthy: DemoStack, info: StackInfo) -> None:
    healthy.inject("app_hanging")
    with pytest.raises(requests.Timeout):
        get(info, "/health", timeout=0.5)
    healthy.clear("app_hanging")
    assert get(info, "/health", timeout=2).status_code == 200


def test_slow_responses(healthy: DemoStack, info: StackInfo) -> None:
    healthy.inject("slow_responses", seconds=0.6)
    assert get(info, "/health").elapsed.total_seconds() >= 0.6
    healthy.clear("slow_responses")
    assert get(info, "/health").elapsed.total_seconds() < 0.5


def test_script_broken(healthy: DemoStack, info: StackInfo) -> None:
    intact = get(info, "/static/app.js").text
    healthy.inject("script_broken")
    broken = get(info, "/static/app.js")
    assert broken.status_code == 200 and broken.text != intact and intact.startswith(broken.text)
    assert broken.text.count("{") > broken.text.count("}")  # truncated: cannot parse
    assert all(get(info, path).status_code == 200 for path in ("/", "/api/events", "/api/health"))
    healthy.clear("script_broken")
    assert get(info, "/static/app.js").text == intact


def test_route_500(healthy: DemoStack, info: StackInfo) -> None:
    healthy.inject("route_500")
    assert get(info, "/map").status_code == 500
    assert get(info, "/").status_code == 200
    healthy.clear("route_500")
    assert get(info, "/map").status_code == 200


def test_route_500_times_answers_500_to_its_first_requests_only(healthy: DemoStack, info: StackInfo) -> None:
    healthy.inject("route_500", route="/venues", times=3)  # the injection's own check took the first 500
    assert [get(info, "/venues").status_code for _ in range(3)] == [500, 500, 200]
    assert get(info, "/venues").status_code == 200
    healthy.clear("route_500")


def test_broken_image(healthy: DemoStack, info: StackInfo) -> None:
    healthy.inject("broken_image")
    image = get(info, "/api/events?limit=1").json()["events"][0]["image_url"]
    assert get(info, image).status_code == 404
    healthy.clear("broken_image")
    image = get(info, "/api/events?limit=1").json()["events"][0]["image_url"]
    assert get(info, image).status_code == 200


def test_upstream_429_and_hanging(healthy: DemoStack, info: StackInfo) -> None:
    healthy.inject("upstream_429")
    reply = get(info, "/upstream/ticketmaster/events")
    assert reply.status_code == 429 and reply.headers["Retry-After"] == "60"
    assert get(info, "/upstream/meetup/events").status_code == 200
    healthy.clear("upstream_429")
    healthy.inject("upstream_hanging", source="eventbrite")
    with pytest.raises(requests.Timeout):
        get(info, "/upstream/eventbrite/events", timeout=0.5)
    healthy.clear("upstream_hanging")
    assert get(info, "/upstream/eventbrite/events").status_code == 200
    assert get(info, "/upstream/ticketmaster/events").status_code == 200


# --- faults of the database -------------------------------------------------------------------------


def test_db_stopped(healthy: DemoStack, info: StackInfo) -> None:
    healthy.inject("db_stopped")
    reply = get(info, "/api/health")
    assert reply.status_code == 503
    body = reply.json()
    assert body["status"] == "degraded" and body["database"] == "down" and body["error"]
    assert info.dsn.split(":")[2].split("@")[0] not in reply.text  # no password
    assert get(info, "/health").status_code == 200
    healthy.clear("db_stopped")
    assert get(info, "/api/health").status_code == 200


def proxy_answers_within(info: StackInfo, seconds: float) -> bool:
    """Connect to the proxy and send a startup message: does anything come back?"""
    port = int(info.dsn.rsplit(":", 1)[1].split("/")[0])
    startup = b"\x00\x03\x00\x00user\x00oncall\x00database\x00scenescout\x00\x00"
    with socket.create_connection(("127.0.0.1", port), timeout=seconds) as sock:
        sock.sendall(struct.pack("!i", len(startup) + 4) + startup)
        try:
            return sock.recv(1) != b""
        except TimeoutError:
            return False


def test_db_hanging(healthy: DemoStack, info: StackInfo) -> None:
    healthy.inject("db_hanging")
    assert not proxy_answers_within(info, 1.0)
    started = time.monotonic()
    reply = get(info, "/api/health")
    assert reply.status_code == 503 and reply.json()["database"] == "down"
    assert time.monotonic() - started < 4.0  # connect_timeout=2, not forever
    healthy.clear("db_hanging")
    assert proxy_answers_within(info, 1.0)
    assert get(info, "/api/health").status_code == 200


def test_source_stale(healthy: DemoStack, info: StackInfo) -> None:
    healthy.inject("source_stale")
    assert newest_age_s(healthy, "meetup") > 2 * 3600
    marker = one(healthy, "SELECT max(id) FROM job_runs")
    eventually(
        lambda: one(healthy, "SELECT count(*) FROM job_runs WHERE id > %s AND source = 'songkick'", (marker,)) >= 1,
        what="an ingestion round",
    )
    assert newest_age_s(healthy, "meetup") > 2 * 3600  # ingestion skips it
    assert newest_age_s(healthy, "songkick") < 60
    healthy.clear("source_stale")
    assert newest_age_s(healthy, "meetup") < 60


def test_all_sources_stale(healthy: DemoStack, info: StackInfo) -> None:
    healthy.inject("all_sources_stale")
    assert all(newest_age_s(healthy, source) > 2 * 3600 for source in info.sources)
    healthy.clear("all_sources_stale")
    assert all(newest_age_s(healthy, source) < 60 for source in info.sources)


def test_source_disabled(healthy: DemoStack, info: StackInfo) -> None:
    healthy.inject("source_disabled", source="songkick")
    assert one(healthy, "SELECT enabled FROM api_configurations WHERE source = 'songkick'") is False
    marker = one(healthy, "SELECT max(id) FROM job_runs")
    eventually(
        lambda: one(healthy, "SELECT count(*) FROM job_runs WHERE id > %s AND source = 'meetup'", (marker,)) >= 2,
        what="two ingestion rounds",
    )
    assert one(healthy, "SELECT count(*) FROM job_runs WHERE id > %s AND source = 'songkick'", (marker,)) == 0
    healthy.clear("source_disabled")
    assert one(healthy, "SELECT enabled FROM api_configurations WHERE source = 'songkick'") is True


def test_stuck_transaction(healthy: DemoStack, info: StackInfo) -> None:
    states = "SELECT state, query FROM pg_stat_activity WHERE usename = 'scenescout_app'"
    healthy.inject("stuck_transaction")
    with oncall(info) as conn:
        rows = conn.execute(states).fetchall()
    assert any(state == "idle in transaction" for state, _ in rows)
    assert any(state == "active" and "pg_sleep(3600)" in query for state, query in rows)
    healthy.clear("stuck_transaction")
    eventually(lambda: not any(state == "idle in transaction" or "pg_sleep(3600)" in query
                               for state, query in healthy.sql(states)), what="the stuck sessions to be gone")


def test_blocking_lock(healthy: DemoStack, info: StackInfo) -> None:
    blocked = "SELECT count(*) FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0"
    healthy.inject("blocking_lock")
    with oncall(info) as conn:
        assert scalar(conn, blocked) >= 1
    healthy.clear("blocking_lock")
    assert one(healthy, blocked) == 0


def test_connection_saturation(healthy: DemoStack, info: StackInfo) -> None:
    clients = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
    healthy.inject("connection_saturation")
    with oncall(info) as conn:
        assert scalar(conn, clients) >= math.ceil(0.85 * USABLE_SLOTS)
    healthy.clear("connection_saturation")
    assert one(healthy, clients) < 10
    assert get(info, "/api/health").status_code == 200


def test_events_deleted(healthy: DemoStack, info: StackInfo) -> None:
    before = one(healthy, "SELECT count(*) FROM events")
    healthy.inject("events_deleted")
    after = one(healthy, "SELECT count(*) FROM events")
    assert after < before * 0.55
    assert one(healthy, "SELECT count(*) FROM demo_backup.events") >= before * 0.45
    healthy.clear("events_deleted")
    assert one(healthy, "SELECT count(*) FROM events") >= before
    assert one(healthy, "SELECT count(*) FROM pg_namespace WHERE nspname = 'demo_backup'") == 0


def test_slow_query(healthy: DemoStack, info: StackInfo) -> None:
    slow = "SELECT count(*) FROM pg_stat_statements WHERE mean_exec_time > 1000"
    healthy.inject("slow_query")
    with oncall(info) as conn:
        assert scalar(conn, slow) >= 1
    healthy.clear("slow_query")
    assert one(healthy, slow) == 0


# --- logs, clearing everything, the command ---------------------------------------------------------


def test_log_error_burst(healthy: DemoStack, info: StackInfo) -> None:
    healthy.inject("log_error_burst", count=20)
    app_errors = [json.loads(line) for line in info.app_log.read_text().splitlines() if '"level":50' in line]
    assert len(app_errors) >= 20 and any("err" in line for line in app_errors)
    assert sum(" ERROR " in line for line in info.ingestion_log.read_text().splitlines()) >= 20
    healthy.clear("log_error_burst")
    assert '"level":50' not in info.app_log.read_text()
    assert " ERROR " not in info.ingestion_log.read_text()
    assert (info.app_log.parent / "rotated" / "application.log.1").exists()


def test_clear_all_returns_to_healthy(healthy: DemoStack, info: StackInfo) -> None:
    faults = ("api_5xx", "source_stale", "blocking_lock", "log_error_burst", "db_stopped")
    for fault in faults:
        healthy.inject(fault)
    eventually(
        lambda: " ERROR ingest_songkick: database error" in info.ingestion_log.read_text(), what="ingestion errors"
    )
    assert set(healthy.status()["faults"]) == set(faults)
    healthy.clear()
    assert healthy.status()["faults"] == {}
    assert get(info, "/api/health").status_code == 200
    assert newest_age_s(healthy, "meetup") < 60
    assert one(healthy, "SELECT count(*) FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0") == 0
    assert '"level":50' not in info.app_log.read_text()
    assert " ERROR " not in info.ingestion_log.read_text()


def test_clear_all_restarts_a_crashed_component(healthy: DemoStack, info: StackInfo) -> None:
    app_pid = json.loads((info.state_dir / "stack.json").read_text())["pids"]["app"]
    psutil.Process(app_pid).kill()
    eventually(lambda: not healthy.status()["components"]["app"], what="the app to die")
    assert healthy.status()["running"] is False
    healthy.clear()
    assert get(info, "/api/health").status_code == 200
    assert healthy.status()["running"] is True


def test_unknown_fault_and_bad_parameters(stack: DemoStack) -> None:
    with pytest.raises(ValueError, match="known faults: app_down, api_5xx"):
        stack.inject("disk_full")
    with pytest.raises(ValueError, match="source must be one of"):
        stack.inject("source_stale", source="myspace")
    with pytest.raises(ValueError, match="does not take"):
        stack.inject("api_5xx", seconds=3)
    assert set(FAULTS) >= {"app_down", "db_hanging", "connection_saturation", "slow_query"}


def cli(*args: str, state_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fixtures.demo", "--state-dir", str(state_dir), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_command(stack: DemoStack, info: StackInfo, tmp_path: Path) -> None:
    started = cli("start", state_dir=stack.state_dir)  # already running: prints its details
    assert started.returncode == 0
    password = info.dsn.split(":")[2].split("@")[0]
    assert info.base_url in started.stdout and "oncall:***@" in started.stdout
    assert password not in started.stdout + started.stderr
    assert "running" in cli("status", state_dir=stack.state_dir).stdout
    bad = cli("fault", "disk_full", state_dir=stack.state_dir)
    assert bad.returncode == 2 and "known faults" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
    assert cli("fault", "route_500", "route=/venues", state_dir=stack.state_dir).returncode == 0
    assert get(info, "/venues").status_code == 500
    assert cli("clear", state_dir=stack.state_dir).returncode == 0
    assert get(info, "/venues").status_code == 200
    assert "api_5xx" in cli("faults", state_dir=stack.state_dir).stdout
    idle = cli("fault", "api_5xx", state_dir=tmp_path)
    assert idle.returncode == 2 and "not running" in idle.stderr and "Traceback" not in idle.stderr


def test_info_of_a_stack_never_started(tmp_path: Path) -> None:
    with pytest.raises(DemoNotRunning, match="not running"):
        DemoStack(tmp_path).info()
    assert DemoStack(tmp_path).status()["running"] is False


# --- stopping: last ---------------------------------------------------------------------------------


def test_stop_leaves_no_process_and_is_idempotent(stack: DemoStack) -> None:
    stack.inject("stuck_transaction")  # a holder process and a pg_sleep backend too
    pids = json.loads((stack.state_dir / "stack.json").read_text())["pids"]
    backends = [p.pid for p in psutil.Process(pids["postgres"]).children()]
    started = time.monotonic()
    stack.stop()
    assert time.monotonic() - started < 5.0
    for pid in [*pids.values(), *backends]:
        assert not psutil.pid_exists(pid), pid  # exited and reaped
    assert not (stack.state_dir / "stack.json").exists()
    stack.stop()
    with pytest.raises(DemoNotRunning):
        stack.info()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as another user")
@pytest.mark.expected_skip(reason="as any other user PostgreSQL runs as that user, who can enter its own home: "
                           "the case exists for root only (make test and CI run as root)")
def test_a_stack_in_a_home_other_users_cannot_enter_keeps_its_cluster_where_postgres_can() -> None:
    """A clone under /root (0700): the demo's cluster lives under /var/tmp/scenescout-demo/, nothing is chmod-ed."""
    from fixtures.demo.postgres import OUTSIDE, cluster_home

    home = Path(tempfile.mkdtemp(prefix="scenescout-home-"))  # 0700, root's, outside the project like /root
    state_dir = home / "clone" / ".demo"
    state_dir.mkdir(parents=True)
    stack = DemoStack(state_dir)
    try:
        info = stack.start()
        assert stat.S_IMODE(home.stat().st_mode) == 0o700  # not opened up
        assert (cluster_home(state_dir) / "pgdata").is_dir() and cluster_home(state_dir).parent == OUTSIDE
        assert requests.get(info.base_url + "/api/health", timeout=10).json()["database"] == "up"
    finally:
        stack.stop()
        shutil.rmtree(home, ignore_errors=True)
    assert not cluster_home(state_dir).exists()


def test_the_prod_flavour_stops_its_pooler_with_the_rest_and_leaves_no_process() -> None:
    """The prod flavour's PgBouncer (in front of the proxy, as Supabase's pooler) is one of its components: the
    suite's DSN names it, it serves the data API, and stop() ends it with the others."""
    project_tmp = Path(__file__).resolve().parents[1] / ".tmp"
    project_tmp.mkdir(exist_ok=True)
    state_dir = Path(tempfile.mkdtemp(prefix="prod-pooler-", dir=project_tmp))
    stack = DemoStack(state_dir, flavour="prod")
    try:
        info = stack.start()
        pids = json.loads((state_dir / "stack.json").read_text())["pids"]
        assert psutil.Process(pids["pooler"]).name() == "pgbouncer"
        assert f"@127.0.0.1:{stack.ports()['pooler']}/" in info.dsn
        assert stack.status()["components"]["pooler"] is True
        with psycopg.connect(info.dsn, connect_timeout=5) as conn:  # the oncall role, through PgBouncer
            assert conn.execute("SELECT current_user").fetchone() == ("oncall",)
    finally:
        stack.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
    for pid in pids.values():
        assert not psutil.pid_exists(pid), pid  # exited and reaped, the pooler included
