"""The browser probe: what a user's Chromium saw when it loaded a page, as small frozen records.

The playbook's ``./scripts/browser-smoke-test.mjs``: load each route as a user would, and keep what a
person needs to judge it: the document's status, the title and landmarks, the cards rendered (with text:
a spinner or an empty state is not a card), console errors, uncaught page errors, failed requests
(each with the origin it went to: the target's own, a backend it calls, or a third party), broken images
and the navigation timings. The checks judge; this module only looks, and records what it saw as
evidence.

Every wait is on a condition (the load event, cards with content, the network going quiet), bounded by
the target's navigation timeout; an origin that did not answer a navigation is remembered for the run,
so the next page of a hung site fails at once instead of waiting out its own timeout.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import urljoin, urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from scenescout_ir.core.budget import RunBudget
from scenescout_ir.core.config import Browser
from scenescout_ir.core.evidence import Evidence

OWN, BACKEND, THIRD_PARTY = "own", "backend", "third_party"
QUIET_MS = 500  # the network counts as settled after this long without a fetch/XHR (Playwright's networkidle)
ABORTED = "net::ERR_ABORTED"  # cancelled by the page itself (navigation away, AbortController): not a failure

def _script(name: str) -> str:
    """A page script from probes/js/ (kept as JavaScript, loaded by name as queries/*.sql are)."""
    return resources.files("scenescout_ir.probes").joinpath(f"js/{name}.js").read_text(encoding="utf-8")


# Installed in every page before its own scripts: counts fetch/XHR in flight, so "the page has settled"
# is a condition the page can answer instead of a fixed wait.
NETWORK_TRACKER = _script("network_tracker")

# True once the page shows what it is going to show: cards with text (and their images done), or, for
# a page that renders none, once no fetch/XHR has been in flight for QUIET_MS.
SETTLED = _script("settled")

SNAPSHOT = _script("snapshot")

NAV_LINKS = _script("nav_links")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return ""
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def classify(url: str, own: str, backends: tuple[str, ...]) -> str:
    """own (the target's origin), backend (an origin the front end calls) or third_party."""
    origin = origin_of(url)
    if origin == own or not origin:
        return OWN
    return BACKEND if origin in backends else THIRD_PARTY


def init_script(browser: Browser, origin: str) -> str:
    """The script every page of a context starts with: the network tracker and the pre-seeded storage."""
    script = NETWORK_TRACKER
    if browser.local_storage:
        script += f"""
(() => {{
  if (window.location.origin !== {json.dumps(origin)}) return;
  const entries = {json.dumps(browser.local_storage)};
  try {{
    for (const [key, value] of Object.entries(entries)) {{
      if (window.localStorage.getItem(key) === null) window.localStorage.setItem(key, value);
    }}
  }} catch (_error) {{ /* storage disabled: the page runs without the seed */ }}
}})();
"""
    return script


# --- the records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsoleError:
    text: str
    url: str  # the script or resource it is about ("" when the browser does not say)
    origin: str  # own | backend | third_party

    def describe(self) -> str:
        where = f" ({_short(self.url, self.origin)})" if self.url else ""
        return f"console: {self.text[:300]}{where}"


@dataclass(frozen=True)
class FailedRequest:
    method: str
    url: str
    resource_type: str  # document, script, fetch, xhr, image, stylesheet...
    status: int | None  # None: no response at all (see failure)
    failure: str | None  # net::ERR_CONNECTION_REFUSED...
    origin: str

    @property
    def is_image(self) -> bool:
        return self.resource_type == "image"

    def describe(self) -> str:
        outcome = str(self.status) if self.status is not None else (self.failure or "failed")
        return f"{self.method} {_short(self.url, self.origin)} ({self.resource_type}) -> {outcome}"


@dataclass(frozen=True)
class ImageState:
    src: str
    complete: bool
    natural_width: int
    lazy: bool = False

    @property
    def broken(self) -> bool:
        """Finished loading and has no pixels: the browser shows the broken-image icon (or nothing)."""
        return self.complete and self.natural_width == 0


@dataclass(frozen=True)
class Timings:
    ttfb_s: float | None = None  # from navigation start, as the browser measured it
    dom_content_loaded_s: float | None = None
    load_s: float | None = None
    settled_s: float | None = None  # until cards showed (or the network went quiet), measured from outside


@dataclass(frozen=True)
class PageVisit:
    """One page load as the user's browser saw it."""

    path: str
    url: str
    status: int | None = None  # the document's HTTP status
    error: str | None = None  # why there is no page: timeout, refused, ...
    timed_out: bool = False  # the navigation ran out of time (a slow or hung site), rather than failing
    title: str = ""
    has_main: bool = False
    has_nav: bool = False
    card_selector: str = ""
    cards: int = 0  # cards with text content
    empty_cards: int = 0  # cards matching the selector but without text (skeletons, placeholders)
    card_sample: str = ""
    page_text: str = ""  # what the main landmark says instead, when there are no cards
    settled: str = ""  # cards | quiet | timeout: how the wait for the page to settle ended
    console_errors: tuple[ConsoleError, ...] = ()
    page_errors: tuple[str, ...] = ()
    failed_requests: tuple[FailedRequest, ...] = ()
    images: tuple[ImageState, ...] = ()
    timings: Timings = field(default_factory=Timings)

    @property
    def loaded(self) -> bool:
        return self.error is None and self.status is not None and self.status < 400

    @property
    def broken_images(self) -> tuple[ImageState, ...]:
        return tuple(i for i in self.images if i.broken)

    def _image_urls(self) -> set[str]:
        return {r.url for r in self.failed_requests if r.is_image} | {i.src for i in self.broken_images}

    def errors(self) -> list[str]:
        """The target's own errors: uncaught exceptions, failed requests to its own or a backend origin,
        and console errors not already explained by one of those requests.

        Images are left to the broken-images check (a cosmetic issue), third parties to the evidence.
        """
        requests = [r for r in self.failed_requests if r.origin != THIRD_PARTY and not r.is_image]
        explained = {r.url for r in self.failed_requests} | self._image_urls()
        console = [
            c for c in self.console_errors
            if c.origin != THIRD_PARTY and c.url not in explained and not _is_favicon(c.url)
        ]
        return (  # the most telling first: what the page's own code said, then the requests that failed
            [f"uncaught {e}" for e in self.page_errors]
            + [c.describe() for c in console]
            + [r.describe() for r in requests]
        )

    def third_party_failures(self) -> list[str]:
        return [r.describe() for r in self.failed_requests if r.origin == THIRD_PARTY] + [
            c.describe() for c in self.console_errors if c.origin == THIRD_PARTY
        ]

    def describe(self) -> str:
        """``/map -> 500, 0 cards`` or ``/ -> did not load: ...``"""
        if self.error:
            return f"{self.path} -> {self.error}"
        return f"{self.path} -> {self.status}, {self.cards} cards"

    def evidence(self) -> Evidence:
        lines = [f"Chromium: GET {self.url}"]
        if self.error:
            lines.append(f"-> no page: {self.error}")
        else:
            t = self.timings
            lines += [
                f"-> {self.status}; title {self.title!r}; main landmark {'present' if self.has_main else 'MISSING'}, "
                f"nav {'present' if self.has_nav else 'MISSING'}",
                f"cards ({self.card_selector}): {self.cards} with content, {self.empty_cards} empty; "
                f"settled by: {self.settled}",
            ]
            if self.card_sample:
                lines.append(f"first card: {self.card_sample}")
            elif self.page_text:
                lines.append(f"the page says: {self.page_text}")
            lines.append(
                "timings: " + ", ".join(f"{k} {v:.3f} s" for k, v in asdict(t).items() if v is not None)
            )
            lines.append(f"images: {len(self.images)}, broken: {len(self.broken_images)}")
            lines += [f"  broken image: {i.src}" for i in self.broken_images[:10]]
        for title, items in (
            ("page errors", [f"uncaught {e}" for e in self.page_errors]),
            ("failed requests", [f"{r.describe()} [{r.origin}]" for r in self.failed_requests]),
            ("console errors", [f"{c.describe()} [{c.origin}]" for c in self.console_errors]),
        ):
            if items:
                lines.append(f"{title} ({len(items)}):")
                lines += [f"  {item}" for item in items[:20]]
        data = asdict(self)
        data["images"] = [asdict(i) for i in self.broken_images[:20]]  # the rest are fine
        return Evidence("browser", f"Chromium {self.describe()}", "\n".join(lines), data)


@dataclass(frozen=True)
class LinkResult:
    text: str
    href: str
    url: str  # where the click led
    status: int | None = None  # the document's status (None for client-side navigation)
    has_main: bool = False
    error: str | None = None

    @property
    def works(self) -> bool:
        return self.error is None and (self.status is None or self.status < 400) and self.has_main

    def describe(self) -> str:
        if self.error:
            return f"{self.text!r} ({self.href}) -> {self.error}"
        outcome = f"{self.status}" if self.status is not None else "client-side"
        main = "" if self.has_main else ", main landmark missing"
        return f"{self.text!r} ({self.href}) -> {_short(self.url)} {outcome}{main}"


@dataclass(frozen=True)
class Navigation:
    start: PageVisit
    links: tuple[LinkResult, ...] = ()
    skipped: tuple[str, ...] = ()  # links that leave the site: not followed

    @property
    def broken(self) -> tuple[LinkResult, ...]:
        return tuple(link for link in self.links if not link.works)

    def evidence(self) -> Evidence:
        lines = [f"from {self.start.url}: {len(self.links)} navigation links followed"]
        lines += [f"  {'ok  ' if link.works else 'FAIL'} {link.describe()}" for link in self.links]
        lines += [f"  skipped (another site): {s}" for s in self.skipped]
        return Evidence(
            "browser", f"navigation links from {self.start.path}", "\n".join(lines),
            {"links": [asdict(link) for link in self.links], "skipped": list(self.skipped)},
        )


# --- the probe ------------------------------------------------------------------------------------


class BrowserSession:
    """What the run's pages share: origins that did not answer a navigation, and a request count."""

    def __init__(self) -> None:
        self._down: dict[str, str] = {}
        self._timed_out: set[str] = set()
        self._lock = threading.Lock()
        self.requests_made = 0  # requests the browser sent to the target's own origin (the footprint)

    def down(self, origin: str) -> str | None:
        return self._down.get(origin)

    def timed_out(self, origin: str) -> bool:
        """Whether the origin was found down by a navigation that ran out of time (hung, not refused)."""
        return origin in self._timed_out

    def mark_down(self, origin: str, reason: str, *, timed_out: bool = False) -> None:
        with self._lock:
            if origin not in self._down and timed_out:
                self._timed_out.add(origin)
            self._down.setdefault(origin, reason)


class _Observer:
    """Collects a page's events while a visit runs."""

    def __init__(self, page: Page, own: str, backends: tuple[str, ...], session: BrowserSession) -> None:
        self.page, self.own, self.backends, self.session = page, own, backends, session
        self.console: list[ConsoleError] = []
        self.page_errors: list[str] = []
        self.failed: list[FailedRequest] = []
        self.documents: list[tuple[str, int]] = []  # (url, status) of main-frame documents
        self.documents_done = 0  # main-frame documents whose body arrived in full
        self._handlers: dict[str, Callable[..., None]] = {
            "console": self._on_console, "pageerror": self._on_page_error, "request": self._on_request,
            "response": self._on_response, "requestfailed": self._on_request_failed,
            "requestfinished": self._on_request_finished,
        }

    def __enter__(self) -> _Observer:
        for event, handler in self._handlers.items():
            self.page.on(event, handler)  # type: ignore[call-overload]
        return self

    def __exit__(self, *exc: object) -> None:
        for event, handler in self._handlers.items():
            self.page.remove_listener(event, handler)

    def _origin(self, url: str) -> str:
        return classify(url, self.own, self.backends)

    def _on_console(self, message: Any) -> None:
        if message.type != "error":
            return
        url = str((message.location or {}).get("url") or "")
        self.console.append(ConsoleError(message.text, url, self._origin(url) if url else OWN))

    def _on_page_error(self, error: Any) -> None:
        name = getattr(error, "name", "") or "Error"
        self.page_errors.append(f"{name}: {getattr(error, 'message', str(error))}".strip())

    def _on_request(self, request: Any) -> None:
        if self._origin(request.url) == OWN:
            self.session.requests_made += 1

    def _on_response(self, response: Any) -> None:
        request = response.request
        if request.is_navigation_request() and _in_main_frame(request, self.page):
            self.documents.append((response.url, response.status))
        if response.status >= 400:
            self.failed.append(FailedRequest(
                request.method, response.url, request.resource_type, response.status, None,
                self._origin(response.url),
            ))

    def _on_request_finished(self, request: Any) -> None:
        if request.is_navigation_request() and _in_main_frame(request, self.page):
            self.documents_done += 1

    def _on_request_failed(self, request: Any) -> None:
        failure = request.failure or "failed"
        if failure == ABORTED:
            return
        self.failed.append(FailedRequest(
            request.method, request.url, request.resource_type, None, failure, self._origin(request.url),
        ))


class PageProbe:
    """Loads pages of one target in one Playwright page (one browser context per check).

    ``open_page`` is called on the first load, so a check of a site already known not to answer costs no
    browser context at all.
    """

    def __init__(
        self, open_page: Callable[[], Page], base_url: str, browser: Browser, backends: tuple[str, ...],
        session: BrowserSession, record: Callable[[Evidence], None],
        known_down: Callable[[str], str | None] = lambda url: None, budget: RunBudget | None = None,
    ) -> None:
        self._open_page = open_page
        self.budget = budget  # the run's time budget: a load started just before its end waits only what is left
        self._page: Page | None = None
        self.last: PageVisit | None = None  # the latest load, for whoever keeps the evidence of a failure
        self.base_url = base_url
        self.browser = browser
        self.origin = origin_of(base_url)
        self.backends = tuple(origin_of(b) for b in backends)
        self.session = session
        self._record = record
        self._known_down = known_down
        self.timeout_ms = browser.navigation_timeout_s * 1000

    @property
    def opened(self) -> bool:
        return self._page is not None

    @property
    def page(self) -> Page:
        if self._page is None:
            self._page = self._open_page()
            self._page.set_default_timeout(self.timeout_ms)
            self._page.set_default_navigation_timeout(self.timeout_ms)
        return self._page

    def card_selector(self, path: str) -> str:
        return self.browser.route_cards.get(path, self.browser.event_card)

    def url(self, path: str) -> str:
        return urljoin(self.base_url.rstrip("/") + "/", path.lstrip("/"))

    def visit(self, path: str, *, until: str = "cards") -> PageVisit:
        """Load ``path`` and wait until it settles: ``cards`` (cards with content, or the network quiet
        without them) or ``quiet`` (the network quiet, cards or not: for checks about everything the
        load did)."""
        url = self.url(path)
        selector = self.card_selector(path)
        known = self.session.down(self.origin) or self._known_down(url)
        if known:
            result = PageVisit(path, url, error=f"{known} (not asked again)", card_selector=selector,
                               timed_out=self.session.timed_out(self.origin))
            self._record(result.evidence())
            return result
        full_ms, capped = self._cap_to_budget()
        try:
            with _Observer(self.page, self.origin, self.backends, self.session) as seen:
                start = time.monotonic()
                error, timed_out = self._goto(url, seen, capped)
                settled, snapshot = "", {}
                if error is None:
                    settled = self._settle(selector, until == "cards")
                    snapshot = self._snapshot(selector)
                elapsed = time.monotonic() - start
        finally:
            self._set_timeout(full_ms)
        if capped and (timed_out or settled == "timeout"):  # cut by the run's budget: not a broken page
            assert self.budget is not None
            raise self.budget.spent(f"loading {path} in the browser ({elapsed:.1f} s)")
        result = _visit(path, url, selector, seen, error, settled, snapshot, elapsed, timed_out)
        self.last = result
        self._record(result.evidence())
        return result

    def _set_timeout(self, timeout_ms: float) -> None:
        self.timeout_ms = timeout_ms
        if self._page is not None:
            self._page.set_default_timeout(timeout_ms)
            self._page.set_default_navigation_timeout(timeout_ms)

    def _cap_to_budget(self) -> tuple[float, bool]:
        """The page's timeout cut to what is left of the run's budget: the uncapped timeout (to restore after),
        and whether it was cut."""
        full_ms, capped = self.timeout_ms, False
        if self.budget is not None:
            left_s, capped = self.budget.cap(self.timeout_ms / 1000)
            self._set_timeout(left_s * 1000)
        return full_ms, capped

    def _goto(self, url: str, seen: _Observer, capped: bool = False) -> tuple[str | None, bool]:
        """(why the page did not load, whether it ran out of time); (None, False) when it loaded. A load cut by
        the run's budget (``capped``) says nothing of the site: it is not marked down."""
        try:
            self.page.goto(url, wait_until="load")
        except PlaywrightTimeoutError:
            if capped:
                return "the run's time budget ran out", True
            if not seen.documents:  # not even the document came: the site hangs; say so once
                reason = f"no response within {self.browser.navigation_timeout_s:g} s"
                self.session.mark_down(self.origin, f"{reason}, first seen on {urlsplit(url).path or '/'}",
                                       timed_out=True)
                return reason, True
            if seen.documents_done < len(seen.documents):  # the status came, the body trickles: a hung site
                reason = f"page body still arriving after {self.browser.navigation_timeout_s:g} s"
                self.session.mark_down(self.origin, f"{reason}, first seen on {urlsplit(url).path or '/'}",
                                       timed_out=True)
                return reason, True
            return f"did not finish loading within {self.browser.navigation_timeout_s:g} s", True
        except PlaywrightError as exc:
            reason = _first_line(exc)
            if not seen.documents and "net::ERR_" in reason:
                self.session.mark_down(self.origin, f"{reason}, first seen on {urlsplit(url).path or '/'}")
            return reason, False
        return None, False

    def _settle(self, selector: str, need_cards: bool) -> str:
        try:
            handle = self.page.wait_for_function(
                SETTLED, arg={"selector": selector, "quietMs": QUIET_MS, "needCards": need_cards},
                polling=50, timeout=self.timeout_ms,
            )
            return str(handle.json_value())
        except PlaywrightTimeoutError:
            return "timeout"
        except PlaywrightError as exc:  # the page navigated away or crashed while we waited
            return f"interrupted: {_first_line(exc)}"

    def _snapshot(self, selector: str) -> dict[str, Any]:
        try:
            value = self.page.evaluate(
                SNAPSHOT, {"selector": selector, "main": self.browser.main, "nav": self.browser.nav}
            )
            return dict(value)
        except PlaywrightError as exc:
            return {"error": _first_line(exc)}

    def follow_nav_links(self, start: str = "/") -> Navigation:
        """Open ``start`` and click each link of its navigation in turn, as a user would."""
        first = self.visit(start)
        if not first.loaded:
            return Navigation(first)
        try:
            links = [dict(link) for link in self.page.evaluate(NAV_LINKS, self.browser.nav)]
        except PlaywrightError as exc:
            return Navigation(first, (LinkResult("(navigation)", "", first.url, error=_first_line(exc)),))
        own = [link for link in links if classify(link["url"], self.origin, ()) == OWN]
        skipped = tuple(f"{link['text']!r} ({link['href']})" for link in links if link not in own)
        # the link to the page we are on goes last, when we are elsewhere (a click on it would not navigate)
        own.sort(key=lambda link: _same_page(link["url"], self.page.url))
        results = []
        full_ms, capped = self._cap_to_budget()
        try:
            with _Observer(self.page, self.origin, self.backends, self.session) as seen:
                for link in own:
                    results.append(self._follow(link, seen, first.url))
        finally:
            self._set_timeout(full_ms)
        if capped and any((r.error or "").startswith("did not reach") for r in results):
            assert self.budget is not None
            raise self.budget.spent(f"following the navigation links of {start}")
        navigation = Navigation(first, tuple(results), skipped)
        self._record(navigation.evidence())
        return navigation

    def _follow(self, link: dict[str, str], seen: _Observer, start: str) -> LinkResult:
        text, href, target = link["text"] or "(no text)", link["href"], link["url"]
        anchor = self.page.locator(self.browser.nav).locator(f"a[href={json.dumps(href)}]")
        try:
            if anchor.count() == 0:  # the last link led to a page without this navigation: start over
                self.page.goto(start, wait_until="load")
                if anchor.count() == 0:
                    return LinkResult(text, href, self.page.url, error=f"not in the navigation of {_short(start)}")
            before = len(seen.documents)
            anchor.first.click()
            self.page.wait_for_url(lambda url: _same_page(url, target))
            self.page.wait_for_load_state("load")
            main = self.page.locator(self.browser.main)
            if main.count() == 0:  # a front end may render it after the load: give it until the network is quiet
                self._settle("", need_cards=False)
            has_main = main.count() > 0
        except PlaywrightTimeoutError:
            return LinkResult(text, href, self.page.url, error=(
                f"did not reach {_short(target)} within {self.browser.navigation_timeout_s:g} s"
            ))
        except PlaywrightError as exc:
            return LinkResult(text, href, self.page.url, error=_first_line(exc))
        documents = seen.documents[before:]
        status = documents[-1][1] if documents else None
        return LinkResult(text, href, self.page.url, status, has_main)


def _visit(
    path: str, url: str, selector: str, seen: _Observer, error: str | None, settled: str,
    snapshot: dict[str, Any], elapsed: float, timed_out: bool = False,
) -> PageVisit:
    status = seen.documents[-1][1] if seen.documents else None
    if error is None and "error" in snapshot:
        error = f"the page could not be read: {snapshot['error']}"
    timings = snapshot.get("timings") or {}
    return PageVisit(
        path=path, url=url, status=status, error=error, timed_out=timed_out,
        title=str(snapshot.get("title", "")),
        has_main=bool(snapshot.get("main")), has_nav=bool(snapshot.get("nav")),
        card_selector=selector,
        cards=int(snapshot.get("cards", 0)), empty_cards=int(snapshot.get("emptyCards", 0)),
        card_sample=str(snapshot.get("sample", "")), page_text=str(snapshot.get("pageText", "")),
        settled=settled,
        console_errors=tuple(seen.console), page_errors=tuple(seen.page_errors),
        failed_requests=tuple(seen.failed),
        images=tuple(
            ImageState(str(i["src"]), bool(i["complete"]), int(i["naturalWidth"]), bool(i.get("lazy")))
            for i in snapshot.get("images", [])
        ),
        timings=Timings(
            ttfb_s=_rounded(timings.get("ttfb_s")),
            dom_content_loaded_s=_rounded(timings.get("dom_content_loaded_s")),
            load_s=_rounded(timings.get("load_s")),
            settled_s=round(elapsed, 3),
        ),
    )


def _in_main_frame(request: Any, page: Page) -> bool:
    try:
        return bool(request.frame == page.main_frame)
    except PlaywrightError:  # a service worker's request has no frame
        return False


def _rounded(value: Any) -> float | None:
    return round(float(value), 3) if isinstance(value, int | float) else None


def _same_page(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (origin_of(a), pa.path or "/", pa.query) == (origin_of(b), pb.path or "/", pb.query)


def _is_favicon(url: str) -> bool:
    """Chromium asks for /favicon.ico by itself, once per browser (so on whichever page comes first): not
    the page's error; it stays in the evidence."""
    return urlsplit(url).path.endswith("/favicon.ico")


def _short(url: str, origin: str = OWN) -> str:
    """The path for the target's own URLs, the whole URL for anyone else's."""
    parts = urlsplit(url)
    if origin != OWN or not parts.netloc:
        return url
    return f"{parts.path or '/'}{'?' + parts.query if parts.query else ''}"


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
