"""Fixtures of the suite's own tests."""

pytest_plugins = ("pytester", "tests.demo_support", "tests.servers")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a unit test that must wait out a real deadline (make test-unit skips it)")
