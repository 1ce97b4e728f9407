#!/usr/bin/env python3
"""Full sign-ins against the real server, as a browser and an application do them (bench/load/login.sh).

Each sign-in: GET /authorize (PKCE S256, state, nonce) -> 303 /signin?request=ID -> GET /signin (the anti-forgery
field __af and its cookie) -> POST /signin (username, password) -> GET /signin/mfa -> POST /signin/mfa (the TOTP code
of this step, RFC 6238 computed here) -> 303 to the redirect URI with code, state and iss -> POST /token
(authorization_code, client_secret_basic, code_verifier) -> 200 with an access token and an ID token.

The browser side of each sign-in opens a new TLS connection (each sign-in is another person's browser) and keeps it
for the five page requests; the application side keeps one connection per thread for /token, as a web application's
back end does. Every answer is checked; any deviation counts as a failed sign-in and the exit code is 1.
Python 3 standard library only.

usage: login.py URL HOST USERS_FILE FIRST COUNT THREADS CLIENT_ID CLIENT_SECRET REDIRECT_URI SCOPE CAFILE
  URL      https://127.0.0.1:PORT, where to connect
  HOST     the Host header (the issuer's host and port)
  USERS    lines "username base32-secret" (Safeguard.Benchmarks signin-users); lines FIRST .. FIRST+COUNT-1 are used,
           each user once (a TOTP code is accepted once per 30-second step per user)
Prints one line: "ok=N failed=N seconds=S p50_ms=X p99_ms=Y client_cpu_ms=Z" (Z: this process's CPU per sign-in).
"""
import base64, hashlib, hmac, http.client, json, re, resource, secrets, ssl, struct, sys, threading, time, urllib.parse

url, host, users_file, first, count, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
client_id, client_secret, redirect_uri, scope, cafile = sys.argv[7:12]
PASSWORD = "bench sign-in horse battery staple"  # SignInLoad.Password
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) Safeguard-bench/1.0"

target = urllib.parse.urlsplit(url)
context = ssl.create_default_context(cafile=cafile)
context.check_hostname = False  # the development certificate is verified; the connection goes to the loopback address
basic = "Basic " + base64.b64encode(f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(client_secret, safe='')}".encode()).decode()
af_field = re.compile(r'name="__af"[^>]*value="([^"]+)"')

with open(users_file) as f:
    users = [line.split() for line in f if line.strip()][first:first + count]
if len(users) != count:
    sys.exit(f"{users_file} holds {len(users)} users from line {first}, {count} needed")


def totp(secret):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def connect():
    return http.client.HTTPSConnection(target.hostname, target.port, context=context, timeout=30)


class Failure(Exception):
    pass


class Browser:
    """One person's browser: one connection, a cookie jar."""

    def __init__(self):
        self.connection = connect()
        self.cookies = {}

    def request(self, method, path, form=None):
        headers = {"Host": host, "User-Agent": USER_AGENT, "Accept": "text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"https://{host}"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            value = rest.split(";", 1)[0]
            if value and "expires=thu, 01 jan 1970" not in cookie.lower():
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)
        return response.status, response.headers.get("Location"), text

    def close(self):
        self.connection.close()


def expect(condition, what):
    if not condition:
        raise Failure(what)


def sign_in(username, secret, application):
    verifier = b64url(secrets.token_bytes(32))
    challenge = b64url(hashlib.sha256(verifier.encode()).digest())
    state, nonce = b64url(secrets.token_bytes(16)), b64url(secrets.token_bytes(16))
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": scope,
        "state": state, "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256"})
    browser = Browser()
    try:
        status, location, _ = browser.request("GET", "/authorize?" + query)
        expect(status == 303 and location and location.startswith("/signin?request="), f"/authorize answered {status} {location}")
        request_id = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)["request"][0]

        status, _, page = browser.request("GET", location)
        token = af_field.search(page)
        expect(status == 200 and token and "__Host-safeguard-af" in browser.cookies, f"GET /signin answered {status}")
        status, location, page = browser.request("POST", "/signin", {
            "__af": token.group(1), "request": request_id, "username": username, "password": PASSWORD})
        expect(status in (302, 303) and location == "/signin/mfa" and "__Host-safeguard-signin" in browser.cookies,
               f"POST /signin answered {status} {location}: {re.findall(r'role=.alert.[^>]*>([^<]*)', page)}")

        status, _, page = browser.request("GET", "/signin/mfa")
        token = af_field.search(page)
        expect(status == 200 and token, f"GET /signin/mfa answered {status}")
        status, location, page = browser.request("POST", "/signin/mfa", {"__af": token.group(1), "code": totp(secret)})
        expect(status == 303 and location and location.startswith(redirect_uri + "?") and "__Host-safeguard-session" in browser.cookies,
               f"POST /signin/mfa answered {status} {location}: {re.findall(r'role=.alert.[^>]*>([^<]*)', page)}")
        answer = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
        expect(answer.get("state") == [state] and "code" in answer and "iss" in answer, f"the redirect lacks code, state or iss: {location}")
    finally:
        browser.close()

    form = urllib.parse.urlencode({
        "grant_type": "authorization_code", "code": answer["code"][0], "redirect_uri": redirect_uri, "code_verifier": verifier})
    application.request("POST", "/token", body=form, headers={
        "Host": host, "Authorization": basic, "Content-Type": "application/x-www-form-urlencoded"})
    response = application.getresponse()
    body = response.read()
    expect(response.status == 200, f"/token answered {response.status}: {body[:300]!r}")
    tokens = json.loads(body)
    expect(tokens.get("access_token") and tokens.get("id_token") and tokens.get("token_type") in ("Bearer", "DPoP"), f"/token answer lacks tokens: {list(tokens)}")


lock = threading.Lock()
next_user = 0
durations, failures = [], []


def worker():
    global next_user
    application = connect()
    while True:
        with lock:
            if next_user >= len(users):
                break
            username, secret = users[next_user]
            next_user += 1
        started = time.perf_counter()
        try:
            sign_in(username, secret, application)
            with lock:
                durations.append(time.perf_counter() - started)
        except Exception as error:  # every kind of failure counts, and is reported
            with lock:
                failures.append(f"{username}: {type(error).__name__}: {error}")
            application.close()
            application = connect()
    application.close()


started = time.perf_counter()
pool = [threading.Thread(target=worker) for _ in range(threads)]
for t in pool:
    t.start()
for t in pool:
    t.join()
seconds = time.perf_counter() - started
for failure in failures[:10]:
    print("sign-in failed: " + failure, file=sys.stderr)
durations.sort()
pick = lambda q: durations[min(len(durations) - 1, int(q * len(durations)))] * 1000 if durations else 0
usage = resource.getrusage(resource.RUSAGE_SELF)
client_ms = (usage.ru_utime + usage.ru_stime) * 1000 / max(1, len(users))
print(f"ok={len(durations)} failed={len(failures)} seconds={seconds:.2f} p50_ms={pick(0.5):.1f} p99_ms={pick(0.99):.1f} client_cpu_ms={client_ms:.2f}")
sys.exit(1 if failures else 0)
