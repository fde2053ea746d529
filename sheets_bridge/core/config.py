"""Workspace settings: one table with defaults and help, loaded from ``sheets-bridge.toml`` + env.

Every setting can be overridden by the environment variable ``SHEETS_BRIDGE_<NAME>`` (upper case),
which wins over the file; ``token`` is also read from ``SHEETS_BRIDGE_TOKEN``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sheets_bridge.core.errors import ConfigError, WorkspaceBusy
from sheets_bridge.core.schema import DEFAULT_ANNOTATORS

#: How annotator votes become a decision (see core/consensus.py and core/crowd.py).
CONSENSUS_RULES: tuple[str, ...] = ("majority", "crowdlab")

CONFIG_FILE = "sheets-bridge.toml"


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


def _setting(default: Any, help: str, **kw: Any) -> Any:
    """A Config field with its help text: the one place a setting is declared."""
    return field(default=default, metadata={"help": help}, **kw)


@dataclass(frozen=True)
class Config:
    """The settings of one workspace (frozen: build a new one with :meth:`replace`).

    Adding a setting is one field here: the defaults, the settings file's comments, the README's
    table and ``SHEETS_BRIDGE_<NAME>`` all come from it.
    """

    dataset: str = _setting(
        "", "where the dataset was registered from (image folder or CSV manifest)"
    )
    classes: tuple[str, ...] = _setting(
        (), "class names in model order (taken from the dataset at init)"
    )
    backend: str = _setting("local", "sheet backend: local (SQLite, no account) or google")
    spreadsheet: str = _setting("", "Google spreadsheet id or URL (backend = google)")
    worksheet: str = _setting("images", "title of the worksheet to use (created when missing)")
    credentials: str = _setting(
        "", "service-account key file; empty: GOOGLE_APPLICATION_CREDENTIALS or ADC"
    )
    oauth: bool = _setting(False, "use gspread's OAuth user flow instead of a service account")
    api_endpoint: str = _setting(
        "", "another Sheets API v4 server instead of sheets.googleapis.com"
    )
    sheet_rows: int = _setting(
        20000,
        "Google: a push writes the first N rows by rank plus rows people typed in; other rows "
        "leave the sheet (20,000 rows of ~20 columns stay well inside Google's 10 million "
        "cells); 0 = all rows",
    )
    image_url_template: str = _setting(
        "", "image URL for the sheet, e.g. https://host/{id}.png; empty: public_url/images/{id}"
    )
    public_url: str = _setting(
        "http://127.0.0.1:8000",
        "where the bridge's web app is reachable (links, images, Apps Script)",
    )
    preset: str = _setting("fast", "model preset (`sheets-bridge train --help` lists them)")
    weights: str = _setting(
        "",
        "pretrained weights file of a probe-<arch> / finetune-<arch> preset (relative to the "
        "workspace); empty: timm's cache; random: no pretrained weights",
    )
    folds: int = _setting(
        4, "K for the out-of-fold predictions (no image is scored by a model that saw it)"
    )
    seed: int = _setting(0, "random seed for training, folds and UMAP")
    epochs: int = _setting(0, "training epochs; 0 = the preset's default")
    engine: str = _setting(
        "local",
        "where the models train: local (this process) or ray (Ray tasks; "
        "pip install 'sheets-bridge[ray]')",
    )
    ray_address: str = _setting(
        "", "Ray cluster to use with engine = ray, e.g. ray://head:10001; empty: a local Ray"
    )
    annotators: tuple[str, ...] = _setting(DEFAULT_ANNOTATORS, "one sheet column per annotator")
    consensus: str = _setting(
        "majority", f"how annotator votes become a decision: {' or '.join(CONSENSUS_RULES)}"
    )
    augment_budget: int = _setting(10000, "the most images a version may hold after augmentation")
    max_remove_share: float = _setting(
        0.2, "a pull that would remove more than this share of the images stops and asks for --yes"
    )
    token: str = _setting(
        "", "bearer token for the JSON API (generated on first serve)", repr=False
    )

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    def validate(self) -> Config:
        if self.sheet_rows < 0:
            raise ConfigError(f"sheet_rows must be 0 (all rows) or more, not {self.sheet_rows}")
        if self.folds < 2:
            raise ConfigError(f"folds must be at least 2, not {self.folds}")
        if not 0.0 <= self.max_remove_share <= 1.0:
            raise ConfigError(
                f"max_remove_share must be a share between 0 and 1, not {self.max_remove_share!r}"
            )
        if self.engine not in ("local", "ray"):
            raise ConfigError(f"engine must be 'local' or 'ray', not {self.engine!r}")
        if self.consensus not in CONSENSUS_RULES:
            rules = " or ".join(repr(r) for r in CONSENSUS_RULES)
            raise ConfigError(f"consensus must be {rules}, not {self.consensus!r}")
        return self

    def image_url(self, image_id: str) -> str:
        if self.image_url_template:
            return self.image_url_template.format(id=image_id)
        return f"{self.public_url.rstrip('/')}/images/{quote(image_id, safe='')}"


#: Every setting, its default and what it does, derived from :class:`Config`'s fields.
SETTINGS: tuple[Setting, ...] = tuple(
    Setting(
        f.name, list(f.default) if isinstance(f.default, tuple) else f.default, f.metadata["help"]
    )
    for f in dataclasses.fields(Config)
)
_BY_NAME = {s.name: s for s in SETTINGS}


def _coerce(name: str, value: Any) -> Any:
    default = _BY_NAME[name].default
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if isinstance(default, float):
            share = float(value)
            if share != share:  # NaN compares false with every bound
                raise ValueError("not a number")
            return share
        if isinstance(default, int):
            return int(value)
        if isinstance(default, list):
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            return tuple(str(v) for v in value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name!r}: cannot read {value!r} ({exc})") from None


def load(workspace: Path, env: dict[str, str] | None = None) -> Config:
    """Read ``<workspace>/sheets-bridge.toml``, then apply ``SHEETS_BRIDGE_*`` variables."""
    env = os.environ if env is None else env
    path = Path(workspace) / CONFIG_FILE
    if not path.exists():
        raise ConfigError(
            f"{path} does not exist: run `sheets-bridge init DATASET --workspace {workspace}` first"
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    unknown = sorted(set(raw) - set(_BY_NAME))
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {unknown}; known: {sorted(_BY_NAME)}")
    values = {k: _coerce(k, v) for k, v in raw.items()}
    for s in SETTINGS:
        key = f"SHEETS_BRIDGE_{s.name.upper()}"
        if env.get(key):
            values[s.name] = _coerce(s.name, env[key])
    return Config(**values).validate()


def _toml(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def save(workspace: Path, config: Config) -> Path:
    """Write the settings file atomically, readable by its owner only (it may hold the token).

    An existing file is edited in place with tomlkit: people's comments, order and layout stay;
    only settings whose value changed are rewritten. A new file gets each setting's help as a
    comment.
    """
    import tomlkit

    path = Path(workspace) / CONFIG_FILE
    if path.exists():
        try:
            doc = tomlkit.parse(path.read_text(encoding="utf-8"))
        except tomlkit.exceptions.ParseError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
        current = doc.unwrap()
        for s in SETTINGS:
            value = _toml(getattr(config, s.name))
            if s.name not in doc:
                doc.add(tomlkit.comment(s.help))
                doc.add(s.name, value)
            elif _coerce(s.name, current[s.name]) != getattr(config, s.name):
                doc[s.name] = value
        text = tomlkit.dumps(doc)
    else:
        doc = tomlkit.document()
        doc.add(
            tomlkit.comment(
                "sheets-bridge workspace settings; env SHEETS_BRIDGE_<NAME> overrides any of them"
            )
        )
        doc.add(tomlkit.nl())
        for s in SETTINGS:
            doc.add(tomlkit.comment(s.help))
            doc.add(s.name, _toml(getattr(config, s.name)))
        text = tomlkit.dumps(doc)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)  # also when an old file was world-readable
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(
            f"cannot write {path}: {exc.strerror or exc}; check the disk and permissions"
        ) from None
    return path


#: Serialises changes to the settings file between processes: two people adding themselves as
#: annotators, or one of them while another runs ``google setup``, must all end up in it. Not the
#: writer lock: settings change during a retrain too.
SETTINGS_LOCK = ".settings.lock"


@contextlib.contextmanager
def settings_lock(workspace: Path, timeout: float = 30.0):
    """Hold the settings file's lock (:data:`SETTINGS_LOCK`); WorkspaceBusy after ``timeout``."""
    from filelock import FileLock, Timeout

    path = Path(workspace) / SETTINGS_LOCK
    try:
        with FileLock(str(path), timeout=timeout):
            yield
    except Timeout:
        raise WorkspaceBusy(f"{path} is held by another process; try again") from None


def update(workspace: Path, **changes: Any) -> Path:
    """Change only the settings named in ``changes``, under :func:`settings_lock`, on the file as
    it is now (what another process wrote since this one read it stays). Returns the path."""
    with settings_lock(workspace):
        current = load(workspace, env={})  # env overrides must not be written into the file
        return save(workspace, current.replace(**changes).validate())


def ensure_token(workspace: Path) -> str:
    """The API token: ``SHEETS_BRIDGE_TOKEN`` if set, else the file's, generated on first use."""
    if os.environ.get("SHEETS_BRIDGE_TOKEN"):
        return os.environ["SHEETS_BRIDGE_TOKEN"]
    config = load(workspace, env={})  # env overrides must not be written into the file
    if config.token:
        return config.token
    token = secrets.token_urlsafe(32)
    # A read-only workspace can still be viewed: then this token lives as long as the process.
    with contextlib.suppress(OSError, ConfigError, WorkspaceBusy), settings_lock(workspace):
        config = load(workspace, env={})
        if config.token:  # another process made one first: use that one
            return config.token
        save(workspace, config.replace(token=token))
    return token
