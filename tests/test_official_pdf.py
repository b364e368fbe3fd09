"""The official printed report (Decree 30/2020/NĐ-CP's form): read back with pdftotext, pdffonts and pypdf,
page 1 rendered with pdftoppm; from the library, ``kiosk-admin report --pdf``, the reports API
(``format=pdf``) on both backends and the dashboard's link."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pypdf
import pytest
from click.testing import CliRunner
from PIL import Image

from dashboard_fixtures import dash, load_known_data_set, log_in  # noqa: F401 - fixtures
from report_fixtures import SITE_A, known_rows, pull_to_db, rating_row, spread, upload_known, write_pulled_db
from server_fixtures import *  # noqa: F403
from admin.cli import cli
from reports import build_report, parse_period, sqlite_source
from reports.labels import LEVELS, vi_int, vi_pct
from reports.official_pdf import (Letterhead, LetterheadError, find_serif_fonts, official_pdf_bytes,
                                  write_official_pdf)
from reports.render import reconcile_line, summary_vi

OUTPUT = Path(__file__).parent / "output" / "official"
A4_POINTS = (595.28, 841.89)
SUMMARY = "/api/v1/reports/summary"

LETTERHEAD = Letterhead(parent_body="UBND thành phố Hà Nội", issuing_body="UBND phường Hà Đông", issuer_code="UBND",
                        place="Hà Nội", signer_title=("TM. Ủy ban nhân dân", "Chủ tịch"), signer_name="Nguyễn Văn An",
                        recipients=("UBND thành phố", "Văn phòng UBND thành phố", "Lưu: VT, VP"))
ISSUED = date(2026, 12, 2)


@pytest.fixture(scope="session", autouse=True)
def poppler():
    missing = [tool for tool in ("pdftotext", "pdftoppm", "pdffonts") if shutil.which(tool) is None]
    assert not missing, f"{missing}: apt-get install poppler-utils (listed in .ci/run)"


def text_of(pdf: bytes | Path, *, layout=False, page: int | None = None) -> str:
    content = pdf.read_bytes() if isinstance(pdf, Path) else pdf
    pages = ["-f", str(page), "-l", str(page)] if page else []
    return subprocess.run(["pdftotext", *(["-layout"] if layout else []), *pages, "-", "-"], input=content,
                          capture_output=True, check=True).stdout.decode("utf-8")


def words(text: str) -> str:
    return " ".join(text.split())


def tokens_of(pdf: bytes, *, page: int | None = None) -> list[str]:
    """Every word pypdf reads (of one page, counted from 1), in drawing order: the table cell by cell, row by row."""
    pages = pypdf.PdfReader(io.BytesIO(pdf)).pages
    return " ".join(p.extract_text() for p in (pages if page is None else [pages[page - 1]])).split()


def holds_in_a_row(tokens: list[str], wanted: list[str]) -> bool:
    return any(tokens[i:i + len(wanted)] == wanted for i in range(len(tokens) - len(wanted) + 1))


def row_tokens(cell, rank: str, label: str, *, total=False) -> list[str]:
    """A table row as it reads: rank, name (with "(*)" when too few), n, each level n (pct), rate, ranking rate."""
    levels = [x for level in LEVELS for x in (vi_int(getattr(cell, level)), f"({vi_pct(cell.pct[level])})")]
    return [*rank.split(), *label.split(), *(["(*)"] if cell.too_few else []), vi_int(cell.counted), *levels,
            vi_pct(cell.satisfaction_rate), *([] if total else [vi_pct(cell.shrunk_rate)])]


@pytest.fixture(scope="module")
def known_report(tmp_path_factory):
    db = tmp_path_factory.mktemp("official") / "pulled.db"
    write_pulled_db(db, known_rows())
    return build_report(sqlite_source(db), parse_period("month", on="2026-11-10"), group_by="site")


@pytest.fixture(scope="module")
def known_pdf(known_report):
    return official_pdf_bytes(known_report, letterhead=LETTERHEAD, issued_on=ISSUED)


# -- the form ----------------------------------------------------------------------------------------

def test_a4_portrait_and_its_pages(known_pdf):
    reader = pypdf.PdfReader(io.BytesIO(known_pdf))
    assert len(reader.pages) == 2
    for page in reader.pages:
        assert (round(float(page.mediabox.width), 2), round(float(page.mediabox.height), 2)) == A4_POINTS
    assert reader.metadata.title.startswith("Báo cáo: Kết quả đánh giá mức độ hài lòng")


def test_the_letterhead_number_and_date_lines(known_pdf):
    layout = text_of(known_pdf, layout=True, page=1).splitlines()
    head = [line for line in layout if line.strip()][:4]
    # Issuing bodies top left, national title and motto top right, on the same lines.
    assert re.search(r"^\s*UBND THÀNH PHỐ HÀ NỘI\s{3,}CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM$", head[0])
    assert re.search(r"^\s*UBND PHƯỜNG HÀ ĐÔNG\s{3,}Độc lập - Tự do - Hạnh phúc$", head[1])
    # The number left blank to be written by hand, beside the place and date.
    assert re.search(r"^\s*Số:\s{4,}/BC-UBND\s{3,}Hà Nội, ngày 02 tháng 12 năm 2026$", head[2])
    assert words(head[3]) == "BÁO CÁO"
    text = words(text_of(known_pdf))
    assert ("Kết quả đánh giá mức độ hài lòng của người dân, tổ chức đối với việc giải quyết thủ tục hành chính "
            "tháng 11/2026") in text


def test_a_given_number_and_early_dates_get_their_zeros(known_report):
    pdf = official_pdf_bytes(known_report, letterhead=Letterhead(number="15", issuer_code="UBND", place="Ninh Bình"),
                             issued_on=date(2027, 2, 5))
    text = words(text_of(pdf))
    assert "Số: 15/BC-UBND" in text and "Ninh Bình, ngày 05 tháng 02 năm 2027" in text
    assert "BỘ PHẬN MỘT CỬA" in text  # the default issuing body


def test_the_figures_are_the_reports(known_report, known_pdf):
    tokens = tokens_of(known_pdf)
    assert len(known_report.groups) == 3
    for cell in known_report.groups:
        assert holds_in_a_row(tokens, row_tokens(cell, str(cell.rank), cell.label)), cell.label
    assert holds_in_a_row(tokens, row_tokens(known_report.total, "", "Tổng cộng", total=True))
    assert known_report.total.counted == 126 and known_report.total.satisfaction_rate == 85.7
    text = words(text_of(known_pdf))
    assert "(*) Dưới 30 lượt được tính: chưa đủ để so sánh." in text  # one site has a single rating
    assert "2. Kết quả theo đơn vị" in text and "3. Lý do không hài lòng" in text


def test_the_paragraph_and_the_reconciliation_line(known_report, known_pdf):
    text = words(text_of(known_pdf))
    assert words(summary_vi(known_report, with_check=False)) in text
    assert known_report.reconciles
    line = reconcile_line(known_report)
    assert line.startswith("Kiểm tra: các số cộng lại khớp với tổng (75 + 33 + 18 = 126")
    assert "4. Kiểm tra số liệu " + words(line) in text
    assert text.rstrip().endswith("Nguyễn Văn An")


def test_recipients_bottom_left_and_signature_bottom_right(known_pdf):
    pages = len(pypdf.PdfReader(io.BytesIO(known_pdf)).pages)
    lines = text_of(known_pdf, layout=True, page=pages).splitlines()
    heading = next(i for i, line in enumerate(lines) if "Nơi nhận:" in line)
    assert re.search(r"^\s*Nơi nhận:\s{10,}TM\. ỦY BAN NHÂN DÂN$", lines[heading])
    assert re.search(r"^\s*- UBND thành phố;\s{10,}CHỦ TỊCH$", lines[heading + 1])
    assert lines[heading + 2].strip() == "- Văn phòng UBND thành phố;"
    assert lines[heading + 3].strip() == "- Lưu: VT, VP."
    name = next(i for i, line in enumerate(lines) if "Nguyễn Văn An" in line)
    assert name - heading >= 5, "room to sign and seal between the title and the name"
    assert lines[name].index("Nguyễn") > len(lines[name]) / 2


def test_the_serif_font_is_embedded_and_has_every_letter(known_pdf):
    listing = subprocess.run(["pdffonts", "-"], input=known_pdf, capture_output=True, check=True).stdout.decode()
    fonts = [line.split() for line in listing.splitlines()[2:]]
    assert {row[0].split("+")[-1] for row in fonts} >= {"LiberationSerif", "LiberationSerif-Bold",
                                                         "LiberationSerif-Italic", "LiberationSerif-BoldItalic"}
    for row in fonts:
        assert "LiberationSerif" in row[0] and row[-5] == "yes", row  # emb yes, sub yes, uni yes, object, gen
    # Each letter the PDF holds is a glyph of the font, not a box.
    from reportlab.pdfbase.ttfonts import TTFontFile

    for role, path in find_serif_fonts().items():
        face = TTFontFile(path)
        missing = {ch for ch in text_of(known_pdf) if not ch.isspace() and ord(ch) not in face.charToGlyph}
        assert not missing, (role, missing)


def test_a_missing_font_says_what_to_install(tmp_path):
    from reports import ReportError

    with pytest.raises(ReportError, match=r"LiberationSerif-Regular\.ttf.*apt-get install fonts-liberation2$"):
        find_serif_fonts(folders=[tmp_path])


def test_page_one_rendered_is_a_page_of_text(known_report, tmp_path):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    pdf = tmp_path / "official.pdf"
    assert write_official_pdf(known_report, pdf, letterhead=LETTERHEAD, issued_on=ISSUED) == 2
    subprocess.run(["pdftoppm", "-r", "100", "-f", "1", "-l", "1", "-png", "-singlefile", str(pdf),
                    str(OUTPUT / "official-report")], check=True)
    image = Image.open(OUTPUT / "official-report.png").convert("L")
    assert image.size == (827, 1170)  # A4 (210 × 297 mm) at 100 dpi
    dark = sum(1 for value in image.getdata() if value < 128)
    assert 0.02 < dark / (image.size[0] * image.size[1]) < 0.25
    # The margins are white: left 30 mm, right 15 mm, top 20 mm.
    px = 100 / 25.4
    assert image.crop((0, 0, int(29 * px), image.size[1])).getextrema()[0] > 200
    assert image.crop((image.size[0] - int(14 * px), 0, image.size[0], image.size[1])).getextrema()[0] > 200
    assert image.crop((0, 0, image.size[0], int(19 * px))).getextrema()[0] > 200


@pytest.fixture(scope="module")
def many_groups_pdf(tmp_path_factory):
    rows = []
    for i in range(60):
        site = f"UBND xã Số {i + 1:02d}"
        rows += [rating_row(f"t-{i}", site, "Quầy 1", "very_satisfied" if j % 5 else "dissatisfied", at,
                            reason="processing_time" if j % 5 == 0 else None)
                 for j, at in enumerate(spread(10 + i, salt=i))]
    db = tmp_path_factory.mktemp("many") / "pulled.db"
    write_pulled_db(db, rows)
    report = build_report(sqlite_source(db), parse_period("month", on="2026-11-10"))
    return report, official_pdf_bytes(report, letterhead=LETTERHEAD, issued_on=ISSUED)


def test_many_groups_run_over_pages_numbered_from_page_two(many_groups_pdf):
    report, pdf = many_groups_pdf
    pages = len(pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert pages >= 3
    first = [line for line in text_of(pdf, layout=True, page=1).splitlines() if line.strip()][0]
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in first  # no number on page 1
    for page in range(2, pages + 1):
        top = [line for line in text_of(pdf, layout=True, page=page).splitlines() if line.strip()][0]
        assert top.strip() == str(page)
        assert abs(top.index(str(page)) - len(top.rstrip())) <= 1  # alone on its line …
    tokens = tokens_of(pdf)
    for cell in report.groups:  # … and every group's row is there, the header repeated on each page
        assert holds_in_a_row(tokens, row_tokens(cell, str(cell.rank), cell.label)), cell.label
    for page in range(1, pages + 1):  # the table runs onto the last page here, its header on each
        assert holds_in_a_row(tokens_of(pdf, page=page), "Hạng Đơn vị Số lượt được tính".split()), page


# -- the letterhead's fields -----------------------------------------------------------------------

@pytest.mark.parametrize(("fields", "field"), [({"signer_name": "Nguyễn\nVăn An"}, "signer_name"),
                                               ({"recipients": ("a", "b\tc")}, "recipients"),
                                               ({"issuing_body": "  "}, "issuing_body"),
                                               ({"place": "x" * 201}, "place")])
def test_a_field_that_cannot_be_printed_is_refused_by_name(fields, field):
    with pytest.raises(LetterheadError) as caught:
        Letterhead(**fields)
    assert caught.value.field == field and str(caught.value).startswith(f"{field}: ")


def test_bidi_controls_are_dropped_and_names_escaped(known_report):
    letterhead = Letterhead(issuing_body="UBND <phường> & \u202eX", signer_name="A\u2066B")
    text = words(text_of(official_pdf_bytes(known_report, letterhead=letterhead, issued_on=ISSUED)))
    assert "UBND <PHƯỜNG> & X" in text and "UBND <phường> & X báo cáo" in text and "AB" in text


# -- kiosk-admin report --pdf ----------------------------------------------------------------------

def admin(*args, env=None):
    return CliRunner().invoke(cli, ["report", *map(str, args)], env=env)


def test_kiosk_admin_writes_the_pdf(known_report, tmp_path):
    db = tmp_path / "pulled.db"
    write_pulled_db(db, known_rows())
    out = tmp_path / "bao-cao.pdf"
    result = admin("--db", db, "--on", "2026-11-10", "--pdf", out, "--issuer", "UBND phường Hà Đông",
                   "--parent-body", "UBND thành phố Hà Nội", "--issuer-code", "UBND", "--number", "27",
                   "--place", "Hà Nội", "--issued-on", "2026-12-02", "--signer-title", "KT. CHỦ TỊCH; PHÓ CHỦ TỊCH",
                   "--signer-name", "Trần Thị Bình", "--recipient", "UBND thành phố", "--recipient", "Lưu: VT")
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote {out} (2 pages)\n"  # only the PDF: no table on the screen
    same = official_pdf_bytes(known_report, issued_on=ISSUED, letterhead=Letterhead(
        parent_body="UBND thành phố Hà Nội", issuing_body="UBND phường Hà Đông", issuer_code="UBND", number="27",
        place="Hà Nội", signer_title=("KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"), signer_name="Trần Thị Bình",
        recipients=("UBND thành phố", "Lưu: VT")))
    assert text_of(out) == text_of(same)
    text = words(text_of(out))
    assert "Số: 27/BC-UBND" in text and "KT. CHỦ TỊCH PHÓ CHỦ TỊCH" in text and "- Lưu: VT." in text
    assert holds_in_a_row(tokens_of(out.read_bytes()), row_tokens(known_report.total, "", "Tổng cộng", total=True))
    both = admin("--db", db, "--on", "2026-11-10", "--pdf", tmp_path / "b.pdf", "--format", "summary")
    assert both.exit_code == 0 and summary_vi(known_report) in both.output and (tmp_path / "b.pdf").is_file()


def test_kiosk_admin_pdf_from_the_server_equals_the_one_from_a_pulled_file(server, tmp_path):
    upload_known(server)
    token = server.admin_token()
    pull_to_db(server, {"Authorization": f"Bearer {token}"}, tmp_path / "pulled.db")
    options = ["--on", "2026-11-10", "--by", "counter", "--issued-on", "2026-12-02", "--issuer", "UBND phường Phúc La"]
    online = admin("--server", server.url, "--pdf", tmp_path / "online.pdf", *options,
                   env={"HAILONG_ADMIN_TOKEN": token})
    offline = admin("--db", tmp_path / "pulled.db", "--pdf", tmp_path / "offline.pdf", *options)
    assert online.exit_code == 0 and offline.exit_code == 0, online.output + offline.output
    assert text_of(tmp_path / "online.pdf") == text_of(tmp_path / "offline.pdf")
    text = words(text_of(tmp_path / "online.pdf"))
    assert "2. Kết quả theo quầy" in text and "126 lượt đánh giá" in text


@pytest.mark.parametrize(("args", "message"), [
    (["--issuer", "X"], "Error: --issuer goes with --pdf FILE"),
    (["--pdf", "{out}", "--issued-on", "2026-02-30"], "kiosk-admin: --issued-on: '2026-02-30' is not a date such as 2026-12-02"),
    (["--pdf", "{out}", "--recipient", "a\nb"], "kiosk-admin: --recipient: holds a control character"),
    (["--pdf", "{out}", "--issuer", ""], "kiosk-admin: --issuer: the issuing body's name is needed at the top left"),
])
def test_kiosk_admin_refuses_a_bad_letterhead_and_writes_nothing(tmp_path, args, message):
    db = tmp_path / "pulled.db"
    write_pulled_db(db, known_rows())
    out = tmp_path / "x.pdf"
    result = admin("--db", db, *[a.format(out=out) for a in args])
    assert result.exit_code == 2
    assert message in result.output
    assert not out.exists()


# -- the server: API on both backends, the dashboard -------------------------------------------------

def test_api_gives_the_pdf_with_the_servers_letterhead(start_server, tmp_path):
    server = start_server(report_issuer="UBND phường Phúc La", report_parent_body="UBND thành phố Hà Nội",
                          report_issuer_code="UBND", report_signer_title="TM. Ủy ban nhân dân; Chủ tịch",
                          report_recipients="UBND thành phố; Lưu: VT")
    upload_known(server)
    headers = server.admin_headers()
    before = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    answer = server.get(SUMMARY, params={"on": "2026-11-10", "format": "pdf"}, headers=headers)
    after = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"] == 'attachment; filename="bao-cao-month-2026-11-01.pdf"'
    text = words(text_of(answer.content))
    assert "UBND PHƯỜNG PHÚC LA" in text and re.search(r"Số:\s{4,}/BC-UBND", text_of(answer.content, layout=True))
    assert any(f"Hà Nội, ngày {d.day:02d} tháng" in text for d in (before, after))
    assert "Nơi nhận: - UBND thành phố; - Lưu: VT." in text and "TM. ỦY BAN NHÂN DÂN CHỦ TỊCH" in text
    # The same figures as the JSON report, and as a pulled file's.
    pull_to_db(server, headers, tmp_path / "pulled.db")
    offline = build_report(sqlite_source(tmp_path / "pulled.db"), parse_period("month", on="2026-11-10"))
    tokens = tokens_of(answer.content)
    for cell in offline.groups:
        assert holds_in_a_row(tokens, row_tokens(cell, str(cell.rank), cell.label)), cell.label
    assert words(reconcile_line(offline)) in text and words(summary_vi(offline, with_check=False)) in text


def test_api_pdf_needs_an_admin_and_checks_its_parameters(server):
    assert server.get(SUMMARY, params={"format": "pdf"}).status_code == 401
    answer = server.get(SUMMARY, params={"format": "pdf", "on": "2026-02-30"}, headers=server.admin_headers())
    assert answer.status_code == 422 and answer.json()["field"] == "on"


def test_a_letterhead_setting_that_cannot_be_printed_stops_the_server():
    from server.errors import SettingsError
    from server.settings import settings_from

    with pytest.raises(SettingsError, match=r"^HAILONG_REPORT_RECIPIENTS: holds a control character"):
        settings_from({}, {"HAILONG_REPORT_RECIPIENTS": "a;\x1bb"})


def test_dashboard_links_the_pdf_next_to_the_exports(dash):
    load_known_data_set(dash, dash.clock)
    session = log_in(dash, dash.person())
    html = session.get(dash.url + "/", params={"period": "month", "site": SITE_A}, timeout=30).text
    link = re.search(r'<a href="(/export/report\.pdf\?[^"]+)" id="export-pdf"', html)
    assert link and 'id="export-xlsx"' in html
    answer = session.get(dash.url + link.group(1).replace("&amp;", "&"), timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    assert answer.headers["cache-control"] == "no-store"
    text = words(text_of(answer.content))
    assert "Hà Nội, ngày 25 tháng 11 năm 2026" in text  # the server's (fake) today, local time
    assert "BỘ PHẬN MỘT CỬA" in text and f"tại {SITE_A} tháng 11/2026" in text
    assert "36 lượt đánh giá" in text and "Tổng cộng" in text
