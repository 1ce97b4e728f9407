-- wrk script: refresh-token grants, each with a refresh token used once (the server rotates it), spread over threads.
-- Tokens come from the file SAFEGUARD_BENCH_REFRESH_TOKENS (seeded into a throwaway data folder); the client's
-- credentials from SAFEGUARD_BENCH_WEB_BASIC. Nothing is stored here.
local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", counter)
  thread:set("count", 0)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local n = tonumber(os.getenv("SAFEGUARD_BENCH_THREADS") or "2")
  tokens = {}
  local i = 0
  for line in io.lines(os.getenv("SAFEGUARD_BENCH_REFRESH_TOKENS")) do
    if i % n == id - 1 then
      tokens[#tokens + 1] = line
    end
    i = i + 1
  end
  next_token = 1
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = "Basic " .. os.getenv("SAFEGUARD_BENCH_WEB_BASIC")
end

function request()
  local token = tokens[next_token]
  next_token = next_token + 1
  if token == nil then
    token = "exhausted"
  end
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. token)
end
