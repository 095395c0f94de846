"""Shared fixtures: unit tests write generated data and checkpoints to a temporary folder."""
import os

import pytest

os.environ.setdefault("LIGHTLY_DID_VERSION_CHECK", "True")


@pytest.fixture
def tmp_data(tmp_path, monkeypatch):
    """Point clipbook's data/ (cache and checkpoints) at a fresh temporary folder."""
    monkeypatch.setenv("CLIPBOOK_DATA", str(tmp_path / "data"))
    return tmp_path / "data"
