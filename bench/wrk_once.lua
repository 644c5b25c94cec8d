-- wrk script used by bench/e2e.py: POSTs each pre-generated JSON body (one per line of BENCH_BODIES) in order,
-- to BENCH_PATH with the Authorization header BENCH_AUTH, until each was answered; prints one JSON summary line.
-- Run it with one wrk thread (-t 1): the bodies are shared out by one counter.
local path = os.getenv("BENCH_PATH")
local auth = os.getenv("BENCH_AUTH")
local bodies = {}
for line in io.lines(os.getenv("BENCH_BODIES")) do
  if #line > 0 then bodies[#bodies + 1] = line end
end

local headers = { ["Content-Type"] = "application/json" }
if auth and #auth > 0 then headers["Authorization"] = auth end
local sent = 0
local answered = 0

function request()
  -- In turn, from the first; past the end (and wrk may ask for a request it never sends, when it starts), the
  -- connections still open resend from the first again: their messageIds make them duplicates, which the server
  -- answers without storing anything again.
  sent = sent + 1
  return wrk.format("POST", path, headers, bodies[(sent - 1) % #bodies + 1])
end

-- Stopping at the Nth answer could cut off a body still in flight on a slower connection: wait for a few
-- duplicates more (each connection has one request in flight, answered in order).
local connections = tonumber(os.getenv("BENCH_CONNECTIONS") or "8")

function response(status, headers, body)
  answered = answered + 1
  if answered >= #bodies + 2 * connections then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "non_2xx": %d, "errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
