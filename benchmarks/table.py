"""The text table of a speed benchmark result (one line per row and configuration)."""

from __future__ import annotations

from typing import Any

COLUMNS = ("row", "size", "batch", "dtype", "compile", "images/s", "peak GiB", "vs row 1", "GiB/image")


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _name(r: dict[str, Any]) -> str:
    """The row's name, with its attention backend when one was chosen (--attention)."""
    attention = r.get("attention", "auto")
    return r["name"] if attention == "auto" else f"{r['name']} [{attention}]"


def table_lines(rows: list[dict[str, Any]]) -> list[list[str]]:
    """Cells of each line, ordered by batch, dtype, compile, then row number."""
    ordered = sorted(rows, key=lambda r: (r["batch"], r["dtype"], r["compile_mode"], r["row"]))  # stable
    lines = []
    for r in ordered:
        failed = r.get("error") is not None
        compile_cell = r.get("compile") or r["compile_mode"]
        if compile_cell.startswith("failed"):
            compile_cell = f"{r['compile_mode']} (failed, eager)"
        lines.append(
            [
                f"{r['row']} {_name(r)}",
                f"{r['size']} {r['image_size']}",
                str(r["batch"]),
                r["dtype"],
                compile_cell,
                "FAILED" if failed else _fmt(r.get("images_per_s"), 3),
                "-" if failed else _fmt(r.get("peak_memory_gib"), 3),
                "-" if failed else _fmt(r.get("ratio_to_row1"), 2),
                "-" if failed else _fmt(r.get("peak_memory_gib_per_image"), 3),
            ]
        )
    return lines


def format_table(result: dict[str, Any]) -> str:
    """A fixed-width table of result["rows"], the hardware line, and the errors of failed rows."""
    lines = table_lines(result["rows"])
    widths = [
        max(len(c), *(len(line[i]) for line in lines)) if lines else len(c) for i, c in enumerate(COLUMNS)
    ]
    numeric = {2, 5, 6, 7, 8}

    def render(cells: list[str] | tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )

    out = [render(COLUMNS), render(["-" * w for w in widths])]
    out += [render(line) for line in lines]
    hw = result.get("hardware", {})
    out.append("")
    out.append(
        f"hardware: {hw.get('description', '?')}; torch threads {hw.get('torch_threads')}; "
        f"load average at start {hw.get('load_average')}"
    )
    out.append(
        f"timing: {result.get('timer', '?')}; peak memory: {', '.join(result.get('peak_memory', {})) or '-'}"
    )
    for r in sorted(result["rows"], key=lambda r: (r["row"], r["batch"], r["dtype"], r["compile_mode"])):
        where = f"row {r['row']} {_name(r)} batch {r['batch']} {r['dtype']} compile {r['compile_mode']}"
        if r.get("error"):
            out.append(f"error: {where}: {r['error']}")
        elif str(r.get("compile", "")).startswith("failed"):
            out.append(f"compile {r['compile']}: {where} measured eager")
    return "\n".join(out)
