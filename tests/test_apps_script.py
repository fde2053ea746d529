"""`sheets-bridge apps-script`: the menu's script files, rendered with the bridge URL."""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from sheets_bridge import apps_script
from sheets_bridge.cli import main
from sheets_bridge.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "apps_script"
PACKAGED = ROOT / "sheets_bridge" / "apps_script_files"
URL = "https://bridge.example.org"


@pytest.mark.parametrize("name", apps_script.FILES)
def test_the_package_carries_a_byte_identical_copy_of_the_script(name):
    assert (PACKAGED / name).read_bytes() == (SOURCE / name).read_bytes(), (
        f"sheets_bridge/apps_script_files/{name} differs from apps_script/{name}: after editing the "
        "script, run `cp apps_script/Code.js apps_script/appsscript.json sheets_bridge/apps_script_files/`"
    )


def test_the_packaged_folder_holds_only_the_script_files():
    assert sorted(p.name for p in PACKAGED.iterdir()) == sorted(apps_script.FILES)


def test_pyproject_ships_the_script_files_in_the_wheel():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["sheets_bridge"]
    assert "apps_script_files/*" in patterns


def test_render_fills_the_url_into_the_script_and_the_fetch_allow_list():
    files = apps_script.render(URL)
    assert list(files) == list(apps_script.FILES)
    assert 'const DEFAULT_BRIDGE_URL = "https://bridge.example.org";' in files["Code.js"]
    manifest = json.loads(files["appsscript.json"])
    assert manifest["urlFetchWhitelist"] == ["https://bridge.example.org/"]


def test_render_changes_nothing_else():
    files = apps_script.render(URL)
    template = (SOURCE / "Code.js").read_text(encoding="utf-8").splitlines()
    rendered = files["Code.js"].splitlines()
    changed = [(a, b) for a, b in zip(template, rendered, strict=True) if a != b]
    assert changed == [
        (
            'const DEFAULT_BRIDGE_URL = "https://YOUR-BRIDGE-HOST";',
            'const DEFAULT_BRIDGE_URL = "https://bridge.example.org";',
        )
    ]
    manifest = json.loads(files["appsscript.json"])
    original = json.loads((SOURCE / "appsscript.json").read_text(encoding="utf-8"))
    assert {**manifest, "urlFetchWhitelist": None} == {**original, "urlFetchWhitelist": None}


@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("https://bridge.example.org/", "https://bridge.example.org"),
        ("  https://bridge.example.org  ", "https://bridge.example.org"),
        ("https://example.org:8443/sheets-bridge/", "https://example.org:8443/sheets-bridge"),
        ("https://abc-123.trycloudflare.com", "https://abc-123.trycloudflare.com"),
    ],
)
def test_render_normalises_the_url(given, base):
    files = apps_script.render(given)
    assert f"const DEFAULT_BRIDGE_URL = {json.dumps(base)};" in files["Code.js"]
    assert json.loads(files["appsscript.json"])["urlFetchWhitelist"] == [base + "/"]


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "http://127.0.0.1:8000",  # Apps Script fetches only allow-listed HTTPS URLs
        "bridge.example.org",
        "https://",
        "https:///path",
        "https://bridge.example.org/?token=abc",
        "https://bridge.example.org/#frag",
        "https://bridge example.org",
        'https://bridge.example.org/";alert(1);"',
        "https://bridge.example.org/\\x",
        "https://bridge.example.org/<script>",
    ],
)
def test_render_refuses_urls_the_script_cannot_use(bad):
    with pytest.raises(ConfigError, match="not a usable bridge URL.*HTTPS"):
        apps_script.render(bad)


URL_CASES = [
    "https://bridge.example.org/",
    "https://example.org:8443/sheets-bridge/",
    "HTTPS://Bridge.Example.org",
    "http://127.0.0.1:8000",
    "bridge.example.org",
    "https://",
    "https:///path",
    "https://bridge.example.org/?token=abc",
    "https://bridge.example.org/#frag",
    "https://bridge example.org",
    'https://bridge.example.org/";alert(1);"',
    "https://bridge.example.org/\\x",
    "https://x.org/'><script>",
]


@pytest.mark.skipif(shutil.which("node") is None, reason="node runs Code.js")
def test_the_settings_prompt_in_code_js_accepts_the_same_urls_as_render():
    script = (
        "const { load } = require('./apps_script/tests/harness');"
        "const { context } = load();"
        "const out = JSON.parse(process.argv[1]).map((u) => {"
        "  try { return context.normaliseUrl_(u); } catch (e) { return null; } });"
        "process.stdout.write(JSON.stringify(out));"
    )
    result = subprocess.run(
        ["node", "-e", script, json.dumps(URL_CASES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    in_code_js = json.loads(result.stdout)

    def in_python(url):
        try:
            return apps_script.bridge_url(url)
        except ConfigError:
            return None

    assert in_code_js == [in_python(u) for u in URL_CASES]
    assert in_code_js[:3] == [
        "https://bridge.example.org",
        "https://example.org:8443/sheets-bridge",
        "https://Bridge.Example.org",
    ]
    assert in_code_js[3:] == [None] * 10


def test_write_puts_exactly_the_script_files_in_a_new_folder(tmp_path):
    out = tmp_path / "menu" / "nested"
    paths = apps_script.write(out, URL)
    assert paths == [out / name for name in apps_script.FILES]
    assert sorted(p.name for p in out.iterdir()) == sorted(apps_script.FILES)
    assert paths[0].read_text(encoding="utf-8") == apps_script.render(URL)["Code.js"]


def test_write_overwrites_an_earlier_rendering(tmp_path):
    apps_script.write(tmp_path, "https://old.example.org")
    apps_script.write(tmp_path, URL)
    assert "old.example.org" not in (tmp_path / "Code.js").read_text(encoding="utf-8")
    assert "old.example.org" not in (tmp_path / "appsscript.json").read_text(encoding="utf-8")


def test_cli_prints_both_files_with_the_url():
    result = CliRunner().invoke(main, ["apps-script", "--url", URL])
    assert result.exit_code == 0, result.output
    assert 'const DEFAULT_BRIDGE_URL = "https://bridge.example.org";' in result.output
    assert '"https://bridge.example.org/"' in result.output


def test_cli_writes_the_files_to_out(tmp_path):
    result = CliRunner().invoke(
        main, ["apps-script", "--url", URL, "--out", str(tmp_path / "menu")]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "menu").iterdir()) == sorted(apps_script.FILES)


def test_cli_explains_a_plain_http_url_in_one_line():
    result = CliRunner().invoke(main, ["apps-script", "--url", "http://127.0.0.1:8000"])
    assert result.exit_code != 0
    assert "not a usable bridge URL" in result.output
    assert "Traceback" not in result.output
