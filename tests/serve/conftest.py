"""Fixtures of the serve tests: the inference tests' tiny detector, and a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.inference.conftest import detector, detector_file  # noqa: F401  (fixtures shared with these tests)

pytest.importorskip("fastapi", reason='deal serve needs the serve extra: pip install -e ".[serve]"')
pytest.importorskip("uvicorn", reason='deal serve needs the serve extra: pip install -e ".[serve]"')
