-- wrk script: GET with a different access token on every request, read from the file SAFEGUARD_BENCH_TOKENS
-- (one per line, each used once, shared out between the threads). A run that runs out sends "exhausted" and fails.
local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local n = tonumber(os.getenv("SAFEGUARD_BENCH_THREADS") or "2")
  tokens = {}
  local i = 0
  for line in io.lines(os.getenv("SAFEGUARD_BENCH_TOKENS")) do
    if i % n == id - 1 then
      tokens[#tokens + 1] = line
    end
    i = i + 1
  end
  next_token = 1
end

function request()
  local token = tokens[next_token] or "exhausted"
  next_token = next_token + 1
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. token }, nil)
end
