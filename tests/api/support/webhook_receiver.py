"""A webhook endpoint for Kiln's tests: checks each delivery's signature with
the Standard Webhooks reference library (`standardwebhooks`, from PyPI) and
records it as one JSON line.

    python webhook_receiver.py PORT LOG SECRET_FILE [--fail-first N] [--delay SECONDS]
                               [--answer STATUS]

SECRET_FILE holds the endpoint's `whsec_...` secret; it is read at each
request, since the test learns the secret only after creating the endpoint,
which needs this receiver's port. The first N requests are answered 500, the
others STATUS (204 by default; a 3xx comes with a `Location` on this same
receiver); each answer waits SECONDS first. Each line of LOG is
{"path", "id", "timestamp", "verified", "error", "status", "body"}.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main():
    port, log_path, secret_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    options = sys.argv[4:]
    fail_first = int(options[options.index("--fail-first") + 1]) if "--fail-first" in options else 0
    delay = float(options[options.index("--delay") + 1]) if "--delay" in options else 0.0
    answer = int(options[options.index("--answer") + 1]) if "--answer" in options else 204
    lock = threading.Lock()
    seen = {"requests": 0}

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with lock:
                seen["requests"] += 1
                status = 500 if seen["requests"] <= fail_first else answer
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                with open(secret_path) as secret:
                    Webhook(secret.read().strip()).verify(body, headers)
                verified, error = True, None
            except (WebhookVerificationError, OSError, ValueError) as refusal:
                verified, error = False, str(refusal)
            try:
                payload = json.loads(body)
            except ValueError:
                payload = None
            time.sleep(delay)
            record = {
                "path": self.path,
                "id": headers.get("webhook-id"),
                "timestamp": headers.get("webhook-timestamp"),
                "verified": verified,
                "error": error,
                "status": status,
                "body": payload,
            }
            with lock, open(log_path, "a") as log:
                log.write(json.dumps(record) + "\n")
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("location", "/redirected")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Receiver).serve_forever()


if __name__ == "__main__":
    main()
