"""`sheets-bridge apps-script`: the menu's script files, rendered with the bridge URL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from importlib.resources import files as package_files
from pathlib import Path

import pytest
from click.testing import CliRunner

from sheets_bridge.cli import main
from sheets_bridge.core.errors import ConfigError
from sheets_bridge.loop import apps_script

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "apps_script"
URL = "https://bridge.example.org"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _package_folders() -> set[str]:
    """Every folder under sheets_bridge/ and model/ that Python could import, data folders too."""
    found = set()
    for top in ("sheets_bridge", "model"):
        for folder in [ROOT / top, *(ROOT / top).rglob("*")]:
            if folder.is_dir() and folder.name.isidentifier() and folder.name != "__pycache__":
                found.add(".".join(folder.relative_to(ROOT).parts))
    return found


def test_pyproject_lists_every_package_folder_and_maps_the_script_folder_in():
    packages = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert packages - {"sheets_bridge.apps_script_files"} == _package_folders(), (
        "pyproject.toml's [tool.setuptools] packages must name every folder of sheets_bridge/ "
        "and model/ (a folder left out is left out of the wheel)"
    )
    mapping = PYPROJECT["tool"]["setuptools"]["package-dir"]
    assert mapping == {"sheets_bridge.apps_script_files": "apps_script"}
    assert not (ROOT / "sheets_bridge" / "apps_script_files").exists(), "no copy of the script"


def test_a_build_carries_exactly_the_script_files_from_apps_script(tmp_path):
    # What setuptools puts into the wheel (build_py is the wheel's pure-Python part), built offline
    # from a copy of the project; node_modules is left behind as a checkout without `npm ci` has none.
    project = tmp_path / "project"
    ignore = shutil.ignore_patterns("node_modules", "__pycache__", "*.egg-info")
    for name in ("sheets_bridge", "model", "apps_script"):
        shutil.copytree(ROOT / name, project / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    build = tmp_path / "build"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, setuptools; setuptools.setup()",
            "-q",
            "build_py",
            "--build-lib",
            str(build),
        ],
        cwd=project,
        check=True,
        capture_output=True,
    )
    shipped = build / "sheets_bridge" / "apps_script_files"
    assert sorted(p.name for p in shipped.iterdir()) == sorted([*apps_script.FILES, "__init__.py"])
    for name in apps_script.FILES:
        assert (shipped / name).read_bytes() == (SOURCE / name).read_bytes()
    # Rendering works from the built package alone (no checkout next to it).
    rendered = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sheets_bridge.loop.apps_script as a;"
            "print(json.dumps({'file': a.__file__, 'files': a.render('https://b.example.org')}))",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(build)},
        check=True,
        capture_output=True,
        text=True,
    )
    answer = json.loads(rendered.stdout)
    assert answer["file"].startswith(str(build))
    assert list(answer["files"]) == list(apps_script.FILES)
    assert 'const DEFAULT_BRIDGE_URL = "https://b.example.org";' in answer["files"]["Code.js"]


def test_this_checkouts_install_reads_the_script_from_apps_script_itself():
    import sheets_bridge

    if not Path(sheets_bridge.__file__).resolve().is_relative_to(ROOT):
        pytest.skip("sheets_bridge is installed from a wheel, not this checkout")
    # An editable install maps the package onto the source folder: an edit shows at once.
    assert Path(str(package_files("sheets_bridge.apps_script_files"))).resolve() == SOURCE


def test_render_fills_the_url_into_the_script_and_the_fetch_allow_list():
    rendered = apps_script.render(URL)
    assert list(rendered) == list(apps_script.FILES)
    assert 'const DEFAULT_BRIDGE_URL = "https://bridge.example.org";' in rendered["Code.js"]
    assert rendered["Sidebar.html"] == (SOURCE / "Sidebar.html").read_text(encoding="utf-8")
    manifest = json.loads(rendered["appsscript.json"])
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
