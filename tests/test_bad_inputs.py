"""A table of bad inputs (cell values, API bodies and arguments, CSV manifests, dataset folders,
CLI arguments, damaged workspace files), each with its expected outcome.

Every case must end in a named error (CLI: exit code 1 or 2 and an ``Error:`` line; web: a 4xx
JSON answer) or be accepted with the given result, and never in a traceback or a 500.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from sheets_bridge import loop
from sheets_bridge.cli import main
from sheets_bridge.web import create_app
from tests.conftest import make_image_folder
from tests.test_web_app import write_run

TOKEN = "bad-inputs-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OK = "ok"


# -- helpers ----------------------------------------------------------------------------------------
def png(path: Path, value: int = 0, size: int = 8, mode: str = "L") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, (size, size), value).save(path)
    return path


def png16(path: Path) -> Path:
    """A full-range 16-bit gradient."""
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.tile(np.linspace(0, 65535, 16).astype(np.uint16), (16, 1))
    Image.fromarray(a).save(path)
    return path


def tiff_float(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.tile(np.linspace(0, 1, 16, dtype=np.float32), (16, 1))
    Image.fromarray(a).save(path)
    return path


def bomb(path: Path, side: int = 20_000) -> Path:
    """A 20000x20000 PNG of a few hundred bytes: the header alone says it is a bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * (side // 8 + 1) * 4)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )
    return path


def no_traceback(result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )


def expect_cli(result, expected: str | tuple[int, str]) -> None:
    no_traceback(result)
    if expected == OK:
        assert result.exit_code == 0, result.output
        return
    code, fragment = expected
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    if code == 1 and "the dataset has" not in errors[0]:
        assert lines == errors, f"more than one line: {result.output}"  # one line, nothing else
    assert fragment in result.output, result.output


def cli(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


# -- a pushed workspace for the web and CLI cases ------------------------------------------------
@pytest.fixture(scope="module")
def pushed(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("bad-inputs")
    data = make_image_folder(tmp / "data", {"train": 2, "val": 1})
    ws = loop.init(data, tmp / "ws")
    write_run(ws)
    loop.push(ws)
    return ws.root


@pytest.fixture(scope="module")
def client(pushed):
    return create_app(pushed, token=TOKEN, testing=True).test_client()


@pytest.fixture(scope="module")
def row_id(pushed) -> str:
    from sheets_bridge.store.workspace import Workspace

    return next(r["id"] for r in Workspace(pushed).sheet().read().rows if r["subset"] == "train")


def expect_api(response, expected, page: bool = False) -> None:
    """4xx JSON (a page for the image routes); 503 only where a workspace file is damaged."""
    text = response.get_data(as_text=True)
    assert response.status_code < 500 or expected[0] == 503, text
    if page and response.status_code >= 400:
        assert response.mimetype == "text/html" and "Traceback" not in text
        assert response.status_code == expected[0] and expected[1] in text, text
        return
    assert response.is_json, text[:200]
    if expected == OK:
        assert response.status_code == 200, response.json
        return
    status, fragment = expected
    assert response.status_code == status, response.json
    assert fragment in response.json["error"], response.json["error"]


# -- 1. cell values typed through the API ------------------------------------------------------------
CELLS = [
    # (column, value, expected: OK written value or (status, fragment))
    ("annotator_1", "i", (OK, "i")),
    ("annotator_1", "II", (OK, "II")),
    ("annotator_1", "  iii  ", (OK, "iii")),
    ("annotator_1", "IV", (OK, "IV")),
    ("annotator_1", "4", (OK, "4")),
    ("annotator_1", "Ⅲ", (OK, "Ⅲ")),  # the Roman numeral character
    ("annotator_1", "x", (OK, "x")),
    ("annotator_1", "remove", (OK, "remove")),
    ("annotator_1", "?", (OK, "?")),
    ("annotator_1", "", (OK, "")),
    ("annotator_1", None, (OK, "")),
    ("annotator_1", 2, (OK, "2")),
    ("annotator_1", "vij", (400, "unknown label 'vij'")),
    ("annotator_1", "v", (400, "unknown label 'v'")),
    ("annotator_1", "X", (400, "unknown label 'X'")),  # ten is no class of this dataset
    ("annotator_1", "11", (400, "unknown label '11'")),
    ("annotator_1", "<img src=x onerror=alert(1)>", (400, "unknown label")),
    ("annotator_1", "=IMPORTXML(A1)", (400, "unknown label")),
    ("annotator_1", "i\x00", (400, "unknown label")),
    ("annotator_1", True, (400, "value must be a string")),
    ("annotator_1", [1], (400, "value must be a string")),
    ("annotator_1", {"a": 1}, (400, "value must be a string")),
    ("override", "ii", (OK, "ii")),
    ("override", "x", (OK, "x")),
    ("override", "seven", (400, "unknown label")),
    ("note", "looks like a ii", (OK, "looks like a ii")),
    ("note", "=1+1", (OK, "=1+1")),  # kept as text, never a formula
    ("note", "<script>alert(1)</script>", (OK, "<script>alert(1)</script>")),
    ("note", "é ü 猫 🙂", (OK, "é ü 猫 🙂")),
    ("note", "n" * 2000, (OK, "n" * 2000)),
    ("note", "n" * 2001, (400, "at most 2000 characters")),
    ("subset", "val", (OK, "val")),
    ("subset", " TRAIN ", (OK, "train")),
    ("subset", "test", (400, "subset must be train or val")),
    ("subset", "", (400, "subset must be train or val")),
    ("label", "ii", (400, "is not editable")),
    ("pred", "ii", (400, "is not editable")),
    ("id", "new-id", (400, "is not editable")),
    ("consensus", "ii", (400, "is not editable")),
    ("__proto__", "x", (400, "is not editable")),
    ("", "x", (400, "is not editable")),
]


@pytest.mark.parametrize(("column", "value", "expected"), CELLS)
def test_a_cell_value(client, row_id, column, value, expected):
    response = client.post(
        "/api/edit",
        json={"edits": [{"id": row_id, "column": column, "value": value}]},
        headers=AUTH,
    )
    if expected[0] == OK:
        expect_api(response, OK)
        assert response.json["edits"][0]["value"] == expected[1]
    else:
        expect_api(response, expected)


# -- 2. API bodies, arguments and paths ----------------------------------------------------------
ROW = "{row}"
BODIES = [
    # (method, path, raw body, expected)
    ("POST", "/api/edit", b"", (400, "edits must be a non-empty list")),
    ("POST", "/api/edit", b"   \n", (400, "edits must be a non-empty list")),
    ("POST", "/api/edit", b"null", (400, "must be a JSON object")),
    ("POST", "/api/edit", b"[]", (400, "must be a JSON object")),
    ("POST", "/api/edit", b"42", (400, "must be a JSON object")),
    ("POST", "/api/edit", b'"edits"', (400, "must be a JSON object")),
    ("POST", "/api/edit", b"{", (400, "not valid JSON")),
    ("POST", "/api/edit", b"{'edits': []}", (400, "not valid JSON")),
    ("POST", "/api/edit", b'{"edits": [],}', (400, "not valid JSON")),
    ("POST", "/api/edit", b"\xff\xfe\x00{", (400, "not valid JSON")),
    ("POST", "/api/edit", b"\xef\xbb\xbf{}", (400, "edits must be a non-empty list")),
    ("POST", "/api/edit", b"[" * 20_000 + b"]" * 20_000, (400, "nested too deeply")),
    ("POST", "/api/edit", b'{"a":' * 5000 + b"1" + b"}" * 5000, (400, "nested too deeply")),
    ("POST", "/api/edit", b'{"edits": []}', (400, "edits must be a non-empty list")),
    ("POST", "/api/edit", b'{"edits": {}}', (400, "edits must be a non-empty list")),
    ("POST", "/api/edit", b'{"edits": "x"}', (400, "edits must be a non-empty list")),
    ("POST", "/api/edit", b'{"edits": [1]}', (400, "edits[0] must be an object")),
    ("POST", "/api/edit", b'{"edits": [null]}', (400, "edits[0] must be an object")),
    ("POST", "/api/edit", b'{"edits": [{}]}', (400, "id must be a non-empty string")),
    ("POST", "/api/edit", b'{"edits": [{"id": 1}]}', (400, "id must be a non-empty string")),
    ("POST", "/api/edit", b'{"edits": [{"id": ""}]}', (400, "id must be a non-empty string")),
    ("POST", "/api/edit", b'{"edits": [{"id": "a", "x": 1}]}', (400, "unknown field(s) x")),
    (
        "POST",
        "/api/edit",
        b'{"edits": [{"id": "nope", "column": "note", "value": "n"}]}',
        (400, "no row"),
    ),
    (
        "POST",
        "/api/edit",
        b'{"edits": [{"id": "'
        + ROW.encode()
        + b'", "column": "annotator_1", "append": true, "value": "i"}]}',
        (400, "only note can be appended"),
    ),
    (
        "POST",
        "/api/edit",
        b'{"edits": [{"id": "' + ROW.encode() + b'", "column": "note", "value": NaN}]}',
        (400, "NaN is not a JSON value"),
    ),
    (
        "POST",
        "/api/edit",
        b'{"edits": [{"id": "' + ROW.encode() + b'", "column": "annotator_1", "value": 1e999}]}',
        (400, "unknown label"),
    ),
    (
        "POST",
        "/api/edit",
        b'{"edits": [{"id": "'
        + ROW.encode()
        + b'", "column": "annotator_1", "value": 1'
        + b"0" * 500
        + b"}]}",
        (400, "unknown label"),
    ),
    (
        "POST",
        "/api/edit",
        b'{"edits": [{"id": "' + ROW.encode() + b'", "column": "note", "value": "\\ud800"}]}',
        (400, "not valid Unicode"),
    ),
    (
        "POST",
        "/api/edit",
        b'{"author": "\\udfff", "edits": [{"id": "'
        + ROW.encode()
        + b'", "column": "note", "value": "a"}]}',
        (400, "not valid Unicode"),
    ),
    (
        "POST",
        "/api/edit",
        b'{"author": 7, "edits": [{"id": "'
        + ROW.encode()
        + b'", "column": "note", "value": "a"}]}',
        (400, "author must be a short string"),
    ),
    (
        "POST",
        "/api/edit",
        b'{"author": "'
        + b"a" * 101
        + b'", "edits": [{"id": "'
        + ROW.encode()
        + b'", "column": "note", "value": "a"}]}',
        (400, "author must be a short string"),
    ),
    (
        "POST",
        "/api/edit",
        b'{"edits": [' + b",".join([b'{"id": "a", "column": "note"}'] * 20_001) + b"]}",
        (400, "at most 20000 edits"),
    ),
    (
        "POST",
        "/api/edit",
        b'{"edits": [{"id": "' + ROW.encode() + b'", "column": "note", "value": "ok \\u00e9"}]}',
        OK,
    ),
    ("POST", "/api/edit", b'{"unknown": 1}', (400, "unknown field(s) 'unknown'")),
    ("POST", "/api/retrain", b'{"preset": "turbo"}', (400, "unknown preset")),
    ("POST", "/api/retrain", b'{"preset": 1}', (400, "unknown preset")),
    ("POST", "/api/retrain", b'{"epochs": 1}', (400, "unknown field(s) 'epochs'")),
    ("POST", "/api/retrain", b"[1]", (400, "must be a JSON object")),
    ("POST", "/api/push", b'{"force": true}', (400, "unknown field(s) 'force'")),
    ("POST", "/api/pull", b"nope", (400, "not valid JSON")),
    ("GET", "/api/sheet/edits?since=", (400, "since must be an integer")),
    ("GET", "/api/sheet/edits?since=%20", (400, "since must be an integer")),
    ("GET", "/api/sheet/edits?since=0x10", (400, "since must be an integer")),
    ("GET", "/api/sheet/edits?since=" + "9" * 5000, (400, "since must be an integer")),
    ("GET", "/api/sheet/edits?since=-5", (400, "since must be between")),
    ("GET", "/api/sheet/edits?since=9223372036854775808", (400, "since must be between")),
    ("GET", "/api/sheet/edits?since=9223372036854775807", OK),
    ("GET", "/api/sheet/edits?since=1", OK),
    ("GET", "/api/jobs/..%2F..%2Fetc", (404, "not found")),
    ("GET", "/api/jobs/%00", (404, "no job")),
    ("GET", "/api/nothing", (404, "not found")),
    ("DELETE", "/api/edit", (405, "is not allowed")),
    ("GET", "/images/..%2Fsheets-bridge.toml", (404, "not found")),
    ("GET", "/images/%2e%2e", (404, "not found")),
]


@pytest.mark.parametrize(
    "case", BODIES, ids=[f"{c[0]} {c[1][:40]} {n}" for n, c in enumerate(BODIES)]
)
def test_an_api_request(client, row_id, case):
    if len(case) == 3:
        method, path, expected = case
        body = None
    else:
        method, path, body, expected = case
        body = body.replace(ROW.encode(), row_id.encode())
    headers = {**AUTH, "Content-Type": "application/json"}
    response = client.open(path, method=method, data=body, headers=headers)
    expect_api(response, expected, page=path.startswith("/images/"))


# -- 3. CSV manifests at init ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("images")
    for n, name in enumerate(("a1", "a2", "b1", "b2", "c1")):
        png(root / f"{name}.png", value=n * 40)
    png16(root / "deep.png")
    tiff_float(root / "float.tif")
    png(root / "rgba.png", mode="RGBA", value=(1, 2, 3, 4))
    png(root / "one-bit.png", mode="1", value=1)
    png(root / "palette.png", mode="P", value=3)
    Image.new("CMYK", (8, 8), (1, 2, 3, 4)).save(root / "cmyk.jpg")
    (root / "empty.png").write_bytes(b"")
    (root / "text.png").write_text("not an image")
    (root / "truncated.png").write_bytes((root / "a1.png").read_bytes()[:40])
    bomb(root / "bomb.png")
    (root / "folder.png").mkdir()
    return root


GOOD = "path,label,split\n{a1},a,train\n{a2},a,val\n{b1},b,train\n{b2},b,val\n"
MANIFESTS = [
    # (id, csv text or bytes, expected: OK or (exit code, fragment))
    ("valid", GOOD, OK),
    ("spaces around header names", GOOD.replace("path,label,split", " path , label , split "), OK),
    ("byte-order mark", "\ufeff" + GOOD, OK),
    ("crlf line ends", GOOD.replace("\n", "\r\n"), OK),
    ("roman labels in any case", GOOD.replace(",a,", ",VII,").replace(",b,", ",ii,"), OK),
    ("unicode class names", GOOD.replace(",a,", ",猫,").replace(",b,", ",犬,"), OK),
    ("markup class name", GOOD.replace(",a,", ",<b onclick=alert(1)>a,"), OK),
    ("nan is a name", GOOD.replace(",a,", ",nan,"), OK),
    ("split with spaces", GOOD.replace(",train\n", ", train \n"), OK),
    ("16-bit image", GOOD + "{deep},a,train\n", OK),
    ("float tiff", GOOD + "{float},b,train\n", OK),
    (
        "rgba, 1-bit, palette, cmyk",
        GOOD + "{rgba},a,train\n{one-bit},a,train\n{palette},b,train\n{cmyk},b,train\n",
        OK,
    ),
    ("missing column", "path,label\n{a1},a\n", (1, "missing: ['split']")),
    (
        "extra column",
        GOOD.replace("path,label,split", "path,label,split,x").replace("\n{", ",1\n{"),
        (1, "unknown: ['x'"),
    ),
    (
        "duplicate column",
        "path,label,split,split\n{a1},a,train,train\n",
        (1, "columns must be exactly"),
    ),
    ("no columns at all", "\n", (1, "not a readable CSV")),
    ("empty file", "", (1, "not a readable CSV")),
    ("header only", "path,label,split\n", (1, "at least 2 are needed")),
    ("binary garbage", b"\x00\xff\xfe\x89PNG\x00\x00", (1, "not a readable CSV")),
    (
        "latin-1 text",
        "path,label,split\n{a1},caf\xe9,train\n".encode("latin-1"),
        (1, "not a readable CSV"),
    ),
    ("ragged row", GOOD + "{c1},c,train,extra\n", (1, "not a readable CSV")),
    ("unclosed quote", GOOD + '{c1},"c,train\n', (1, "not a readable CSV")),
    ("unknown split", GOOD.replace(",val\n", ",tran\n", 1), (1, "unknown split 'tran'")),
    ("split in capitals", GOOD.replace(",val\n", ",VAL\n", 1), (1, "unknown split 'VAL'")),
    ("empty split", GOOD.replace(",val\n", ",\n", 1), (1, "unknown split ''")),
    ("missing image", GOOD + "nowhere.png,a,train\n", (1, "cannot read")),
    ("image path is a folder", GOOD + "{folder},a,train\n", (1, "cannot read")),
    ("empty path", GOOD + ",a,train\n", (1, "invalid image path")),
    ("empty label", GOOD + "{c1},,train\n", (1, "empty class name")),
    ("formula label =", GOOD + "{c1},=1+1,train\n", (1, "start a formula")),
    ("formula label +", GOOD + "{c1},+c,train\n", (1, "start a formula")),
    ("formula label -", GOOD + "{c1},-c,train\n", (1, "start a formula")),
    ("formula label @", GOOD + "{c1},@c,train\n", (1, "start a formula")),
    ("label with a slash", GOOD + "{c1},c/d,train\n", (1, "path separator")),
    ("label with a backslash", GOOD + "{c1},c\\d,train\n", (1, "path separator")),
    ("label ..", GOOD + "{c1},..,train\n", (1, "not a folder name")),
    ("label .", GOOD + "{c1},.,train\n", (1, "not a folder name")),
    ("label with a tab", GOOD + "{c1},c\td,train\n", (1, "control character")),
    ("label with a newline", GOOD + '{c1},"c\nd",train\n', (1, "control character")),
    ("label with a zero-width space", GOOD + "{c1},c\u200bd,train\n", (1, "control character")),
    ("label with a bidi override", GOOD + "{c1},c\u202ed,train\n", (1, "control character")),
    ("label with leading space", GOOD + "{c1}, c,train\n", (1, "leading or trailing spaces")),
    ("label with trailing space", GOOD + "{c1},c ,train\n", (1, "leading or trailing spaces")),
    ("label of 65 characters", GOOD + "{c1}," + "c" * 65 + ",train\n", (1, "at most 64")),
    (
        "one class only",
        "path,label,split\n{a1},a,train\n{a2},a,val\n",
        (1, "at least 2 are needed"),
    ),
    ("class only in val", GOOD + "{c1},c,val\n", (1, "class 'c' has no training images")),
    ("the same file twice", GOOD + "{a1},a,train\n", (1, "the same file as")),
    ("not an image", GOOD + "{text},a,train\n", (1, "unreadable image")),
    ("zero-byte image", GOOD + "{empty},a,train\n", (1, "unreadable image")),
    ("truncated image", GOOD + "{truncated},a,train\n", (1, "unreadable image")),
    ("decompression bomb", GOOD + "{bomb},a,train\n", (1, "decompression bomb")),
]


@pytest.mark.parametrize(
    ("text", "expected"), [m[1:] for m in MANIFESTS], ids=[m[0] for m in MANIFESTS]
)
def test_a_csv_manifest(tmp_path, images, text, expected):
    paths = {p.stem: str(p) for p in images.iterdir()}
    if isinstance(text, str):
        body = text
        for stem, p in paths.items():
            body = body.replace("{" + stem + "}", p)
        data = body.encode("utf-8")
    else:
        data = text.replace(b"{a1}", paths["a1"].encode())
    (tmp_path / "m.csv").write_bytes(data)
    ws = tmp_path / "ws"
    result = cli("init", tmp_path / "m.csv", "-w", ws)
    expect_cli(result, expected)
    if expected != OK:  # nothing half-done: the same folder takes a good init afterwards
        assert not ws.exists() or not any(ws.iterdir())


# -- 4. dataset folders at init -------------------------------------------------------------------
def _two_classes(root: Path, classes=("a", "b")) -> None:
    for n, c in enumerate(classes):
        png(root / "train" / c / f"{c}-t.png", value=10 + n)
        png(root / "val" / c / f"{c}-v.png", value=100 + n)


def _with(extra: Callable[[Path], object], classes=("a", "b")) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        _two_classes(root, classes)
        extra(root)

    return build


def _linked_val(root: Path) -> None:
    (root / "val").rename(root.parent / "val-real")
    (root / "val").symlink_to(root.parent / "val-real")


def _bytes_name(folder: Path, name: bytes) -> Path:
    return folder / os.fsdecode(name)


FOLDERS = [
    ("valid", _with(lambda r: None), OK),
    (
        "hidden files are skipped",
        _with(lambda r: (r / "train" / "a" / ".DS_Store").write_text("x")),
        OK,
    ),
    (
        "nested folders in a class",
        _with(lambda r: png(r / "train" / "a" / "more" / "deep.png")),
        OK,
    ),
    (
        "upper-case suffix",
        _with(lambda r: png(r / "train" / "a" / "big.png").rename(r / "train" / "a" / "BIG.PNG")),
        OK,
    ),
    (
        "a png named .jpg",
        _with(lambda r: png(r / "train" / "a" / "p.png").rename(r / "train" / "a" / "p.jpg")),
        OK,
    ),
    ("16-bit gradient", _with(lambda r: png16(r / "train" / "a" / "deep.png")), OK),
    ("float tiff", _with(lambda r: tiff_float(r / "train" / "b" / "float.tif")), OK),
    ("markup class name", _with(lambda r: None, classes=("<img src=x onerror=alert(1)>", "b")), OK),
    ("roman folders in capitals", _with(lambda r: None, classes=("I", "II")), OK),
    (
        "a link to a file outside",
        _with(
            lambda r: (r / "train" / "a" / "l.png").symlink_to(png(r.parent / "outside.png", 77))
        ),
        OK,
    ),
    ("a test split", _with(lambda r: png(r / "test" / "a" / "t.png", 5)), OK),
    ("a label_book split", _with(lambda r: png(r / "label_book" / "b" / "lb.png", 6)), OK),
    ("no split folders", lambda r: r.mkdir(parents=True), (1, "no split folders")),
    (
        "unknown split",
        _with(lambda r: png(r / "tran" / "a" / "x.png")),
        (1, "unknown split 'tran'"),
    ),
    (
        "a file where a class folder goes",
        _with(lambda r: (r / "train" / "notes.txt").write_text("x")),
        (1, "a file where a class folder was expected"),
    ),
    ("empty class folder", _with(lambda r: (r / "train" / "c").mkdir()), (1, "empty class folder")),
    (
        "a non-image file",
        _with(lambda r: (r / "train" / "a" / "readme.txt").write_text("x")),
        (1, "not an image file"),
    ),
    (
        "a file without suffix",
        _with(lambda r: (r / "train" / "a" / "noext").write_bytes(b"x")),
        (1, "not an image file"),
    ),
    (
        "corrupt png",
        _with(lambda r: (r / "train" / "a" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nrubbish")),
        (1, "unreadable image"),
    ),
    (
        "zero-byte png",
        _with(lambda r: (r / "train" / "a" / "zero.png").write_bytes(b"")),
        (1, "unreadable image"),
    ),
    (
        "truncated png",
        _with(
            lambda r: (r / "train" / "a" / "cut.png").write_bytes(
                (r / "train" / "a" / "a-t.png").read_bytes()[:50]
            )
        ),
        (1, "unreadable image"),
    ),
    (
        "decompression bomb",
        _with(lambda r: bomb(r / "train" / "a" / "bomb.png")),
        (1, "decompression bomb"),
    ),
    (
        "a linked class folder",
        _with(lambda r: (r / "train" / "c").symlink_to(r / "train" / "a")),
        (1, "a link to a folder"),
    ),
    (
        "a linked split folder",
        _with(_linked_val),
        (1, "a link to a folder"),
    ),
    (
        "a linked folder inside a class",
        _with(lambda r: (r / "train" / "b" / "more").symlink_to(r / "train" / "a")),
        (1, "a link to a folder"),
    ),
    (
        "a linked file of another class",
        _with(lambda r: (r / "train" / "b" / "dup.png").symlink_to(r / "train" / "a" / "a-t.png")),
        (1, "the same file as"),
    ),
    (
        "non-UTF-8 file name",
        _with(lambda r: png(_bytes_name(r / "train" / "a", b"caf\xe9.png"))),
        (1, "not valid UTF-8"),
    ),
    (
        "non-UTF-8 class folder",
        _with(lambda r: png(_bytes_name(r / "train", b"cl\xff") / "x.png")),
        (1, "not valid UTF-8"),
    ),
    (
        "non-UTF-8 split folder",
        _with(lambda r: png(_bytes_name(r, b"sp\xff") / "a" / "x.png")),
        (1, "not valid UTF-8"),
    ),
    (
        "a control character in a file name",
        _with(lambda r: png(r / "train" / "a" / "bad\nname.png")),
        (1, "control character"),
    ),
    (
        "a class folder with a leading space",
        _with(lambda r: None, classes=(" a", "b")),
        (1, "leading or trailing spaces"),
    ),
    (
        "a class folder name of 65 characters",
        _with(lambda r: None, classes=("a" * 65, "b")),
        (1, "at most 64"),
    ),
    (
        "a class folder with a tab",
        _with(lambda r: None, classes=("a\tb", "b")),
        (1, "control character"),
    ),
    ("one class only", _with(lambda r: None, classes=("a",)), (1, "at least 2 are needed")),
    (
        "a class only in val",
        _with(lambda r: png(r / "val" / "c" / "c.png")),
        (1, "class 'c' has no training images"),
    ),
    (
        "a .txt file as the dataset",
        lambda r: (r.parent / "data.txt").write_text("x"),
        (1, "expected an image folder or a .csv"),
    ),
    ("no dataset at all", lambda r: None, (1, "no such file or folder")),
]


@pytest.mark.parametrize(
    ("build", "expected"), [f[1:] for f in FOLDERS], ids=[f[0] for f in FOLDERS]
)
def test_a_dataset_folder(tmp_path, build, expected):
    root = tmp_path / "data"
    build(root)
    source = tmp_path / "data.txt" if (tmp_path / "data.txt").exists() else root
    ws = tmp_path / "ws"
    result = cli("init", source, "-w", ws)
    expect_cli(result, expected)
    if expected == OK:  # a registered workspace opens for every reading command
        expect_cli(cli("versions", "-w", ws), OK)
        expect_cli(cli("sheet", "show", "-w", ws), OK)
    else:  # nothing half-done: a good init into the same folder works afterwards
        assert not ws.exists() or not any(ws.iterdir())
        good = tmp_path / "good"
        _two_classes(good)
        expect_cli(cli("init", good, "-w", ws), OK)
        expect_cli(cli("versions", "-w", ws), OK)


# -- 5. CLI arguments and damaged workspace files ---------------------------------------------------
def _copy_ws(pushed: Path, tmp: Path) -> Path:
    import shutil

    target = tmp / "ws"
    shutil.copytree(pushed, target, ignore=shutil.ignore_patterns("*-wal", "*-shm"))
    return target


def _damage(relative: str, data: bytes) -> Callable[[Path], None]:
    def damage(ws: Path) -> None:
        (ws / relative).write_bytes(data)

    return damage


ARGS = [
    # (id, how to change the workspace copy (or None), arguments ({ws} = the workspace), expected)
    ("versions", None, ["versions", "-w", "{ws}"], OK),
    ("report", None, ["report", "-w", "{ws}"], OK),
    ("sheet show json", None, ["sheet", "show", "-w", "{ws}", "--format", "json"], OK),
    ("not a workspace", None, ["versions", "-w", "{tmp}/nowhere"], (1, "is not a workspace")),
    ("a file as workspace", None, ["versions", "-w", "{ws}/sheets-bridge.toml"], (2, "is a file")),
    ("unknown version", None, ["checkout", "v9999", "-w", "{ws}"], (1, "no version 'v9999'")),
    (
        "a path as version",
        None,
        ["checkout", "../v0001", "-w", "{ws}"],
        (1, "no version '../v0001'"),
    ),
    ("diff unknown", None, ["diff", "v0001", "v0042", "-w", "{ws}"], (1, "no version 'v0042'")),
    ("diff format", None, ["diff", "v0001", "--format", "xml", "-w", "{ws}"], (2, "Invalid value")),
    (
        "export unknown",
        None,
        ["export", "v0042", "{tmp}/out", "-w", "{ws}"],
        (1, "no version 'v0042'"),
    ),
    (
        "export into a full folder",
        None,
        ["export", "v0001", "{ws}", "-w", "{ws}"],
        (1, "is not empty"),
    ),
    (
        "export into a file",
        None,
        ["export", "v0001", "{ws}/state.json", "-w", "{ws}"],
        (2, "is a file"),
    ),
    (
        "train epochs not a number",
        None,
        ["train", "--epochs", "many", "-w", "{ws}"],
        (2, "is not a valid integer"),
    ),
    (
        "train unknown preset",
        None,
        ["train", "--preset", "turbo", "-w", "{ws}"],
        (2, "Invalid value"),
    ),
    (
        "train eval folder missing",
        None,
        ["train", "--eval", "{tmp}/none", "-w", "{ws}"],
        (2, "does not exist"),
    ),
    ("serve port too large", None, ["serve", "--port", "99999", "-w", "{ws}"], (2, "99999")),
    (
        "serve port not a number",
        None,
        ["serve", "--port", "http", "-w", "{ws}"],
        (2, "is not a valid integer"),
    ),
    (
        "sheet show format",
        None,
        ["sheet", "show", "--format", "xml", "-w", "{ws}"],
        (2, "Invalid value"),
    ),
    (
        "sheet show to a full disk",
        None,
        ["sheet", "show", "-o", "/dev/full", "-w", "{ws}"],
        (1, "disk is full"),
    ),
    (
        "sheet update missing file",
        None,
        ["sheet", "update", "--from-csv", "{tmp}/none.csv", "-w", "{ws}"],
        (2, "does not exist"),
    ),
    (
        "init google without spreadsheet",
        None,
        ["init", "{data}", "-w", "{tmp}/g", "--backend", "google"],
        (1, "needs spreadsheet"),
    ),
    (
        "init into a workspace",
        None,
        ["init", "{tmp}/nowhere", "-w", "{ws}"],
        (1, "is already a workspace"),
    ),
    ("unknown command", None, ["frobnicate"], (2, "No such command")),
    (
        "make-demo-data with no images",
        None,
        ["make-demo-data", "{tmp}/demo", "--images", "-5"],
        (1, ""),
    ),
    (
        "config not TOML",
        _damage("sheets-bridge.toml", b"backend = = 1"),
        ["versions", "-w", "{ws}"],
        (1, "is not valid TOML"),
    ),
    (
        "config not UTF-8",
        _damage("sheets-bridge.toml", b"backend = '\xff'"),
        ["versions", "-w", "{ws}"],
        (1, "is not valid TOML"),
    ),
    (
        "config unknown setting",
        _damage("sheets-bridge.toml", b"colour = 'red'"),
        ["versions", "-w", "{ws}"],
        (1, "unknown setting(s) ['colour']"),
    ),
    (
        "config folds not a number",
        _damage("sheets-bridge.toml", b"folds = 'many'"),
        ["versions", "-w", "{ws}"],
        (1, "setting 'folds'"),
    ),
    (
        "config bad backend",
        _damage("sheets-bridge.toml", b"backend = 'excel'"),
        ["versions", "-w", "{ws}"],
        (1, "unknown sheet backend"),
    ),
    (
        "sheet.db garbage",
        _damage("sheet.db", b"this is not a database" * 100),
        ["sheet", "show", "-w", "{ws}"],
        (1, "sheet.db is damaged"),
    ),
    (
        "sheet.db empty",
        _damage("sheet.db", b""),
        ["sheet", "show", "-w", "{ws}"],
        (1, "is not a sheets-bridge database"),
    ),
    (
        "sheet.db garbage on report",
        _damage("sheet.db", b"x" * 5000),
        ["report", "-w", "{ws}"],
        (1, "sheet.db is damaged"),
    ),
    (
        "sheet.db garbage on pull",
        _damage("sheet.db", b"x" * 5000),
        ["pull", "-w", "{ws}"],
        (1, "sheet.db is damaged"),
    ),
    (
        "sheet.db missing after a push",
        lambda ws: (ws / "sheet.db").unlink(),
        ["sheet", "show", "-w", "{ws}"],
        (1, "sheet.db is missing"),
    ),
    (
        "sheet.db missing, pull",
        lambda ws: (ws / "sheet.db").unlink(),
        ["pull", "-w", "{ws}"],
        (1, "sheet.db is missing"),
    ),
    (
        "sheet.db missing, push --new-sheet",
        lambda ws: (ws / "sheet.db").unlink(),
        ["push", "--new-sheet", "-w", "{ws}"],
        OK,
    ),
    (
        "manifest without columns",
        _damage("versions/v0001/manifest.csv", b"a,b\n1,2\n"),
        ["diff", "v0001", "-w", "{ws}"],
        (1, "lacks columns"),
    ),
    ("state.json not JSON", _damage("state.json", b"{"), ["versions", "-w", "{ws}"], (1, "")),
]


@pytest.mark.parametrize(
    ("damage", "args", "expected"), [a[1:] for a in ARGS], ids=[a[0] for a in ARGS]
)
def test_a_command_line(tmp_path, pushed, damage, args, expected):
    ws = _copy_ws(pushed, tmp_path)
    if damage:
        damage(ws)
    data = str(pushed.parent / "data")
    args = [a.replace("{ws}", str(ws)).replace("{tmp}", str(tmp_path)) for a in args]
    result = cli(*[a.replace("{data}", data) for a in args])
    expect_cli(result, expected)
    if "init" in args:  # a refused init leaves nothing behind
        assert not (tmp_path / "g").exists()


# -- 6. the web app on damaged workspace files ---------------------------------------------------
WEB = [
    ("garbage", b"not a database at all" * 100, "/api/sheet/rows", (503, "sheet.db is damaged")),
    (
        "garbage",
        b"not a database at all" * 100,
        "/api/sheet/edits?since=0",
        (503, "sheet.db is damaged"),
    ),
    ("garbage", b"not a database at all" * 100, "/api/report", (503, "sheet.db is damaged")),
    ("empty", b"", "/api/sheet/rows", (503, "is not a sheets-bridge database")),
    ("missing", None, "/api/sheet/rows", (503, "sheet.db is missing")),
]


@pytest.mark.parametrize(("what", "data", "path", "expected"), WEB)
def test_the_web_app_on_a_damaged_sheet(tmp_path, pushed, what, data, path, expected):
    ws = _copy_ws(pushed, tmp_path)
    if data is None:
        (ws / "sheet.db").unlink()
    else:
        (ws / "sheet.db").write_bytes(data)
    client = create_app(ws, token=TOKEN, testing=True).test_client()
    expect_api(client.get(path, headers=AUTH), expected)
    page = client.get("/sheet")  # pages still render; the grid shows the error it gets
    assert page.status_code == 200
    umap = client.get("/umap")
    assert umap.status_code == 200 and "could not be read" in umap.get_data(as_text=True)


# -- 7. 16-bit images and read-only workspaces -----------------------------------------------------
def test_a_16_bit_gradient_keeps_its_greys_in_the_web_thumbnail(tmp_path):
    data = tmp_path / "data"
    _two_classes(data)
    png16(data / "train" / "a" / "deep.png")
    tiff_float(data / "train" / "b" / "float.tif")
    ws = loop.init(data, tmp_path / "ws")
    assert {"deep", "float"} <= set(ws.current.manifest()["id"])
    client = create_app(ws.root, token=TOKEN, testing=True).test_client()
    for rid in ("deep", "float"):
        response = client.get(f"/images/{rid}?thumb=1")
        assert response.status_code == 200 and response.mimetype == "image/png"
        from io import BytesIO

        grey = np.asarray(Image.open(BytesIO(response.data)).convert("L"), dtype=float)
        assert 100 < grey.mean() < 155, (rid, grey.mean())  # a gradient, not white
        assert (grey > 250).mean() < 0.2 and grey[:, 0].mean() < 20 and grey[:, -1].mean() > 235


def _read_only_prefix(ws: Path) -> list[str]:
    """A command prefix under which ``ws`` is read-only: a private read-only bind mount when
    running as root (permissions do not stop root), else the permission bits."""
    import shutil

    if os.geteuid() != 0:
        for p in [ws, *ws.rglob("*")]:
            p.chmod(p.stat().st_mode & ~0o222)
        return []
    if not shutil.which("unshare"):
        pytest.skip("needs unshare(1) to make a read-only mount as root")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a mount namespace here: {probe.stderr.decode()[:100]}")
    mount = f'mount --bind {ws} {ws} && mount -o remount,bind,ro {ws} {ws} && exec "$@"'
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", mount, "sh"]


@pytest.fixture
def read_only_ws(tmp_path, pushed) -> tuple[Path, list[str]]:
    ws = _copy_ws(pushed, tmp_path)
    for leftover in ("jobs.db", "media/thumbs"):
        path = ws / leftover
        if path.is_dir():
            import shutil

            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    return ws, _read_only_prefix(ws)


#: Runs CLI commands in one process (one start-up inside the read-only mount) and prints
#: [exit code, output, whether an exception other than SystemExit escaped] per command.
_RUN_COMMANDS = """
import json, sys
from click.testing import CliRunner
from sheets_bridge.cli import main
out = []
for args in json.loads(sys.argv[1]):
    r = CliRunner().invoke(main, args)
    out.append([r.exit_code, r.output, not isinstance(r.exception, (SystemExit, type(None)))])
print(json.dumps(out))
"""


def test_a_read_only_workspace_still_serves_every_reading_command(read_only_ws):
    import json

    ws, prefix = read_only_ws
    before = sorted(str(p.relative_to(ws)) for p in ws.rglob("*"))
    commands = [
        [*args, "-w", str(ws)]
        for args in (["versions"], ["report"], ["sheet", "show"], ["diff", "v0001"], ["pull"])
    ]
    run = subprocess.run(
        [*prefix, sys.executable, "-c", _RUN_COMMANDS, json.dumps(commands)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)
    for args, (code, output, escaped) in zip(commands[:-1], results, strict=False):
        assert code == 0 and not escaped and "Traceback" not in output, (args, output)
    code, output, escaped = results[-1]  # pull writes: refused in one line
    assert code == 1 and not escaped and len(output.strip().splitlines()) == 1, output
    said = (
        output.lower()
    )  # the writer lock refuses first: "cannot take the writer lock ... read-only"
    assert "Error:" in output and ("read-only" in said or "cannot write" in said), output
    assert sorted(str(p.relative_to(ws)) for p in ws.rglob("*")) == before  # nothing written


def test_a_read_only_workspace_is_served_for_viewing(read_only_ws):
    import http.client
    import re

    ws, prefix = read_only_ws
    env = {**os.environ, "SHEETS_BRIDGE_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}
    serve = [*prefix, sys.executable, "-m", "sheets_bridge.cli", "serve", "-w", str(ws)]
    proc = subprocess.Popen(
        [*serve, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        port = None
        for line in proc.stdout:
            found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            if found:
                port = int(found.group(1))
                break
        assert port, proc.stderr.read() if proc.poll() is not None else "no URL printed"
        rid = next(iter(pd_ids(ws)))

        def get(path: str, method: str = "GET") -> tuple[int, bytes]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request(method, path, headers=AUTH)
            response = conn.getresponse()
            out = response.status, response.read()
            conn.close()
            return out

        for path in ("/", "/umap", "/sheet", "/api/status", "/api/sheet/rows", "/api/report"):
            status, _ = get(path)
            assert status == 200, path
        status, body = get(f"/images/{rid}?thumb=1")  # made in memory: no cache to write to
        assert status == 200 and body.startswith(b"\x89PNG")
        status, body = get("/api/push", "POST")
        assert status == 503 and b"read-only" in body
    finally:
        proc.terminate()
        _, log = proc.communicate(timeout=30)
    assert "Traceback" not in log
    assert not (ws / "media" / "thumbs").exists() and not (ws / "jobs.db").exists()


def pd_ids(ws: Path) -> list[str]:
    from sheets_bridge.store.workspace import Workspace

    return list(Workspace(ws).current.manifest()["id"])
