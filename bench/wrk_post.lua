-- wrk script used by bench/ingest: POSTs pre-generated JSON bodies (one per line of BENCH_BODIES), in turn,
-- to BENCH_PATH with the Authorization header BENCH_AUTH (optional), and prints one JSON summary line at the end.
-- With BENCH_UNIQUE set, every occurrence of it in a body (found as plain text) is replaced, request by request, with a
-- string no other request of the run sends (BENCH_RUN, the wrk thread, a counter): ids a client draws itself, such
-- as Segment's messageId, so that a replayed body is not a duplicate the server skips.
local path = os.getenv("BENCH_PATH")
local auth = os.getenv("BENCH_AUTH")
local content_type = os.getenv("BENCH_CONTENT_TYPE") or "application/json"
local unique = os.getenv("BENCH_UNIQUE")
if unique == "" then unique = nil end
local run = os.getenv("BENCH_RUN") or "run"
local bodies = {}
for line in io.lines(os.getenv("BENCH_BODIES")) do
  if #line > 0 then bodies[#bodies + 1] = line end
end

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

local headers = {}
local requests = {}
local pieces = {} -- with BENCH_UNIQUE: each body cut at its occurrences, joined again per request
local counter = 0
local sent = 0

local function cut(body)
  local parts, start = {}, 1
  while true do
    local at, stop = body:find(unique, start, true)
    if not at then break end
    parts[#parts + 1] = body:sub(start, at - 1)
    start = stop + 1
  end
  parts[#parts + 1] = body:sub(start)
  return parts
end

function init(args)
  headers["Content-Type"] = content_type
  if auth and #auth > 0 then headers["Authorization"] = auth end
  for i, body in ipairs(bodies) do
    if unique then
      pieces[i] = cut(body)
    else
      requests[i] = wrk.format("POST", path, headers, body)
    end
  end
  -- each wrk thread starts at another place in the list
  counter = math.random(#bodies)
end

function request()
  counter = counter % #bodies + 1
  if unique then
    sent = sent + 1
    local body = table.concat(pieces[counter], run .. "-" .. tostring(thread_number) .. "-" .. sent)
    return wrk.format("POST", path, headers, body)
  end
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
