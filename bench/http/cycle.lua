-- wrk script of the HTTP benchmarks (bench/http/run.sh): each request goes to
-- the next of N paths, or comes from the next of N clients.
--
--   wrk -s cycle.lua URL -- paths /r1/p 1000   GET /r1/p0 ... /r1/p999, in turn
--   wrk -s cycle.lua URL -- clients 1000       GET URL's path with
--                                              X-Forwarded-For 127.1.x.y, in turn
--
-- Every request is built once, in init; each wrk thread starts at its own
-- offset so that the threads do not ask for the same path at the same time.
-- Client addresses are loopback addresses (127.0.0.0/8), as everything here.

local threads = 0

function setup(thread)
  thread:set("offset", threads * 7919) -- a prime, to spread the threads out
  threads = threads + 1
end

local requests = {}
local n, i = 0, 0

function init(args)
  local mode, count = args[1], tonumber(args[#args])
  if (mode ~= "paths" and mode ~= "clients") or not count or count < 1 then
    error("cycle.lua: want -- paths PREFIX N or -- clients N")
  end
  for k = 0, count - 1 do
    if mode == "paths" then
      requests[k + 1] = wrk.format("GET", args[2] .. k)
    else
      local ip = string.format("127.1.%d.%d", math.floor(k / 250), k % 250 + 1)
      requests[k + 1] = wrk.format("GET", nil, { ["X-Forwarded-For"] = ip })
    end
  end
  n = count
  i = (offset or 0) % n
end

function request()
  i = i % n + 1
  return requests[i]
end
