"""Shared fixtures. Each area keeps its fixtures in its own module, listed here."""

pytest_plugins = ["tests.fixtures_miio", "tests.fixtures_mqtt"]
