-- wrk script: authenticated job submissions, each with a unique name (names are unique among active jobs).
-- The token comes from the environment (STRATA_TOKEN); every connection numbers its own jobs.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  -- Unique across runs too: a warm-up's jobs are still pending, and active names must differ.
  thread_id = string.format("%d-%d", os.time(), tid)
end

function request()
  counter = counter + 1
  local body = string.format('{"name":"bench-%s-%d","entrypoint":"true","compute":{"cpu_cores":1,"memory_gb":1}}', thread_id, counter)
  return wrk.format("POST", "/v1/jobs/training", {
    ["Authorization"] = "Bearer " .. os.getenv("STRATA_TOKEN"),
    ["Content-Type"] = "application/json",
  }, body)
end

function done(summary, latency, requests)
  local codes = {}
  io.write(string.format("requests: %d, errors: connect %d, read %d, write %d, status %d, timeout %d\n",
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout))
  for _, p in pairs({ 50, 90, 99, 99.9 }) do
    io.write(string.format("latency p%s: %.2f ms\n", p, latency:percentile(p) / 1000))
  end
end
