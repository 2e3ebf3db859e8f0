"""docs/metrics.md carries the key table rendered from deal.metrics.keys.METRIC_KEYS (the one source), and
benchmark.md's header renders the same definitions."""

from __future__ import annotations

from pathlib import Path

from deal.metrics.keys import INTERVAL_DEFINITION, METRIC_KEYS, metric_definitions, metric_table

PAGE = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_docs_page_table_is_the_rendered_one():
    text = PAGE.read_text(encoding="utf-8")
    block = text.split("<!-- metric-keys:start -->\n", 1)[1].split("<!-- metric-keys:end -->", 1)[0]
    # what `python -m deal.metrics.keys` prints
    assert block == metric_table() + "\n\n" + INTERVAL_DEFINITION + ".\n"
    for key in METRIC_KEYS:
        assert f"| `{key}` |" in block


def test_benchmark_header_renders_the_definitions():
    from deal.evaluation.benchmark import IMAGE_COLUMNS, LOCALIZATION_COLUMNS, benchmark_markdown

    report = {
        "predictor": {"name": "p", "calibrated_threshold": 0.2},
        "peak_memory": {"bytes": 0, "kind": "process_max_rss"},
        "convention": "c",
        "hardware": "h",
        "settings": {"protocol": "x", "seed": 0, "limit": None, "image_score": "s", "threshold": 0.2},
        "results": [],
    }
    md = benchmark_markdown(report)
    assert f"Columns: {metric_definitions([*LOCALIZATION_COLUMNS, *IMAGE_COLUMNS])}." in md
    assert "F1@0.5: F1 of p > 0.5 per image, mean over edited images (the papers' convention)" in md
    assert "at p > 0.2 (the detector's calibrated pixel threshold)" in md
    assert sorted([*LOCALIZATION_COLUMNS, *IMAGE_COLUMNS]) == sorted(METRIC_KEYS)
