-- wrk script: GET with one access token reused on every request (SAFEGUARD_BENCH_TOKEN).
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SAFEGUARD_BENCH_TOKEN")
