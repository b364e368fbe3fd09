"""``kiosk-server enroll-code``: enrolment strings, a QR code PNG, and the printable A4 sheet (both backends).

The sheet is read back as a technician's tools would: its text with pypdf,
its QR codes with the zxing-cpp decoder.
"""

from __future__ import annotations

import re

import pytest
from cli_helpers import run_main

from server.cli import main as server_main
from server.enrollment_cards import FONT_FILES, find_fonts
from server.errors import ServerError
from server_fixtures import *  # noqa: F401,F403 - server_db_url, start_server
from sync.enrollment import parse_enrollment_string

SITE = "UBND phường Phúc La"
COUNTER = "Quầy 3"
URL = "https://hailong.example.vn"


def run(args, capsys) -> tuple[int, str, str]:
    return run_main(server_main, args, capsys)


def codes_stored(db_url: str) -> int:
    from sqlalchemy import func, select

    from server.db import open_engine
    from server.schema import enrollment_codes
    from server.settings import Settings

    engine = open_engine(Settings(db_url=db_url))
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(enrollment_codes)).scalar_one()
    finally:
        engine.dispose()


def test_count_prints_one_enrolment_string_a_line(server_db_url, capsys, start_server):
    status, out, err = run(["enroll-code", "--site", SITE, "--counter", COUNTER, "--server", URL + "/",
                            "--count", "3", "--db", server_db_url], capsys)
    assert status == 0, err
    lines = out.splitlines()
    assert len(lines) == 3 and all(re.fullmatch(r"hailong1:[A-Za-z0-9_-]+", line) for line in lines)
    pairs = [parse_enrollment_string(line) for line in lines]
    assert {url for url, _code in pairs} == {URL}
    assert len({code for _url, code in pairs}) == 3
    assert "3 one-time codes for UBND phường Phúc La / Quầy 3" in err and "kiosk provision STRING" in err
    server = start_server()  # each string's code enrols a terminal at the site and counter
    for _url, code in pairs:
        answer = server.post("/api/v1/enroll", json={"code": code})
        assert answer.status_code == 201 and answer.json()["counter"] == COUNTER


def test_without_server_it_prints_bare_codes_as_before(server_db_url, capsys):
    status, out, err = run(["enroll-code", "--site", SITE, "--count", "2", "--db", server_db_url], capsys)
    assert status == 0, err
    assert all(re.fullmatch(r"hl_enr_[a-z2-7]{32}", line) for line in out.splitlines())
    assert len(out.splitlines()) == 2 and "kiosk provision --server URL --code CODE" in err


def test_the_pdf_sheet_has_a_card_with_a_readable_qr_code_per_code(server_db_url, capsys, tmp_path):
    import zxingcpp
    from pypdf import PdfReader

    sheet = tmp_path / "sheet.pdf"
    status, out, err = run(["enroll-code", "--site", SITE, "--counter", COUNTER, "--server", URL,
                            "--count", "7", "--expires", "2d", "--pdf", str(sheet), "--db", server_db_url], capsys)
    assert status == 0, err
    strings = out.split()
    assert len(strings) == 7 and f"7 card(s) on 2 A4 page(s) written to {sheet}" in err

    reader = PdfReader(sheet)
    assert len(reader.pages) == 2
    assert all(round(float(page.mediabox.width)) == 595 and round(float(page.mediabox.height)) == 842
               for page in reader.pages)  # A4
    texts = [page.extract_text() for page in reader.pages]
    text = "\n".join(texts)
    assert [texts[0].count("Đơn vị / Site: UBND phường Phúc La"), texts[1].count("Quầy / Counter: Quầy 3")] == [5, 2]
    for string in strings:
        assert text.count(string) == 1  # whole, on one line: it can be copied from the PDF
        assert text.count(f"Mã / Code: {parse_enrollment_string(string)[1]}") == 1
    assert text.count(f"Máy chủ / Server: {URL}") == 7 and text.count("Hết hạn / Expires: ") == 7
    fonts = {str(font["/BaseFont"]) for page in reader.pages for font in page["/Resources"]["/Font"].values()}
    assert any("DejaVuSans" in name for name in fonts), fonts

    decoded = []
    for page in reader.pages:
        for image in page.images:
            found = zxingcpp.read_barcodes(image.image, formats=zxingcpp.BarcodeFormat.QRCode)
            decoded += [barcode.text for barcode in found]
    assert sorted(decoded) == sorted(strings)
    assert codes_stored(server_db_url) == 7


def test_the_qr_png_holds_the_string(server_db_url, capsys, tmp_path):
    import zxingcpp
    from PIL import Image

    status, out, err = run(["enroll-code", "--site", SITE, "--server", URL, "--qr", str(tmp_path / "one.png"),
                            "--db", server_db_url], capsys)
    assert status == 0, err
    # Only QR codes: zxing otherwise finds a short 1D barcode inside some QR patterns now and then.
    [barcode] = zxingcpp.read_barcodes(Image.open(tmp_path / "one.png"), formats=zxingcpp.BarcodeFormat.QRCode)
    assert barcode.text == out.strip() and parse_enrollment_string(barcode.text)[0] == URL


@pytest.mark.parametrize(("args", "says"), [
    (["--qr", "x.png"], "needs --server URL"),
    (["--pdf", "x.pdf"], "needs --server URL"),
    (["--server", URL, "--qr", "x.png", "--count", "2"], "writes one code; for a batch use --pdf"),
    (["--server", URL, "--pdf", "no/such/folder/x.pdf"], "does not exist"),
    (["--server", "hailong.example.vn"], "is not an http(s) address"),
    (["--count", "0"], "--count"),
])
def test_bad_options_exit_2_and_issue_no_code(sqlite_db_url, capsys, tmp_path, monkeypatch, args, says):
    monkeypatch.chdir(tmp_path)
    status, out, err = run(["enroll-code", "--site", SITE, "--db", sqlite_db_url, *args], capsys)
    assert status == 2 and out == "" and says in err
    assert codes_stored(sqlite_db_url) == 0


@pytest.fixture(autouse=True)
def the_servers_database(request):
    """The database is there, as once `kiosk-server serve` has run on it (enroll-code makes none)."""
    for name in ("server_db_url", "sqlite_db_url"):
        if name in request.fixturenames:
            codes_stored(request.getfixturevalue(name))


@pytest.fixture
def sqlite_db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'server.db'}"


def test_a_missing_font_is_named_with_the_package_to_install(tmp_path):
    with pytest.raises(ServerError, match=r"DejaVuSans.ttf.*apt-get install fonts-dejavu-core"):
        find_fonts(folders=(str(tmp_path),))


def test_the_fonts_are_installed_here():
    # In CI .ci/run installs fonts-dejavu-core; a machine without it must fail here, not skip.
    assert set(find_fonts()) == set(FONT_FILES)
