"""The effective configuration: defaults < config file < environment < flags.

Each capability owns its section model (`<capability>/settings.py`, composed in
`buildrunner.config_model`); this module reads the file and the environment, and explains
errors in one line that names the file or variable, the key and the fix.

Loading imports no pydantic when every value the file and the environment set equals its
default (no file, or the one `br init` wrote): the defaults come from `config_defaults.json`,
the models' defaults as JSON, and are valid by construction. Anything else is validated by the
models at once, so a bad value is reported before any command runs; what validated is kept in
`.buildrunner/config.validated.json`, keyed by the values read and the models' code, so the next
command with the same file and environment starts without pydantic too. The typed `Config` is
built on first use of `LoadedConfig.config`; `LoadedConfig.get` reads a value without it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from buildrunner import __version__
from buildrunner.errors import ConfigError
from buildrunner.paths import ProjectPaths, write_private_json

# Imported where they are used: buildrunner.config_model (pydantic, see above) and buildrunner.store (`br init` reads
# the config without the store).
if TYPE_CHECKING:
    from buildrunner.config_model import Config

DEFAULTS_FILE = Path(__file__).with_name("config_defaults.json")
VALIDATED_FILE = "config.validated.json"  # in the project's state folder (git-ignored)


def __getattr__(name: str) -> Any:
    """`Config`, the pydantic model of the whole file, is imported from `buildrunner.config_model` on first use."""
    if name == "Config":
        from buildrunner.config_model import Config

        return Config
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _parse_float(var: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{var}={raw!r}: not a number", hint=f"set {var} to a number such as 10.00, or unset it") from None


def _parse_bool(var: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{var}={raw!r}: not a boolean", hint=f"set {var} to true or false, or unset it")


def _parse_str(var: str, raw: str) -> str:
    return raw


# Environment variable -> (config key path, parser). The spec's variables.
ENV_OVERRIDES: dict[str, tuple[tuple[str, ...], Callable[[str, str], Any]]] = {
    "BR_COST_LIMIT_DAILY": (("routing", "cost_limits", "daily"), _parse_float),
    "BR_COST_LIMIT_WEEKLY": (("routing", "cost_limits", "weekly"), _parse_float),
    "BR_TELEMETRY_ENABLED": (("telemetry", "enabled"), _parse_bool),
    "BR_TELEMETRY_EXPORT_DIR": (("telemetry", "export_dir"), _parse_str),
}


@dataclass
class LoadedConfig:
    """The effective config: its values as loaded, as JSON (`data`), where each value came from
    ("default", the file, or an env var), and the built-in default of each value that differs from
    it (`changed`: a file written by `br init` repeats every default, so its keys alone do not say
    what a user changed). Once the typed `config` is built, values are read from it (code may set them)."""

    data: dict[str, Any]
    paths: ProjectPaths
    sources: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, config: "Config", paths: ProjectPaths) -> "LoadedConfig":
        """The loaded form of a validated `config`."""
        loaded = cls(data=config.model_dump(mode="json"), paths=paths)
        loaded.__dict__["config"] = config
        return loaded

    @cached_property
    def config(self) -> "Config":
        """The typed config, built on first use from `data` (already known to be valid)."""
        from buildrunner.config_model import validate

        return validate(self.data, str(self.paths.config_file), {})

    def as_dict(self) -> dict[str, Any]:
        """Every value as JSON, by section (a copy)."""
        if "config" in self.__dict__:
            return self.config.model_dump(mode="json")
        return copy.deepcopy(self.data)

    def get(self, key: str) -> Any:
        """The value at a dotted key (`routing.cost_limits.daily`: a leaf), without building `config` when it is not built yet."""
        node: Any = self.config if "config" in self.__dict__ else self.data
        for part in key.split("."):
            node = node[part] if isinstance(node, dict) else getattr(node, part)
        return node

    @cached_property
    def changed(self) -> dict[str, Any]:
        """Dotted key -> built-in default, for every value that differs from it."""
        defaults = _flatten(default_config_dict())
        return {key: defaults.get(key) for key, value in self.values().items() if key not in defaults or defaults[key] != value}

    def values(self) -> dict[str, Any]:
        """Every key (dotted) with its effective value, in `sources` order."""
        return _flatten(self.as_dict())

    def shown(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the configuration by section, every dotted key's value) fit to print: header values (an OTLP collector's
        Authorization or API key) and the passwords in URLs replaced by `***`."""
        from buildrunner.store import redact_url

        tree = self.as_dict()
        for dotted in (*SECRET_MAPS, *URL_KEYS):
            *parents, leaf = dotted.split(".")
            node = tree
            for part in parents:
                node = node.get(part, {})
            value = node.get(leaf)
            if dotted in SECRET_MAPS and isinstance(value, dict):
                node[leaf] = {name: _hidden(str(header)) for name, header in value.items()}
            elif dotted in URL_KEYS and isinstance(value, str):
                node[leaf] = _hidden_url(redact_url(value))
        return tree, _flatten(tree)


# Configuration values that are credentials or may carry them: never printed whole (`br config show`).
SECRET_MAPS = ("telemetry.otlp.headers",)  # every value of these maps
URL_KEYS = ("telemetry.otlp.endpoint", "quality.index_url")  # a password in the URL


def _hidden_url(url: str) -> str:
    """A URL with its user name (a token, as Gemfury's https://TOKEN@pypi.fury.io/...) and its query values hidden too."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = f"***{':***' if ':' in user else ''}@{host}"
    query = urlencode([(name, "***") for name, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _hidden(value: str) -> str:
    """A header value with only its scheme kept: "Basic ***", "Bearer ***", else "***"."""
    scheme, space, _ = value.partition(" ")
    return f"{scheme} ***" if space and scheme.isalpha() and len(scheme) <= 12 else "***"


def _flatten(node: Any, prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    """Dotted key -> leaf value (an empty object is a leaf)."""
    if isinstance(node, dict) and node:
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flatten(value, (*prefix, key)))
        return out
    return {".".join(prefix): node}


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Windows editors write one) is not JSON's
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})", hint="check the file's permissions and encoding") from None
    if not text.strip():  # a truncated write, or a file made by hand: either way the settings in it are lost
        raise ConfigError(f"{path}: the file is empty", hint="write {} in it to use the defaults, or run `br init --force` to write them all")
    try:
        data = json.loads(text, object_pairs_hook=no_repeated_keys(path))
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            hint="fix the syntax or run `br init --force` to rewrite the defaults",
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a JSON object", hint='start the file with "{"')
    return data


def no_repeated_keys(path: Path) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """A JSON object hook: a key given twice in one object is an error (JSON parsers keep the last, silently)."""

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise ConfigError(f"{path}: the key {key!r} is given twice in one object", hint="keep one of them")
            out[key] = value
        return out

    return hook


def _set_path(data: dict[str, Any], keys: tuple[str, ...], value: Any) -> None:
    node = data
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[keys[-1]] = value


def _has_path(data: dict[str, Any], keys: tuple[str, ...]) -> bool:
    node: Any = data
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _only_defaults(data: dict[str, Any], defaults: dict[str, Any]) -> bool:
    """Whether `data` (the file and the environment) sets nothing but defaults: each section left
    out or repeated whole, as `br init` writes it, every value of its default's JSON type."""
    return all(section in defaults and _same(value, defaults[section]) for section, value in data.items())


def _same(value: Any, default: Any) -> bool:
    """Equal, with the same JSON types and keys all the way down (10 is not 10.0, true is not 1)."""
    if type(value) is not type(default):
        return False
    if isinstance(value, dict):
        return value.keys() == default.keys() and all(_same(item, default[key]) for key, item in value.items())
    if isinstance(value, list):
        return len(value) == len(default) and all(map(_same, value, default))
    return bool(value == default)


def load_config(paths: ProjectPaths | None = None, environ: dict[str, str] | None = None) -> LoadedConfig:
    """Read defaults, the config file and the environment; raise ConfigError on any bad value."""
    paths = paths or ProjectPaths.discover()
    env = os.environ if environ is None else environ
    config_path = paths.config_file
    if "BR_CONFIG_FILE" in env and not config_path.is_file():
        what = "a folder, not a file" if config_path.is_dir() else "no such file"
        raise ConfigError(f"BR_CONFIG_FILE={env['BR_CONFIG_FILE']}: {what}", hint="point it at an existing config.json or unset it")
    file_data = _read_file(config_path)
    data = json.loads(json.dumps(file_data))
    env_keys: dict[tuple[str, ...], str] = {}
    for var, (keys, parse) in ENV_OVERRIDES.items():
        raw = env.get(var)
        if raw is None or raw == "":
            continue
        _set_path(data, keys, parse(var, raw))
        env_keys[keys] = var
    defaults = default_config_dict()
    if _only_defaults(data, defaults):
        loaded = LoadedConfig(data=defaults, paths=paths)
    else:
        loaded = _validated(data, paths, env_keys)
    _collect_sources(loaded.data, (), file_data, env_keys, str(config_path), loaded.sources)
    return loaded


def _validated(data: dict[str, Any], paths: ProjectPaths, env_keys: dict[tuple[str, ...], str]) -> LoadedConfig:
    """`data` validated by the models, or as they validated it last time (same values, same models' code)."""
    key = hashlib.sha256(json.dumps([data, _models_stamp()], sort_keys=True, default=str).encode()).hexdigest()
    kept = paths.state_dir / VALIDATED_FILE
    try:
        info = kept.stat()
        if info.st_uid == os.getuid() and not info.st_mode & 0o022:  # only what this user wrote: no one else can plant values
            cached = json.loads(kept.read_text(encoding="utf-8"))
            if isinstance(cached, dict) and cached.get("key") == key and isinstance(cached.get("data"), dict):
                return LoadedConfig(data=cached["data"], paths=paths)
    except (OSError, ValueError):
        pass
    from buildrunner.config_model import validate

    loaded = LoadedConfig.of(validate(data, str(paths.config_file), env_keys), paths)
    if paths.state_dir.is_dir():  # never creates the project folder: reading commands leave no trace outside a project
        _keep(kept, {"key": key, "data": loaded.data})
    return loaded


@cache
def _models_stamp() -> list[Any]:
    """What validation depends on besides the values: this package's code and pydantic's (their files' sizes and times).

    Every module of the package counts (settings models, their shared base and the types they use)
    so an edit or an upgrade validates again; stat calls only, no import of pydantic.
    """
    package = Path(__file__).parent
    files = sorted(package.rglob("*.py")) + [DEFAULTS_FILE]
    spec = find_spec("pydantic")
    if spec is not None and spec.origin:
        files.append(Path(spec.origin).with_name("version.py"))
    stamps: list[Any] = [__version__]
    for path in files:
        try:
            stat = path.stat()
            stamps.append([str(path.relative_to(package)) if path.is_relative_to(package) else path.name, stat.st_size, stat.st_mtime_ns])
        except OSError:
            stamps.append([path.name, None])
    return stamps


def _keep(path: Path, document: dict[str, Any]) -> None:
    """Write atomically, private to the owner; a store that cannot be written just means validating again next time."""
    try:
        write_private_json(path, document)
    except OSError:
        pass


def _collect_sources(
    node: Any,
    prefix: tuple[str, ...],
    file_data: dict[str, Any],
    env_keys: dict[tuple[str, ...], str],
    origin: str,
    out: dict[str, str],
) -> None:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            _collect_sources(value, (*prefix, key), file_data, env_keys, origin, out)
        return
    if prefix in env_keys:
        out[".".join(prefix)] = f"env {env_keys[prefix]}"
    elif _has_path(file_data, prefix):
        out[".".join(prefix)] = origin
    else:
        out[".".join(prefix)] = "default"


def default_config_dict() -> dict[str, Any]:
    """The defaults as written by `br init` (the section models' defaults, see `buildrunner.config_model`)."""
    return copy.deepcopy(_defaults())


@cache
def _defaults() -> dict[str, Any]:
    return json.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))
