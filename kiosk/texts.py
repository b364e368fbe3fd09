"""What the screens say, in Vietnamese and English (no Kivy here).

Rating and reason labels live in :mod:`kiosk.ratings`; :func:`screen_texts`
merges them with the screen texts, so a screen looks every text up by one key.

    >>> screen_texts("en")["skip"], screen_texts("vi")["skip"]
    ('Skip', 'Bỏ qua')
    >>> screen_texts("vi")["dissatisfied"] == RATING_LABELS["vi"]["dissatisfied"]
    True
"""

from __future__ import annotations

from .ratings import LANGUAGES, RATING_LABELS, REASON_LABELS

TEXTS: dict[str, dict[str, str]] = {
    "vi": {
        # home
        "question": "Quý khách vui lòng đánh giá mức độ hài lòng",
        "language_switch": "English",  # the button names the language it switches to
        "voice_listen": "Nghe hướng dẫn",
        # outside [hours] opening: a discreet line under the question (presses are still taken)
        "outside_hours": "Ngoài giờ làm việc · {hours}",
        # reason
        "reason_question": "Quý khách chưa hài lòng về điều gì?",
        "skip": "Bỏ qua",
        "countdown": "Tự động đóng sau {seconds} giây",
        "reason_warning": "Màn hình sẽ tự đóng sau {seconds} giây",
        # thanks
        "thanks": "Cảm ơn Quý khách!",
        "thanks_line": "Ý kiến của Quý khách đã được ghi nhận.",
        # out of service (the database cannot store a rating, e.g. a full disk)
        "out_of_service": "Tạm ngừng nhận đánh giá",
        "out_of_service_line": "Thiết bị đang được kiểm tra. Xin cảm ơn Quý khách đã thông cảm.",
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
        "sync_busy": "Máy chủ đang bận, sẽ gửi lại lúc {at}.",
        "sync_off": "Chưa thể gửi: {why}",
        "test_prompt": "Nhấn lần lượt từng nút (hoặc chạm vào ô). Đèn sáng khi nút được nhận.",
        "test_all_seen": "Tất cả {count} nút đều hoạt động.",
        "reason_number": "Lý do {number}",
        # the service screen's voice list
        "voice_test": "Thử giọng nói",
        "voice_hint": "Chạm vào một dòng để nghe.",
        "voice_off": "Giọng nói đang tắt ([voice] enabled = false hoặc volume = 0).",
        "voice_default": "giọng mặc định",
        "voice_office": "bản ghi của đơn vị",
        "voice_missing": "không phát được",
        "mock_pins": "giả lập, phím 1-9 và 0",
        # the service screen's facts (kiosk.status.service_summary)
        "fact_terminal": "Mã thiết bị",
        "fact_site": "Đơn vị",
        "fact_counter": "Quầy",
        "fact_server": "Máy chủ",
        "fact_provisioning": "Đăng ký",
        "fact_pending": "Chờ gửi",
        "fact_last_sync": "Gửi thành công gần nhất",
        "fact_last_error": "Lỗi gần nhất",
        "fact_kept_aside": "Giữ lại, không gửi",
        "fact_clock": "Đồng hồ",
        "fact_ip": "Địa chỉ IP",
        "fact_version": "Phiên bản",
        "fact_buttons": "Nút bấm",
        "fact_checks": "Kiểm tra khi khởi động",
        "fact_filtered": "Lượt nhấn không tính hôm nay",
        "fact_settings": "Cài đặt từ máy chủ",
        # issue 14: the server's pacing, while it holds
        "fact_server_pace": "Máy chủ điều tiết",
        "pace_busy": "máy chủ đang bận, gửi lại lúc {at}",
        "pace_spread": "sau thời gian mất kết nối, bắt đầu gửi lúc {at}",
        "pace_batches": "tối đa {batch_size} đánh giá mỗi lần gửi, cách nhau {pause_s} giây",
        "settings_applied": "phiên bản {version}, áp dụng lúc {at}",
        "settings_refused": "TỪ CHỐI {error}",
        "none": "không có",
        "never": "chưa lần nào",
        "no_network": "không có (chưa nối mạng)",
        "clock_synced": "đã đồng bộ qua mạng",
        "clock_not_synced": "CHƯA được mạng xác nhận",
        "clock_now": "bây giờ",
        "provisioned": "đã xong; đánh giá được gửi về {server}.",
        "token_missing": ("Đã đặt máy chủ ({server}) nhưng thiếu mã thiết bị: đăng ký lại bằng "
                          "`kiosk provision --force`; đánh giá vẫn được giữ."),
        "not_provisioned": ("chưa — đánh giá được giữ trên thiết bị và gửi đi sau khi đăng ký "
                            "bằng `kiosk provision`."),
        "check_ok": "ĐẠT",
        "check_warn": "CẢNH BÁO",
        "check_fail": "LỖI",
        "cause_repeat": "nhấn lại quá sớm",
        "cause_busy": "lúc đang cảm ơn hoặc hỏi lý do",
        "cause_service": "lúc bảo trì",
        "cause_signin": "lúc cán bộ đăng nhập",
        "cause_dossier_repeat": "hồ sơ đã được đánh giá",
        "cause_unknown": "không rõ",
        # the officer at the counter (home's banner, the sign-in screen, scans)
        "officer_banner": "Cán bộ tiếp nhận:",
        "signin_title": "Đăng nhập cán bộ",
        "signin_code": "Mã cán bộ",
        "signin_pin": "Mã PIN",
        "signin_ok": "Đăng nhập",
        "signin_hint": "Hoặc quét thẻ cán bộ.",
        "signin_current": "Đang tiếp nhận: {name}",
        "signin_need_code": "Nhập mã cán bộ, rồi mã PIN.",
        "keys_letters": "ABC",
        "keys_digits": "123",
        "sign_out": "Đăng xuất",
        "officer_sign_out": "Đăng xuất cán bộ",
        "officer_pin_wrong": "Mã PIN không đúng. Vui lòng thử lại.",
        "officer_pin_locked": "Nhập sai quá nhiều lần. Vui lòng thử lại sau {seconds} giây.",
        "officer_unknown": "Không có cán bộ nào mang mã này.",
        "officer_not_here": "Cán bộ này không được phân công tại quầy này.",
        "signed_in": "Xin chào {name}.",
        "signed_out": "{name} đã đăng xuất.",
        "scan_partial": "Chưa đọc hết mã. Vui lòng quét lại.",
        "scan_unknown": "Mã này không phải thẻ cán bộ hay mã hồ sơ.",
        "scan_badge_off": "Thiết bị này không dùng đăng nhập cán bộ.",
        "scan_dossier_off": "Thiết bị này không nhận mã hồ sơ.",
        "scan_later": "Đã nhận mã hồ sơ; lời mời hiện ra khi Quý khách trước trả lời xong.",
        # the dossier invitation
        "invitation": "Mời Quý khách đánh giá việc giải quyết hồ sơ {dossier}",
    },
    "en": {
        "question": "Please rate how satisfied you are",
        "language_switch": "Tiếng Việt",
        "voice_listen": "Listen",
        "outside_hours": "Outside opening hours · {hours}",
        "reason_question": "What were you not satisfied with?",
        "skip": "Skip",
        "countdown": "Closes by itself in {seconds} s",
        "reason_warning": "This screen closes in {seconds} seconds",
        "thanks": "Thank you!",
        "thanks_line": "Your feedback has been recorded.",
        "out_of_service": "Not taking ratings at the moment",
        "out_of_service_line": "The terminal is being looked after. Thank you for your patience.",
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
        "sync_busy": "The server is busy; the next try is at {at}.",
        "sync_off": "Cannot sync: {why}",
        "test_prompt": "Press each button in turn (or touch its tile). Its tile and LED light when it is seen.",
        "test_all_seen": "All {count} buttons work.",
        "reason_number": "Reason {number}",
        "voice_test": "Voice test",
        "voice_hint": "Touch a line to hear it.",
        "voice_off": "Spoken prompts are off ([voice] enabled = false or volume = 0).",
        "voice_default": "default voice",
        "voice_office": "office recording",
        "voice_missing": "cannot be played",
        "mock_pins": "mock pins, keys 1-9 and 0",
        "fact_terminal": "Terminal",
        "fact_site": "Site",
        "fact_counter": "Counter",
        "fact_server": "Server",
        "fact_provisioning": "Provisioning",
        "fact_pending": "Waiting to upload",
        "fact_last_sync": "Last sync",
        "fact_last_error": "Last error",
        "fact_kept_aside": "Kept aside, not sent",
        "fact_clock": "Clock",
        "fact_ip": "IP address",
        "fact_version": "Version",
        "fact_buttons": "Buttons",
        "fact_checks": "Checks",
        "fact_filtered": "Presses not counted today",
        "fact_settings": "Remote settings",
        "fact_server_pace": "Server pacing",
        "pace_busy": "the server is busy; next try at {at}",
        "pace_spread": "after a long outage, the backlog starts at {at}",
        "pace_batches": "at most {batch_size} ratings per batch, {pause_s} s apart",
        "settings_applied": "version {version}, applied at {at}",
        "settings_refused": "REFUSED {error}",
        "none": "none",
        "never": "never",
        "no_network": "none (no network)",
        "clock_synced": "set by the network",
        "clock_not_synced": "NOT confirmed by the network",
        "clock_now": "now",
        "provisioned": "Provisioned: ratings upload to {server}.",
        "token_missing": ("The server is set ({server}) but the device token is missing: provision again with "
                          "`kiosk provision --force`; ratings are kept until then."),
        "not_provisioned": ("Not provisioned: ratings are kept on this terminal and upload once it is enrolled "
                            "with `kiosk provision`."),
        "check_ok": "OK",
        "check_warn": "WARNING",
        "check_fail": "FAILED",
        "cause_repeat": "too soon after the last",
        "cause_busy": "during thanks or the reason question",
        "cause_service": "during service",
        "cause_signin": "during an officer's sign-in",
        "cause_dossier_repeat": "dossier already rated",
        "cause_unknown": "cause not recorded",
        "officer_banner": "Served by:",
        "signin_title": "Officer sign-in",
        "signin_code": "Staff code",
        "signin_pin": "PIN",
        "signin_ok": "Sign in",
        "signin_hint": "Or scan your staff badge.",
        "signin_current": "At this counter now: {name}",
        "signin_need_code": "Type your staff code, then your PIN.",
        "keys_letters": "ABC",
        "keys_digits": "123",
        "sign_out": "Sign out",
        "officer_sign_out": "Sign the officer out",
        "officer_pin_wrong": "Wrong PIN. Please try again.",
        "officer_pin_locked": "Too many wrong PINs. Please try again in {seconds} s.",
        "officer_unknown": "No officer has this code.",
        "officer_not_here": "This officer is not assigned to this counter.",
        "signed_in": "Welcome, {name}.",
        "signed_out": "{name} signed out.",
        "scan_partial": "The code was not read in full. Please scan again.",
        "scan_unknown": "This is neither a staff badge nor a dossier code.",
        "scan_badge_off": "Officer sign-in is not used on this terminal.",
        "scan_dossier_off": "This terminal does not take dossier codes.",
        "scan_later": "Dossier code received; the invitation shows once the citizen before has finished.",
        "invitation": "Please rate how your dossier {dossier} was handled",
    },
}


def screen_texts(language: str, custom: dict[str, str] | None = None) -> dict[str, str]:
    """Every text of the screens in ``language`` (``vi`` or ``en``), by key; ``custom`` (the config's
    ``[texts]`` for this language, see ``TextsSettings.custom``) words some of them the office's way.

        >>> screen_texts("vi", {"question": "Anh/chị hài lòng không?"})["question"]
        'Anh/chị hài lòng không?'
    """
    if language not in LANGUAGES:
        raise ValueError(f"no texts for language {language!r}; expected one of {', '.join(LANGUAGES)}")
    return {**TEXTS[language], **RATING_LABELS[language], **REASON_LABELS[language], **(custom or {})}


def other_language(language: str) -> str:
    """The language the toggle switches to from ``language``."""
    return LANGUAGES[(LANGUAGES.index(language) + 1) % len(LANGUAGES)]


def button_label(name: str, reasons, language: str) -> str:
    """The words for button ``name`` of a panel (a rating code, ``reason_<n>`` or ``skip``) in ``language``;
    reason button n is named by the n-th of the terminal's ``reasons``.

        >>> button_label("reason_1", ["processing_time"], "vi")
        'Lý do 1: Thời gian giải quyết hồ sơ'
        >>> button_label("skip", [], "vi"), button_label("satisfied", [], "en"), button_label("reason_6", [], "en")
        ('Bỏ qua', 'Satisfied', 'Reason 6')
    """
    texts = screen_texts(language)
    if name.startswith("reason_") and name[len("reason_"):].isdigit():
        number = int(name[len("reason_"):])
        words = texts["reason_number"].format(number=number)
        if 1 <= number <= len(reasons):
            words += f": {texts[reasons[number - 1]]}"
        return words
    return texts.get(name, name.replace("_", " "))


def buttons_words(pins: dict[str, str], language: str, *, mock: bool = False) -> str:
    """The wired buttons (name → pin name) in ``language``, for the service screen.

        >>> buttons_words({"satisfied": "GPIO27", "reason_1": "GPIO5", "skip": "GPIO20"}, "vi", mock=True)
        'Hài lòng GPIO27, Lý do 1 GPIO5, Bỏ qua GPIO20 (giả lập, phím 1-9 và 0)'
    """
    words = ", ".join(f"{button_label(name, (), language)} {pin}" for name, pin in pins.items())
    return words + (f" ({screen_texts(language)['mock_pins']})" if mock else "")

