"""`make demo`'s officers: two officers of Phường Phúc La on the demo server, through its officers API.

    python deploy/demo_officers.py SERVER_URL ADMIN_TOKEN

The demo terminal fetches them with its next upload; then F2 / F3 in the kiosk window scan their badges
(``CBPL001``, ``CBPL002``) and the sign-in screen takes their staff code and PIN. Run again, it changes nothing
(an officer already there is left as it is). Prints one line: what it did, or why it could not.
"""

from __future__ import annotations

import io
import sys

import requests

UNIT = "DEMO-PL"
#: code, name, PIN (the demo prints them), and whether the demo draws a photo for them.
OFFICERS = (("PL001", "Nguyễn Thị Lan", "2468", True), ("PL002", "Trần Văn Minh", "1357", False))


def demo_photo() -> bytes:
    """A drawn head-and-shoulders placeholder (PNG): the demo has no one's real photo."""
    from PIL import Image, ImageDraw

    size = 256
    image = Image.new("RGB", (size, size), (201, 214, 232))
    draw = ImageDraw.Draw(image)
    draw.ellipse((78, 36, 178, 146), fill=(236, 196, 160))       # face
    draw.pieslice((70, 26, 186, 130), 180, 360, fill=(40, 32, 28))  # hair
    draw.ellipse((34, 160, 222, 330), fill=(18, 58, 107))         # shoulders, the uniform's navy
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def add_officers(url: str, token: str, session: requests.Session | None = None) -> str:
    session = session or requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    try:
        listed = session.get(f"{url}/api/v1/officers", params={"unit": UNIT}, timeout=10)
        if listed.status_code == 404:
            return "officers: this server has no officers API; officer sign-in shows no names"
        listed.raise_for_status()
        have = {o["code"] for o in listed.json()["officers"]}
        added = []
        for code, name, pin, photo in OFFICERS:
            if code in have:
                continue
            made = session.post(f"{url}/api/v1/officers", json={"unit": UNIT, "code": code, "name": name,
                                                               "counters": [], "pin": pin}, timeout=10)
            made.raise_for_status()
            if photo:
                officer_id = made.json()["officer"]["id"]
                session.put(f"{url}/api/v1/officers/{officer_id}/photo", data=demo_photo(),
                            headers={"Content-Type": "image/png"}, timeout=10).raise_for_status()
            added.append(code)
    except (requests.RequestException, KeyError, ValueError) as exc:
        return f"officers: could not be added ({exc})"
    return f"officers: {', '.join(added)} added" if added else "officers: already there"


if __name__ == "__main__":
    print(add_officers(sys.argv[1], sys.argv[2]))
