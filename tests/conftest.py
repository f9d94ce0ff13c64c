"""Fixtures of the suite's own tests, the `slow` marker that keeps `make test-unit` a quick loop, and the skip gate
(tests/skip_gate.py: a skip no test declares with `@pytest.mark.expected_skip(reason=...)` fails the run), and the
xdist groups (tests/xdist_groups.py: under `--dist loadgroup` the tests of one `xdist_group` share a worker)."""

import pytest

pytest_plugins = ("pytester", "tests.forkserver", "tests.demo_support", "tests.servers", "tests.skip_gate",
                  "tests.xdist_groups")

# a unit test using one of these starts a real browser or the Allure report tool: slow, whatever its marks say
_SLOW_FIXTURES = {"chromium", "playwright", "allure"}


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "slow: a unit test that waits out a real deadline, sends signals to real runs, or starts Chromium, the "
        "Allure report tool or xdist workers (make test-unit skips it; make test runs it)",
    )


def pytest_collection_modifyitems(items):
    for item in items:
        if _SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    # the long ones first (the slow unit tests, then the demo runs), so xdist's workers end together instead of
    # one of them starting a 30 s test when the others are done; the order within each group stays pytest's
    items.sort(key=_start_order)


def _start_order(item):
    if item.get_closest_marker("slow"):
        return 0
    return 1 if "/demo/" in item.nodeid or item.nodeid.startswith("tests/test_demo_stack") else 2
