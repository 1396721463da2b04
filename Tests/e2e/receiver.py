"""A local stand-in for Slack's incoming-webhook server (and for generic webhooks), on 127.0.0.1.

It checks each body the way Slack does — a JSON object with `text` and/or valid Block Kit `blocks`
within Slack's limits — answers 400 invalid_payload when it is not, 200 ok when it is, and records
every request for the test to assert on.
"""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BLOCK_TYPES = {"header", "section", "context", "divider", "actions", "image", "rich_text"}


def slack_problems(body):
    try:
        obj = json.loads(body)
    except ValueError:
        return ["not JSON"]
    if not isinstance(obj, dict):
        return ["not an object"]
    problems = []
    text, blocks = obj.get("text"), obj.get("blocks")
    if not text and not blocks:
        problems.append("no text and no blocks")
    if blocks is not None:
        if not isinstance(blocks, list) or len(blocks) > 50:
            return problems + ["blocks must be a list of at most 50"]
        for i, block in enumerate(blocks):
            kind = block.get("type") if isinstance(block, dict) else None
            if kind not in BLOCK_TYPES:
                problems.append(f"blocks[{i}]: bad type {kind!r}")
            elif kind == "header":
                t = block.get("text") or {}
                if t.get("type") != "plain_text" or not 0 < len(t.get("text", "")) <= 150:
                    problems.append(f"blocks[{i}]: header text must be plain_text, 1-150 chars")
            elif kind == "section":
                fields = block.get("fields")
                if not block.get("text") and not fields:
                    problems.append(f"blocks[{i}]: section needs text or fields")
                if fields and (len(fields) > 10 or any(len(f.get("text", "")) > 2000 for f in fields)):
                    problems.append(f"blocks[{i}]: too many or too long fields")
    return problems


class Receiver:
    def __init__(self, answers=None):
        self.requests = []
        self.lock = threading.Lock()
        self.answers = list(answers or [])
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                arrived = time.perf_counter()
                problems = slack_problems(body) if self.path.startswith("/services/") else []
                with outer.lock:
                    outer.requests.append({"path": self.path, "body": body, "at": arrived, "problems": problems,
                                           "json": json.loads(body) if not problems else None})
                    answer = outer.answers.pop(0) if outer.answers else None
                status, reply = answer or ((400, b"invalid_payload") if problems else (200, b"ok"))
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def url(self, path="/services/T000/B000/E2ESECRETTOKEN"):
        return f"http://127.0.0.1:{self.port}{path}"

    def texts(self):
        with self.lock:
            return [r["json"]["text"] for r in self.requests if r["json"] and "text" in r["json"]]

    def wait_for(self, predicate, seconds, count=1):
        """Waits until at least `count` message texts satisfy `predicate`; returns them (or [])."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = [t for t in self.texts() if predicate(t)]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        return []
