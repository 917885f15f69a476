#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""What Alertmanager delivers to, for the alert delivery test: an HTTP server that takes Slack-compatible webhook
posts and a minimal SMTP server (loopback only). Each notification is written as one file in OUT_DIR
(webhook-N.json: the posted JSON; mail-N.txt: the message as sent). Prints "WEBHOOK_PORT SMTP_PORT" once both
listen.

Usage: alert_receiver.py OUT_DIR
"""
import http.server
import itertools
import os
import socketserver
import sys
import threading

out_dir = sys.argv[1]
counter = itertools.count(1)
lock = threading.Lock()


def save(kind, data):
    with lock:
        n = next(counter)
    path = os.path.join(out_dir, f"{kind}-{n}")
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.rename(path + ".tmp", path + (".json" if kind == "webhook" else ".txt"))


class Webhook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        save("webhook", body)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class Smtp(socketserver.StreamRequestHandler):
    """Enough of RFC 5321 for Alertmanager's client without TLS or auth: EHLO, MAIL, RCPT, DATA, QUIT."""

    def reply(self, line):
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        self.reply("220 localhost alert-receiver")
        message = []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line.decode(errors="replace").strip().split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 localhost")
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                message.append(line) if verb != "RSET" else None
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with .")
                while True:
                    data = self.rfile.readline()
                    if not data or data in (b".\r\n", b".\n"):
                        break
                    message.append(data[1:] if data.startswith(b"..") else data)
                save("mail", b"".join(message))
                message = []
                self.reply("250 OK queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class Threaded(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


web = Threaded(("127.0.0.1", 0), Webhook)
smtp = Threaded(("127.0.0.1", 0), Smtp)
for server in (web, smtp):
    threading.Thread(target=server.serve_forever, daemon=True).start()
print(web.server_address[1], smtp.server_address[1], flush=True)
threading.Event().wait()
