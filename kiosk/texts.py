"""What the screens say, in Vietnamese and English (no Kivy here).

Rating and reason labels live in :mod:`kiosk.ratings`; :func:`screen_texts`
merges them with the screen texts, so a screen looks every text up by one key.

    >>> screen_texts("en")["skip"], screen_texts("vi")["dissatisfied"]
    ('Skip', 'Không hài lòng')
"""

from __future__ import annotations

from .ratings import LANGUAGES, RATING_LABELS, REASON_LABELS

TEXTS: dict[str, dict[str, str]] = {
    "vi": {
        # home
        "question": "Quý khách vui lòng đánh giá mức độ hài lòng",
        "language_switch": "English",  # the button names the language it switches to
        # reason
        "reason_question": "Quý khách chưa hài lòng về điều gì?",
        "skip": "Bỏ qua",
        "countdown": "Tự động đóng sau {seconds} giây",
        # thanks
        "thanks": "Cảm ơn Quý khách!",
        "thanks_line": "Ý kiến của Quý khách đã được ghi nhận.",
        # service
        "service_title": "Dành cho kỹ thuật viên",
        "pin_prompt": "Nhập mã PIN",
        "pin_wrong": "Mã PIN không đúng. Vui lòng thử lại.",
        "pin_clear": "Xóa",
        "pin_ok": "Mở",
        "cancel": "Hủy",
        "status_title": "Tình trạng thiết bị",
        "back": "Quay lại",
        "leave_kiosk": "Thoát chế độ kiosk",
        "sync_now": "Gửi ngay",
        "button_test": "Thử nút và đèn",
        "restart": "Khởi động lại",
        "done": "Xong",
        "sync_sending": "Đang gửi…",
        "sync_ok": "Đã gửi. Còn chờ gửi: {pending}.",
        "sync_failed": "Gửi không được: {error}",
        "sync_off": "Chưa thể gửi: {why}",
        "test_prompt": "Nhấn lần lượt từng nút (hoặc chạm vào ô). Đèn sáng khi nút được nhận.",
        "test_all_seen": "Tất cả {count} nút đều hoạt động.",
    },
    "en": {
        "question": "Please rate how satisfied you are",
        "language_switch": "Tiếng Việt",
        "reason_question": "What were you not satisfied with?",
        "skip": "Skip",
        "countdown": "Closes by itself in {seconds} s",
        "thanks": "Thank you!",
        "thanks_line": "Your feedback has been recorded.",
        "service_title": "For technicians",
        "pin_prompt": "Enter the PIN",
        "pin_wrong": "Wrong PIN. Please try again.",
        "pin_clear": "Clear",
        "pin_ok": "Open",
        "cancel": "Cancel",
        "status_title": "Terminal status",
        "back": "Back",
        "leave_kiosk": "Leave kiosk mode",
        "sync_now": "Sync now",
        "button_test": "Button & LED test",
        "restart": "Restart",
        "done": "Done",
        "sync_sending": "Sending…",
        "sync_ok": "Sent. Still waiting to upload: {pending}.",
        "sync_failed": "Sync failed: {error}",
        "sync_off": "Cannot sync: {why}",
        "test_prompt": "Press each button in turn (or touch its tile). Its tile and LED light when it is seen.",
        "test_all_seen": "All {count} buttons work.",
    },
}


def screen_texts(language: str) -> dict[str, str]:
    """Every text of the screens in ``language`` (``vi`` or ``en``), by key."""
    if language not in LANGUAGES:
        raise ValueError(f"no texts for language {language!r}; expected one of {', '.join(LANGUAGES)}")
    return {**TEXTS[language], **RATING_LABELS[language], **REASON_LABELS[language]}


def other_language(language: str) -> str:
    """The language the toggle switches to from ``language``."""
    return LANGUAGES[(LANGUAGES.index(language) + 1) % len(LANGUAGES)]
