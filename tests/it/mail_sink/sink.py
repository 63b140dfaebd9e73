#!/usr/bin/env python3
"""SMTP sink for OpenTrusty's tests (driven by tests/it/mail_sink/mod.rs).

Serve:  sink.py serve --dir D --port P [--tls CERT KEY [--implicit]] [--reject "550 ..."]
                      [--auth USER:PASS]
  Accepts every message (aiosmtpd) and writes it as D/<n>.eml, then D/<n>.json with the
  envelope, whether TLS was on, the decoded headers, text and HTML parts and any MIME defects.
  Both files appear atomically (temp + rename), the .json last. Prints "READY <port>" once
  listening (port 0 picks a free one). With --tls: STARTTLS offered and required; with
  --implicit as well: TLS from the first byte (smtps). --reject answers DATA with that reply.
  --auth requires AUTH PLAIN/LOGIN with these credentials (over TLS only, as aiosmtpd insists).
Parse:  sink.py parse FILE.eml   prints the same JSON for a file (the file: transport's output).
"""

import argparse
import asyncio
import email
import email.policy
import itertools
import json
import os
import ssl
import sys
import time


def describe(raw: bytes) -> dict:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    defects = [str(d) for d in msg.defects]
    for part in msg.walk():
        defects.extend(str(d) for d in part.defects)

    def body(kind):
        part = msg.get_body((kind,))
        return part.get_content() if part is not None else None

    return {
        "headers": [[k, str(v)] for k, v in msg.items()],
        "content_type": msg.get_content_type(),
        "parts": [p.get_content_type() for p in msg.walk()],
        "text": body("plain"),
        "html": body("html"),
        "defects": defects,
    }


def atomic_write(path: str, data: bytes) -> None:
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


class Handler:
    def __init__(self, directory: str, reject):
        self.directory = directory
        self.reject = reject
        self.counter = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        if self.reject:
            return self.reject
        raw = envelope.original_content or envelope.content
        name = "%d-%d-%06d" % (time.time_ns(), os.getpid(), next(self.counter))
        atomic_write(os.path.join(self.directory, name + ".eml"), raw)
        info = describe(raw)
        info.update(
            {
                "file": name + ".eml",
                "mail_from": envelope.mail_from,
                "rcpt_to": list(envelope.rcpt_tos),
                # STARTTLS sets session.ssl; an implicit-TLS transport carries the SSL object.
                "tls": session.ssl is not None
                or server.transport.get_extra_info("ssl_object") is not None,
                "authenticated": bool(getattr(session, "authenticated", False)),
            }
        )
        atomic_write(os.path.join(self.directory, name + ".json"), json.dumps(info).encode())
        return "250 OK queued as " + name


def authenticator(user: str, password: str):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok)

    return check


async def serve(args) -> None:
    from aiosmtpd.smtp import SMTP

    os.makedirs(args.dir, exist_ok=True)
    handler = Handler(args.dir, args.reject)
    context = None
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls[0], args.tls[1])
    kwargs = {}
    if context is not None and not args.implicit:
        kwargs.update(tls_context=context, require_starttls=True)
    if args.auth:
        user, _, password = args.auth.partition(":")
        # aiosmtpd's auth_require_tls looks at STARTTLS only; an implicit-TLS session is TLS
        # from the first byte, so it is told not to insist there.
        kwargs.update(
            authenticator=authenticator(user, password), auth_require_tls=not args.implicit
        )
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.test", **kwargs),
        host="127.0.0.1",
        port=args.port,
        ssl=context if args.implicit else None,
    )
    port = server.sockets[0].getsockname()[1]
    print("READY %d" % port, flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--dir", required=True)
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    s.add_argument("--implicit", action="store_true")
    s.add_argument("--reject")
    s.add_argument("--auth")
    q = sub.add_parser("parse")
    q.add_argument("file")
    args = p.parse_args()
    if args.cmd == "parse":
        with open(args.file, "rb") as f:
            json.dump(describe(f.read()), sys.stdout)
        return
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
