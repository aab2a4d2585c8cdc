-- wrk script: one churn instance per request; with STRATA_TOKEN set (the platform's route), as a tenant member.
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
  math.randomseed(os.time())
  function delay()
    local whole = math.floor(delay_ms)
    if math.random() < delay_ms - whole then whole = whole + 1 end
    return whole
  end
end

function request()
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  io.write(string.format("requests: %d, errors: connect %d, read %d, write %d, status %d, timeout %d\n",
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout))
  for _, p in pairs({ 50, 90, 99, 99.9 }) do
    io.write(string.format("latency p%s: %.2f ms\n", p, latency:percentile(p) / 1000))
  end
end
