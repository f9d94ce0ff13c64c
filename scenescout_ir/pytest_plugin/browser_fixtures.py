"""The browser of the smoke checks: pytest-playwright's fixtures pointed at Debian's Chromium and the target.

- ``browser_type_launch_args`` (session; pytest-playwright's, extended): the Chromium to run and ``--disable-gpu``,
  on top of what pytest-playwright made of --headed/--slowmo. The Chromium is $SCENESCOUT_CHROMIUM if set; else,
  headless, Debian's chromium-headless-shell (what Playwright itself runs headless: a comprehensive and
  performance run of the demo took 3.6-4.5 s of CPU with it, 6.5-6.8 s with the full browser), or
  /usr/bin/chromium where the shell is not installed and always with ``--headed`` (the shell has no window).
- ``browser_context_args`` (session; pytest-playwright's, extended): viewport, timezone, locale, geolocation
  (and its permission) from ``target.browser``, and the target's base URL.
- ``smoke_browser`` (session): one Chromium for the run, launched with those arguments.
- ``browser_page`` (function): a fresh context and page per check, seeded with the target's local storage and
  recording a Playwright trace; when the check fails, its screenshot and trace are kept under
  ``reports/browser/<check>/`` (next to the verdict file) and recorded as evidence.
- ``route_pages`` (session): each route as the run loaded it once (``browser_page.load(route)``), for the checks
  that look at the same load (events rendered, console and request errors, broken images): one page load per
  route instead of one per check, less load on a struggling site and a third of the browser's time.

pytest-playwright's artifact options are honoured as its users expect: ``--tracing on|off|retain-on-failure``
and ``--screenshot on|off|only-on-failure`` say what is kept (given neither, the suite keeps both on failure),
``--output DIR`` where (``DIR/<check>/``; given no ``--output``, ``reports/browser/<check>/``), and
``--headed`` / ``--slowmo`` reach the launch arguments. ``--video`` and ``--full-page-screenshot`` are not
used: screenshots are always of the full page, and no video is recorded.

The browser is launched here from pytest-playwright's ``playwright`` fixture rather than through its ``browser``
fixture: any test using that one is parametrized over ``--browser``, which would name every check
``test_...[chromium-/map]``; the checks run Chromium only (the executable path is Chromium's).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser as PlaywrightBrowser
from playwright.sync_api import BrowserContext, Page, Playwright
from playwright.sync_api import Error as PlaywrightError

from scenescout_ir.core.config import Target
from scenescout_ir.core.evidence import Evidence, EvidenceLog
from scenescout_ir.core.outcomes import ConfigError, CouldNotRun
from scenescout_ir.probes.browser import BrowserSession, Navigation, PageProbe, PageVisit, init_script, origin_of
from scenescout_ir.probes.http import HttpProbe
from scenescout_ir.probes.web_vitals import Paint, largest_contentful_paint
from scenescout_ir.pytest_plugin.plugin import suite

DEFAULT_CHROMIUM = "/usr/bin/chromium"
HEADLESS_SHELL = "/usr/bin/chromium-headless-shell"
CHROMIUM_ENV = "SCENESCOUT_CHROMIUM"
_OPEN_PAGE = pytest.StashKey["BrowserCheck"]()


# pytest-playwright's defaults are "off"; not given, the suite keeps a failed check's screenshot and trace
SUITE_DEFAULTS = {"--tracing": "retain-on-failure", "--screenshot": "only-on-failure"}
ON, OFF, ON_FAILURE = "on", "off", ("retain-on-failure", "only-on-failure")


def option_given(config: pytest.Config, name: str) -> bool:
    """Whether ``--name`` was given (command line, PYTEST_ADDOPTS or the ini's addopts), not just defaulted."""
    args = [*map(str, config.invocation_params.args), *shlex.split(os.environ.get("PYTEST_ADDOPTS", "")),
            *map(str, config.getini("addopts"))]
    return any(a == name or a.startswith(name + "=") for a in args)


@dataclass(frozen=True)
class ArtifactOptions:
    """What a browser check keeps (pytest-playwright's --tracing, --screenshot) and where (--output)."""

    tracing: str  # on | off | retain-on-failure
    screenshot: str  # on | off | only-on-failure
    root: Path
    own_root: bool  # the suite's reports/browser (emptied at the start), not a --output the user gave

    @classmethod
    def of(cls, config: pytest.Config) -> ArtifactOptions:
        def value(name: str) -> str:
            given = option_given(config, name)
            return str(config.getoption(name, SUITE_DEFAULTS[name]) if given else SUITE_DEFAULTS[name])

        output = config.getoption("--output", None) if option_given(config, "--output") else None
        root = Path(str(output)).absolute() if output else suite(config).verdict_file.parent / "browser"
        return cls(value("--tracing"), value("--screenshot"), root, own_root=not output)

    def keeps_trace(self, failed: bool) -> bool:
        return self.tracing == ON or (failed and self.tracing in ON_FAILURE)

    def keeps_screenshot(self, failed: bool) -> bool:
        return self.screenshot == ON or (failed and self.screenshot in ON_FAILURE)


def artifacts_root(config: pytest.Config) -> Path:
    """reports/browser (wherever --verdict-file points, so one run's output stays together), or --output."""
    return ArtifactOptions.of(config).root


def artifact_dir_name(item_name: str) -> str:
    """``test_page_renders_events[/map]`` -> ``test_page_renders_events-map`` (``[/]`` -> ``-home``)."""
    name, _, param = item_name.partition("[")
    param = param.rstrip("]")
    if param:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", param.strip("/")).strip("-") or "home"
        name = f"{name}-{slug}"
    return name


def chromium_executable(headless: bool = True) -> str:
    """The Chromium to drive: $SCENESCOUT_CHROMIUM, else the headless shell when headless and installed, else
    Debian's full chromium."""
    given = os.environ.get(CHROMIUM_ENV, "").strip()
    if given:
        return given
    if headless and os.access(HEADLESS_SHELL, os.X_OK):
        return HEADLESS_SHELL
    return DEFAULT_CHROMIUM


# --- pytest-playwright's fixtures, extended -------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": chromium_executable(headless=browser_type_launch_args.get("headless", True)),
        "args": [*browser_type_launch_args.get("args", []), "--disable-gpu"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any], target: Target) -> dict[str, Any]:
    try:
        base_url = target.resolve_base_url()
    except ConfigError as exc:
        raise CouldNotRun(str(exc)) from None
    b = target.browser
    args: dict[str, Any] = {
        "viewport": {"width": b.viewport_width, "height": b.viewport_height},
        "timezone_id": b.timezone,
        "locale": b.locale,
    }
    if len(b.geolocation) >= 2:
        args["geolocation"] = {"latitude": b.geolocation[0], "longitude": b.geolocation[1]}
    if b.grant_geolocation:
        args["permissions"] = ["geolocation"]
    given = {k: v for k, v in browser_context_args.items() if k != "record_video_dir"}  # --video: not kept here
    return {**args, **given, "base_url": base_url}  # --device stays pytest-playwright's


# --- the run's browser and each check's page -----------------------------------------------------


@pytest.fixture(scope="session")
def smoke_browser(
    pytestconfig: pytest.Config, playwright: Playwright, browser_type_launch_args: dict[str, Any],
) -> Iterator[PlaywrightBrowser]:
    executable = Path(browser_type_launch_args["executable_path"])
    if not os.access(executable, os.X_OK):
        raise CouldNotRun(
            f"no Chromium at {executable}: install Debian's (make chromium, or apt-get install chromium "
            "chromium-headless-shell) "
            f"or point ${CHROMIUM_ENV} at one"
        )
    try:
        browser = playwright.chromium.launch(**browser_type_launch_args)
    except PlaywrightError as exc:
        raise CouldNotRun(f"Chromium ({executable}) did not start: {str(exc).strip().splitlines()[0]}") from None
    from scenescout_ir.core.budget import BROWSER_RESERVE_S

    suite(pytestconfig).clock.reserve_s += BROWSER_RESERVE_S  # its closing comes out of the run's budget too
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def browser_session(pytestconfig: pytest.Config) -> BrowserSession:
    session = BrowserSession()
    suite(pytestconfig).footprint.probes.append(session)  # its requests count in the run's footprint
    return session


class BrowserCheck:
    """One check's browser context and page (opened on its first page load), and the probe that loads pages."""

    def __init__(
        self, browser: PlaywrightBrowser, context_args: dict[str, Any], target: Target, session: BrowserSession,
        http: HttpProbe, record: Any, title: str, options: ArtifactOptions,
    ) -> None:
        self._browser = browser
        self.options = options
        self._context_args = context_args
        self._target = target
        self._title = title
        self._record = record
        self.context: BrowserContext | None = None
        self._tracing = False  # started, not yet stopped
        self._args = (browser, context_args, target, session, http, record, options)
        self.routes: dict[str, BrowserCheck] = {}  # the run's route loads (route_pages), set by the fixture
        self.retry = False  # a failed check's next attempt (retries.py): it never reads the failed load again
        self._loaded_by: BrowserCheck | None = None  # the route load this check looked at
        self.shared_visit: PageVisit | None = None  # this check's own load, when it is a route's shared one
        self.kept_trace: Path | None = None  # where its trace went, for the next failed check of the same load
        base_url = context_args["base_url"]
        self.probe = PageProbe(self._open_page, base_url, target.browser, target.backend_origins, session, record,
                               known_down=http.host_down, budget=http.budget)

    def _open_page(self) -> Page:
        self.context = self._browser.new_context(**self._context_args)
        self.context.add_init_script(init_script(self._target.browser, origin_of(self._context_args["base_url"])))
        # DOM snapshots, no screencast: the failure's own screenshot is kept beside the trace, and the
        # screencast frames cost about a tenth of the browser checks' CPU on every run, failing or not
        if self.options.tracing != OFF:
            self.context.tracing.start(title=self._title, screenshots=False, snapshots=True)
            self._tracing = True
        return self.context.new_page()

    @property
    def page(self) -> Page:
        """The Playwright page (opened on first use), for probes that look further into a loaded page."""
        return self.probe.page

    def visit(self, path: str, *, until: str = "cards") -> PageVisit:
        """A load of ``path`` of this check's own (a check that measures the load itself needs one)."""
        return self.probe.visit(path, until=until)

    def load(self, route: str) -> PageVisit:
        """``route`` as this run loaded it, once for every check that looks at that load: the first asks, waiting
        until the network is quiet (what every such check needs), the others read the same load."""
        loaded = self.routes.get(route)
        if loaded is not None and self.retry:  # a retry looks at a load of its own (which later checks share)
            loaded.close()
            loaded = None
        if loaded is None or loaded.shared_visit is None:
            loaded = self.routes[route] = BrowserCheck(*self._args[:6], f"load of {route}", self._args[6])
            loaded.shared_visit = loaded.probe.visit(route, until="quiet")
        else:
            self._record(loaded.shared_visit.evidence())  # the same load is this check's evidence too
        self._loaded_by = loaded
        return loaded.shared_visit

    def follow_nav_links(self, start: str = "/") -> Navigation:
        return self.probe.follow_nav_links(start)

    def keep_artifacts(self, directory: Path, failed: bool = True) -> None:
        """The screenshot and the trace of the check (as --screenshot and --tracing say), recorded as evidence."""
        if self._loaded_by is not None and self.context is None:  # it looked at a route's shared load
            self._loaded_by.keep_shared_artifacts(directory, failed, self._record)
            return
        if self.context is None:  # it failed without loading a page (a site known not to answer)
            return
        screenshot = self.options.keeps_screenshot(failed)
        trace = self.options.keeps_trace(failed) and (self._tracing or self.kept_trace is not None)
        if not screenshot and not trace:
            return
        page = self.probe.page
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True, exist_ok=True)
        kept: dict[str, str] = {}
        problems = []
        last = self.probe.last
        if screenshot and last is not None and last.status is None:  # nothing arrived: it would wait for nothing
            problems.append(f"no screenshot: the page never arrived ({last.error})")
        elif screenshot:
            try:
                page.screenshot(path=directory / "screenshot.png", full_page=True, timeout=5000)
                kept["screenshot"] = str(directory / "screenshot.png")
            except PlaywrightError as exc:
                problems.append(f"no screenshot: {str(exc).strip().splitlines()[0]}")
        try:
            if trace and self._tracing:
                self._tracing = False
                self.context.tracing.stop(path=directory / "trace.zip")
                kept["trace"] = str(directory / "trace.zip")
                self.kept_trace = directory / "trace.zip"
            elif trace and self.kept_trace is not None and self.kept_trace.is_file():  # kept by an earlier check
                shutil.copyfile(self.kept_trace, directory / "trace.zip")
                kept["trace"] = str(directory / "trace.zip")
        except (PlaywrightError, OSError) as exc:
            problems.append(f"no trace: {str(exc).strip().splitlines()[0]}")
        lines = [f"{kind}: {path}" for kind, path in kept.items()]
        if "trace" in kept:
            lines.append(f"open the trace with: playwright show-trace {kept['trace']}")
        what = " and ".join(k for k, wanted in (("screenshot", screenshot), ("trace", trace)) if wanted)
        self._record(Evidence("browser", f"{what} of the {'failed ' if failed else ''}check",
                              "\n".join(lines + problems), dict(kept)))

    def keep_shared_artifacts(self, directory: Path, failed: bool, record: Any) -> None:
        """A check that looked at this route load keeps its screenshot and trace, as evidence of that check."""
        own, self._record = self._record, record
        try:
            self.keep_artifacts(directory, failed)
        finally:
            self._record = own

    def close(self) -> None:
        if self.context is None:
            return
        try:
            if self._tracing:
                self._tracing = False
                self.context.tracing.stop()
            self.context.close()
        except PlaywrightError:
            pass  # the browser is gone already; nothing left to close


@pytest.fixture(scope="session")
def route_pages() -> Iterator[dict[str, BrowserCheck]]:
    """Each route as the run loaded it (BrowserCheck.load), open until the run ends."""
    pages: dict[str, BrowserCheck] = {}
    yield pages
    for page in pages.values():
        page.close()


@pytest.fixture
def browser_page(
    request: pytest.FixtureRequest, smoke_browser: PlaywrightBrowser, browser_context_args: dict[str, Any],
    browser_session: BrowserSession, target: Target, http: HttpProbe, route_pages: dict[str, BrowserCheck],
) -> Iterator[BrowserCheck]:
    check = BrowserCheck(smoke_browser, browser_context_args, target, browser_session, http,
                         suite(request.config).evidence, request.node.nodeid, ArtifactOptions.of(request.config))
    check.routes = route_pages
    check.retry = getattr(request.node, "execution_count", 1) > 1  # pytest-rerunfailures' attempt number
    request.node.stash[_OPEN_PAGE] = check
    yield check
    del request.node.stash[_OPEN_PAGE]
    check.close()


# --- hooks -----------------------------------------------------------------------------------------


def pytest_sessionstart(session: pytest.Session) -> None:
    """reports/browser holds the last run's artifacts only (an xdist worker leaves it to the controller); a --output
    the user gave is pytest-playwright's to empty, as it always does."""
    options = ArtifactOptions.of(session.config)
    if options.own_root and not hasattr(session.config, "workerinput"):
        shutil.rmtree(options.root, ignore_errors=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A failed check keeps its screenshot and trace (a passed one too with --screenshot on / --tracing on),
    before its report (and evidence) is made."""
    try:
        result = yield
    except (CouldNotRun, pytest.skip.Exception):
        raise
    except (Exception, pytest.fail.Exception):
        _keep(item, failed=True)
        raise
    _keep(item, failed=False)
    return result


def _keep(item: pytest.Item, failed: bool) -> None:
    check = item.stash.get(_OPEN_PAGE, None)
    if check is not None:
        check.keep_artifacts(check.options.root / artifact_dir_name(item.name), failed=failed)


@pytest.fixture
def largest_paint(evidence: EvidenceLog) -> Callable[[Page], Paint]:
    """``largest_paint(page)``: the page's Largest Contentful Paint (web_vitals.py), recorded as evidence."""
    return lambda page: largest_contentful_paint(page, evidence)
