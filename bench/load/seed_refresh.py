#!/usr/bin/env python3
"""Seeds a data folder's SQLite state with refresh tokens for the refresh-grant load test (bench/load/token_cc.sh).

One user, SESSIONS live sessions (one refresh-token family each) and COUNT unused refresh tokens spread over them,
written the way the server stores them (only the SHA-256 of each token; the grant as JSON). The token values go to
OUT, one per line, for the wrk script. Nothing here is a secret of any real deployment: the folder is throwaway.
DB is the SQLite state file, or "-" to write the same rows as SQL for psql (PostgreSQL) to standard output.
usage: seed_refresh.py DB CLIENT_ID RESOURCE SCOPE COUNT SESSIONS OUT
"""
import base64, datetime, hashlib, json, os, sqlite3, sys

db, client_id, resource, scope, count, sessions, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
b64 = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
ms = lambda t: int(t.timestamp() * 1000)
iso = lambda t: t.isoformat()
expires = now + datetime.timedelta(hours=11)
subject = "usr_" + "".join("abcdefghijklmnopqrstuvwxyz234567"[b % 32] for b in os.urandom(26))

user = (subject, ms(now), ms(now))
families = [(b64(os.urandom(16)), b64(os.urandom(16))) for _ in range(sessions)]
session_rows = [(sid, hashlib.sha256(os.urandom(32)).digest(), subject, ms(now), ms(now), ms(now), ms(expires)) for sid, _ in families]
rows = []
with open(out, "w") as tokens:
    for i in range(count):
        sid, family = families[i % sessions]
        value = b64(os.urandom(32))
        token_hash = b64(hashlib.sha256(value.encode()).digest())
        payload = {
            "TokenHash": token_hash, "FamilyId": family, "ClientId": client_id, "Subject": subject, "SessionId": sid,
            "Scopes": [scope], "Resources": [resource], "AuthenticatedAt": iso(now), "Acr": "http://idmanagement.gov/ns/assurance/aal/2",
            "Amr": ["pwd", "otp", "mfa"], "DpopJkt": None, "CreatedAt": iso(now), "ExpiresAt": iso(expires), "UsedAt": None, "RevokedAt": None,
        }
        rows.append((token_hash, family, sid, json.dumps(payload, separators=(",", ":")), ms(expires)))
        tokens.write(value + "\n")

USER_SQL = ("INSERT INTO users (subject, username, username_key, email, email_key, roles, status, password_hash, password_changed_at, failed_sign_ins, last_failed_sign_in_at, created_at, updated_at)"
            " VALUES ({0}, 'bench.user', 'bench.user', NULL, NULL, 'clinician', 'active', NULL, NULL, 0, NULL, {1}, {2})")
SESSION_COLUMNS = "id, secret_hash, subject, authenticated_at, amr, acr, created_at, last_seen_at, expires_at, ended_at, end_reason, source_ip, user_agent"
TOKEN_COLUMNS = "token_hash, family_id, session_id, payload, expires_at, used_at, revoked_at"
if db == "-":
    # psql: COPY in text format (tab-separated, \N for NULL); nothing seeded contains a tab, newline or backslash.
    out_sql = sys.stdout
    out_sql.write("BEGIN;\n" + USER_SQL.format("'" + subject + "'", ms(now), ms(now)) + ";\n")
    out_sql.write("COPY sessions (" + SESSION_COLUMNS + ") FROM STDIN;\n")
    for sid, secret, sub, auth, created, seen, end in session_rows:
        out_sql.write("\t".join([sid, "\\\\x" + secret.hex(), sub, str(auth), "pwd otp mfa", "http://idmanagement.gov/ns/assurance/aal/2", str(created), str(seen), str(end), "\\N", "\\N", "127.0.0.1", "bench"]) + "\n")
    out_sql.write("\\.\nCOPY refresh_tokens (" + TOKEN_COLUMNS + ") FROM STDIN;\n")
    for token_hash, family, sid, payload, end in rows:
        out_sql.write("\t".join([token_hash, family, sid, payload, str(end), "\\N", "\\N"]) + "\n")
    out_sql.write("\\.\nCOMMIT;\n")
else:
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(USER_SQL.format("?", "?", "?"), user)
    con.executemany("INSERT INTO sessions (" + SESSION_COLUMNS + ") VALUES (?, ?, ?, ?, 'pwd otp mfa', 'http://idmanagement.gov/ns/assurance/aal/2', ?, ?, ?, NULL, NULL, '127.0.0.1', 'bench')", session_rows)
    con.executemany("INSERT INTO refresh_tokens (" + TOKEN_COLUMNS + ") VALUES (?, ?, ?, ?, ?, NULL, NULL)", rows)
    con.commit()
    con.close()
