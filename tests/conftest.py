"""Shared fixtures. Each area keeps its fixtures in its own module, listed here."""

import pytest

pytest_plugins = ["tests.fixtures_miio", "tests.fixtures_mqtt", "tests.fixtures_daemon"]


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test away from a real daemon's socket and database on this machine."""
    monkeypatch.setenv("GASSTOVE_STATE_DIR", str(tmp_path_factory.mktemp("state")))
