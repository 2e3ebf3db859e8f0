"""The presentation of a run: per-image output files (outputs), the HTML report (html) and its per-image
views (views). It reads records and run metadata, never the runner's or the runs' internals."""
