"""The report in words: the one paragraph officials write, and the sentence that says whether it adds up.

Every rendering (table, CSV, workbook, dashboard) ends with :func:`reconcile_line`.

For example::

    summary_vi(report)
    # → 'Trong kỳ (Quý IV/2026), bộ phận Một cửa nhận được 2.939 lượt đánh giá, trong đó …'
"""

from __future__ import annotations

from .figures import Cell, Report
from .labels import NO_REASON, reason_label, vi_int, vi_pct, vi_points

__all__ = ["summary_vi", "reconcile_line", "change_sentence"]


def reconcile_line(report: Report) -> str:
    """One sentence: the parts add up to the whole (with the sum written out), or which sums do not."""
    total = report.total
    if report.reconciles:
        return (f"Kiểm tra: các số cộng lại khớp với tổng ({vi_int(total.very_satisfied)} + "
                f"{vi_int(total.satisfied)} + {vi_int(total.dissatisfied)} = {vi_int(total.counted)} lượt được "
                f"tính; {vi_int(total.filtered)} lượt bấm bị lọc tính riêng).")
    wrong = "; ".join(f"{c.what}: {vi_int(c.parts)} ≠ {vi_int(c.whole)}" for c in report.all_checks if not c.ok)
    return f"CẢNH BÁO: các số KHÔNG khớp với tổng ({wrong})."


def _node_phrase(node: dict) -> str:
    """Who a report by the tree speaks of: the node's current name, and its unit's for an office or counter."""
    path = node["path"]
    if node["kind"] == "province":
        return f"bộ phận Một cửa các xã, phường của {node['name']}"
    if node["kind"] == "unit":
        return f"bộ phận Một cửa {node['name']}"
    return ", ".join(step["name"] for step in reversed(path[1:]))


def _unit_phrase(report: Report) -> str:
    if report.node:
        return _node_phrase(report.node)
    filters = report.filters
    if filters.get("terminal"):
        return f"thiết bị {filters['terminal']} của bộ phận Một cửa"
    if filters.get("site"):
        where = filters["site"] + (f", {filters['counter']}" if filters.get("counter") else "")
        return f"bộ phận Một cửa {where}"
    if len(report.sites) > 1:
        return f"bộ phận Một cửa của {len(report.sites)} đơn vị"
    if len(report.sites) == 1:
        return f"bộ phận Một cửa {next(iter(report.sites))}"
    return "bộ phận Một cửa"


def change_sentence(cell: Cell, previous_label: str) -> str:
    """How ``cell``'s satisfaction rate compares with the previous period, in one sentence.

    "Tăng"/"giảm" only when the 95 % interval of the difference excludes 0 (see
    :mod:`reports.comparison`); otherwise the gap is given as a figure and called no clear change,
    and under the small-sample guard it is called too few to compare.
    """
    change = cell.change
    before = f"So với kỳ trước ({previous_label}: "
    if change.previous_counted:
        before += f"{vi_pct(change.previous_rate)} trên {vi_int(change.previous_counted)} lượt)"
    else:
        before += "không có lượt đánh giá nào)"
    if change.verdict == "too_few":
        return (f"{before}: quá ít để so sánh (cần ít nhất {vi_int(change.min_sample)} lượt mỗi kỳ, kỳ này có "
                f"{vi_int(change.counted)} lượt).")
    interval = f"khoảng tin cậy 95%: từ {vi_points(change.low)} đến {vi_points(change.high)} điểm"
    if change.verdict == "no_clear_change":
        return (f"{before}, tỷ lệ hài lòng không đổi rõ rệt: chênh lệch {vi_points(change.difference)} điểm "
                f"phần trăm nằm trong mức dao động ngẫu nhiên ({interval}).")
    return (f"{before}, tỷ lệ hài lòng {change.verdict_vi} {vi_points(change.difference, signed=False)} điểm "
            f"phần trăm ({interval}).")


def summary_vi(report: Report, *, with_check: bool = True) -> str:
    """The one paragraph officials write: "Trong kỳ, bộ phận Một cửa nhận được N lượt đánh giá, trong đó …".

    It ends with :func:`reconcile_line` unless ``with_check`` is false (the official PDF prints that line
    under its own heading)."""
    total = report.total
    pct = total.pct
    text = (f"Trong kỳ ({report.period.label}), {_unit_phrase(report)} nhận được {vi_int(total.counted)} lượt "
            f"đánh giá")
    if not total.counted:
        text += "."
    else:
        text += (f", trong đó {vi_int(total.very_satisfied)} lượt rất hài lòng ({vi_pct(pct['very_satisfied'])}), "
                 f"{vi_int(total.satisfied)} lượt hài lòng ({vi_pct(pct['satisfied'])}), "
                 f"{vi_int(total.dissatisfied)} lượt không hài lòng ({vi_pct(pct['dissatisfied'])})")
        reasons = [(key, n) for key, n in total.dissatisfied_reasons.items() if n]
        if total.dissatisfied and reasons:
            order = {key: i for i, key in enumerate(report.reasons)}
            parts = []
            for key, n in sorted(reasons, key=lambda item: order.get(item[0], len(order))):
                if key == NO_REASON:
                    parts.append(f"{vi_int(n)} lượt không nêu lý do")
                else:
                    parts.append(f"{vi_int(n)} lượt về {reason_label(key)[0].lower() + reason_label(key)[1:]}")
            text += ", gồm " + (parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " và " + parts[-1])
        text += f"; tỷ lệ hài lòng đạt {vi_pct(total.satisfaction_rate)}."
        if total.too_few:
            text += f" Số lượt đánh giá dưới {report.min_sample}, chưa đủ để so sánh."
        if total.change is not None and report.previous_period is not None:
            text += " " + change_sentence(total, report.previous_period.label)
    if total.filtered:
        text += (f" Ngoài ra có {vi_int(total.filtered)} lượt bấm lặp lại quá nhanh đã được lọc, "
                 "không tính vào kết quả.")
    if total.unrecognised:
        text += f" Có {vi_int(total.unrecognised)} bản ghi không rõ mức đánh giá, không tính vào kết quả."
    return text + " " + reconcile_line(report) if with_check else text
