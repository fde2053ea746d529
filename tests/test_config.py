import pytest

from sheets_bridge import config
from sheets_bridge.core.config import SETTINGS, Config
from sheets_bridge.core.errors import ConfigError
from sheets_bridge.sheets import check_config


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
        ("backend = 'excel'", "unknown sheet backend 'excel'"),
        ("colour = 'red'", "unknown setting"),
        ("folds = [", "not valid TOML"),
        ("folds = 'many'", "cannot read"),
        ("backend = 'google'", "needs spreadsheet"),
    ],
)
def test_bad_settings_say_what_to_fix(tmp_path, text, message):
    (tmp_path / config.CONFIG_FILE).write_text(text + "\n")
    with pytest.raises(ConfigError, match=message):
        check_config(config.load(tmp_path, env={}))  # what opening a workspace checks


def test_missing_workspace_says_how_to_create_one(tmp_path):
    with pytest.raises(ConfigError, match="sheets-bridge init"):
        config.load(tmp_path / "nowhere", env={})


def test_image_url_uses_the_template_or_the_bridge():
    assert Config().image_url("a b/c") == "http://127.0.0.1:8000/images/a%20b%2Fc"
    assert Config(image_url_template="https://b/{id}.png").image_url("x1") == "https://b/x1.png"


def test_saving_keeps_peoples_comments_and_hides_the_token(tmp_path):
    path = config.save(tmp_path, Config(folds=5))
    path.write_text(
        "# our team's notes\n" + path.read_text().replace("folds = 5", "folds = 5 # why 5")
    )
    config.save(tmp_path, config.load(tmp_path, env={}).replace(token="secret", seed=3))
    text = path.read_text()
    assert "# our team's notes" in text and "folds = 5 # why 5" in text
    assert config.load(tmp_path, env={}) == Config(folds=5, seed=3, token="secret")
    assert path.stat().st_mode & 0o077 == 0


def test_every_setting_is_declared_once_with_its_help():
    import dataclasses

    assert [s.name for s in SETTINGS] == [f.name for f in dataclasses.fields(Config)]
    assert all(s.help for s in SETTINGS)
    assert Config().annotators == tuple(next(s for s in SETTINGS if s.name == "annotators").default)


def test_a_misspelt_preset_is_refused_before_anything_is_written(tmp_path, image_folder):
    from sheets_bridge import loop

    ws = loop.init(image_folder, tmp_path / "ws")
    (ws.root / config.CONFIG_FILE).write_text(
        (ws.root / config.CONFIG_FILE).read_text().replace('preset = "fast"', 'preset = "fats"')
    )
    with pytest.raises(ConfigError, match="unknown preset 'fats'"):
        loop.train(loop.workspace_or_error(ws.root))
    assert not (ws.root / "runs").exists() or not any((ws.root / "runs").iterdir())
    with pytest.raises(ConfigError, match="unknown preset"):
        loop.init(image_folder, tmp_path / "ws2", preset="fats")
    assert not (tmp_path / "ws2").exists()
