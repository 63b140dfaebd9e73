"""A relying party built on Python's authlib (not written by us) against a running OpenTrusty
tenant: discovery, code flow with PKCE and nonce, id_token validation against the JWKS
(signature, iss, aud, nonce, at_hash), userinfo, refresh with rotation, introspection,
revocation, client credentials and RP-initiated logout.

With OT_ACR (and OT_TOTP_SECRET, the base32 seed of the user's authenticator app) the request
asks `acr_values`, the browser passes the second-factor page with a TOTP code computed here,
and the id_token and userinfo must say `acr` OT_ACR with `otp` and `mfa` in `amr`; without,
a password-only user gets `amr` ["pwd"] and `acr` urn:opentrusty:pwd.

Driven by tests/it/oidc_authlib.rs, which starts the daemon and passes everything in
environment variables. Exits non-zero with a message on the first failed check.

OT_MODE=login (the console journey, tests/it/console/chromium.rs): only the sign-in of a
person, for a third-party client registered in the console (its consent page answered),
with the id_token and userinfo checked; prints the subject. OT_MODE=refused: the same
sign-in must fail at the login page (a disabled account) and no code may come back."""

import base64
import hashlib
import hmac
import html
import os
import re
import secrets
import struct
import sys
import time
import urllib.parse as up

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

E = os.environ
BASE, ISSUER = E["OT_BASE"], E["OT_ISSUER"]
CB = E["OT_REDIRECT_URI"]
ACR = E.get("OT_ACR")


def totp(secret_b32):
    """RFC 6238 (SHA-1, 6 digits, 30 s), as an authenticator app computes it."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000)


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


meta = requests.get(ISSUER + "/.well-known/openid-configuration").json()
check(meta["issuer"] == ISSUER, "discovery issuer")
check(meta["acr_values_supported"] == ["urn:opentrusty:pwd", "urn:opentrusty:mfa"], "acr_values_supported")
jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"]).json())

MODE = E.get("OT_MODE", "full")
SCOPE = "openid profile email offline_access" if MODE == "full" else "openid profile email"
rp = OAuth2Session(E["OT_CLIENT_ID"], E["OT_CLIENT_SECRET"], scope=SCOPE,
                   redirect_uri=CB, code_challenge_method="S256",
                   token_endpoint_auth_method="client_secret_basic")
verifier = secrets.token_urlsafe(48)
nonce = secrets.token_urlsafe(16)
extra = {"acr_values": ACR} if ACR else {}
uri, state = rp.create_authorization_url(meta["authorization_endpoint"], nonce=nonce, code_verifier=verifier, **extra)


def form_fields(text):
    return {html.unescape(k): html.unescape(v)
            for k, v in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', text)}


factor_pages = 0


def browse(start):
    """The browser's part: the login page (and the second-factor page), the consent page (a
    third-party client), then back at the redirect URI with a code. Returns that URI, or None
    when the login page refused (OT_MODE=refused)."""
    global factor_pages
    browser = requests.Session()
    url = start
    for _ in range(10):
        r = browser.get(url, allow_redirects=False)
        loc = r.headers.get("location")
        if loc and loc.startswith(CB):
            return loc
        if loc:
            url = up.urljoin(BASE, loc)
            continue
        field = lambda n: html.unescape(re.search(f'name="{n}" value="([^"]*)"', r.text).group(1))
        if "<h1>Second step</h1>" in r.text:
            check(ACR and "OT_TOTP_SECRET" in E, f"a second factor asked for at {url}")
            factor_pages += 1
            r = browser.post(url.split("?")[0], allow_redirects=False,
                             data={"code": totp(E["OT_TOTP_SECRET"]), "csrf": field("csrf"),
                                   "return_to": field("return_to")})
            check(r.status_code == 303, f"second factor answered {r.status_code}: {r.text[:300]}")
        elif 'name="password"' in r.text:
            r = browser.post(url.split("?")[0], allow_redirects=False,
                             data={"email": E["OT_EMAIL"], "password": E["OT_PASSWORD"],
                                   "csrf": field("csrf"), "return_to": field("return_to")})
            if MODE == "refused" and r.status_code != 303:
                check('role="alert"' in r.text and 'name="password"' in r.text,
                      f"the refused login shows the form with its error ({r.status_code})")
                return None
            check(r.status_code == 303, f"login answered {r.status_code}")
        elif 'name="decision"' in r.text:
            # The consent page of a third-party client: Allow.
            action = html.unescape(re.search(r'<form method="post" action="([^"]*)"', r.text).group(1))
            r = browser.post(up.urljoin(url, action), allow_redirects=False,
                             data={**form_fields(r.text), "decision": "approve"})
            check(r.status_code in (302, 303), f"consent answered {r.status_code}")
        else:
            check(False, f"expected the login, second-factor or consent page at {url}: {r.status_code}")
        loc = r.headers["location"]
        if loc.startswith(CB):
            return loc
        url = up.urljoin(BASE, loc)
    check(False, "too many redirects")


back = browse(uri)
if MODE == "refused":
    check(back is None, "no code for a refused login")
    print("authlib relying party: login refused")
    sys.exit(0)
check(back is not None, "redirected back with a code")
check(factor_pages == (1 if ACR else 0), f"second-factor pages passed: {factor_pages}")
params = dict(up.parse_qsl(up.urlparse(back).query))
check(params.get("iss") == ISSUER, "iss in the authorization response (RFC 9207)")
check(params.get("state") == state, "state returned")

token = rp.fetch_token(meta["token_endpoint"], authorization_response=back, code_verifier=verifier)
check(token["token_type"] == "Bearer", "token_type")
claims = jwt.decode(token["id_token"], jwks, claims_cls=CodeIDToken,
                    claims_options={"iss": {"essential": True, "values": [ISSUER]}},
                    claims_params={"nonce": nonce, "client_id": E["OT_CLIENT_ID"],
                                   "access_token": token["access_token"]})
claims.validate()
check(claims.get("auth_time") is not None and claims.get("sid"), "auth_time and sid")
if ACR:
    check("otp" in claims["amr"] and "mfa" in claims["amr"] and claims["acr"] == ACR,
          f"amr/acr after the second factor: {claims.get('amr')} {claims.get('acr')}")
else:
    check(claims["amr"] == ["pwd"] and claims["acr"] == "urn:opentrusty:pwd",
          f"amr/acr of a password sign-in: {claims.get('amr')} {claims.get('acr')}")

info = rp.get(meta["userinfo_endpoint"]).json()
check(info["sub"] == claims["sub"] and info["email"] == E["OT_EMAIL"], "userinfo claims")
check(info["acr"] == claims["acr"] and info["amr"] == claims["amr"], "userinfo amr/acr")
if "OT_EMAIL_VERIFIED" in E:  # issue 13: the claim follows the verification link
    want = E["OT_EMAIL_VERIFIED"] == "true"
    check(info.get("email_verified") is want, f"userinfo email_verified {info.get('email_verified')!r}")
if MODE == "login":
    print(f"sub: {claims['sub']}")
    print("authlib relying party: signed in")
    sys.exit(0)

old_refresh = token["refresh_token"]
new = rp.refresh_token(meta["token_endpoint"], refresh_token=old_refresh)
check(new["refresh_token"] != old_refresh, "refresh token rotated")

intro = rp.introspect_token(meta["introspection_endpoint"], token=new["access_token"]).json()
check(intro["active"] is True, "introspection of a live token")
r = rp.revoke_token(meta["revocation_endpoint"], token=new["refresh_token"], token_type_hint="refresh_token")
check(r.status_code == 200, "revocation")
intro = rp.introspect_token(meta["introspection_endpoint"], token=new["access_token"]).json()
check(intro["active"] is False, "family revoked with its refresh token")

svc = OAuth2Session(E["OT_SVC_ID"], E["OT_SVC_SECRET"], scope="api")
cc = svc.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
check(cc["scope"] == "api" and "refresh_token" not in cc, "client credentials")

r = requests.get(meta["end_session_endpoint"], allow_redirects=False,
                 params={"id_token_hint": token["id_token"], "post_logout_redirect_uri": E["OT_LOGOUT_URI"], "state": "bye"})
check(r.status_code == 302 and r.headers["location"] == E["OT_LOGOUT_URI"] + "?state=bye", "RP-initiated logout")
print("authlib relying party: all checks passed")
