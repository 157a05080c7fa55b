-- wrk script: a mixed workload. Each request is, with probability $WRITES (default 0.1), one event of a random
-- user (view 70 %, click 20 %, like 10 %), else a list read for a random user, among $USERS synthetic users and
-- $ITEMS items.
local users = tonumber(os.getenv("USERS") or "10000")
local items = tonumber(os.getenv("ITEMS") or "5000")
local writes = tonumber(os.getenv("WRITES") or "0.1")
local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("id", counter)
end
init = function()
  math.randomseed(1000 + id)
end
request = function()
  local user = "user-" .. math.random(0, users - 1)
  if math.random() < writes then
    local r = math.random()
    local kind = r < 0.7 and "view" or (r < 0.9 and "click" or "like")
    local body = '{"events":[{"type":"' .. kind .. '","user":"' .. user .. '","item":"item-' ..
      math.random(0, items - 1) .. '"}]}'
    return wrk.format("POST", "/v1/events", { ["Content-Type"] = "application/json" }, body)
  end
  return wrk.format("GET", "/v1/users/" .. user .. "/recommendations?count=10")
end
