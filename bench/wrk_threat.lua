-- wrk_threat.lua - wrk request generator for bench/bench_api.sh: GET /api/threat-analysis?ip=
-- rotating through many addresses, most of them with a verdict loaded, some without.
--
-- Every target of the benchmark (ddosd, the seed's FastAPI backend, nginx) gets exactly the same
-- request stream, so per-request costs on the wrk side (this script) cancel out of the ratios.
-- Requests are formatted once per thread in init(), then request() only indexes a table.
--
-- Settings (environment variables, all optional):
--   WRK_LOADED_BASE   first loaded address, dotted quad             (198.18.0.0)
--   WRK_LOADED_COUNT  loaded addresses: BASE, BASE+1, ...            (100000)
--   WRK_MISS_BASE     first address with no verdict                  (100.64.0.0)
--   WRK_MISS_EVERY    every Nth request asks for an unknown address  (4; 0: never)
--   WRK_PATH          path prefix the address is appended to         (/api/threat-analysis?ip=)
--   WRK_TABLE         requests formatted per thread, cycled          (LOADED_COUNT)
-- Threads start at different offsets and step through the addresses with a stride coprime to
-- the count, so consecutive requests hit unrelated addresses (and hash buckets).
--
-- done() prints one machine-readable line:
--   WRK_RESULT requests=N duration_us=D errors=E non2xx=X p50_us=A p90_us=B p99_us=C max_us=M
-- (non2xx is wrk's status error count: every status >= 400 counts.)

local function env_num(name, default)
    local v = os.getenv(name)
    if v == nil or v == "" then return default end
    local n = tonumber(v)
    if n == nil then error(name .. " is not a number: " .. v) end
    return math.floor(n)
end

local function ip_to_int(s)
    local a, b, c, d = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
    if not a then error("not a dotted quad: " .. s) end
    return ((tonumber(a) * 256 + tonumber(b)) * 256 + tonumber(c)) * 256 + tonumber(d)
end

local function int_to_ip(n)
    local d = n % 256; n = (n - d) / 256
    local c = n % 256; n = (n - c) / 256
    local b = n % 256; n = (n - b) / 256
    return string.format("%d.%d.%d.%d", n % 256, b, c, d)
end

local function gcd(a, b)
    while b ~= 0 do a, b = b, a % b end
    return a
end

local thread_count = 0

function setup(thread)
    thread:set("thread_id", thread_count)
    thread_count = thread_count + 1
end

local requests, nreq, pos = {}, 0, 0

function init(args)
    local loaded_base = ip_to_int(os.getenv("WRK_LOADED_BASE") or "198.18.0.0")
    local loaded_count = env_num("WRK_LOADED_COUNT", 100000)
    local miss_base = ip_to_int(os.getenv("WRK_MISS_BASE") or "100.64.0.0")
    local miss_every = env_num("WRK_MISS_EVERY", 4)
    local path = os.getenv("WRK_PATH") or "/api/threat-analysis?ip="
    nreq = env_num("WRK_TABLE", loaded_count)
    if loaded_count < 1 or nreq < 1 then error("WRK_LOADED_COUNT and WRK_TABLE must be >= 1") end

    local stride = 7919 -- prime; made coprime with the count below
    while gcd(stride, loaded_count) ~= 1 do stride = stride + 2 end
    local id = tonumber(thread_id) or 0
    local idx = (id * 104729) % loaded_count
    local miss = id * 1000003
    for i = 1, nreq do
        local ip
        if miss_every > 0 and i % miss_every == 0 then
            ip = int_to_ip(miss_base + (miss % 1048576))
            miss = miss + 1
        else
            ip = int_to_ip(loaded_base + idx)
            idx = (idx + stride) % loaded_count
        end
        requests[i] = wrk.format("GET", path .. ip)
    end
    pos = 0
end

function request()
    pos = pos + 1
    if pos > nreq then pos = 1 end
    return requests[pos]
end

function done(summary, latency, req)
    local e = summary.errors
    io.write(string.format(
        "WRK_RESULT requests=%d duration_us=%d errors=%d non2xx=%d p50_us=%d p90_us=%d " ..
        "p99_us=%d max_us=%d\n",
        summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
