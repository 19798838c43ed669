"""Generate the gRPC stubs in libs/api from proto/ (``make stubs``).

Usage: python scripts/gen_protos.py [OUT_DIR]   (default: libs/api/src)
"""

import shutil
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"


def generate(out: Path) -> None:
    target = out / "gempool" / "api"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    files = sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO}",
        f"--python_out={out}",
        f"--mypy_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_grpc_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    (target / "py.typed").write_text("")


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "libs" / "api" / "src")
