-- wrk script: client-credentials token requests with client_secret_basic.
-- The credentials come from the environment (SAFEGUARD_BENCH_BASIC = base64 of "id:secret"); nothing is stored here.
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=bench.read"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("SAFEGUARD_BENCH_BASIC")
