"""The local Sheets API server answers like the real one: replay of recorded Google traffic.

``shared/fixtures/sheets-api/`` holds request/response pairs recorded against Google by gspread's
own test suite. Each recorded spreadsheet is re-created on the local server and every Sheets request
is sent again, byte for byte; the answers must match (ids that Google picks at random aside).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests

from tests.sheets_api import SheetsApiServer, parse_mask, user_entered

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "sheets-api"
API = "https://sheets.googleapis.com"
RANDOM_IDS = {"sheetId", "protectedRangeId", "metadataId"}


def cassettes() -> list[Path]:
    return sorted(FIXTURES.glob("*.json"))


def normalise(obj: object, ids: dict[str, str]) -> object:
    """Drop what Google picks at random or knows about its users; map spreadsheet ids."""
    if isinstance(obj, dict):
        return {
            k: ("<id>" if k in RANDOM_IDS and v else normalise(v, ids))
            for k, v in obj.items()
            if k not in ("editors", "details", "spreadsheetUrl")
        }
    if isinstance(obj, list):
        return [normalise(v, ids) for v in obj]
    if isinstance(obj, str):
        return ids.get(obj, obj)
    return obj


def pair_ids(recorded: object, local: object, found: dict[str, str]) -> None:
    """Google's random ids (a new sheet's id...) next to the ones the local server chose."""
    if isinstance(recorded, dict) and isinstance(local, dict):
        for k, v in recorded.items():
            if k in RANDOM_IDS and k in local and v != local[k]:
                found[str(v)] = str(local[k])
            pair_ids(v, local.get(k), found)
    elif isinstance(recorded, list) and isinstance(local, list):
        for a, b in zip(recorded, local, strict=False):
            pair_ids(a, b, found)


def replay(server: SheetsApiServer, cassette: Path) -> list[tuple[str, object, object]]:
    """Send every recorded Sheets request again; return (request, recorded, local) answers."""
    out = []
    local_ids: dict[str, str] = {}
    random_ids: dict[str, str] = {}
    for it in json.loads(cassette.read_text(encoding="utf-8"))["interactions"]:
        req, resp = it["request"], it["response"]
        if not req["uri"].startswith(API):
            continue  # Drive calls create and delete the test file
        m = re.match(r"^/v4/spreadsheets/([^/:?]+)", req["uri"][len(API) :])
        assert m, req["uri"]
        recorded_id = m[1]
        recorded = json.loads(resp["body"]["string"])
        if recorded_id not in local_ids:
            title = recorded.get("properties", {}).get("title", "Test")
            local_ids[recorded_id] = server.create_spreadsheet(title)
        path = req["uri"][len(API) :].replace(recorded_id, local_ids[recorded_id], 1)
        body = req.get("body")
        for old, new in random_ids.items():  # later requests name the ids Google chose
            body = re.sub(rf"\b{old}\b", new, body) if isinstance(body, str) else body
        answer = requests.request(
            req["method"],
            server.url + path,
            data=body.encode("utf-8") if isinstance(body, str) else body,
            headers={"Content-Type": "application/json"} if body else {},
            timeout=10,
        )
        assert answer.status_code == resp["status"]["code"], (
            req["method"],
            req["uri"],
            answer.text,
        )
        ids = {v: k for k, v in local_ids.items()}
        pair_ids(recorded, answer.json(), random_ids)
        got = normalise(answer.json(), ids)
        want = normalise(recorded, {})
        out.append((f"{req['method']} {req['uri']}", want, got))
    return out


@pytest.fixture(scope="module")
def server():
    with SheetsApiServer() as s:
        yield s
        assert not s.errors, s.errors


@pytest.mark.skipif(
    not FIXTURES.parent.parent.is_dir(), reason="no shared/ folder beside the checkout"
)
def test_the_recorded_traffic_is_there():
    assert len(cassettes()) >= 10, f"expected the recorded Sheets API traffic in {FIXTURES}"


@pytest.mark.parametrize("cassette", cassettes(), ids=lambda p: p.stem)
def test_local_server_answers_like_the_recorded_sheets_api(server, cassette):
    for request, want, got in replay(server, cassette):
        if "includeGridData" in request and "fields=" not in request:
            # Spreadsheet metadata: Google adds themes and default formats the backend never reads.
            want_sheets = [
                {k: s[k] for k in ("properties", "protectedRanges") if k in s}
                for s in want["sheets"]
            ]
            got_sheets = [
                {k: s[k] for k in ("properties", "protectedRanges") if k in s}
                for s in got["sheets"]
            ]
            assert got_sheets == want_sheets, request
            assert got["spreadsheetId"] == want["spreadsheetId"]
        else:
            assert got == want, request


def test_values_come_back_trimmed_and_empty_ranges_have_no_values(server):
    sid = server.create_spreadsheet()
    url = f"{server.url}/v4/spreadsheets/{sid}/values"
    rows = [["a", "", ""], ["", "", ""], ["", "b", ""], ["", "", ""]]
    requests.put(
        f"{url}/Sheet1!A1?valueInputOption=RAW", json={"values": rows}, timeout=5
    ).raise_for_status()
    got = requests.get(f"{url}/Sheet1", timeout=5).json()
    assert got == {
        "range": "Sheet1!A1:Z1000",
        "majorDimension": "ROWS",
        "values": [["a"], [], ["", "b"]],
    }
    empty = requests.get(f"{url}/Sheet1!D5:E6", timeout=5).json()
    assert empty == {"range": "Sheet1!D5:E6", "majorDimension": "ROWS"}


def test_writes_outside_the_grid_are_refused_like_google_does(server):
    sid = server.create_spreadsheet(rows=3, cols=2)
    url = f"{server.url}/v4/spreadsheets/{sid}/values/Sheet1!A3?valueInputOption=RAW"
    answer = requests.put(url, json={"values": [["x"], ["y"]]}, timeout=5)
    assert answer.status_code == 400
    assert (
        answer.json()["error"]["message"]
        == "Range (Sheet1!A4) exceeds grid limits. Max rows: 3, max columns: 2"
    )


def test_raw_keeps_text_and_user_entered_parses_like_a_person_typing(server):
    sid = server.create_spreadsheet()
    url = f"{server.url}/v4/spreadsheets/{sid}/values"
    typed = [["=1+1", "+1+1", "007", "1/2/2021", "'=x", "TRUE", "5%", "@x"]]
    for option, row in (("RAW", 1), ("USER_ENTERED", 2)):
        requests.put(
            f"{url}/Sheet1!A{row}?valueInputOption={option}", json={"values": typed}, timeout=5
        )
    shown = requests.get(f"{url}/Sheet1!A1:H2", timeout=5).json()["values"]
    assert shown[0] == typed[0]
    assert shown[1] == ["2", "2", "7", "1/2/2021", "=x", "TRUE", "0.05", "@x"]
    assert user_entered("-A1").text == "=-A1"  # a leading + or - starts a formula in the UI


def test_field_masks_parse_like_google_documents_them():
    mask = parse_mask("sheets.properties(sheetId,title),sheets.data.rowData.values.formattedValue")
    assert mask == {
        "sheets": {
            "properties": {"sheetId": None, "title": None},
            "data": {"rowData": {"values": {"formattedValue": None}}},
        }
    }


class Redirect(requests.Session):
    """How gspread reaches another server: rewrite the URL in the session (gspread.urls is copied
    at import, so changing it does nothing)."""

    def __init__(self, endpoint: str):
        super().__init__()
        self.endpoint = endpoint

    def request(self, method, url, *args, **kwargs):
        return super().request(method, url.replace(API, self.endpoint), *args, **kwargs)


def test_gspread_itself_works_against_the_local_server(server):
    import gspread

    sid = server.create_spreadsheet("gspread", rows=3, cols=3)
    ws = gspread.Client(auth=None, session=Redirect(server.url)).open_by_key(sid).sheet1
    ws.update([["id", "label"], ["a", "i"]], "A1")
    ws.append_rows([["b", "ii"], ["c", "=1+1"]], value_input_option="RAW")  # grows the grid
    assert ws.get_all_values() == [["id", "label"], ["a", "i"], ["b", "ii"], ["c", "=1+1"]]
    ws.batch_clear(["B2:B3"])
    assert ws.col_values(2) == ["label", "", "", "=1+1"]
    ws.sort((1, "des"), range="A2:C4")
    assert ws.col_values(1) == ["id", "c", "b", "a"]
    assert server.count("values.append") == 1
