"""The one exception the dataset layer raises for bad data on disk."""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset file or layout is unusable; the message names the file(s) and the problem."""
