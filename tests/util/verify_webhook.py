"""Verifies a Standard Webhooks signature with the reference `standardwebhooks` package.

Reads {"secret": "whsec_...", "headers": {...}, "body": "..."} on stdin; exits 0 when the
signature verifies, 1 (with the reason on stderr) when it does not. Independent of vigie's
own HMAC code, so a test that passes here proves interoperability, not self-consistency.
"""
import json
import sys

from standardwebhooks.webhooks import Webhook

req = json.load(sys.stdin)
try:
    Webhook(req["secret"]).verify(req["body"].encode(), req["headers"])
except Exception as e:  # noqa: BLE001 - any failure is a failed verification
    print(f"verification failed: {e!r}", file=sys.stderr)
    sys.exit(1)
