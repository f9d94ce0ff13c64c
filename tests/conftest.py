"""Fixtures of the suite's own tests."""

pytest_plugins = ("pytester", "tests.demo_support", "tests.servers")
