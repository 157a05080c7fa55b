-- wrk script: list reads whose query strings never repeat (a distinct `exclude` and category filter per request)
-- over $USERS users, so that every request is a cache miss with a shape of its own.
local users = tonumber(os.getenv("USERS") or "1000")
local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("id", counter)
end
local n = 0
request = function()
  n = n + 1
  local key = id .. "-" .. n
  return wrk.format("GET", "/v1/users/user-" .. (n % users) .. "/recommendations?count=10&exclude=x-" .. key ..
    "&category=c-" .. key .. "&category=c-" .. (n % 20))
end
