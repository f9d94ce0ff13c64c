"""The browser probe and its fixtures: pure judgements, launch and context arguments, and real Chromium
against small local pages (no demo stack): what it counts as the site's error, a third party's, a broken
image; waits that end on a condition; the pre-seeded local storage."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator

import pytest

from scenescout_ir.core.config import Browser, Source, Target
from scenescout_ir.core.redact import Redactor
from scenescout_ir.probes.browser import (
    BACKEND,
    OWN,
    THIRD_PARTY,
    BrowserSession,
    ConsoleError,
    FailedRequest,
    ImageState,
    LinkResult,
    PageProbe,
    PageVisit,
    classify,
    init_script,
    origin_of,
)
from scenescout_ir.pytest_plugin import browser_fixtures
from scenescout_ir.pytest_plugin.browser_fixtures import artifact_dir_name, chromium_executable
from tests.forkserver import runpytest_forked

# --- pure parts -----------------------------------------------------------------------------------


def test_origins_are_classified_as_own_backend_or_third_party():
    own = "https://scenescout.app"
    backends = ("https://abc.supabase.co",)
    assert origin_of("https://scenescout.app:443/x?y") == own
    assert origin_of("http://127.0.0.1:8080/a") == "http://127.0.0.1:8080"
    assert classify("https://scenescout.app/api/events", own, backends) == OWN
    assert classify("/relative", own, backends) == OWN
    assert classify("https://abc.supabase.co/rest/v1/events", own, backends) == BACKEND
    assert classify("https://www.googletagmanager.com/gtag.js", own, backends) == THIRD_PARTY
    assert classify("http://scenescout.app/", own, backends) == THIRD_PARTY  # another scheme, another origin


def visit(**fields):
    return PageVisit("/", "http://site/", status=200, title="t", has_main=True, has_nav=True, cards=3, **fields)


def test_the_sites_errors_leave_out_images_third_parties_and_what_a_failed_request_explains():
    page = visit(
        page_errors=("TypeError: x is undefined",),
        failed_requests=(
            FailedRequest("GET", "http://site/api/events", "fetch", 500, None, OWN),
            FailedRequest("GET", "https://abc.supabase.co/rest", "fetch", None, "net::ERR_FAILED", BACKEND),
            FailedRequest("GET", "http://site/img/a.png", "image", 404, None, OWN),
            FailedRequest("GET", "https://ads.example/x.js", "script", None, "net::ERR_NAME_NOT_RESOLVED", THIRD_PARTY),
        ),
        console_errors=(
            ConsoleError("Failed to load resource: 500", "http://site/api/events", OWN),  # the request says it
            ConsoleError("Failed to load resource: 404", "http://site/img/a.png", OWN),  # the image check's
            ConsoleError("Failed to load resource: 404", "http://site/favicon.ico", OWN),  # Chromium's own ask
            ConsoleError("ads blocked", "https://ads.example/x.js", THIRD_PARTY),
            ConsoleError("Uncaught (in promise) render failed", "http://site/static/app.js", OWN),
        ),
    )
    assert page.errors() == [
        "uncaught TypeError: x is undefined",  # the most telling first: the page's own words, then its requests
        "console: Uncaught (in promise) render failed (/static/app.js)",
        "GET /api/events (fetch) -> 500",
        "GET https://abc.supabase.co/rest (fetch) -> net::ERR_FAILED",
    ]
    assert page.third_party_failures() == [
        "GET https://ads.example/x.js (script) -> net::ERR_NAME_NOT_RESOLVED",
        "console: ads blocked (https://ads.example/x.js)",
    ]


def test_a_broken_image_is_a_finished_one_without_pixels_and_a_lazy_one_waiting_is_not():
    page = visit(images=(
        ImageState("/a.png", complete=True, natural_width=96),
        ImageState("/b.png", complete=True, natural_width=0),
        ImageState("/c.png", complete=False, natural_width=0, lazy=True),
    ))
    assert [i.src for i in page.broken_images] == ["/b.png"]


def test_loaded_means_a_document_below_400_and_no_error():
    assert visit().loaded
    assert not visit(error="no response within 10 s").loaded
    assert not PageVisit("/map", "http://site/map", status=500).loaded


def test_a_link_works_when_it_reaches_a_page_with_content():
    assert LinkResult("Map", "/map", "http://site/map", 200, True).works
    assert LinkResult("Map", "/map", "http://site/map", None, True).works  # client-side routing
    assert not LinkResult("Map", "/map", "http://site/map", 500, False).works
    assert not LinkResult("Map", "/map", "http://site/", error="did not reach /map within 10 s").works


def test_artifact_dirs_are_named_after_the_check_and_its_route():
    assert artifact_dir_name("test_page_renders_events[/map]") == "test_page_renders_events-map"
    assert artifact_dir_name("test_page_renders_events[/]") == "test_page_renders_events-home"
    assert artifact_dir_name("test_no_broken_images[/events/near me]") == "test_no_broken_images-events-near-me"
    assert artifact_dir_name("test_navigation_links_work") == "test_navigation_links_work"


def test_the_init_script_seeds_local_storage_only_on_the_targets_origin():
    script = init_script(Browser(local_storage={"scenescout.city": 'Lis"bon'}), "https://scenescout.app")
    assert "window.__scenescoutNet" in script
    assert '"scenescout.city": "Lis\\"bon"' in script  # JSON-escaped, not pasted
    assert 'window.location.origin !== "https://scenescout.app"' in script
    assert "localStorage" not in init_script(Browser(), "https://scenescout.app")


def test_an_api_key_in_an_upstream_url_is_scrubbed_whatever_its_parameter_is_called(monkeypatch):
    monkeypatch.setenv("SONGKICK_KEY", "sk-live-8f2a61")
    monkeypatch.setenv("EVENTBRITE_TOKEN", "ebt-2c9d70")
    target = Target("prod", "https://scenescout.app", sources=(
        Source("songkick", upstream_url="https://api.songkick.com/api/3.0/events.json", api_key_env="SONGKICK_KEY",
               api_key_param="client_key"),
        Source("eventbrite", upstream_url="https://www.eventbriteapi.com/v3/users/me/", api_key_env="EVENTBRITE_TOKEN",
               api_key_header="X-Api-Token"),
    ), dsn_env="NO_SUCH_DSN_VARIABLE")
    redact = Redactor(target.secrets())
    evidence = {"url": "https://api.songkick.com/api/3.0/events.json?client_key=sk-live-8f2a61",
                "text": "GET ...?client_key=sk-live-8f2a61\nX-Api-Token: ebt-2c9d70"}
    scrubbed = json.dumps(redact.data(evidence))
    assert "sk-live-8f2a61" not in scrubbed and "ebt-2c9d70" not in scrubbed
    assert "client_key=***" in scrubbed


# --- the fixtures' arguments, through pytest-playwright ---------------------------------------------

SCRATCH_TARGETS = """
[targets.local]
base_url = "http://127.0.0.1:9"
dsn_env = "SCRATCH_DSN"
host_checks = false
[targets.local.browser]
viewport_width = 390
viewport_height = 844
timezone = "Europe/Berlin"
locale = "de-DE"
geolocation = [52.52, 13.40]
grant_geolocation = true
"""
SCRATCH_TEST = """
def test_args(browser_type_launch_args, browser_context_args):
    print("LAUNCH", sorted(browser_type_launch_args.items()))
    print("CONTEXT", sorted(browser_context_args.items()))
"""


def test_launch_and_context_arguments_come_from_the_target_and_keep_headed_and_slowmo(pytester, monkeypatch):
    pytester.makeconftest("")  # the plugin comes from its entry point
    pytester.makefile(".toml", targets=SCRATCH_TARGETS)
    pytester.makepyfile(test_scratch=SCRATCH_TEST)
    monkeypatch.setenv("SCENESCOUT_CHROMIUM", "/opt/chromium/chrome")
    result = runpytest_forked(pytester, "--target", "local", "--headed", "--slowmo", "50", "--video", "on", "-s")
    out = result.stdout.str()
    result.assert_outcomes(passed=1)
    launch = next(line for line in out.splitlines() if "LAUNCH" in line)
    context = next(line for line in out.splitlines() if "CONTEXT" in line)
    assert "('executable_path', '/opt/chromium/chrome')" in launch
    assert "('args', ['--disable-gpu'])" in launch
    assert "('headless', False)" in launch and "('slow_mo', 50)" in launch
    assert "('viewport', {'width': 390, 'height': 844})" in context
    assert "('timezone_id', 'Europe/Berlin')" in context and "('locale', 'de-DE')" in context
    assert "('geolocation', {'latitude': 52.52, 'longitude': 13.4})" in context
    assert "('permissions', ['geolocation'])" in context
    assert "('base_url', 'http://127.0.0.1:9')" in context
    assert "record_video_dir" not in context  # a video nobody keeps is not recorded


def test_a_headless_run_drives_the_headless_shell(pytester, monkeypatch):
    pytester.makeconftest("")
    pytester.makefile(".toml", targets=SCRATCH_TARGETS)
    pytester.makepyfile(test_scratch=SCRATCH_TEST)
    monkeypatch.delenv("SCENESCOUT_CHROMIUM", raising=False)
    result = runpytest_forked(pytester, "--target", "local", "-s")
    result.assert_outcomes(passed=1)
    launch = next(line for line in result.stdout.str().splitlines() if "LAUNCH" in line)
    assert f"('executable_path', '{browser_fixtures.HEADLESS_SHELL}')" in launch and "('headless', False)" not in launch


def test_without_the_headless_shell_the_full_browser_runs_headless_too(monkeypatch, tmp_path):
    monkeypatch.delenv("SCENESCOUT_CHROMIUM", raising=False)
    assert browser_fixtures.chromium_executable() == browser_fixtures.HEADLESS_SHELL  # make chromium installs it
    assert browser_fixtures.chromium_executable(headless=False) == browser_fixtures.DEFAULT_CHROMIUM  # --headed
    monkeypatch.setattr(browser_fixtures, "HEADLESS_SHELL", str(tmp_path / "not-installed"))
    assert browser_fixtures.chromium_executable() == browser_fixtures.DEFAULT_CHROMIUM
    monkeypatch.setenv("SCENESCOUT_CHROMIUM", "/opt/chromium/chrome")
    assert browser_fixtures.chromium_executable(headless=False) == "/opt/chromium/chrome"


# --- real Chromium against local pages --------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


NOWHERE = f"http://127.0.0.1:{closed_port()}"  # another origin, refusing connections: a third party down
PAGES = {
    "/ok": f"""<!doctype html><title>OK</title><nav><a href="/ok">Home</a> <a href="/spinner">Spinner</a></nav>
<main><div id="cards"></div></main>
<script src="{NOWHERE}/tracker.js"></script>
<script>
fetch("/data").then((r) => r.json()).then((d) => {{
  const card = document.createElement("article");
  card.className = "event-card";
  card.textContent = d.name + " in " + localStorage.getItem("city");
  document.getElementById("cards").append(card);
}});
</script>""",
    "/broken": """<!doctype html><title>Broken</title><nav></nav><main><img src="/nope.png"></main>
<script>fetch("/missing"); throw new Error("boom");</script>""",
    # a live page that never goes quiet: it asks for news every 100 ms (what the demo never does)
    "/live": """<!doctype html><title>Live</title><nav><a href="/live">Home</a></nav>
<main><article class="event-card">Velvet Static, live</article></main>
<script>setInterval(() => fetch("/data"), 100);</script>""",
    "/spinner": """<!doctype html><title>Spinner</title><nav><a href="/ok">Home</a></nav>
<main><div class="spinner">Loading...</div></main>""",
}


REQUESTS: list[str] = []  # the paths the stand-in site was asked for, in order


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        REQUESTS.append(self.path)
        if self.path in PAGES:
            self._send(200, "text/html", PAGES[self.path])
        elif self.path == "/data":
            self._send(200, "application/json", json.dumps({"name": "Velvet Static"}))
        else:
            self._send(404, "text/plain", "not found")

    def _send(self, status: int, kind: str, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def chromium(playwright):
    browser = playwright.chromium.launch(executable_path=chromium_executable(), args=["--disable-gpu"])
    yield browser
    browser.close()


@pytest.fixture
def probe(chromium, site) -> Iterator[tuple[PageProbe, list]]:
    settings = Browser(local_storage={"city": "Lisbon"}, navigation_timeout_s=10)
    context = chromium.new_context(base_url=site)
    context.add_init_script(init_script(settings, site))
    recorded: list = []
    yield PageProbe(context.new_page, site, settings, (), BrowserSession(), recorded.append), recorded
    context.close()


def test_cards_rendered_from_the_api_with_the_seeded_city_and_a_third_party_down_kept_apart(probe):
    page_probe, recorded = probe
    page = page_probe.visit("/ok")
    assert page.loaded and page.status == 200 and page.title == "OK" and page.has_main and page.has_nav
    assert page.cards == 1 and page.card_sample == "Velvet Static in Lisbon"
    assert page.settled == "cards"
    assert page.errors() == []
    assert any(f"{NOWHERE}/tracker.js" in failure for failure in page.third_party_failures())
    assert recorded[-1].kind == "browser" and "1 with content" in recorded[-1].text


def test_an_uncaught_error_a_failed_fetch_and_a_broken_image_are_each_seen_for_what_they_are(probe):
    page_probe, _ = probe
    page = page_probe.visit("/broken", until="quiet")
    assert page.page_errors == ("Error: boom",)
    assert "GET /missing (fetch) -> 404" in page.errors()
    assert not any("nope.png" in e for e in page.errors())  # the image is the broken-images check's
    assert [i.src.rsplit("/", 1)[1] for i in page.broken_images] == ["nope.png"]


def test_a_page_that_never_renders_cards_settles_once_the_network_is_quiet(probe):
    page_probe, _ = probe
    page = page_probe.visit("/spinner")
    assert page.loaded and page.cards == 0 and page.settled == "quiet"
    assert page.page_text == "Loading..."


def test_navigation_links_are_followed_by_clicking(probe):
    page_probe, recorded = probe
    navigation = page_probe.follow_nav_links("/ok")
    assert [(link.href, link.works) for link in navigation.links] == [("/spinner", True), ("/ok", True)]
    assert recorded[-1].title == "navigation links from /ok"


def test_a_site_that_refuses_is_asked_once(chromium):
    session = BrowserSession()
    for _ in range(2):
        context = chromium.new_context()
        page_probe = PageProbe(context.new_page, NOWHERE, Browser(), (), session, lambda e: None)
        page = page_probe.visit("/")
        context.close()
    assert not page.loaded
    assert page.error is not None and page.error.endswith("(not asked again)")
    assert "ERR_CONNECTION_REFUSED" in page.error


def test_a_site_that_hangs_times_out_once_and_says_so(chromium, silent_server):
    """A hung site is a timeout (a finding for the timing check), a refusing one is not; both asked once."""
    session = BrowserSession()
    origin = f"http://127.0.0.1:{silent_server}"
    visits = []
    for _ in range(2):
        context = chromium.new_context()
        visits.append(PageProbe(context.new_page, origin, Browser(navigation_timeout_s=0.5), (), session,
                                lambda e: None).visit("/"))
        context.close()
    first, second = visits
    assert first.timed_out and first.error == "no response within 0.5 s"
    assert second.timed_out and second.error.endswith("(not asked again)")
    refused = PageProbe(chromium.new_page, NOWHERE, Browser(), (), BrowserSession(), lambda e: None).visit("/")
    assert not refused.loaded and not refused.timed_out


# --- pytest-playwright's artifact options, honoured by the suite's own browser fixtures ---------------

ARTIFACT_CHECKS = """
import pytest

pytestmark = pytest.mark.comprehensive


def test_fails(browser_page):
    assert browser_page.visit("/ok").loaded
    assert False, "failed on purpose"


def test_passes(browser_page):
    assert browser_page.visit("/ok").loaded
"""


def kept(root) -> dict[str, list[str]]:
    """``{check dir: [files]}`` under an artifacts root."""
    if not root.is_dir():
        return {}
    return {d.name: sorted(f.name for f in d.iterdir()) for d in sorted(root.iterdir()) if d.is_dir()}


@pytest.mark.slow  # runs browser checks in Chromium five times
def test_tracing_screenshot_and_output_decide_what_a_browser_check_keeps_and_where(pytester, site):
    pytester.makeconftest("")  # the plugin comes from its entry point
    pytester.makefile(".toml", targets=SCRATCH_TARGETS.replace("http://127.0.0.1:9", site))
    pytester.makepyfile(test_artifacts=ARTIFACT_CHECKS)
    own = pytester.path / "reports" / "browser"

    def run(*options: str) -> None:
        result = runpytest_forked(pytester, "--target", "local", "-p", "no:cacheprovider", *options)
        result.assert_outcomes(passed=1, failed=1)

    run()  # neither option given: the suite's default, a failed check's screenshot and trace
    assert kept(own) == {"test_fails": ["screenshot.png", "trace.zip"]}

    run("--tracing", "off")  # no trace recorded at all; the screenshot still kept on failure
    assert kept(own) == {"test_fails": ["screenshot.png"]}

    run("--screenshot", "off", "--tracing", "retain-on-failure")
    assert kept(own) == {"test_fails": ["trace.zip"]}

    out = pytester.path / "artifacts"
    run("--output", str(out), "--tracing", "on", "--screenshot", "on")  # every check's, in --output
    assert kept(out) == {"test_fails": ["screenshot.png", "trace.zip"], "test_passes": ["screenshot.png", "trace.zip"]}
    assert kept(own) == {"test_fails": ["trace.zip"]}  # the last run's, untouched: this run wrote elsewhere

    run("--screenshot", "off", "--tracing", "off")
    assert kept(own) == {}


SHARED_LOAD_CHECKS = """
import pytest

pytestmark = pytest.mark.comprehensive


def test_1_renders(browser_page):
    assert browser_page.load("/ok").cards == 1


def test_2_no_errors(browser_page):
    page = browser_page.load("/ok")
    assert page.loaded
    assert False, "failed on purpose"


def test_3_no_broken_images(browser_page):
    assert not browser_page.load("/ok").broken_images
    assert False, "failed on purpose"
"""


@pytest.mark.slow  # runs browser checks in Chromium
def test_the_checks_that_look_at_one_route_share_one_load_and_each_failure_keeps_its_evidence(pytester, site):
    pytester.makeconftest("")
    pytester.makefile(".toml", targets=SCRATCH_TARGETS.replace("http://127.0.0.1:9", site))
    pytester.makepyfile(test_shared=SHARED_LOAD_CHECKS)
    REQUESTS.clear()
    result = runpytest_forked(pytester, "--target", "local", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    assert REQUESTS.count("/ok") == 1, REQUESTS  # one page load for the three checks, not three
    own = pytester.path / "reports" / "browser"
    assert kept(own) == {"test_2_no_errors": ["screenshot.png", "trace.zip"],
                         "test_3_no_broken_images": ["screenshot.png", "trace.zip"]}
    verdict = json.loads((pytester.path / "reports" / "verdict.json").read_text())
    assert {f["check"] for f in verdict["findings"]} == {"test_2_no_errors", "test_3_no_broken_images"}


NEVER_QUIET_CHECKS = """
import pytest

pytestmark = pytest.mark.comprehensive


def test_renders(browser_page):
    page = browser_page.load("/live")
    assert page.loaded and page.cards == 1, page


def test_no_errors(browser_page):
    assert browser_page.load("/live").errors() == []
"""


@pytest.mark.slow  # runs browser checks in Chromium and waits out a navigation deadline
def test_a_route_whose_network_never_goes_quiet_is_judged_once_its_wait_runs_out(pytester, site):
    """The shared load waits for the network to be quiet; a live page polling every 100 ms never is. The load
    ends at the navigation deadline (2 s here), once for the route, and the checks judge what rendered: a page
    that polls is not a broken page."""
    pytester.makeconftest("")
    targets = SCRATCH_TARGETS.replace("http://127.0.0.1:9", site) + "navigation_timeout_s = 2\n"
    pytester.makefile(".toml", targets=targets)
    pytester.makepyfile(test_live=NEVER_QUIET_CHECKS)
    REQUESTS.clear()
    result = runpytest_forked(pytester, "--target", "local", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert REQUESTS.count("/live") == 1, REQUESTS  # one load for both checks, whatever the polling did
    assert REQUESTS.count("/data") > 5  # it really kept polling while the load waited
