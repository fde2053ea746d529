"""The sheet's custom menu (Google Apps Script), ready to paste, with the bridge URL filled in.

The script's one source is ``apps_script/`` (beside its node tests). The build ships that folder's
script files as the package ``sheets_bridge.apps_script_files`` (``[tool.setuptools.package-dir]``
in pyproject.toml), in a wheel and in an editable install alike, so there is no copy to keep.

>>> files = render("https://bridge.example.org")
>>> sorted(files)
['Code.js', 'Sidebar.html', 'appsscript.json']
>>> 'const DEFAULT_BRIDGE_URL = "https://bridge.example.org";' in files["Code.js"]
True
"""

from __future__ import annotations

import json
import re
from importlib.resources import files as _package_files
from pathlib import Path

from sheets_bridge.core.errors import BridgeError, ConfigError

__all__ = ["FILES", "PLACEHOLDER_URL", "bridge_url", "listing", "menu_url", "render", "write"]

#: The script files, in the order they are printed and written (what clasp pushes).
FILES: tuple[str, ...] = ("Code.js", "Sidebar.html", "appsscript.json")
#: Where the package carries them: apps_script/ itself, mapped in by the build.
_PACKAGE = "sheets_bridge.apps_script_files"
#: The URL in the unrendered template; the menu asks for Settings while it is still there.
PLACEHOLDER_URL = "https://YOUR-BRIDGE-HOST"

# The same rule as normaliseUrl_ in Code.js: HTTPS, a host, an optional path; nothing that could
# break out of a string or an HTML attribute.
_URL = re.compile(r"https://[^\s/?#\"'<>\\]+(/[^\s?#\"'<>\\]*)?", re.IGNORECASE)
_DEFAULT_LINE = re.compile(r'^const DEFAULT_BRIDGE_URL = "[^"\n]*";$', re.MULTILINE)


def bridge_url(url: str) -> str:
    """The bridge's base URL without a trailing slash; ConfigError unless it is a usable HTTPS URL.

    Apps Script only fetches URLs on the manifest's allow-list, and the allow-list only takes
    HTTPS prefixes, so a plain-HTTP bridge must first be exposed over HTTPS (a tunnel or a proxy).

    >>> bridge_url("https://bridge.example.org/")
    'https://bridge.example.org'
    """
    base = url.strip().rstrip("/")
    if not _URL.fullmatch(base):
        raise ConfigError(
            f"{url!r} is not a usable bridge URL: give the HTTPS address where the bridge is "
            "reachable from the internet, e.g. --url https://bridge.example.org (Apps Script only "
            "fetches HTTPS URLs; see the README on exposing the bridge over HTTPS)"
        )
    return "https://" + base[len("https://") :]  # the allow-list wants the scheme in lower case


def menu_url(public_url: str) -> str:
    """The bridge URL a menu gets when none is given: the workspace's ``public_url`` when it is
    HTTPS, else :data:`PLACEHOLDER_URL` (the menu then asks for it in Settings)."""
    return public_url if public_url.startswith("https://") else PLACEHOLDER_URL


def _template(name: str) -> str:
    try:
        return (_package_files(_PACKAGE) / name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as e:  # an install that predates the mapping
        raise BridgeError(
            f"the installed sheets-bridge has no menu script file {name}: reinstall it "
            "(pip install -e . in a checkout)"
        ) from e


def render(url: str) -> dict[str, str]:
    """File name -> content of the script files, with ``url`` as the bridge URL.

    ``Code.js`` gets it as the default bridge URL (Settings in the sheet's menu can still change
    it); ``appsscript.json`` gets it as the only URL the script may fetch; ``Sidebar.html`` (the
    job sidebar) is the same for every bridge.
    """
    base = bridge_url(url)
    code = _template("Code.js")
    code, count = _DEFAULT_LINE.subn(
        lambda _: f"const DEFAULT_BRIDGE_URL = {json.dumps(base)};", code, count=1
    )
    if count != 1:  # a packaging fault, not the user's
        raise BridgeError("the packaged Code.js has no DEFAULT_BRIDGE_URL line to fill in")
    manifest = json.loads(_template("appsscript.json"))
    # An allow-list prefix needs a path: "https://host/" is valid, "https://host" is not.
    manifest["urlFetchWhitelist"] = [base + "/"]
    return {
        "Code.js": code,
        "Sidebar.html": _template("Sidebar.html"),
        "appsscript.json": json.dumps(manifest, indent=2) + "\n",
    }


def listing(url: str) -> str:
    """The rendered files as one text to paste, each after a ``// ===== <name> =====`` line."""
    return "\n".join(f"// ===== {name} =====\n{text}" for name, text in render(url).items())


def write(out_dir: Path | str, url: str) -> list[Path]:
    """Write the rendered script files into ``out_dir`` (created if needed); return their paths.

    The folder then holds only what ``clasp push`` should send, so a ``.clasp.json`` with
    ``"rootDir": "."`` placed there pushes exactly these files.
    """
    rendered = render(url)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in FILES:
        path = out / name
        path.write_text(rendered[name], encoding="utf-8", newline="\n")
        paths.append(path)
    return paths
