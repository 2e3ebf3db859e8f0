"""The page at ``GET /``: drop images, watch each job's progress, read the verdicts, open each image's view.

One self-contained HTML file (page.html beside this module: CSS and JS inline, no external asset). Its
style is the report's (deal/report/static/report.css: the banner, verdict chips and tables look the
same), inlined where page.html has /*REPORT_CSS*/, plus the page's own rules. The views are the run's own
HTML report (deal.report), opened in a frame on the image's row: the page does not redraw them.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

REPORT_CSS_MARK = "/*REPORT_CSS*/"


@cache
def page_html() -> str:
    from deal.report.html import static_text

    page = files("deal.serve").joinpath("page.html").read_text(encoding="utf-8")
    return page.replace(REPORT_CSS_MARK, static_text("static/report.css"), 1)
