"""The report as people read it: the terminal table, CSV with a BOM, the Excel workbook opened back,
and the Vietnamese paragraph — each saying whether the totals reconcile."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from report_fixtures import SITE_A, SITE_B, SITE_C, known_rows, seed_article_rows, write_pulled_db
from reports import build_report, parse_period, sqlite_source
from reports.figures import Check
from reports.labels import REASON_LABELS
from reports.render import reconcile_line, render_table, summary_vi, write_csv, write_xlsx


@pytest.fixture
def known(tmp_path):
    write_pulled_db(tmp_path / "known.db", known_rows())
    return build_report(sqlite_source(tmp_path / "known.db"), parse_period("month", on="2026-11-10"),
                        group_by="counter")


@pytest.fixture
def article(tmp_path):
    write_pulled_db(tmp_path / "hd.db", seed_article_rows())
    return build_report(sqlite_source(tmp_path / "hd.db"), parse_period("half", on="2026-03-01"))


def test_reason_labels_are_the_terminals_own():
    from kiosk.ratings import REASON_LABELS as KIOSK_LABELS
    assert {k: v for k, v in REASON_LABELS.items() if k != "no_reason"} == KIOSK_LABELS["vi"]


def test_summary_states_the_seed_articles_numbers_and_adds_up(article):
    text = summary_vi(article)
    assert text.startswith("Trong kỳ (6 tháng đầu năm 2026), bộ phận Một cửa Bộ phận Một cửa quận Hà Đông "
                           "nhận được 2.939 lượt đánh giá, trong đó ")
    for phrase in ("2.220 lượt rất hài lòng (75,5%)", "715 lượt hài lòng (24,3%)",
                   "4 lượt không hài lòng (0,1%), gồm 3 lượt về thời gian giải quyết hồ sơ và 1 lượt không nêu lý do",
                   "tỷ lệ hài lòng đạt 99,9%", "2.220 + 715 + 4 = 2.939"):
        assert phrase in text
    assert text.count("\n") == 0  # one paragraph


def test_summary_mentions_filtered_presses_and_small_samples(known):
    text = summary_vi(known)
    assert "3 lượt bấm lặp lại quá nhanh đã được lọc, không tính vào kết quả" in text
    assert "bộ phận Một cửa của 3 đơn vị nhận được 126 lượt đánh giá" in text
    assert "wifi_down" in text  # an unknown reason code is shown as it is


def test_summary_of_an_empty_period(tmp_path):
    write_pulled_db(tmp_path / "r.db", known_rows())
    report = build_report(sqlite_source(tmp_path / "r.db"), parse_period("month", on="2025-01-01"))
    assert summary_vi(report).startswith("Trong kỳ (Tháng 1/2025), bộ phận Một cửa nhận được 0 lượt đánh giá.")


def test_table_lists_groups_ranked_with_the_total_and_the_check(known):
    text = render_table(known)
    lines = text.splitlines()
    assert lines[0] == "Báo cáo mức độ hài lòng — Tháng 11/2026 (giờ Asia/Ho_Chi_Minh)"
    rows = [line for line in lines if line[:2].strip().isdigit() and "–" in line]
    assert [row.split("  ")[1].strip() for row in rows][:4] == [
        f"{SITE_A} – Quầy 1", f"{SITE_A} – Quầy 2", f"{SITE_B} – Quầy 1", f"{SITE_C} – Quầy 1"]
    total = next(line for line in lines if "Tổng cộng" in line)
    assert "126" in total and "59,5%" in total and "85,7%" in total
    assert "ít mẫu" in text and "Không nêu lý do" in text and "Thứ Bảy" not in text  # short weekday names
    assert lines[-1] == reconcile_line(known) and lines[-1].startswith("Kiểm tra: các số cộng lại khớp")


def test_every_output_flags_a_report_that_does_not_add_up(known, tmp_path):
    known.checks.append(Check("a deliberately wrong sum", 2938, 2939))
    line = reconcile_line(known)
    assert line.startswith("CẢNH BÁO") and "2.938 ≠ 2.939" in line
    assert line in render_table(known) and line in summary_vi(known)
    out = io.StringIO()
    write_csv(known, out)
    assert "KHÔNG khớp" in out.getvalue()
    write_xlsx(known, tmp_path / "bad.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "bad.xlsx")["Tổng hợp"]
    assert any(str(c.value).startswith("CẢNH BÁO") for row in sheet.iter_rows() for c in row if c.value)


def test_csv_has_a_bom_and_reads_back(known, tmp_path):
    path = tmp_path / "r.csv"
    write_csv(known, path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header = rows[0]
    assert header[:6] == ["Xếp hạng", "Theo quầy", "Đơn vị", "Quầy", "Thiết bị", "Số lượt được tính"]
    body = {row[1]: dict(zip(header, row)) for row in rows[1:6]}
    first = body[f"{SITE_A} – Quầy 1"]
    assert (first["Xếp hạng"], first["Số lượt được tính"], first["Rất hài lòng"], first["Rất hài lòng (%)"],
            first["Tỷ lệ hài lòng (%)"], first["Lượt bấm bị lọc (không tính)"]) == ("1", "60", "40", "66.7", "91.7", "2")
    assert first["Không hài lòng – Không nêu lý do"] == "2"
    assert body["Tổng cộng"]["Số lượt được tính"] == "126"
    assert body[f"{SITE_B} – Quầy 1"]["Ít mẫu (dưới 30 lượt)"] == "có"
    assert ["Kiểm tra", "khớp"] == rows[-1][:2]


def test_xlsx_is_formatted_for_officials(known, tmp_path):
    path = tmp_path / "r.xlsx"
    write_xlsx(known, path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Tổng hợp", "Theo thời gian", "Giờ trong tuần", SITE_A, SITE_B, SITE_C]
    summary = book["Tổng hợp"]
    assert summary["A1"].value == "BÁO CÁO KẾT QUẢ ĐÁNH GIÁ MỨC ĐỘ HÀI LÒNG"
    assert summary["B3"].value == "Tháng 11/2026"
    cells = {c.value: c for row in summary.iter_rows() for c in row if isinstance(c.value, str)}
    assert cells[summary_vi(known)].alignment.wrap_text
    header = cells["Số lượt được tính"].row
    assert summary.freeze_panes == f"A{header + 1}"
    headers = [c.value for c in summary[header]]
    assert headers[:4] == ["Xếp hạng", "Đơn vị – quầy", "Số lượt được tính", "Rất hài lòng"]
    first = {h: c for h, c in zip(headers, summary[header + 1])}
    assert first["Đơn vị – quầy"].value == f"{SITE_A} – Quầy 1" and first["Số lượt được tính"].value == 60
    assert len(headers) == len(set(headers))  # no heading twice
    rate = first["Tỷ lệ hài lòng"]
    assert rate.value == pytest.approx(0.917) and rate.number_format == "0.0%"
    assert first["% rất hài lòng"].value == 0.667 and first["% không hài lòng"].value == 0.083
    total = {h: c for h, c in zip(headers, summary[header + 5])}
    assert total["Đơn vị – quầy"].value == "Tổng cộng" and total["Số lượt được tính"].value == 126
    assert total["Lượt bấm bị lọc (không tính)"].value == 3
    assert summary.column_dimensions["B"].width >= len(f"{SITE_A} – Quầy 1")
    # One sheet per site: its counters (with the site's total) and its terminals.
    site = book[SITE_C]
    assert site["A1"].value == SITE_C
    values = [[c.value for c in row] for row in site.iter_rows()]
    labels = [row[1] for row in values if len(row) > 1]
    assert "Quầy 1" in labels and "yk-2" in labels and "yk-1" in labels and "Tổng cộng" in labels
    assert site.freeze_panes is not None
    heat = book["Giờ trong tuần"]
    assert [heat.cell(row=r, column=1).value for r in range(3, 10)] == [
        "Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật"]
    assert sum(heat.cell(row=r, column=26).value for r in range(3, 10)) == 126
    trend = book["Theo thời gian"]
    assert trend["A1"].value == "Ngày" and trend["A2"].value == "01/11/2026" and trend.max_row == 31


def test_xlsx_sheet_names_are_made_safe_and_unique(tmp_path):
    from report_fixtures import local_iso, rating_row
    long = "UBND phường có một cái tên rất dài: thật sự dài"
    rows = [rating_row("t1", long, None, "satisfied", local_iso(2026, 11, 3)),
            rating_row("t2", long + " nữa", None, "satisfied", local_iso(2026, 11, 3)),
            rating_row("t3", "A/B [x]", None, "satisfied", local_iso(2026, 11, 3))]
    write_pulled_db(tmp_path / "r.db", rows)
    report = build_report(sqlite_source(tmp_path / "r.db"), parse_period("month", on="2026-11-10"))
    write_xlsx(report, tmp_path / "r.xlsx")
    names = openpyxl.load_workbook(tmp_path / "r.xlsx").sheetnames
    assert len(names) == 6 and len(set(n.lower() for n in names)) == 6
    assert all(len(n) <= 31 and not set(n) & set("[]:*?/\\") for n in names)
