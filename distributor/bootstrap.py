"""Loading the settings: DISTRIBUTOR_* variables, ``*_FILE`` secrets and the TOML
config file with ``${VAR}`` expansion, checked as a whole.

Secrets may come from ``NAME_FILE`` instead of ``NAME`` (not both). Strings in the
TOML file may use ``${VAR}``, read from the environment at load time. Each channel's
type-specific keys are checked by its adapter, which is why loading sits above the
channel adapters and the schema (config.py) below them. Called once per process, by
the faces (CLI, API, worker).
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from distributor.config import ENV_PREFIX, SECRET_NAMES, ChannelConfig, FileConfig, Settings
from distributor.errors import ConfigError
from distributor.values import check_secret

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_vars(value: Any, environ: Mapping[str, str], where: str = "") -> Any:
    """Replace ${VAR} in every string of a parsed TOML document."""
    if isinstance(value, str):
        def swap(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                raise ConfigError(f"config {where or 'file'}: ${{{name}}} is not set in the environment")
            return environ[name]
        return _VAR.sub(swap, value)
    if isinstance(value, list):
        return [expand_vars(v, environ, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: expand_vars(v, environ, f"{where}.{k}" if where else k) for k, v in value.items()}
    return value


def _file_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    values = {}
    for name in SECRET_NAMES:
        var, file_var = ENV_PREFIX + name, ENV_PREFIX + name + "_FILE"
        if file_var not in environ:
            continue
        if var in environ:
            raise ConfigError(f"{var} and {file_var} are both set; set one")
        try:
            values[name.lower()] = Path(environ[file_var]).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{file_var}: cannot read {environ[file_var]}: {exc.strerror}") from None
    return values


def _read_file_config(path: Path, environ: Mapping[str, str]) -> FileConfig:
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    raw = expand_vars(raw, environ)
    common = set(ChannelConfig.model_fields) - {"options"}
    for channel in raw.get("channels", []) or []:
        if isinstance(channel, dict):
            channel["options"] = {k: channel.pop(k) for k in list(channel) if k not in common}
    try:
        config = FileConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_first_error(exc, raw)}") from None
    if config.channels:  # the adapters (and requests) load only when there are channels
        from distributor.channels.adapters import validate_channel_options
    seen: set[str] = set()
    for index, channel in enumerate(config.channels):
        if channel.name in seen:
            raise ConfigError(f"{path}: channels[{index}].name: {channel.name!r} is used twice")
        seen.add(channel.name)
        try:
            channel.options = validate_channel_options(channel.type, channel.options or {},
                                                       channel.base_url)
        except ConfigError as exc:
            raise ConfigError(f"{path}: channels[{index}] ({channel.name}): {exc}") from None
    return config


def _first_error(exc: ValidationError, raw: dict | None = None) -> str:
    error = exc.errors()[0]
    loc = error["loc"]
    where = ".".join(str(p) for p in loc)
    if raw and len(loc) > 2 and loc[0] == "channels" and isinstance(loc[1], int):
        name = (raw.get("channels") or [{}])[loc[1]].get("name", "?")
        where = f"channels[{loc[1]}] ({name}): " + ".".join(str(p) for p in loc[2:])
    return f"{where}: {error['msg'].removeprefix('Value error, ')}"


def _secret_key(var_dir: Path) -> str:
    path = var_dir / "secret"
    if path.exists():
        key = path.read_text().strip()
        try:
            check_secret(key)
        except ValueError as exc:
            raise ConfigError(f"{path} (the generated DISTRIBUTOR_SECRET_KEY) {exc}") from None
        return key
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings once; raise ConfigError with one line naming what is wrong."""
    environ = os.environ if environ is None else environ
    overrides: dict[str, Any] = _file_secrets(environ)
    env = {k: v for k, v in environ.items() if k.startswith(ENV_PREFIX)}
    config_path = env.get(ENV_PREFIX + "CONFIG")
    path = Path(config_path) if config_path else Path("distributor.toml")
    if config_path and not path.exists():
        raise ConfigError(f"{ENV_PREFIX}CONFIG: {path} does not exist")
    if path.exists():
        overrides["file"] = _read_file_config(path, environ)
        overrides["config"] = path
    try:
        settings = Settings(_env_file=None, **overrides, **_env_only(env))
    except ValidationError as exc:
        error = exc.errors()[0]
        if not error["loc"]:  # a check across settings names its variables itself
            raise ConfigError(error["msg"].removeprefix("Value error, ")) from None
        name = str(error["loc"][0])
        variable = "DISTRIBUTOR_FROM" if name in ("from_address", "DISTRIBUTOR_FROM") else (
            ENV_PREFIX + name.upper())
        raise ConfigError(f"{variable}: {error['msg'].removeprefix('Value error, ')}") from None
    if settings.secret_key is None:
        settings = settings.model_copy(update={"secret_key": SecretStr(_secret_key(settings.var_dir))})
    return settings


def _env_only(env: Mapping[str, str]) -> dict[str, str]:
    """pydantic-settings reads os.environ itself; pass a given mapping explicitly instead."""
    fields = Settings.model_fields
    values: dict[str, str] = {}
    for key, value in env.items():
        name = key[len(ENV_PREFIX):].lower()
        if key == ENV_PREFIX + "FROM":
            values["DISTRIBUTOR_FROM"] = value
        elif name in fields and name not in ("file", "config") and not name.endswith("_file"):
            values[name] = value
    return values
