-- wrk script: GET requests, with STRATA_TOKEN set as a tenant member (bench/serving/floors.sh).
local token = os.getenv("STRATA_TOKEN")
local headers = {}
if token ~= nil and token ~= "" then headers["Authorization"] = "Bearer " .. token end
function request() return wrk.format("GET", nil, headers, nil) end
