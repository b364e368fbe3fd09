"""A tiny local HTTP server that records the JSON webhooks it is sent (alerts' tests, the replicas' test).

    hook = WebhookReceiver()        # listens on 127.0.0.1, a port the kernel picks
    hook.url                        # 'http://127.0.0.1:41234/hook'
    hook.fail_next = 1              # answer the next POST with 500
    hook.received[0]["body"]        # the JSON of the first accepted POST
    hook.close()

``delay_s`` holds each answer that long: a slow receiver, so that a second
sender racing the first would be caught sending the same event.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    """Records every accepted POST (``received``: content type and JSON body, in arrival order)."""

    def __init__(self, *, delay_s: float = 0.0):
        self.received: list[dict] = []
        self.fail_next = 0
        self.delay_s = delay_s
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(hook.delay_s)
                with hook._lock:
                    failing = hook.fail_next > 0
                    if failing:
                        hook.fail_next -= 1
                    else:
                        hook.received.append({"content_type": self.headers["Content-Type"],
                                              "body": json.loads(body)})
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
