"""A relying party logs a user in against the packaged daemon (part of `make systemd-e2e`).

Python's standard library only (it runs inside the e2e namespace, fed on stdin): the
authorization code flow with PKCE S256, state and nonce; the login page (and the consent page
if the client is not first-party) filled in like a browser would; the code exchanged at the
token endpoint with client_secret_basic; the id_token's claims and /userinfo checked.

usage: python3 - ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI EMAIL PASSWORD < rp-login.py
Prints one line per step; exits non-zero naming the first check that failed."""

import base64
import hashlib
import html.parser
import json
import secrets
import sys
import urllib.error
import urllib.parse as up
import urllib.request

ISSUER, CLIENT_ID, SECRET, REDIRECT, EMAIL, PASSWORD = sys.argv[1:7]


def check(cond, what):
    if not cond:
        print(f"rp-login: FAILED: {what}", file=sys.stderr)
        sys.exit(1)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)
COOKIES = {}


def request(url, data=None, headers=None):
    """One request with the browser's cookies; (status, headers, body) whatever the status."""
    h = dict(headers or {})
    if COOKIES:
        h["Cookie"] = "; ".join(f"{k}={v}" for k, v in COOKIES.items())
    body = up.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, headers=h)
    try:
        res = OPENER.open(req, timeout=30)
    except urllib.error.HTTPError as e:
        res = e
    for c in res.headers.get_all("Set-Cookie") or []:
        name, _, rest = c.partition("=")
        COOKIES[name.strip()] = rest.split(";", 1)[0]
    return res.status, res.headers, res.read().decode("utf-8", "replace")


class Form(html.parser.HTMLParser):
    """The first form of a page: its action and its named inputs."""

    def __init__(self):
        super().__init__()
        self.action, self.fields, self.done = None, {}, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self.done:
            return
        if tag == "form" and self.action is None:
            self.action = a.get("action", "")
        elif tag == "input" and self.action is not None and a.get("name"):
            self.fields[a["name"]] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form" and self.action is not None:
            self.done = True


def form(page):
    f = Form()
    f.feed(page)
    check(f.action is not None, "a form on the page")
    return f


meta = json.loads(request(ISSUER + "/.well-known/openid-configuration")[2])
check(meta["issuer"] == ISSUER, f"discovery issuer {meta.get('issuer')}")
print(f"rp-login: discovery of {ISSUER}")

verifier = secrets.token_urlsafe(48)
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
url = meta["authorization_endpoint"] + "?" + up.urlencode({
    "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT,
    "scope": "openid email profile", "state": state, "nonce": nonce,
    "code_challenge": challenge, "code_challenge_method": "S256",
})

# The browser: follow redirects; fill in the login page, approve the consent page.
back = None
for _ in range(10):
    status, headers, page = request(url)
    loc = headers.get("Location")
    if loc and loc.startswith(REDIRECT):
        back = loc
        break
    if loc:
        url = up.urljoin(url, loc)
        continue
    check(status == 200, f"{url} answered {status}: {page[:200]}")
    f = form(page)
    fields = f.fields
    if "password" in fields:
        fields.update(email=EMAIL, password=PASSWORD)
        print("rp-login: login page")
    else:
        fields["decision"] = "approve"
        print("rp-login: consent page")
    status, headers, page = request(up.urljoin(url, f.action), data=fields)
    check(status in (302, 303), f"form post answered {status}: {page[:300]}")
    loc = headers["Location"]
    if loc.startswith(REDIRECT):
        back = loc
        break
    url = up.urljoin(url, loc)
check(back is not None, "redirected back to the relying party")
params = dict(up.parse_qsl(up.urlparse(back).query))
check("code" in params, f"a code in {back}")
check(params.get("state") == state, "state")
check(params.get("iss") == ISSUER, "iss in the authorization response (RFC 9207)")
print("rp-login: code received")

basic = base64.b64encode(f"{up.quote(CLIENT_ID, safe='')}:{up.quote(SECRET, safe='')}".encode()).decode()
status, _, body = request(meta["token_endpoint"], data={
    "grant_type": "authorization_code", "code": params["code"], "redirect_uri": REDIRECT,
    "code_verifier": verifier,
}, headers={"Authorization": "Basic " + basic})
check(status == 200, f"token endpoint answered {status}: {body}")
token = json.loads(body)
seg = token["id_token"].split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))
check(claims["iss"] == ISSUER and claims["aud"] in (CLIENT_ID, [CLIENT_ID]), "id_token iss and aud")
check(claims["nonce"] == nonce, "id_token nonce")
print(f"rp-login: tokens for sub {claims['sub']}")

status, _, body = request(meta["userinfo_endpoint"], headers={"Authorization": "Bearer " + token["access_token"]})
check(status == 200, f"userinfo answered {status}: {body}")
info = json.loads(body)
check(info["sub"] == claims["sub"] and info.get("email") == EMAIL, f"userinfo {info}")
print(f"rp-login: {EMAIL} logged in to {CLIENT_ID}")
