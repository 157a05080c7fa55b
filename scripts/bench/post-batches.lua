-- wrk script: POSTs the request bodies in $BODY_FILE (one {"events": [...]} per line) in rotation.
local path = os.getenv("BODY_FILE")
local requests = {}
for line in io.lines(path) do
  requests[#requests + 1] = wrk.format("POST", "/v1/events", { ["Content-Type"] = "application/json" }, line)
end
local i = 0
request = function()
  i = i % #requests + 1
  return requests[i]
end
