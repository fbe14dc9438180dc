#!/usr/bin/env python3
"""A proxy in front of the tests' S3 server that does what a bad network or a bad server does,
on request of the test:

  s3_fault_proxy.py PORT UPSTREAM_PORT LOG [--flip-part N] [--complete-error N] [--slow TEXT:SECONDS]

  --flip-part N        flip one byte in the body of the Nth UploadPart (counted from 1), leaving
                       its Content-MD5 as it was: the server must answer BadDigest
  --complete-error N   answer the Nth CompleteMultipartUpload with 200 and an <Error> body
                       (InternalError) without passing it on, as S3 may
  --complete-etag N    pass the Nth CompleteMultipartUpload on, but change the ETag in its reply
  --slow TEXT:SECONDS  hold every request whose path holds TEXT that long before passing it on

Every request is logged to LOG as "START END METHOD PATH?QUERY STATUS BODY_BYTES [what was done]"
(START and END in seconds, when it came and when the server answered it). Listens
on 127.0.0.1 only; the Host header is passed on as it came, so SigV4 signatures still hold.
"""
import argparse
import http.client
import http.server
import re
import threading
import time

HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection", "te",
       "upgrade", "trailer"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("upstream", type=int)
    ap.add_argument("log")
    ap.add_argument("--flip-part", type=int, default=0)
    ap.add_argument("--complete-error", type=int, default=0)
    ap.add_argument("--complete-etag", type=int, default=0)
    ap.add_argument("--slow", action="append", default=[])
    args = ap.parse_args()
    slow = [(s.rsplit(":", 1)[0], float(s.rsplit(":", 1)[1])) for s in args.slow]
    lock = threading.Lock()
    counts = {"part": 0, "complete": 0}
    log = open(args.log, "a", buffering=1)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def relay(self):
            t0 = time.time()
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            path, _, query = self.path.partition("?")
            done = ""
            is_part = self.command == "PUT" and "partNumber=" in query and "uploadId=" in query
            is_complete = self.command == "POST" and "uploadId=" in query
            with lock:
                if is_part:
                    counts["part"] += 1
                    if counts["part"] == args.flip_part and body:
                        body = bytes([body[0] ^ 0xff]) + body[1:]
                        done = "flipped a byte"
                if is_complete:
                    counts["complete"] += 1
                    if counts["complete"] == args.complete_error:
                        done = "answered 200 with an <Error>"
                    elif counts["complete"] == args.complete_etag:
                        done = "changed the ETag"
            for text, secs in slow:
                if text in path:
                    time.sleep(secs)
                    done = (done + " " if done else "") + "held %.1f s" % secs
            if done == "answered 200 with an <Error>":
                reply = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
                         b'<Message>We encountered an internal error. Please try again.</Message>'
                         b'</Error>')
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
                log.write("%.3f %.3f %s %s 200 %d %s\n" % (t0, time.time(), self.command, self.path,
                                                         len(body), done))
                return
            conn = http.client.HTTPConnection("127.0.0.1", args.upstream, timeout=120)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            headers["Content-Length"] = str(len(body))
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            if done == "changed the ETag":
                def other(m):
                    return m.group(1) + (b"1" if m.group(2) == b"0" else b"0")
                data = re.sub(rb"(<ETag>(?:&quot;|\")?)([0-9a-fA-F])", other, data, count=1)
            # logged before the reply is written: a client killed meanwhile still leaves its line
            log.write("%.3f %.3f %s %s %d %d%s\n" % (t0, time.time(), self.command, self.path,
                                                   resp.status, len(body), " " + done if done else ""))
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() in HOP or k.lower() == "content-length":
                    continue
                self.send_header(k, v)
            if self.command == "HEAD":
                self.send_header("Content-Length", resp.getheader("Content-Length", "0"))
            else:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = relay

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    main()
