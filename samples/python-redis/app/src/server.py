"""The web app: GET / counts the visit in Redis and greets; GET /health for the healthcheck.

The greeting lives in greeting.py and is read again on every request, so that an edit
synced by `stackup watch` shows without a restart.
"""

import importlib
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import redis

import greeting

store = redis.Redis(host=os.environ.get("REDIS_HOST", "localhost"), port=6379)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body = b"ok\n"
        else:
            visits = store.incr("visits")
            store.rpush("jobs", f"visit {visits}")
            importlib.reload(greeting)
            body = f"{greeting.TEXT} (visit {visits})\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        print(self.address_string(), format % args, flush=True)


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
