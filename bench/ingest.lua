-- wrk script for bench/ingest.sh: POST /api/v1/events with a unique event id per request.
-- Each event is a charge.succeeded of one of CUSTOMERS customers carrying the referral code in
-- its metadata, so every request runs the whole pipeline: store the event, attribute (the
-- first event of a customer also binds the referral), create the conversion and its
-- commission, post the ledger lines.
local counter = 0
local threads = 0
local key = os.getenv("BENCH_KEY")
local code = os.getenv("BENCH_CODE") or "bench-code"
local customers = tonumber(os.getenv("BENCH_CUSTOMERS") or "5000")
local run = os.getenv("BENCH_RUN") or "run"

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function request()
  counter = counter + 1
  local n = counter
  local body = string.format(
    '{"id":"%s_%d_%d","type":"charge.succeeded","customer_id":"cus_%d",' ..
    '"amount_cents":%d,"currency":"USD","occurred_at":"2026-11-01T12:00:00Z",' ..
    '"metadata":{"affiliate_code":"%s"}}',
    run, tid, n, n % customers, 1000 + (n % 9000), code)
  return wrk.format("POST", "/api/v1/events",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}, body)
end
