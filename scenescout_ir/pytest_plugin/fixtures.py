"""The fixtures the checks use: the target, and one probe per kind of I/O, each opened once per run.

Scopes are deliberate: the probes live for the session, so a dependency that is down is found out once
and every later check is told at once. Checks that differ only in data (an endpoint, a source, a log
file) are parametrized from the target's configuration here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from scenescout_ir.core.config import Source, Target
from scenescout_ir.core.evidence import Evidence, EvidenceLog
from scenescout_ir.core.outcomes import ConfigError, CouldNotRun
from scenescout_ir.incident.log import incidents_dir, open_incident_start
from scenescout_ir.judge.baseline import Baseline
from scenescout_ir.probes.db import Database
from scenescout_ir.probes.host import Host
from scenescout_ir.probes.http import HttpProbe, HttpResult, join_url
from scenescout_ir.probes.logs import LogReader
from scenescout_ir.probes.net import Network
from scenescout_ir.probes.sampling import ResponseSampler, SampleSet
from scenescout_ir.probes.source_logs import TAIL_BYTES, SourceTail, tail_mentions
from scenescout_ir.pytest_plugin.plugin import is_check, suite


class Site:
    """The target's web front: GETs by path, relative to its base URL, or of a URL of its own (a health
    endpoint of a data API on another origin, with that origin's headers)."""

    def __init__(self, base_url: str, http: HttpProbe, target: Target | None = None) -> None:
        self.base_url = base_url
        self.http = http
        self.target = target

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    def url(self, endpoint: str) -> str:
        return endpoint if endpoint.startswith(("http://", "https://")) else join_url(self.base_url, endpoint)

    def is_own(self, url: str) -> bool:
        """Whether ``url`` is on the site's own host (not a data API or another origin the front end calls)."""
        return _netloc(self.url(url)) == _netloc(self.base_url)

    def who(self, url: str) -> str:
        """Which host a URL is on, in words: ``the site``, ``the data API at api.example:443`` (one of the
        target's backend origins) or ``host:port``; a finding about another host must never blame the site."""
        url = self.url(url)
        if self.is_own(url):
            return "the site"
        backends = {_netloc(o) for o in (self.target.backend_origins if self.target else ())}
        return f"the data API at {_netloc(url)}" if _netloc(url) in backends else _netloc(url)

    def headers(self, url: str) -> dict[str, str]:
        if self.target is None:
            return {}
        try:
            return self.target.headers_for(url)
        except ConfigError as exc:
            raise CouldNotRun(str(exc)) from None

    def get(self, endpoint: str) -> HttpResult:
        url = self.url(endpoint)
        return self.http.get(url, headers=self.headers(url) or None)


def _netloc(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    return suite(pytestconfig).target


@pytest.fixture(scope="session")
def http(pytestconfig: pytest.Config, target: Target) -> Iterator[HttpProbe]:
    probe = HttpProbe(target.timeouts, suite(pytestconfig).evidence, target.thresholds,
                      budget=suite(pytestconfig).clock.for_probes())
    suite(pytestconfig).footprint.probes.append(probe)
    yield probe
    probe.close()


@pytest.fixture
def upstream_http(pytestconfig: pytest.Config, target: Target) -> Iterator[HttpProbe]:
    """An HTTP probe of its own per source's API: the demo's stand-in APIs share the app's host, so one source
    that hangs must not make the session's probe give up on the others (or on the site)."""
    probe = HttpProbe(target.timeouts, suite(pytestconfig).evidence, target.thresholds,
                      budget=suite(pytestconfig).clock.for_probes())
    suite(pytestconfig).footprint.probes.append(probe)
    yield probe
    probe.close()


@pytest.fixture(scope="session")
def site(target: Target, http: HttpProbe) -> Site:
    try:
        return Site(target.resolve_base_url(), http, target)
    except ConfigError as exc:
        raise CouldNotRun(str(exc)) from None


@pytest.fixture(scope="session")
def db(pytestconfig: pytest.Config, target: Target) -> Iterator[Database]:
    if target.no_database:  # every check that needs the database is "not applicable", with the key named
        pytest.skip(target.no_database)
    database = Database(target.resolve_dsn, target.timeouts, suite(pytestconfig).evidence)
    suite(pytestconfig).footprint.probes.append(database)
    yield database
    database.close()


@pytest.fixture(scope="session")
def logs(pytestconfig: pytest.Config) -> LogReader:
    return LogReader(suite(pytestconfig).evidence)


@pytest.fixture(scope="session")
def host(pytestconfig: pytest.Config, target: Target) -> Host:
    if not target.host_checks:
        pytest.skip(f"host checks are off for target {target.name} (host_checks = false)")
    return Host(suite(pytestconfig).evidence)


@pytest.fixture(scope="session")
def net(pytestconfig: pytest.Config, target: Target) -> Network:
    return Network(target.timeouts.connect_s, suite(pytestconfig).evidence)


# --- what the checks need from the run, so no check reaches into the plugin --------------------------


@pytest.fixture(scope="session")
def evidence(pytestconfig: pytest.Config) -> EvidenceLog:
    """``evidence(Evidence(...))``: attach what a check saw to the check running now (its report, Allure)."""
    return suite(pytestconfig).evidence


@pytest.fixture(scope="session")
def reports_dir(pytestconfig: pytest.Config) -> Path:
    """The run's reports directory (beside the verdict file): charts, counter snapshots."""
    return suite(pytestconfig).verdict_file.parent


@pytest.fixture(scope="session")
def time_left(pytestconfig: pytest.Config) -> Callable[[], float]:
    """Seconds left of the run's time budget less what its end needs (the reserve), asked when needed: a long
    sampling stops, and a sample's wait is cut, before the end."""
    return suite(pytestconfig).clock.for_probes().left


@pytest.fixture(scope="session")
def incident_start(pytestconfig: pytest.Config) -> datetime | None:
    """When the open incident started (incident log of this project), None when none is open."""
    return open_incident_start(incidents_dir(suite(pytestconfig).root))


@pytest.fixture
def sample(request: pytest.FixtureRequest, target: Target, site: Site, http: HttpProbe, evidence: EvidenceLog,
           reports_dir: Path, time_left: Callable[[], float]) -> Callable[[str], SampleSet]:
    """``sample(path)``: the target's response-time samples of that path, with a chart in reports/."""
    sampler = ResponseSampler(
        http, target.performance, target.thresholds, target.timeouts, evidence,
        chart_dir=reports_dir / "charts", run_left=time_left,
    )
    return lambda path: sampler.sample(site.url(path), name=request.node.name, headers=site.headers(site.url(path)))


LOG_LINES = 50  # supabase functions logs ingest_<source> --limit 50


@pytest.fixture
def ingestion_log_tail(target: Target, evidence: EvidenceLog) -> Callable[[Source], SourceTail | None]:
    """``ingestion_log_tail(source)``: the ingestion log's latest lines naming the source, as evidence (and the
    error text, when the job runs have none); a missing log is said in the evidence, not a reason not to judge."""

    def tail_of(source: Source) -> SourceTail | None:
        path = target.ingestion_log_path()
        if path is None:
            evidence(Evidence("log", "ingestion log", "no ingestion log configured (set logs or ingestion_log)"))
            return None
        try:
            tail = tail_mentions(path, source.name, LOG_LINES, min(TAIL_BYTES, target.thresholds.log_max_bytes))
        except CouldNotRun as exc:
            evidence(Evidence("log", "ingestion log", str(exc)))
            return None
        evidence(tail.evidence())
        return tail

    return tail_of


@pytest.fixture
def baseline(pytestconfig: pytest.Config, target: Target) -> Baseline:
    """The last healthy run's row counts (integrity.baseline_file, relative to the project root)."""
    path = Path(target.integrity.baseline_file)
    if not path.is_absolute():
        path = suite(pytestconfig).root / path
    return Baseline(path, target.name, suite(pytestconfig).evidence)


@pytest.fixture(scope="session", autouse=True)
def _independent_probes_start_at_once(request: pytest.FixtureRequest) -> None:
    """The run's independent probes start together when the session starts: the database connection, the site's
    home page, each selected health endpoint and route. The checks read their results as they come, so the run
    waits for the slowest probe once, not for the sum of them. Not in an xdist worker: it does not know which
    checks it will be given, and N workers prefetching everything would ask the target N times."""
    checks = [item for item in request.session.items if is_check(item)]
    needs = {name for item in checks for name in getattr(item, "fixturenames", ())}
    if "db" in needs and not suite(request.config).target.no_database:
        request.getfixturevalue("db").prefetch()
    if "site" not in needs or hasattr(request.config, "workerinput"):
        return  # an xdist worker asks each URL when its own check needs it (xdist_footprint.py)
    try:
        site = request.getfixturevalue("site")
    except CouldNotRun:
        return  # the checks say why, each
    endpoints = {"/"} if any(item.name == "test_site_reachable" for item in checks) else set()
    for item in checks:
        params = getattr(item, "callspec", None)
        if "site" in getattr(item, "fixturenames", ()) and params is not None:
            endpoints |= {str(params.params[k]) for k in ("health_endpoint", "route") if k in params.params}
    requests = []
    for endpoint in sorted(endpoints):
        url = site.url(endpoint)
        try:
            requests.append((url, site.headers(url)))
        except CouldNotRun:
            continue  # its check says so
    site.http.prefetch(requests)


def _ids(value: Any) -> str:
    if isinstance(value, Source):
        return value.name
    if isinstance(value, Path):
        return value.name
    return str(value)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    target = suite(metafunc.config).target
    axes: dict[str, tuple[Any, ...]] = {
        "health_endpoint": target.health_endpoints,
        "route": target.routes,
        "source": target.sources,
        "log_file": target.logs,
    }
    for name, values in axes.items():
        if name in metafunc.fixturenames:
            key = "logs" if name == "log_file" else f"{name}s"  # the targets.toml key of the axis
            metafunc.parametrize(name, values or _nothing_configured(target, key), ids=_ids)


def _nothing_configured(target: Target, key: str) -> list[Any]:
    """An empty list in targets.toml: the check is not applicable, said in words (not pytest's empty set)."""
    reason = f"not applicable: no {key} configured in targets.toml (targets.{target.name}.{key} = [])"
    return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id=f"no {key}")]
