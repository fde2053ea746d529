import pytest

from sheets_bridge import config
from sheets_bridge.core.config import SETTINGS, Config
from sheets_bridge.core.errors import ConfigError


def test_settings_round_trip_through_the_file_with_help_comments(tmp_path):
    cfg = Config(
        classes=("i", "ii"),
        annotators=("ana", "bo", "cy"),
        preset="dcai",
        folds=5,
        oauth=True,
        image_url_template='https://h/"{id}".png',
    )
    path = config.save(tmp_path, cfg)
    assert config.load(tmp_path, env={}) == cfg
    text = path.read_text()
    assert all(f"# {s.help}" in text for s in SETTINGS)


def test_environment_overrides_the_file_but_is_never_written_back(tmp_path, monkeypatch):
    config.save(tmp_path, Config(token="from-file"))
    env = {
        "SHEETS_BRIDGE_FOLDS": "7",
        "SHEETS_BRIDGE_ANNOTATORS": "a, b",
        "SHEETS_BRIDGE_OAUTH": "yes",
    }
    cfg = config.load(tmp_path, env=env)
    assert (cfg.folds, cfg.annotators, cfg.oauth) == (7, ("a", "b"), True)
    monkeypatch.setenv("SHEETS_BRIDGE_TOKEN", "from-env")
    assert config.ensure_token(tmp_path) == "from-env"
    assert config.load(tmp_path, env={}).token == "from-file"


def test_a_token_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("SHEETS_BRIDGE_TOKEN", raising=False)
    config.save(tmp_path, Config())
    first = config.ensure_token(tmp_path)
    assert len(first) >= 32 and config.ensure_token(tmp_path) == first


@pytest.mark.parametrize(
    "text, message",
    [
        ("folds = 1", "folds must be at least 2"),
        ("backend = 'excel'", "backend must be"),
        ("colour = 'red'", "unknown setting"),
        ("folds = [", "not valid TOML"),
        ("folds = 'many'", "cannot read"),
        ("backend = 'google'", "needs spreadsheet"),
    ],
)
def test_bad_settings_say_what_to_fix(tmp_path, text, message):
    (tmp_path / config.CONFIG_FILE).write_text(text + "\n")
    with pytest.raises(ConfigError, match=message):
        config.load(tmp_path, env={})


def test_missing_workspace_says_how_to_create_one(tmp_path):
    with pytest.raises(ConfigError, match="sheets-bridge init"):
        config.load(tmp_path / "nowhere", env={})


def test_image_url_uses_the_template_or_the_bridge():
    assert Config().image_url("a b/c") == "http://127.0.0.1:8000/images/a%20b%2Fc"
    assert Config(image_url_template="https://b/{id}.png").image_url("x1") == "https://b/x1.png"
