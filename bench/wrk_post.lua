-- wrk script used by bench/ingest: POSTs pre-generated JSON bodies (one per line of BENCH_BODIES), in turn,
-- to BENCH_PATH with the Authorization header BENCH_AUTH (optional), and prints one JSON summary line at the end.
local path = os.getenv("BENCH_PATH")
local auth = os.getenv("BENCH_AUTH")
local content_type = os.getenv("BENCH_CONTENT_TYPE") or "application/json"
local bodies = {}
for line in io.lines(os.getenv("BENCH_BODIES")) do
  if #line > 0 then bodies[#bodies + 1] = line end
end

local requests = {}
local counter = 0

function init(args)
  local headers = { ["Content-Type"] = content_type }
  if auth and #auth > 0 then headers["Authorization"] = auth end
  for i, body in ipairs(bodies) do
    requests[i] = wrk.format("POST", path, headers, body)
  end
  -- each wrk thread starts at another place in the list
  counter = math.random(#requests)
end

function request()
  counter = counter % #requests + 1
  return requests[counter]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "non_2xx": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "mean_us": %f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
