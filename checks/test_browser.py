"""Resolution and Recovery: `./scripts/browser-smoke-test.mjs`, in Debian's Chromium through Playwright.

Every endpoint can answer 200 while users see an empty page: a truncated bundle, an API error the front end
swallows into its empty state. These checks load each route as a user would and look at what rendered.
A critical route (critical_routes, default the home page) that does not load or renders nothing is a partial
outage (SEV2); another page broken, a non-critical feature failure (SEV3), as the HTTP route check says
(judge.routes.route_condition); errors on a page that loaded, SEV3; a broken image, cosmetic (SEV4).
"""

from urllib.parse import urlsplit

import pytest

from scenescout_ir.core.outcomes import CouldNotRun, Finding
from scenescout_ir.core.summary import collapse_whitespace, cut
from scenescout_ir.judge.routes import route_condition

pytestmark = pytest.mark.comprehensive

HOME = "/"


def broken_page_condition(target, route: str) -> str:
    return route_condition(target, route, "browser")


@pytest.mark.playbook("./scripts/browser-smoke-test.mjs")
@pytest.mark.condition("feature_failure")
def test_page_renders_events(browser_page, target, route):
    """Comprehensive functional test: the page loads, with its title, landmarks and cards with content."""
    page = browser_page.load(route)
    problems = []
    if not page.loaded:
        problems.append(f"did not load: {page.error or f'HTTP {page.status}'}")
    else:
        if not page.title:
            problems.append("no title")
        if not page.has_main:
            problems.append(f"main landmark ({target.browser.main}) missing")
        if not page.has_nav:
            problems.append(f"navigation ({target.browser.nav}) missing")
        if page.cards == 0:
            said = cut(collapse_whitespace(page.page_text), 120)
            shown = f"; the page says '{said}'" if said else ""
            empty = f" ({page.empty_cards} empty placeholders)" if page.empty_cards else ""
            problems.append(f"0 cards with content ({page.card_selector}){empty}{shown}")
    if problems:
        errors = page.errors()
        cause = f"; errors during the load: {'; '.join(errors[:3])}" if errors else ""
        raise Finding(broken_page_condition(target, route), f"{route}: {', '.join(problems)}{cause}")


@pytest.mark.playbook("./scripts/browser-smoke-test.mjs")
@pytest.mark.condition("feature_failure")
def test_no_console_or_request_errors(browser_page, target, route):
    """No console errors, uncaught exceptions or failed requests to the site or its backends while it loads."""
    page = browser_page.load(route)
    errors = page.errors()
    if page.error:
        errors.insert(0, f"the page did not load: {page.error}")
    message = f"{route}: {len(errors)} errors during the load: {'; '.join(errors[:5])}"
    if errors and not page.loaded:  # the route itself fails: its criticality decides
        raise Finding(broken_page_condition(target, route), message)
    assert not errors, message


@pytest.mark.playbook("./scripts/browser-smoke-test.mjs")
@pytest.mark.condition("cosmetic")
def test_no_broken_images(browser_page, route):
    """Every image the page shows has loaded (naturalWidth > 0 once complete)."""
    page = browser_page.load(route)
    if not page.loaded:
        raise CouldNotRun(f"{route} did not load ({page.error or f'HTTP {page.status}'}): no images to look at")
    broken = page.broken_images
    assert not broken, (
        f"{route}: {len(broken)} of {len(page.images)} images broken: {', '.join(sorted({i.src for i in broken})[:5])}"
    )


@pytest.mark.playbook("./scripts/browser-smoke-test.mjs")
@pytest.mark.condition("feature_failure")
def test_navigation_links_work(browser_page, target):
    """A user can move around: each link of the home page's navigation leads to a page with content."""
    navigation = browser_page.follow_nav_links(HOME)
    if not navigation.start.loaded:  # test_page_renders_events[/] has the finding
        raise CouldNotRun(f"{HOME} did not load ({navigation.start.error or f'HTTP {navigation.start.status}'}): "
                          "no navigation to follow")
    assert navigation.links, f"no links in the navigation ({target.browser.nav}) of {HOME}"
    broken = navigation.broken
    message = (
        f"{len(broken)} of {len(navigation.links)} navigation links broken: "
        + "; ".join(link.describe() for link in broken)
    )
    critical = [p for p in (urlsplit(link.href).path for link in broken) if p and target.route_is_critical(p)]
    if critical:  # a link to a critical route is that route failing
        raise Finding(broken_page_condition(target, critical[0]), message)
    assert not broken, message
