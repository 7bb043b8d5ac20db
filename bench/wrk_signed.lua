-- Signed Twilio webhooks for wrk, made by bench/webhook_bench.py (which runs it; see there).
--
--   wrk -t1 -c16 -d15s --timeout 10s -s bench/wrk_signed.lua http://127.0.0.1:PORT \
--       -- BODIES THREADS [RATE] [LIMIT]
--
-- BODIES: a file of "signature<TAB>form body" lines, each a POST to /twilio/sms signed for
-- the app's public URL, each with its own MessageSid. THREADS: wrk's -t again (a thread's
-- init cannot see it). Thread n of N takes lines n, n+N, ... and cycles through them (a wrap
-- is counted: the bodies ran out and repeat).
-- RATE: requests a second for the whole run (0: as fast as the connections go). The pace is a
-- schedule, not a pause: request k is sent at start + k / rate, whenever a connection is free,
-- so a slow answer does not lower the rate (latency is timed from the write, as wrk does).
-- LIMIT: stop sending after this many requests (0: until the duration ends).
-- done() prints one line: WRKJSON {...} (requests, errors, rps, latency p50/p90/p99/max).

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]])
local clock = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local requests, count, index, wrapped = {}, 0, 0, 0
local rate, limit, slot, started = 0, 0, 0, nil

function init(args)
  local id, total = wrk.thread:get("id"), tonumber(args[2])
  local n = 0
  for line in io.lines(args[1]) do
    if n % total == id then
      local signature, body = line:match("^([^\t]*)\t(.*)$")
      count = count + 1
      requests[count] = wrk.format("POST", "/twilio/sms", {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Twilio-Signature"] = signature,
      }, body)
    end
    n = n + 1
  end
  rate = (tonumber(args[3] or "0") or 0) / total
  local whole = tonumber(args[4] or "0") or 0
  if whole > 0 then
    limit = math.floor(whole / total) + ((id < whole % total) and 1 or 0)
  end
  if rate <= 0 and limit <= 0 then
    delay = nil -- wrk then sends the next request as soon as an answer arrives
  end
  wrk.thread:set("wrapped", 0)
end

function delay()
  slot = slot + 1
  if limit > 0 and slot > limit then
    return 3600000 -- all sent: this connection waits out the run
  end
  if rate <= 0 then
    return 0
  end
  if started == nil then
    started = now_ms()
  end
  local wait = started + (slot - 1) * 1000 / rate - now_ms()
  if wait < 1 then
    return 0
  end
  return math.floor(wait)
end

function request()
  index = index + 1
  if index > count then
    index = 1
    wrapped = wrapped + 1
    wrk.thread:set("wrapped", wrapped)
  end
  return requests[index]
end

function done(summary, latency, _)
  local e = summary.errors
  local socket = e.connect + e.read + e.write + e.timeout
  local wraps = 0
  for _, thread in ipairs(threads) do
    wraps = wraps + (tonumber(thread:get("wrapped")) or 0)
  end
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'WRKJSON {"requests": %d, "errors": %d, "status_errors": %d, "socket_errors": %d, '
      .. '"timeouts": %d, "duration_s": %.3f, "rps": %.1f, "p50_ms": %.2f, "p90_ms": %.2f, '
      .. '"p99_ms": %.2f, "max_ms": %.2f, "mean_ms": %.2f, "wrapped": %d}\n',
    summary.requests, socket + e.status, e.status, socket, e.timeout, seconds,
    summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000, wraps
  ))
end
