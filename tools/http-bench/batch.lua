-- wrk script: every request is one batch quote, GET /v1/quotes?symbols=S0000,S0001,…
-- Usage: wrk … -s tools/http-bench/batch.lua http://127.0.0.1:18080 -- [count] [prefix]
-- The symbols are those of `finstage-wsload yahoo` (S0000, S0001, …): 50 unless told.

local request_bytes

function init(args)
  local count = tonumber(args[1] or "50")
  local prefix = args[2] or "S"
  local symbols = {}
  for i = 0, count - 1 do
    symbols[#symbols + 1] = string.format("%s%04d", prefix, i)
  end
  -- Formatted once per thread: each request is the same bytes.
  request_bytes = wrk.format("GET", "/v1/quotes?symbols=" .. table.concat(symbols, ","))
end

function request()
  return request_bytes
end

-- Any status but 200 is counted by wrk as "Non-2xx or 3xx responses"; the run script fails on it.
