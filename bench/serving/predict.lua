-- wrk script: churn predictions; with STRATA_TOKEN set (the platform's route), as a tenant member.
-- By default every request is the same single churn instance. Else, with STRATA_ROWS naming a churn CSV
-- (examples/churn/churn.csv; its rows with a missing cell, empty or NA, are left out):
--   STRATA_BATCH=n: every request is {"instances": [the CSV's first n rows]};
--   STRATA_REPEAT_SHARE=p: every request is one row: with probability p one of the CSV's customers drawn
--   at random (scored again: a cache can answer it), else a row never sent before (a new total_charges).
local body = '{"tenure_months": 10, "plan": "premium", "contract": "month-to-month", "monthly_charges": 103.2, ' ..
  '"total_charges": 1055.1, "support_calls": 2, "region": "south", "paperless_billing": "yes"}'
local headers = { ["Content-Type"] = "application/json" }
local token = os.getenv("STRATA_TOKEN")
if token ~= nil and token ~= "" then
  headers["Authorization"] = "Bearer " .. token
end

-- STRATA_DELAY_MS (fractional): each connection waits that long before its next request, which holds
-- a rate below the maximum (plain wrk has no -R); whole milliseconds are all wrk's timer takes, so the
-- fraction is spread by rounding up or down at random in proportion.
local delay_ms = tonumber(os.getenv("STRATA_DELAY_MS") or "")
if delay_ms ~= nil then
  function delay()
    local whole = math.floor(delay_ms)
    if math.random() < delay_ms - whole then whole = whole + 1 end
    return whole
  end
end

-- Each thread gets a number, so that the rows it makes up differ from the other threads' ones.
local threads = 0
function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

local function instance(r, total_charges)
  return string.format('{"tenure_months": %s, "plan": "%s", "contract": "%s", "monthly_charges": %s, ' ..
    '"total_charges": %s, "support_calls": %s, "region": "%s", "paperless_billing": "%s"}',
    r[1], r[2], r[3], r[4], total_charges or r[5], r[6], r[7], r[8])
end

-- The cells the trainer reads as missing.
local missing = { [""] = true, na = true, ["n/a"] = true, nan = true, null = true, none = true, ["?"] = true }

local function read_rows(path)
  local rows = {}
  local file = assert(io.open(path, "r"))
  file:read("*l") -- the header
  for line in file:lines() do
    local cells = {}
    for cell in (line .. ","):gmatch("([^,]*),") do cells[#cells + 1] = cell end
    local complete = true
    for _, cell in ipairs(cells) do if missing[cell:lower()] then complete = false end end
    if complete then rows[#rows + 1] = cells end
  end
  file:close()
  return rows
end

local rows, repeat_share, made = nil, nil, 0
function init(args)
  math.randomseed(os.time() + (thread_id or 0))
  local batch = tonumber(os.getenv("STRATA_BATCH") or "")
  repeat_share = tonumber(os.getenv("STRATA_REPEAT_SHARE") or "")
  if batch == nil and repeat_share == nil then return end
  local csv = read_rows(assert(os.getenv("STRATA_ROWS"), "STRATA_ROWS names the churn CSV"))
  if batch ~= nil then
    local instances = {}
    for i = 1, batch do instances[i] = instance(csv[i]) end
    body = '{"instances": [' .. table.concat(instances, ", ") .. ']}'
  else
    rows = {}
    for i, r in ipairs(csv) do rows[i] = instance(r) end
  end
end

function request()
  if rows == nil then
    return wrk.format("POST", nil, headers, body)
  end
  if math.random() < repeat_share then
    return wrk.format("POST", nil, headers, rows[math.random(#rows)])
  end
  -- A total no customer has and no earlier run sent: the clock, this thread's count of made-up rows, and the
  -- thread's number as its last digit (below 2^53, so that it stays one number once parsed).
  made = made + 1
  local r = { "12", "basic", "month-to-month", "55.5", nil, "1", "north", "no" }
  local total = string.format("%d.%d", (os.time() % 1000000) * 10000000 + made, thread_id or 0)
  return wrk.format("POST", nil, headers, instance(r, total))
end

function done(summary, latency, requests)
  io.write(string.format("requests: %d, errors: connect %d, read %d, write %d, status %d, timeout %d\n",
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout))
  for _, p in pairs({ 50, 90, 99, 99.9 }) do
    io.write(string.format("latency p%s: %.2f ms\n", p, latency:percentile(p) / 1000))
  end
end
