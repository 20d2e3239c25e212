#!/usr/bin/env python3
"""A real SMTP server for vigie's tests (aiosmtpd), driven by tests/util/smtp.rs.

Usage: smtp_sink.py --port PORT --dir DIR [--user U --password P] [--data-reply "451 ..."]
                    [--tls starttls|implicit --cert PEM --key PEM]

Listens on 127.0.0.1:PORT (0 picks a free port) and prints the bound port alone on the first
line of stdout. Each accepted message is written to DIR as NNNNNN.eml (the raw RFC 5322 bytes
as received, after dot-unstuffing) with NNNNNN.env beside it (MAIL FROM and RCPT TO lines);
both are written to a temporary name then renamed, the .env first, so a reader that sees an
.eml sees it whole. Numbering continues after the files already in DIR, so a sink restarted on
the same DIR keeps arrival order.

--user/--password enable AUTH PLAIN and LOGIN over the plain connection and require it before
MAIL; other credentials get 535. --data-reply answers every DATA with that line instead of
250, to test how a client classifies 4xx and 5xx replies (nothing is written then).
--tls starttls offers STARTTLS with that certificate and refuses MAIL before it (so a message
that arrives came over TLS); --tls implicit speaks TLS from the first byte (smtps).
Needs `pip install aiosmtpd`.
"""

import argparse
import asyncio
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    """Writes each message atomically into a directory."""

    def __init__(self, directory, data_reply):
        self.directory = directory
        self.data_reply = data_reply
        existing = [
            int(name[:-4])
            for name in os.listdir(directory)
            if name.endswith(".eml") and name[:-4].isdigit()
        ]
        self.seq = max(existing, default=0)

    def _write(self, name, data):
        tmp = os.path.join(self.directory, ".tmp-" + name)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, os.path.join(self.directory, name))

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.seq += 1
        stem = "%06d" % self.seq
        env = "MAIL FROM: %s\n" % envelope.mail_from
        env += "".join("RCPT TO: %s\n" % r for r in envelope.rcpt_tos)
        self._write(stem + ".env", env.encode())
        self._write(stem + ".eml", envelope.original_content or envelope.content)
        return "250 2.0.0 OK queued as " + stem


def authenticator(user, password):
    """Accepts exactly one login; aiosmtpd answers 535 to anything else."""

    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        return AuthResult(success=ok, handled=False)

    return check


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--dir", required=True)
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--data-reply")
    p.add_argument("--tls", choices=["starttls", "implicit"])
    p.add_argument("--cert")
    p.add_argument("--key")
    args = p.parse_args()

    handler = Sink(args.dir, args.data_reply)
    kwargs = {"hostname": "vigie-sink"}
    if args.user is not None:
        kwargs.update(
            authenticator=authenticator(args.user, args.password or ""),
            auth_required=True,
            auth_require_tls=False,
        )
    wrap = None
    if args.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
        if args.tls == "starttls":
            kwargs.update(tls_context=ctx, require_starttls=True)
        else:
            wrap = ctx
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, **kwargs), host="127.0.0.1", port=args.port, ssl=wrap
    )
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
