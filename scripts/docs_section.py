"""Writes a generated table to docs/NAME.md and between <!-- KEY:start --> / <!-- KEY:end --> in
the README, so that measured numbers are never typed in by hand (bench.py, fidelity.py)."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def publish(key: str, doc: str, title: str, text: str) -> None:
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs" / doc).write_text(f"# {title}\n\n" + text)
    readme = (ROOT / "README.md").read_text()
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    if start in readme and end in readme:
        head, rest = readme.split(start, 1)
        (ROOT / "README.md").write_text(head + start + "\n" + text + end + rest.split(end, 1)[1])
