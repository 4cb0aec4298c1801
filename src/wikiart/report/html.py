"""A small, dependency-free HTML report: sections of text, tables and images (relative links)."""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wikiart.files import write_text

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #444}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f3f3}
figure{margin:1em 0}img{max-width:100%;border:1px solid #ddd}figcaption{color:#555}
.muted{color:#777}
"""


class HtmlReport:
    """Collects parts in order and writes one self-describing ``report.html``."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.parts: list[str] = []

    def section(self, title: str) -> None:
        self.parts.append(f"<h2>{html.escape(title)}</h2>")

    def text(self, text: str, muted: bool = False) -> None:
        cls = ' class="muted"' if muted else ""
        self.parts.append(f"<p{cls}>{html.escape(text)}</p>")

    def pre(self, text: str) -> None:
        self.parts.append(f"<pre>{html.escape(text)}</pre>")

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        out = ["<table><tr>", *(f"<th>{html.escape(str(h))}</th>" for h in header), "</tr>"]
        for row in rows:
            out.append("<tr>")
            for cell in row:
                numeric = isinstance(cell, int | float) and not isinstance(cell, bool)
                text = f"{cell:.3f}" if isinstance(cell, float) else str(cell)
                out.append(f"<td{' class=n' if numeric else ''}>{html.escape(text)}</td>")
            out.append("</tr>")
        out.append("</table>")
        self.parts.append("".join(out))

    def image(self, path: str | os.PathLike[str], caption: str, base: Path) -> None:
        rel = os.path.relpath(path, base)
        self.parts.append(
            f'<figure><img src="{html.escape(rel)}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )

    def write(self, path: str | os.PathLike[str]) -> Path:
        path = Path(path)
        body = "\n".join(self.parts)
        doc = (
            f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(self.title)}'
            f"</title><style>{_STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>\n"
            f"{body}\n</body></html>\n"
        )
        return write_text(path, doc)
