"""Model presets as the loop and the faces see them; ``model/presets.py`` is their one source."""

from __future__ import annotations

from sheets_bridge.core.errors import ConfigError


def preset_names() -> tuple[str, ...]:
    """The named presets (``model.presets.PRESETS``; importing it loads no torch)."""
    from model.presets import PRESETS

    return tuple(PRESETS)


def check_preset(name: str) -> str:
    """Return ``name`` when it is a preset; ConfigError naming the known ones otherwise.

    Called before anything is written, so a typo (``preset = "fats"``) leaves no run folder.
    """
    from model.presets import get_preset

    try:
        get_preset(name)
    except ValueError as exc:
        raise ConfigError(
            f"{exc} (the preset setting in sheets-bridge.toml, or --preset)"
        ) from None
    return name
