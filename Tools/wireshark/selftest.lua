-- Runs the dissector's pure parts (CRC-32, AES-256-GCM, the inflater, the UTF-8 check) under a
-- host Lua, outside Wireshark, with the Wireshark API stubbed out: so that Lua 5.3 and 5.4 (the
-- Lua of newer Wireshark releases, without bit32) are checked too. Driven by Tools/wireshark/check:
--
--   lua5.4 Tools/wireshark/selftest.lua Tools/wireshark/medledger.lua CASES
--
-- CASES has one case a line; each answer is printed on one line in the same order:
--   crc <hex>                                  -> crc <8 hex digits>
--   gcm <key> <sequence> <aad> <ciphertext> <tag>  (hex; "-" for empty)  -> gcm ok|bad <plaintext hex>
--   inflate <payload hex>                      -> inflate ok <hex> | inflate error <name> <offset>
--   utf8 <hex>                                 -> utf8 true|false

local dissector, cases = arg[1], arg[2]

local function stub()
    return setmetatable({}, {
        __index = function() return stub() end,
        __call = function() return stub() end,
    })
end
local real = { bit32 = true, unpack = true, MEDLEDGER_LUA_TEST = true }
setmetatable(_G, { __index = function(_, name) if not real[name] then return stub() end end })
MEDLEDGER_LUA_TEST = {}
dofile(dissector)
local T = MEDLEDGER_LUA_TEST

local function unhex(h)
    if h == "-" then return "" end
    return (h:gsub("..", function(x) return string.char(tonumber(x, 16)) end))
end
local function hex(s)
    return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

for line in io.lines(cases) do
    local words = {}
    for word in line:gmatch("%S+") do words[#words + 1] = word end
    local kind = words[1]
    if kind == "crc" then
        print(string.format("crc %08x", T.crc32(unhex(words[2]))))
    elseif kind == "gcm" then
        local plaintext, ok = T.gcm_open(unhex(words[2]), tonumber(words[3]), unhex(words[4]), unhex(words[5]), unhex(words[6]))
        print("gcm " .. (ok and "ok" or "bad") .. " " .. (plaintext == "" and "-" or hex(plaintext)))
    elseif kind == "inflate" then
        local data, name, offset = T.inflate_payload(unhex(words[2]))
        if data then
            print("inflate ok " .. (data == "" and "-" or hex(data)))
        else
            print("inflate error " .. name .. " " .. offset)
        end
    elseif kind == "utf8" then
        print("utf8 " .. tostring(T.valid_utf8(unhex(words[2]))))
    end
end
