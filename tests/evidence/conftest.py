"""The evidence tests use the inference tests' tiny detector file."""

from tests.inference.conftest import detector_file  # noqa: F401
