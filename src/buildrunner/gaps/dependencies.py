"""Declared dependencies: which imports no declaration covers, and which declarations are outdated.

Declarations come from pyproject.toml (`[project]` dependencies and extras, PEP 735
`[dependency-groups]`, Poetry's tables) and requirements*.txt files. An import is mapped
to its distribution with importlib.metadata's `packages_distributions()`.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import Distribution, distributions
from itertools import takewhile
from pathlib import Path
from typing import Any

from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from buildrunner.quality.sources import read_pyproject
from buildrunner.words import plural

# How deep package paths are recorded: deep enough for namespace packages (`azure.storage.blob`).
NAMESPACE_DEPTH = 3

# Import names that differ from the distribution that provides them, for when neither BuildRunner's environment
# nor the project's own (.venv, venv) has the package installed: `from PIL import Image` is Pillow.
KNOWN_PROVIDERS: dict[str, tuple[str, ...]] = {
    "PIL": ("Pillow",), "bs4": ("beautifulsoup4",), "dateutil": ("python-dateutil",), "yaml": ("PyYAML",),
    "sklearn": ("scikit-learn",), "skimage": ("scikit-image",), "cv2": ("opencv-python", "opencv-python-headless", "opencv-contrib-python"),
    "attr": ("attrs",), "jwt": ("PyJWT",), "dotenv": ("python-dotenv",), "Crypto": ("pycryptodome", "pycrypto"),
    "Cryptodome": ("pycryptodomex",), "OpenSSL": ("pyOpenSSL",), "magic": ("python-magic",), "serial": ("pyserial",),
    "usb": ("pyusb",), "git": ("GitPython",), "docx": ("python-docx",), "pptx": ("python-pptx",), "fitz": ("PyMuPDF",),
    "zmq": ("pyzmq",), "MySQLdb": ("mysqlclient",), "psycopg2": ("psycopg2", "psycopg2-binary"), "jose": ("python-jose",),
    "slugify": ("python-slugify",), "multipart": ("python-multipart",), "socketio": ("python-socketio",),
    "engineio": ("python-engineio",), "telegram": ("python-telegram-bot",), "google": ("protobuf", "google-api-python-client", "google-cloud-core"),
    "googleapiclient": ("google-api-python-client",), "grpc": ("grpcio",), "ldap": ("python-ldap",), "Levenshtein": ("python-Levenshtein", "Levenshtein"),
    "dns": ("dnspython",), "nacl": ("PyNaCl",), "kafka": ("kafka-python",), "pkg_resources": ("setuptools",), "win32api": ("pywin32",),
    "wx": ("wxPython",), "gi": ("PyGObject",), "Xlib": ("python-xlib",), "sentry_sdk": ("sentry-sdk",), "discord": ("discord.py",),
}
REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
# requirements.txt lines that name a location instead of a project: a VCS or other URL, or a local path
DIRECT_REFERENCE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|(?:git|hg|svn|bzr)\+|\.{0,2}/|~/|[A-Za-z]:[\\/])", re.IGNORECASE)
EGG = re.compile(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)")
EDITABLE = re.compile(r"^(?:-e|--editable)(?:\s+|=)")
INCLUDE = re.compile(r"^(?:-r|--requirement)(?:\s*|=)(\S+)$")
PIN = re.compile(r"==\s*([A-Za-z0-9.!+_-]+)\s*$")
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


def normalize(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Requirement:
    """One declared dependency: its name, the exact pin if any, and where it was declared."""

    name: str
    pinned: str | None
    source: str
    line: int = 1


@dataclass
class Declared:
    """All declarations found, by normalised name."""

    manifests: list[str] = field(default_factory=list)
    requirements: dict[str, Requirement] = field(default_factory=dict)
    own_name: str | None = None
    # What building needs (`[build-system].requires`): what setup.py may import. PEP 518's default without one.
    build_requires: set[str] = field(default_factory=lambda: {"setuptools", "wheel"})

    def add(self, spec: str, source: str, line: int = 1) -> None:
        """Record one requirement (`name[extras] op version ; marker`) declared at `source:line`."""
        match = REQUIREMENT_NAME.match(spec)
        if not match:
            return
        pin = PIN.search(spec.split(";")[0])
        name = normalize(match.group(1))
        known = self.requirements.get(name)
        if known is None or (known.pinned is None and pin):  # an exact pin says more than a range
            self.requirements[name] = Requirement(match.group(1), pin.group(1) if pin else None, source, line)

    def covers(self, name: str, build: bool = False) -> bool:
        """Whether a distribution called `name` is declared (or is the project itself); with `build`, also what
        building the project requires (the imports of a build script such as setup.py)."""
        key = normalize(name)
        return key in self.requirements or key == self.own_name or (build and key in self.build_requires)

    def covers_import(self, names: list[str], providers: dict[str, list[str]], build: bool = False) -> bool:
        """Whether an import of `names` (the module, and `from` names under it) is declared: a distribution that
        provides the deepest package known of one of them (`google.cloud.storage` is google-cloud-storage, not
        whichever distribution shares the `google` namespace), or a distribution named as the dotted path is."""
        for name in names:
            if any(self.covers(dist, build) for dist in resolve_import(name, providers)[1]):
                return True
            parts = name.split(".")
            if any(self.covers(".".join(parts[:i]), build) for i in range(len(parts), 0, -1)):
                return True
        return False


def resolve_import(name: str, providers: dict[str, list[str]]) -> tuple[str, list[str]]:
    """The deepest package of dotted `name` that `providers` knows, and the distributions providing it
    (`name`'s top-level name and no distributions when none is known)."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in providers:
            return prefix, providers[prefix]
    return parts[0], []


def _line_of(text: str, spec: str) -> int:
    """The line declaring `spec` in a pyproject: the quoted spec, else (Poetry tables) the bare name."""
    for needle in (f'"{spec}"', f"'{spec}'", f"\n{spec.split('==')[0]} "):
        at = text.find(needle)
        if at >= 0:
            return text.count("\n", 0, at + 1) + 1
    return 1


def _pyproject(root: Path, declared: Declared) -> bool:
    """Record pyproject.toml's declarations; False when there is no pyproject.toml."""
    found = read_pyproject(root)
    if found is None:
        return False
    text, data = found
    project = data.get("project", {})
    if project.get("name"):
        declared.own_name = normalize(project["name"])
    build_system = data.get("build-system")
    if isinstance(build_system, dict):
        declared.build_requires = {normalize(m.group(1)) for m in map(REQUIREMENT_NAME.match, build_system.get("requires", [])) if m}
    specs: list[str] = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        specs.extend(extra)
    for group in data.get("dependency-groups", {}).values():
        specs.extend(s for s in group if isinstance(s, str))
    poetry = data.get("tool", {}).get("poetry", {})
    poetry_tables: list[dict[str, Any]] = [poetry.get("dependencies", {}), poetry.get("dev-dependencies", {})]
    poetry_tables += [g.get("dependencies", {}) for g in poetry.get("group", {}).values()]
    for table in poetry_tables:
        for name, spec in table.items():
            if name.lower() != "python":
                version = spec if isinstance(spec, str) else ""
                specs.append(f"{name}=={version}" if re.fullmatch(r"[0-9][0-9.]*", version) else name)
    for spec in specs:
        declared.add(spec, "pyproject.toml", _line_of(text, spec))
    return True


def _decoded(data: bytes) -> str:
    """A requirements file's text by its byte-order mark (PowerShell's `>` writes UTF-16 with one), else UTF-8."""
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
                       (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    return data.decode("utf-8", errors="replace")


def _shown(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def _requirements(path: Path, declared: Declared, root: Path, seen: set[Path]) -> None:
    """Record a requirements file's declarations, and those of the files it includes (`-r base.txt`)."""
    key = path.resolve()
    if key in seen:
        return
    seen.add(key)
    try:
        text = _decoded(path.read_bytes())
    except OSError:
        return
    declared.manifests.append(_shown(path, root))
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #")[0].strip()
        include = INCLUDE.match(line)
        if include:  # relative to the including file, as pip reads it
            _requirements(path.parent / include.group(1), declared, root, seen)
            continue
        editable = EDITABLE.match(line)
        if editable:  # `-e git+https://...#egg=name`, `-e ./libs/name`
            line = line[editable.end() :]
        if not line or line.startswith(("#", "-")):
            continue
        if DIRECT_REFERENCE.match(line):  # a URL, VCS or path line: its name is its #egg= (`git+https://...black.git` is not `git`)
            egg = EGG.search(line)
            if egg is None:
                continue
            line = egg.group(1)
        declared.add(line, _shown(path, root), number)


def declared_dependencies(root: Path) -> Declared:
    """Every dependency the project declares, and the manifest files they came from."""
    declared = Declared()
    if _pyproject(root, declared):
        declared.manifests.append("pyproject.toml")
    seen: set[Path] = set()
    for path in sorted([*root.glob("requirements*.txt"), *root.glob("requirements/*.txt")]):
        _requirements(path, declared, root, seen)
    return declared


@dataclass(frozen=True)
class Outdated:
    """A declared dependency with a newer release on the index."""

    name: str
    current: str
    latest: str
    source: str
    line: int


def _latest(index_url: str, name: str, timeout: float) -> str | None:
    request = urllib.request.Request(f"{index_url.rstrip('/')}/{normalize(name)}/", headers={"Accept": SIMPLE_JSON})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise
    versions: set[Version] = set()
    for raw in data.get("versions", []):
        try:
            versions.add(Version(raw))
        except InvalidVersion:
            continue
    if not versions:
        for item in data.get("files", []):
            if item.get("yanked"):
                continue
            filename = item.get("filename", "")
            try:
                parsed = parse_wheel_filename(filename)[1] if filename.endswith(".whl") else parse_sdist_filename(filename)[1]
            except (InvalidWheelFilename, InvalidSdistFilename):
                continue
            versions.add(parsed)
    stable = [v for v in versions if not v.is_prerelease and not v.is_devrelease]
    return str(max(stable)) if stable else None


def outdated_dependencies(declared: Declared, index_url: str, timeout: float, root: Path) -> tuple[list[Outdated], str | None]:
    """Declared dependencies behind the index's latest release; a note instead when the index is unreachable.

    The current version is the exact pin, else the version in the project's own virtualenv (`root`'s .venv, venv
    or env); others are skipped (BuildRunner's own environment says nothing about the project's).
    The first request probes the index so an offline run costs one timeout, not one per package.
    """
    site_packages = project_site_packages(root)
    in_venv = {normalize(dist.metadata["Name"] or ""): dist.version for dist in distributions(path=site_packages)} if site_packages else {}
    current: dict[str, tuple[Requirement, str]] = {}
    unknown = []
    for key, req in sorted(declared.requirements.items()):
        installed = req.pinned or in_venv.get(normalize(req.name))
        if installed is None:
            unknown.append(req.name)
            continue
        current[key] = (req, installed)
    skipped = (
        f"{plural(len(unknown), 'dependency', 'dependencies')} with no exact pin and no project virtualenv (.venv, venv or env) "
        f"to read its version from not checked for updates ({', '.join(unknown[:3])}{', ...' if len(unknown) > 3 else ''})"
    ) if unknown else None
    if not current:
        return [], skipped
    names = list(current)
    try:
        first = _latest(index_url, names[0], timeout)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return [], f"package index {index_url} not reachable ({reason}): outdated dependencies not checked"
    latest = {names[0]: first}
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {name: pool.submit(_latest, index_url, name, timeout) for name in names[1:]}
        failed = 0
        for name, future in futures.items():
            try:
                latest[name] = future.result()
            except (OSError, ValueError):
                failed += 1
    found = []
    for key, newest in latest.items():
        req, have = current[key]
        try:
            if newest and Version(newest) > Version(have):
                found.append(Outdated(req.name, have, newest, req.source, req.line))
        except InvalidVersion:
            continue
    note = f"{plural(failed, 'package')} could not be looked up on {index_url}" if failed else None
    return sorted(found, key=lambda o: normalize(o.name)), "; ".join(n for n in (note, skipped) if n) or None


def project_site_packages(root: Path) -> list[str]:
    """The site-packages folders of the project's own virtualenv (.venv, venv or env under `root`), if it has one."""
    return [
        str(p) for folder in (".venv", "venv", "env") for pattern in ("lib/python*/site-packages", "Lib/site-packages")
        for p in sorted((root / folder).glob(pattern))
    ]


def _provided(dist: Distribution) -> set[str]:
    """The import names a distribution provides: its top-level names, and the package paths under them
    (`google`, `google.cloud`, `google.cloud.storage`), so a namespace several distributions share is told apart."""
    names = set((dist.read_text("top_level.txt") or "").split())
    for file in dist.files or ():
        parts = file.parts
        if not parts or parts[0] == ".." or parts[0].endswith((".dist-info", ".egg-info", ".data", ".pth")):
            continue
        if len(parts) == 1:
            if file.suffix in (".py", ".so", ".pyd"):
                names.add(parts[0].split(".")[0])
            continue
        packages = list(takewhile(lambda part: part.isidentifier() and part != "__pycache__", parts[:-1][:NAMESPACE_DEPTH]))
        names.update(".".join(packages[:i]) for i in range(1, len(packages) + 1))
    return names


def providers(root: Path) -> dict[str, list[str]]:
    """Import name (top-level, or a dotted package path) -> distributions that provide it: BuildRunner's environment,
    the project's own virtualenv (.venv, venv or env under `root`) when it has one, and KNOWN_PROVIDERS for the rest."""
    found: dict[str, list[str]] = {}
    paths = project_site_packages(root)
    for dists in (distributions(), distributions(path=paths) if paths else ()):
        for dist in dists:
            name = dist.metadata["Name"]
            for provided in _provided(dist):
                found.setdefault(provided, []).append(name)
    for top, names in KNOWN_PROVIDERS.items():
        found.setdefault(top, list(names))
    return found
