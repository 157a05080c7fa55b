-- wrk script: GET recommendations for random users among the first $USERS synthetic users.
local users = tonumber(os.getenv("USERS") or "10000")
math.randomseed(42)
request = function()
  return wrk.format("GET", "/v1/users/user-" .. math.random(0, users - 1) .. "/recommendations?count=10")
end
