-- POST /orders, a unique order id per request: run tag (wrk arg) + thread number + counter.
local counter, threads = 0, 0
function setup(thread) threads = threads + 1; thread:set("tnum", threads) end
function init(args) tag = args[1] or "r" end
function request()
  counter = counter + 1
  return wrk.format("POST", "/orders", {["Content-Type"] = "application/json"},
    '{"order_id":"tp-' .. tag .. '-' .. tnum .. '-' .. counter .. '","customer_id":"c-1"}')
end
