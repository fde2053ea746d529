"""Workspace settings: one table with defaults and help, loaded from ``sheets-bridge.toml`` + env.

Every setting can be overridden by the environment variable ``SHEETS_BRIDGE_<NAME>`` (upper case),
which wins over the file; ``token`` is also read from ``SHEETS_BRIDGE_TOKEN``.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sheets_bridge.core.errors import ConfigError

CONFIG_FILE = "sheets-bridge.toml"


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


#: Every setting, its default and what it does (feeds the defaults, the README and `config --help`).
SETTINGS: tuple[Setting, ...] = (
    Setting("dataset", "", "where the dataset was registered from (image folder or CSV manifest)"),
    Setting("classes", [], "class names in model order (taken from the dataset at init)"),
    Setting("backend", "local", "sheet backend: local (SQLite, no account) or google"),
    Setting("spreadsheet", "", "Google spreadsheet id or URL (backend = google)"),
    Setting("worksheet", "images", "title of the worksheet to use (created when missing)"),
    Setting(
        "credentials", "", "service-account key file; empty: GOOGLE_APPLICATION_CREDENTIALS or ADC"
    ),
    Setting("oauth", False, "use gspread's OAuth user flow instead of a service account"),
    Setting("api_endpoint", "", "another Sheets API v4 server instead of sheets.googleapis.com"),
    Setting(
        "image_url_template",
        "",
        "image URL for the sheet, e.g. https://host/{id}.png; empty: public_url/images/{id}",
    ),
    Setting(
        "public_url",
        "http://127.0.0.1:8000",
        "where the bridge's web app is reachable (links, images, Apps Script)",
    ),
    Setting(
        "preset",
        "fast",
        "model preset: fast (about a minute on 2 CPU cores) or dcai (the competition's fixed model)",
    ),
    Setting(
        "folds", 4, "K for the out-of-fold predictions (no image is scored by a model that saw it)"
    ),
    Setting("seed", 0, "random seed for training, folds and UMAP"),
    Setting("epochs", 0, "training epochs; 0 = the preset's default"),
    Setting("annotators", ["annotator_1", "annotator_2"], "one sheet column per annotator"),
    Setting("consensus", "majority", "how annotator votes become a decision: majority or crowdlab"),
    Setting("augment_budget", 10000, "the most images a version may hold after augmentation"),
    Setting("token", "", "bearer token for the JSON API (generated on first serve)"),
)
_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Config:
    """The settings of one workspace (frozen: build a new one with :meth:`replace`)."""

    dataset: str = ""
    classes: tuple[str, ...] = ()
    backend: str = "local"
    spreadsheet: str = ""
    worksheet: str = "images"
    credentials: str = ""
    oauth: bool = False
    api_endpoint: str = ""
    image_url_template: str = ""
    public_url: str = "http://127.0.0.1:8000"
    preset: str = "fast"
    folds: int = 4
    seed: int = 0
    epochs: int = 0
    annotators: tuple[str, ...] = ("annotator_1", "annotator_2")
    consensus: str = "majority"
    augment_budget: int = 10000
    token: str = field(default="", repr=False)

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    def validate(self) -> Config:
        if self.backend not in ("local", "google"):
            raise ConfigError(f"backend must be 'local' or 'google', not {self.backend!r}")
        if self.backend == "google" and not self.spreadsheet:
            raise ConfigError(
                "backend = 'google' needs spreadsheet = '<id or URL>' in sheets-bridge.toml"
            )
        if self.folds < 2:
            raise ConfigError(f"folds must be at least 2, not {self.folds}")
        if self.consensus not in ("majority", "crowdlab"):
            raise ConfigError(f"consensus must be 'majority' or 'crowdlab', not {self.consensus!r}")
        return self

    def image_url(self, image_id: str) -> str:
        if self.image_url_template:
            return self.image_url_template.format(id=image_id)
        return f"{self.public_url.rstrip('/')}/images/{quote(image_id, safe='')}"


def _coerce(name: str, value: Any) -> Any:
    default = _BY_NAME[name].default
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
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
    except tomllib.TOMLDecodeError as exc:
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


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def save(workspace: Path, config: Config) -> Path:
    """Write the settings file (atomically), with each setting's help as a comment."""
    path = Path(workspace) / CONFIG_FILE
    lines = [
        "# sheets-bridge workspace settings; env SHEETS_BRIDGE_<NAME> overrides any of them",
        "",
    ]
    for s in SETTINGS:
        lines.append(f"# {s.help}")
        lines.append(f"{s.name} = {_toml_value(getattr(config, s.name))}")
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def ensure_token(workspace: Path) -> str:
    """The API token: ``SHEETS_BRIDGE_TOKEN`` if set, else the file's, generated on first use."""
    if os.environ.get("SHEETS_BRIDGE_TOKEN"):
        return os.environ["SHEETS_BRIDGE_TOKEN"]
    config = load(workspace, env={})  # env overrides must not be written into the file
    if config.token:
        return config.token
    token = secrets.token_urlsafe(32)
    save(workspace, config.replace(token=token))
    return token
