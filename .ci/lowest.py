"""Print pip constraints pinning every runtime dependency (and the postgres/otel/ai extras) to its lowest declared version.

`.ci/run` installs with them for its second test run, so the lower bounds in pyproject.toml are
tested, not only the newest versions a fresh install resolves. Test tools keep their newest.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

TESTED_EXTRAS = ("postgres", "otel", "ai")


def lowest(requirement: str) -> str | None:
    req = Requirement(requirement)
    if req.marker is not None and not req.marker.evaluate():
        return None
    floors = [spec.version for spec in req.specifier if spec.operator in (">=", "==", "~=")]
    return f"{req.name}=={floors[0]}" if floors else None


def main() -> None:
    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = [*project["dependencies"], *(r for extra in TESTED_EXTRAS for r in project["optional-dependencies"][extra])]
    pins = [pin for pin in map(lowest, declared) if pin]
    sys.stdout.write("\n".join(pins) + "\n")


if __name__ == "__main__":
    main()
