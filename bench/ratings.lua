-- wrk script for bench/ratings: public hall ratings (扫码评价) with a distinct Idempotency-Key per request.
-- Keys are "<run>-<thread>-<n>", so no two requests of a run share one. Each thread counts what it sent, what
-- came back and the status codes; done() prints one "BENCH_JSON {...}" line that bench/ratings_report.py reads.

-- Five realistic bodies (score, channel, tags that fit the score, a short Chinese comment), sent in turn.
local bodies = {
  '{"hall":"HZ-XC","item":"SB-001","window":"04","score":5,"channel":"miniprogram","tags":["EFFICIENT","PATIENT"],"comment":"窗口人员很耐心，十分钟就办好了社保卡"}',
  '{"hall":"HZ-XC","item":"GA-002","window":"07","score":4,"channel":"qrcode","tags":["GUIDANCE"],"comment":"指引清楚，材料一次就交齐了"}',
  '{"hall":"HZ-XC","item":"BDC-001","window":"10","score":3,"channel":"tablet","tags":["ENVIRONMENT"],"comment":"办得还行，就是大厅有点挤"}',
  '{"hall":"HZ-XC","item":"SF-001","window":"05","score":2,"channel":"miniprogram","tags":["QUEUE"],"comment":"排队等了一个多小时"}',
  '{"hall":"HZ-XC","item":"GJJ-001","score":1,"channel":"web","tags":["MATERIALS","RESUBMIT"],"comment":"材料要求前后不一致，跑了三趟"}',
}

local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

function init(args)
  run = args[1] or "run"
  path = args[2] or "/"
  sent, received, created, other = 0, 0, 0, 0
  statuses = {}
  prefix = run .. "-" .. tid .. "-"
end

function request()
  sent = sent + 1
  local body = bodies[sent % #bodies + 1]
  return wrk.format("POST", path, {["Content-Type"] = "application/json",
                                   ["Idempotency-Key"] = prefix .. sent}, body)
end

function response(status, headers, body)
  received = received + 1
  if status == 201 then
    created = created + 1
  else
    other = other + 1
    local k = tostring(status)
    statuses[k] = (statuses[k] or 0) + 1
  end
end

function done(summary, latency, requests)
  local s, r, c, o = 0, 0, 0, 0
  local codes = {}
  for _, t in ipairs(threads) do
    s = s + t:get("sent")
    r = r + t:get("received")
    c = c + t:get("created")
    o = o + t:get("other")
    for k, v in pairs(t:get("statuses")) do codes[k] = (codes[k] or 0) + v end
  end
  -- wrk calls request() once on the first thread to check the script, before any connection: never sent.
  s = s - 1
  local parts = {}
  for k, v in pairs(codes) do table.insert(parts, string.format('"%s":%d', k, v)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"duration_us":%d,"sent":%d,"received":%d,"created":%d,"other":%d,"other_statuses":{%s},' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.duration, s, r, c, o, table.concat(parts, ","),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
