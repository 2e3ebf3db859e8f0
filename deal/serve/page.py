"""The page at ``GET /``: drop images, watch each job's progress, read the verdicts, open each image's view.

One self-contained HTML file (page.html beside this module: CSS and JS inline, no external asset). The
views are the run's own HTML report (deal.report), opened in a frame on the image's row:
the page does not redraw them.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def page_html() -> str:
    return files("deal.serve").joinpath("page.html").read_text(encoding="utf-8")
