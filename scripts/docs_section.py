"""Writes a generated table to docs/NAME.md and between <!-- KEY:start --> / <!-- KEY:end --> in
the README, so that measured numbers are never typed in by hand (bench.py, fidelity.py)."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def publish(key: str, doc: str, title: str, text: str, readme_text: str | None = None) -> None:
    """`readme_text`: a shorter text for the README (default: the same as the document's)."""
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs" / doc).write_text(f"# {title}\n\n" + text)
    text = text if readme_text is None else readme_text
    readme = (ROOT / "README.md").read_text()
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    if start in readme and end in readme:
        head, rest = readme.split(start, 1)
        (ROOT / "README.md").write_text(head + start + "\n" + text + end + rest.split(end, 1)[1])
