#!/usr/bin/env python3
"""Independent client for a Tencent Cloud API 3.0 endpoint, signed with TC3-HMAC-SHA256.

Written from the published algorithm ("签名方法 v3", cloud.tencent.com/document/api/213/30654),
not from liverec's C code, so the liverec tests can check the server against a second
implementation. Python 3 standard library only.

As a module:
    from tc3 import call, sign
    status, headers, body, obj = call("http://127.0.0.1:8080", "ID", "KEY",
                                      "DescribeLiveRecordTemplates", {})
    s = sign("ID", "KEY", "live", "127.0.0.1:8080", "DescribeLiveRecordTemplates",
             1551113065, b"{}")          # s["authorization"], s["canonical_request"], ...

As a command:
    tc3.py --endpoint http://127.0.0.1:PORT --secret-id ID --secret-key KEY \\
           ACTION '{json body}' [--timestamp N] [--service live] [--version 2018-08-01]
           [--region ap-guangzhou] [--raw]
    prints "HTTP <status>" and the response body (pretty JSON unless --raw); exits 0 on
    HTTP 200, 1 on any other status, 2 when no HTTP answer came.

    The body is sent byte for byte as given (it is not re-serialized), so invalid JSON can be
    sent on purpose; '@FILE' reads it from a file.

    Corrupting options for negative tests:
      --bad-signature          flip the last hex digit of the signature
      --sign-body OTHER        sign OTHER but send the real body
      --timestamp N            X-TC-Timestamp (and, unless --date, the scope date)
      --date YYYY-MM-DD        scope date in the credential
      --authorization RAW      send RAW as the Authorization header, no signing
      --no-auth                send no Authorization header
      --header 'Name: value'   extra header, repeatable; replaces a header of the same name
                               after signing (so it can also break a signed header)
      --method GET             HTTP method (signed as such); GET sends no body, see --query
    Other options: --signed-headers LIST (default content-type;host;x-tc-action, as in the
    documentation), --sdk-style (sign and send like the official Python/Go SDKs:
    Content-Type "application/json", SignedHeaders content-type;host), --content-type,
    --query, --language, --token, --verbose (canonical request and string to sign on
    stderr), --selftest (reproduce the documented examples and exit).
"""

import argparse
import hashlib
import hmac
import http.client
import json
import sys
import time
import urllib.parse

ALGORITHM = "TC3-HMAC-SHA256"
JSON_CT = "application/json; charset=utf-8"
SDK_JSON_CT = "application/json"
DEFAULT_SIGNED = ("content-type", "host", "x-tc-action")


def _b(s):
    return s if isinstance(s, bytes) else s.encode("utf-8")


def _sha256_hex(data):
    return hashlib.sha256(_b(data)).hexdigest()


def _hmac(key, msg):
    return hmac.new(_b(key), _b(msg), hashlib.sha256).digest()


def utc_date(timestamp):
    return time.strftime("%Y-%m-%d", time.gmtime(int(timestamp)))


def signing_key(secret_key, date, service):
    k_date = _hmac("TC3" + secret_key, date)
    k_service = _hmac(k_date, service)
    return _hmac(k_service, "tc3_request")


def sign(secret_id, secret_key, service, host, action, timestamp, body,
         content_type=JSON_CT, signed_headers=DEFAULT_SIGNED, method="POST",
         query="", date=None, headers=None):
    """Compute a TC3-HMAC-SHA256 signature.

    headers: optional dict of further header values (any case) for names listed in
    signed_headers other than content-type, host and x-tc-action.
    Returns a dict: canonical_request, hashed_payload, hashed_canonical_request,
    string_to_sign, credential_scope, signed_headers, signature, authorization, date.

    Canonical headers follow the documentation: names and values lowercased and trimmed,
    sorted by name; so the action is signed as e.g. "x-tc-action:describeinstances".
    """
    if date is None:
        date = utc_date(timestamp)
    values = {"content-type": content_type, "host": host, "x-tc-action": action}
    for k, v in (headers or {}).items():
        values[k.lower()] = v
    names = sorted({h.strip().lower() for h in signed_headers if h.strip()})
    canonical_headers = "".join(
        "%s:%s\n" % (n, str(values.get(n, "")).strip().lower()) for n in names)
    signed = ";".join(names)
    payload = b"" if method.upper() == "GET" else _b(body)
    hashed_payload = _sha256_hex(payload)
    canonical_request = "\n".join([method.upper(), "/", query, canonical_headers,
                                   signed, hashed_payload])
    scope = "%s/%s/tc3_request" % (date, service)
    hashed_cr = _sha256_hex(canonical_request)
    string_to_sign = "\n".join([ALGORITHM, str(int(timestamp)), scope, hashed_cr])
    signature = hmac.new(signing_key(secret_key, date, service), _b(string_to_sign),
                         hashlib.sha256).hexdigest()
    authorization = "%s Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        ALGORITHM, secret_id, scope, signed, signature)
    return {
        "date": date,
        "canonical_request": canonical_request,
        "hashed_payload": hashed_payload,
        "hashed_canonical_request": hashed_cr,
        "credential_scope": scope,
        "string_to_sign": string_to_sign,
        "signed_headers": signed,
        "signature": signature,
        "authorization": authorization,
    }


def _flip_last_hex(sig):
    return sig[:-1] + ("0" if sig[-1] != "0" else "1")


def call(endpoint, secret_id, secret_key, action, body=None, service="live",
         version="2018-08-01", region="ap-guangzhou", timestamp=None, date=None,
         method="POST", content_type=JSON_CT, signed_headers=DEFAULT_SIGNED,
         query="", language=None, token=None, bad_signature=False, sign_body=None,
         authorization=None, no_auth=False, extra_headers=None, timeout=30.0,
         verbose=False):
    """POST (or GET) one action to endpoint ("http://host:port[/path]").

    body: bytes/str sent as is, or any other object, which is JSON-encoded; None = "{}".
    region: None or "" sends no X-TC-Region.
    extra_headers: list of (name, value) pairs or a dict, set after signing, replacing
    headers of the same name (case-insensitive).
    Returns (status, headers as list of pairs, raw body bytes, parsed JSON or None).
    """
    if body is None:
        body = "{}"
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    body = _b(body)
    if timestamp is None:
        timestamp = int(time.time())
    u = urllib.parse.urlsplit(endpoint)
    if u.scheme not in ("http", "https"):
        raise ValueError("endpoint must be http:// or https://")
    host = u.netloc
    path = u.path or "/"
    if query:
        path += "?" + query

    hdrs = [("Content-Type", content_type), ("Host", host), ("X-TC-Action", action),
            ("X-TC-Version", version), ("X-TC-Timestamp", str(int(timestamp)))]
    if region:
        hdrs.append(("X-TC-Region", region))
    if language:
        hdrs.append(("X-TC-Language", language))
    if token:
        hdrs.append(("X-TC-Token", token))

    if authorization is not None:
        auth = authorization
    elif no_auth:
        auth = None
    else:
        s = sign(secret_id, secret_key, service, host, action, timestamp,
                 body if sign_body is None else _b(sign_body),
                 content_type=content_type, signed_headers=signed_headers,
                 method=method, query=query, date=date, headers=dict(hdrs))
        if verbose:
            sys.stderr.write("--- canonical request\n%s\n--- string to sign\n%s\n---\n"
                             % (s["canonical_request"], s["string_to_sign"]))
        auth = s["authorization"]
        if bad_signature:
            auth = _flip_last_hex(auth)
    if auth is not None:
        hdrs.append(("Authorization", auth))

    if isinstance(extra_headers, dict):
        extra_headers = list(extra_headers.items())
    for name, value in extra_headers or []:
        hdrs = [(k, v) for k, v in hdrs if k.lower() != name.lower()]
        hdrs.append((name, value))

    send_body = body if method.upper() != "GET" else b""
    conn_cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
    conn = conn_cls(u.hostname, u.port, timeout=timeout)
    try:
        conn.putrequest(method.upper(), path, skip_host=True, skip_accept_encoding=True)
        for k, v in hdrs:
            conn.putheader(k, v)
        if send_body or method.upper() != "GET":
            conn.putheader("Content-Length", str(len(send_body)))
        conn.endheaders(send_body if send_body else None)
        resp = conn.getresponse()
        raw = resp.read()
        status, rheaders = resp.status, resp.getheaders()
    finally:
        conn.close()
    try:
        obj = json.loads(raw.decode("utf-8"))
    except ValueError:
        obj = None
    return status, rheaders, raw, obj


# The worked example of the "签名方法 v3" documentation (DescribeInstances on cvm,
# timestamp 1551113065). Three published versions of it (see /tmp/api-spec.md section C4).
# The current Chinese page masks the SecretKey and computed its numbers with the real key, so
# for it the check starts from the SecretDate it prints (HMAC("TC3"+key, date)) and reproduces
# SecretService, SecretSigning and the Signature from there.
_DOC_BODY = ('{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], '
             '"Name": "instance-name"}]}')
_DOC_VECTORS = [
    # (label, secret key or None, published SecretDate hex or None, signed headers,
    #  hashed canonical request, published SecretSigning hex or None, signature)
    ("intl doc, EXAMPLE key, content-type;host",
     "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", None, ("content-type", "host"),
     "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031", None,
     "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"),
    ("cn doc 2019, masked key as printed, content-type;host",
     "Gu5t9xGARNpq86cd98joQYCN3*******", None, ("content-type", "host"),
     "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031", None,
     "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"),
    ("cn doc current, from published SecretDate, content-type;host;x-tc-action",
     None, "da98fb70dcf6b112dc21038d1eeeb3a95c74b4dcb12c1131f864f6066bd02be0",
     ("content-type", "host", "x-tc-action"),
     "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84",
     "b596b923aad85185e2d1f6659d2a062e0a86731226e021e61bfe06f7ed05f5af",
     "10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f"),
]
_DOC_PAYLOAD_HASH = "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"


def selftest(out=sys.stdout):
    ok = True
    for label, skey, sdate, sh, want_cr, want_signing, want_sig in _DOC_VECTORS:
        s = sign("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", skey or "", "cvm",
                 "cvm.tencentcloudapi.com", "DescribeInstances", 1551113065, _DOC_BODY,
                 content_type=JSON_CT, signed_headers=sh)
        sig = s["signature"]
        checks = [("payload hash", s["hashed_payload"], _DOC_PAYLOAD_HASH),
                  ("scope", s["credential_scope"], "2019-02-25/cvm/tc3_request"),
                  ("canonical request hash", s["hashed_canonical_request"], want_cr)]
        if sdate is not None:
            k_signing = _hmac(_hmac(bytes.fromhex(sdate), "cvm"), "tc3_request")
            checks.append(("SecretSigning", k_signing.hex(), want_signing))
            sig = hmac.new(k_signing, _b(s["string_to_sign"]), hashlib.sha256).hexdigest()
        checks.append(("signature", sig, want_sig))
        for what, got, want in checks:
            good = got == want
            ok = ok and good
            out.write("%s  %s: %s%s\n" % ("ok  " if good else "FAIL", label, what,
                                          "" if good else " got %s want %s" % (got, want)))
    return ok


def _parse_args(argv):
    p = argparse.ArgumentParser(
        description="Call a Tencent Cloud API 3.0 endpoint with a TC3-HMAC-SHA256 signature.")
    p.add_argument("action", nargs="?")
    p.add_argument("body", nargs="?", default="{}",
                   help="request body sent as is (default {}); @FILE reads a file")
    p.add_argument("--endpoint")
    p.add_argument("--secret-id", default="")
    p.add_argument("--secret-key", default="")
    p.add_argument("--timestamp", type=int)
    p.add_argument("--service", default="live")
    p.add_argument("--version", default="2018-08-01")
    p.add_argument("--region", default="ap-guangzhou", help="'' sends no X-TC-Region")
    p.add_argument("--language")
    p.add_argument("--token")
    p.add_argument("--raw", action="store_true", help="print the body as received")
    p.add_argument("--bad-signature", action="store_true")
    p.add_argument("--sign-body")
    p.add_argument("--date")
    p.add_argument("--authorization")
    p.add_argument("--no-auth", action="store_true")
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--method", default="POST")
    p.add_argument("--query", default="")
    p.add_argument("--content-type")
    p.add_argument("--signed-headers", help="e.g. content-type;host")
    p.add_argument("--sdk-style", action="store_true",
                   help="Content-Type application/json, SignedHeaders content-type;host")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--selftest", action="store_true")
    return p.parse_args(argv)


def main(argv=None):
    a = _parse_args(sys.argv[1:] if argv is None else argv)
    if a.selftest:
        return 0 if selftest() else 1
    if not a.endpoint or not a.action:
        sys.stderr.write("tc3.py: --endpoint and ACTION are required\n")
        return 2
    body = a.body
    if body.startswith("@"):
        with open(body[1:], "rb") as f:
            body = f.read()
    content_type = a.content_type or (SDK_JSON_CT if a.sdk_style else JSON_CT)
    if a.signed_headers is not None:
        signed = tuple(h for h in a.signed_headers.split(";"))
    else:
        signed = ("content-type", "host") if a.sdk_style else DEFAULT_SIGNED
    extra = []
    for h in a.header:
        if ":" not in h:
            sys.stderr.write("tc3.py: --header wants 'Name: value'\n")
            return 2
        k, v = h.split(":", 1)
        extra.append((k.strip(), v.strip()))
    try:
        status, _, raw, obj = call(
            a.endpoint, a.secret_id, a.secret_key, a.action, body, service=a.service,
            version=a.version, region=a.region, timestamp=a.timestamp, date=a.date,
            method=a.method, content_type=content_type, signed_headers=signed,
            query=a.query, language=a.language, token=a.token,
            bad_signature=a.bad_signature, sign_body=a.sign_body,
            authorization=a.authorization, no_auth=a.no_auth, extra_headers=extra,
            timeout=a.timeout, verbose=a.verbose)
    except (OSError, http.client.HTTPException, ValueError) as e:
        sys.stderr.write("tc3.py: %s\n" % e)
        return 2
    print("HTTP %d" % status)
    if a.raw or obj is None:
        sys.stdout.write(raw.decode("utf-8", "replace"))
        if raw and not raw.endswith(b"\n"):
            sys.stdout.write("\n")
    else:
        print(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False))
    sys.stdout.flush()
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
