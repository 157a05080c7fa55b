-- wrk script: GET recommendations for random users among the first $USERS synthetic users, each connection
-- pausing $DELAY_MS milliseconds before every request, so that the offered rate is about
-- connections * 1000 / (DELAY_MS + latency) requests per second (wrk has no fixed-rate mode).
local users = tonumber(os.getenv("USERS") or "10000")
local pause = tonumber(os.getenv("DELAY_MS") or "1")
math.randomseed(42)
request = function()
  return wrk.format("GET", "/v1/users/user-" .. math.random(0, users - 1) .. "/recommendations?count=10")
end
delay = function()
  return pause
end
