"""The committed stubs in libs/api must be exactly what proto/ generates."""

import filecmp
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_committed_stubs_match_protos(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_protos.py"), str(tmp_path)], check=True)
    committed = ROOT / "libs" / "api" / "src" / "gempool" / "api"
    fresh = tmp_path / "gempool" / "api"
    stale = []
    for path in sorted(fresh.rglob("*")):
        if path.is_file():
            other = committed / path.relative_to(fresh)
            if not other.exists() or not filecmp.cmp(path, other, shallow=False):
                stale.append(str(path.relative_to(fresh)))
    extra = [
        str(p.relative_to(committed))
        for p in committed.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not (fresh / p.relative_to(committed)).exists()
    ]
    assert not stale and not extra, f"run `make stubs`: stale {stale}, extra {extra}"
