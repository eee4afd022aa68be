-- MedLedger wire protocol version 1: a Wireshark dissector in Lua (tested with Wireshark 4.0 and
-- its Lua 5.2; the arithmetic also runs on Lua 5.3 and 5.4, see selftest.lua).
--
-- Written from Protocol/WIRE.md (frames, resynchronisation, compression, the secure channel and
-- its key log, every message) and Protocol/CLIENT.md (request kinds, RECORD_BLOB). Load it with
--
--   tshark -X lua_script:Tools/wireshark/medledger.lua -o medledger.key_log:/path/keylog.txt ...
--
-- or copy it into ~/.local/lib/wireshark/plugins/. Preferences (Edit > Preferences > Protocols >
-- MedLedger, or `-o medledger.NAME:VALUE`):
--
--   ports       TCP ports decoded as MedLedger (default: the single-node defaults 26656/26657 and a
--               4-node `medledger testnet` from base port 26600); any port is also recognised by
--               the heuristic when a connection's first segment starts with a valid frame header.
--   key_log     a key log file (WIRE.md 4.4: `MEDLEDGER_V1 <nI> <key_i2r> <key_r2i>`) to decrypt
--               sealed frames of the connections it names.
--   verify_tag  check each sealed frame's AES-GCM tag (GHASH in Lua; on by default). Off: the
--               payload is only decrypted (AES-256 in counter mode), which is faster but shows
--               garbage instead of an error if a key or sequence is wrong.
--   max_decrypt frames whose sealed payload is longer than this many bytes are decrypted only
--               up to it (message headers only; the tag cannot then be checked). 0: no limit.
--   heuristic   recognise MedLedger on any TCP port (on by default).
--
-- The AES-256 block cipher (FIPS-197), GCM's counter mode and GHASH (NIST SP 800-38D) and zlib
-- inflation (RFC 1950/1951) are implemented below in plain Lua: Wireshark's Lua API exposes no
-- cipher, and its inflater is not as strict as WIRE.md section 3. Decryption runs at about
-- 0.4 MB/s with tag checks (0.8 MB/s without) on one core: for captures with large blocks, set
-- max_decrypt to read message headers only.
--
-- Display filter fields: medledger.type, .length, .flags.sealed, .height, .round, .vote_type,
-- .tx_type, .request_kind, .response_kind, .error_code, .request_id, .chain_id, .node_key,
-- .decrypted, .sequence, .error (a WIRE.md section 7 name) and .error_offset, among others.
--
-- Sequence numbers: nothing about them travels on the wire (WIRE.md 4.3), so the dissector counts
-- the sealed frames of each direction of each TCP connection in capture order (AUTH is 0). A
-- capture that misses a segment, or starts after the handshake, cannot be decrypted from there on.

local medledger = Proto("medledger", "MedLedger")

-- Unsigned 32-bit operations: bit32 (Lua 5.2, the Lua of Wireshark up to 4.2); on Lua 5.3 and 5.4
-- (newer Wireshark) the native operators, loaded from a string so that Lua 5.2 can parse this file.
-- (Wireshark's `bit` BitOp library is not used: its results are signed.)
local band, bor, bxor, lshift, rshift
if bit32 then
    band, bor, bxor, lshift, rshift = bit32.band, bit32.bor, bit32.bxor, bit32.lshift, bit32.rshift
else
    band, bor, bxor, lshift, rshift = load([[
        local M = 0xFFFFFFFF
        return function(a, b) return (a & b) & M end,
            function(a, b) return (a | b) & M end,
            function(a, b, c, d, e) return (a ~ b ~ (c or 0) ~ (d or 0) ~ (e or 0)) & M end,
            function(a, n) return (a << n) & M end,
            function(a, n) return (a & M) >> n end
    ]])()
end
local schar, sbyte, concat = string.char, string.byte, table.concat
local unpack = table.unpack or unpack

---------------------------------------------------------------------------------------------------
-- Constants (WIRE.md sections 2 and 5; CLIENT.md; LEDGER.md)
---------------------------------------------------------------------------------------------------

local HEADER_LENGTH = 16
local MAX_FRAME_LENGTH = 8 * 1024 * 1024
local MAX_INFLATED_LENGTH = 16 * 1024 * 1024
local TAG_LENGTH = 16
local FLAG_COMPRESSED, FLAG_SEALED = 0x01, 0x02
local DEFAULT_PORTS = "26600-26601,26610-26611,26620-26621,26630-26631,26656-26657"

local TYPE_NAMES = {
    [0x01] = "HELLO", [0x02] = "AUTH", [0x03] = "DISCONNECT",
    [0x10] = "PING", [0x11] = "PONG", [0x12] = "STATUS",
    [0x20] = "TRANSACTION", [0x21] = "PROPOSAL", [0x22] = "VOTE", [0x23] = "BLOCK",
    [0x24] = "BLOCK_REQUEST", [0x25] = "BLOCK_RESPONSE", [0x26] = "EVIDENCE",
    [0x27] = "RECORD_BLOB", [0x28] = "RECORD_BLOB_REQUEST",
    [0x30] = "CLIENT_REQUEST", [0x31] = "CLIENT_RESPONSE", [0x32] = "CLIENT_ERROR",
    [0x33] = "CLIENT_EVENT",
}
local VOTE_TYPES = { [1] = "prevote", [2] = "precommit" }
local CHANNELS = { [1] = "peer", [2] = "client" }
local EVIDENCE_KINDS = { [1] = "duplicate_vote" }
local TX_TYPES = {
    [1] = "register_patient", [2] = "register_practitioner", [3] = "register_organisation",
    [4] = "deregister", [5] = "set_delegates", [6] = "set_recovery", [7] = "replace_patient_key",
    [8] = "grant_consent", [9] = "revoke_consent", [10] = "add_record", [11] = "access_entry",
    [12] = "break_glass", [13] = "set_preferences", [14] = "erase_record",
}
local REQUEST_KINDS = {
    [1] = "submit_transaction", [2] = "status", [3] = "consents_in_force", [4] = "may_read",
    [5] = "timeline", [6] = "audit_trail", [7] = "state_proof", [8] = "subscribe",
    [9] = "unsubscribe", [10] = "store_record", [11] = "fetch_record", [12] = "get_record",
}
local EVENT_KINDS = { [1] = "audit_event" }
local ERROR_CODES = {
    [1] = "truncated", [2] = "bad_magic", [3] = "header_checksum_mismatch", [4] = "unsupported_version",
    [5] = "unknown_message_type", [6] = "unknown_flags", [7] = "reserved_not_zero", [8] = "frame_too_large",
    [9] = "sealed_payload_too_short", [10] = "inflated_too_large", [11] = "decompression_failed",
    [12] = "inflated_length_mismatch", [13] = "trailing_bytes", [14] = "length_exceeds_limit",
    [15] = "count_exceeds_limit", [16] = "invalid_bool", [17] = "invalid_optional_tag", [18] = "unknown_enum",
    [19] = "invalid_utf8", [20] = "invalid_chain_id", [21] = "value_out_of_range", [22] = "non_canonical",
    [23] = "decryption_failed",
    [100] = "normal", [101] = "wrong_chain", [102] = "wrong_channel", [103] = "not_admitted",
    [104] = "bad_handshake", [105] = "handshake_timeout", [106] = "self_connection",
    [107] = "duplicate_connection", [108] = "unexpected_message", [109] = "too_slow", [110] = "ping_timeout",
    [111] = "nonce_exhausted", [112] = "bad_block", [113] = "rate_limited",
    [1000] = "malformed", [1001] = "unknown_transaction_type", [1002] = "bad_signature", [1003] = "nonce_reused",
    [1004] = "wrong_signer", [1005] = "unknown_facility", [1006] = "unknown_patient", [1007] = "unknown_party",
    [1008] = "already_registered", [1009] = "inactive_party", [1010] = "role_not_allowed", [1011] = "no_consent",
    [1012] = "consent_expired", [1013] = "consent_revoked", [1014] = "consent_not_yet_valid",
    [1015] = "wrong_purpose", [1016] = "out_of_scope", [1017] = "action_not_granted", [1018] = "unknown_consent",
    [1019] = "unknown_record", [1020] = "record_erased", [1021] = "duplicate", [1022] = "stale_request",
    [1023] = "break_glass_opted_out", [1024] = "break_glass_rate_limited", [1025] = "break_glass_expired",
    [1026] = "not_enough_approvals", [1027] = "invalid_value", [1028] = "invalid_block", [1029] = "invalid_commit",
    [1030] = "invalid_evidence", [1031] = "not_authorised", [1032] = "invalid_genesis", [1033] = "not_held",
    [1034] = "timeout", [1035] = "busy",
}
local DIRECTIONS = { [1] = "i2r", [2] = "r2i" }

---------------------------------------------------------------------------------------------------
-- Fields
---------------------------------------------------------------------------------------------------

local f = {
    magic = ProtoField.bytes("medledger.magic", "Magic"),
    version = ProtoField.uint8("medledger.version", "Version"),
    type = ProtoField.uint8("medledger.type", "Type", base.HEX, TYPE_NAMES),
    type_name = ProtoField.string("medledger.type_name", "Type name"),
    flags = ProtoField.uint8("medledger.flags", "Flags", base.HEX),
    flag_compressed = ProtoField.bool("medledger.flags.compressed", "Compressed", 8, nil, FLAG_COMPRESSED),
    flag_sealed = ProtoField.bool("medledger.flags.sealed", "Sealed", 8, nil, FLAG_SEALED),
    flag_unknown = ProtoField.uint8("medledger.flags.unknown", "Unknown flags", base.HEX, nil, 0xFC),
    reserved = ProtoField.uint8("medledger.reserved", "Reserved", base.HEX),
    length = ProtoField.uint32("medledger.length", "Length"),
    header_crc = ProtoField.uint32("medledger.header_crc", "Header CRC-32", base.HEX),
    header_crc_good = ProtoField.bool("medledger.header_crc.good", "Header CRC good"),
    payload = ProtoField.bytes("medledger.payload", "Payload"),
    unsync = ProtoField.bytes("medledger.unsynchronised", "Bytes outside any frame"),
    error = ProtoField.string("medledger.error", "Decoding error (WIRE.md section 7 name)"),
    error_offset = ProtoField.uint32("medledger.error_offset", "Decoding error offset"),

    direction = ProtoField.uint8("medledger.direction", "Direction", base.DEC, DIRECTIONS),
    sequence = ProtoField.uint32("medledger.sequence", "Sequence (sealed frames in this direction)"),
    decrypted = ProtoField.bool("medledger.decrypted", "Decrypted"),
    tag_verified = ProtoField.bool("medledger.tag_verified", "GCM tag verified"),
    tag = ProtoField.bytes("medledger.tag", "GCM tag"),
    inflated_length = ProtoField.uint32("medledger.inflated_length", "Inflated length"),

    min_version = ProtoField.uint8("medledger.min_version", "Min version"),
    max_version = ProtoField.uint8("medledger.max_version", "Max version"),
    channel = ProtoField.uint8("medledger.channel", "Channel", base.DEC, CHANNELS),
    chain_id = ProtoField.string("medledger.chain_id", "Chain id"),
    ephemeral_key = ProtoField.bytes("medledger.ephemeral_key", "Ephemeral key"),
    nonce = ProtoField.bytes("medledger.nonce", "Nonce"),
    node_key = ProtoField.bytes("medledger.node_key", "Node key"),
    signature = ProtoField.bytes("medledger.signature", "Signature"),
    code = ProtoField.uint16("medledger.code", "Code", base.DEC, ERROR_CODES),
    reason = ProtoField.string("medledger.reason", "Reason"),
    ping_nonce = ProtoField.uint64("medledger.ping_nonce", "Nonce"),

    height = ProtoField.uint64("medledger.height", "Height"),
    round = ProtoField.uint32("medledger.round", "Round"),
    pol_round = ProtoField.uint32("medledger.pol_round", "POL round"),
    block_hash = ProtoField.bytes("medledger.block_hash", "Block hash"),
    base_height = ProtoField.uint64("medledger.base_height", "Base height"),
    time = ProtoField.uint64("medledger.time", "Time (ms)"),
    timestamp = ProtoField.uint64("medledger.timestamp", "Timestamp (ms)"),
    vote_type = ProtoField.uint8("medledger.vote_type", "Vote type", base.DEC, VOTE_TYPES),
    validator = ProtoField.bytes("medledger.validator", "Validator"),
    proposer = ProtoField.bytes("medledger.proposer", "Proposer"),

    tx_type = ProtoField.uint16("medledger.tx_type", "Transaction type", base.DEC, TX_TYPES),
    signer = ProtoField.bytes("medledger.signer", "Signer"),
    tx_nonce = ProtoField.uint64("medledger.tx_nonce", "Nonce"),
    body = ProtoField.bytes("medledger.body", "Body"),
    body_length = ProtoField.uint32("medledger.body_length", "Body length"),

    block_version = ProtoField.uint16("medledger.block.version", "Block version"),
    hash32 = ProtoField.bytes("medledger.hash", "Hash"),
    tx_count = ProtoField.uint32("medledger.tx_count", "Transactions"),
    evidence_count = ProtoField.uint32("medledger.evidence_count", "Evidence"),
    signature_count = ProtoField.uint32("medledger.signature_count", "Signatures"),
    validator_index = ProtoField.uint16("medledger.validator_index", "Validator index"),
    evidence_kind = ProtoField.uint8("medledger.evidence_kind", "Evidence kind", base.DEC, EVIDENCE_KINDS),

    request_id = ProtoField.uint64("medledger.request_id", "Request id"),
    start_height = ProtoField.uint64("medledger.start_height", "Start height"),
    count = ProtoField.uint16("medledger.count", "Count"),
    block_count = ProtoField.uint32("medledger.block_count", "Blocks"),

    record = ProtoField.bytes("medledger.record", "Record"),
    blob_offset = ProtoField.uint64("medledger.blob_offset", "Offset"),
    blob_total = ProtoField.uint64("medledger.blob_total", "Total"),
    chunk_length = ProtoField.uint32("medledger.chunk_length", "Chunk length"),

    request_kind = ProtoField.uint16("medledger.request_kind", "Request kind", base.DEC, REQUEST_KINDS),
    response_kind = ProtoField.uint16("medledger.response_kind", "Response kind", base.DEC, REQUEST_KINDS),
    error_code = ProtoField.uint16("medledger.error_code", "Error code", base.DEC, ERROR_CODES),
    error_message = ProtoField.string("medledger.error_message", "Message"),
    subscription_id = ProtoField.uint64("medledger.subscription_id", "Subscription id"),
    event_kind = ProtoField.uint16("medledger.event_kind", "Event kind", base.DEC, EVENT_KINDS),
}
local field_list = {}
for _, field in pairs(f) do field_list[#field_list + 1] = field end
medledger.fields = field_list

local e = {
    bad_header = ProtoExpert.new("medledger.bad_header", "Malformed frame header", expert.group.MALFORMED, expert.severity.ERROR),
    crc = ProtoExpert.new("medledger.header_crc.bad", "Header CRC mismatch", expert.group.CHECKSUM, expert.severity.ERROR),
    unsync = ProtoExpert.new("medledger.unsynchronised.expert", "Bytes outside any frame (resynchronised on the magic)", expert.group.MALFORMED, expert.severity.WARN),
    no_key = ProtoExpert.new("medledger.no_key", "Sealed frame not decrypted", expert.group.UNDECODED, expert.severity.NOTE),
    decrypt = ProtoExpert.new("medledger.decryption_failed", "decryption_failed: the GCM tag does not verify", expert.group.DECRYPTION, expert.severity.ERROR),
    message = ProtoExpert.new("medledger.message_error", "Malformed message", expert.group.MALFORMED, expert.severity.ERROR),
    inflate = ProtoExpert.new("medledger.inflate_error", "Compressed payload error", expert.group.MALFORMED, expert.severity.ERROR),
    protocol = ProtoExpert.new("medledger.protocol_violation", "Protocol violation", expert.group.PROTOCOL, expert.severity.WARN),
    disconnect = ProtoExpert.new("medledger.disconnect", "Connection closed by DISCONNECT", expert.group.SEQUENCE, expert.severity.NOTE),
}
medledger.experts = { e.bad_header, e.crc, e.unsync, e.no_key, e.decrypt, e.message, e.inflate, e.protocol, e.disconnect }

medledger.prefs.ports = Pref.range("TCP ports", DEFAULT_PORTS, "TCP ports decoded as MedLedger (p2p and client ports)", 65535)
medledger.prefs.key_log = Pref.string("Key log file", "", "A MedLedger key log (WIRE.md 4.4): MEDLEDGER_V1 <nI> <key_i2r> <key_r2i>")
medledger.prefs.verify_tag = Pref.bool("Verify GCM tags", true, "Check each sealed frame's AES-GCM tag (slower)")
medledger.prefs.max_decrypt = Pref.uint("Decrypt at most (bytes)", 0, "Decrypt only this many bytes of each sealed payload (0: all)")
medledger.prefs.heuristic = Pref.bool("Heuristic on any TCP port", true, "Recognise a connection whose first segment starts with a valid frame header")


---------------------------------------------------------------------------------------------------
-- CRC-32 (ISO-HDLC: reflected polynomial 0xEDB88320, init and final xor 0xFFFFFFFF)
---------------------------------------------------------------------------------------------------

local CRC_TABLE = {}
for i = 0, 255 do
    local c = i
    for _ = 1, 8 do
        if band(c, 1) == 1 then c = bxor(rshift(c, 1), 0xEDB88320) else c = rshift(c, 1) end
    end
    CRC_TABLE[i] = c
end

local function crc32(s)
    local c = 0xFFFFFFFF
    for i = 1, #s do
        c = bxor(CRC_TABLE[band(bxor(c, sbyte(s, i)), 0xFF)], rshift(c, 8))
    end
    return bxor(c, 0xFFFFFFFF)
end

---------------------------------------------------------------------------------------------------
-- AES-256 encryption (FIPS-197). The state is four big-endian column words; rounds use the
-- usual combined SubBytes/ShiftRows/MixColumns tables, derived here from the field arithmetic.
---------------------------------------------------------------------------------------------------

local function xtime(a)
    a = a * 2
    if a >= 256 then a = bxor(a, 0x11B) end
    return a
end

local SBOX, T0, T1, T2, T3 = {}, {}, {}, {}, {}
do
    -- Powers of the generator 3 give logarithms; the inverse of a is 3^(255 - log a).
    local exp, log = {}, {}
    local x = 1
    for i = 0, 254 do
        exp[i] = x
        log[x] = i
        x = bxor(x, xtime(x))
    end
    for a = 0, 255 do
        local b = (a == 0) and 0 or exp[(255 - log[a]) % 255]
        local s = b
        for _ = 1, 4 do -- the affine transform: b xor its four left rotations, xor 0x63
            b = band(bor(lshift(b, 1), rshift(b, 7)), 0xFF)
            s = bxor(s, b)
        end
        SBOX[a] = bxor(s, 0x63)
    end
    for a = 0, 255 do
        local s = SBOX[a]
        local s2 = xtime(s)
        local s3 = bxor(s2, s)
        T0[a] = s2 * 0x1000000 + s * 0x10000 + s * 0x100 + s3
        T1[a] = s3 * 0x1000000 + s2 * 0x10000 + s * 0x100 + s
        T2[a] = s * 0x1000000 + s3 * 0x10000 + s2 * 0x100 + s
        T3[a] = s * 0x1000000 + s * 0x10000 + s3 * 0x100 + s2
    end
end

local function sub_word(w)
    return SBOX[rshift(w, 24)] * 0x1000000 + SBOX[band(rshift(w, 16), 0xFF)] * 0x10000
        + SBOX[band(rshift(w, 8), 0xFF)] * 0x100 + SBOX[band(w, 0xFF)]
end

-- The 60-word key schedule of a 32-byte key (Nk = 8, Nr = 14).
local function expand_key(key)
    local w = {}
    for i = 0, 7 do
        local a, b, c, d = sbyte(key, 4 * i + 1, 4 * i + 4)
        w[i] = a * 0x1000000 + b * 0x10000 + c * 0x100 + d
    end
    local rcon = 1
    for i = 8, 59 do
        local t = w[i - 1]
        if i % 8 == 0 then
            t = bxor(sub_word(bor(lshift(t, 8), rshift(t, 24))), rcon * 0x1000000)
            rcon = xtime(rcon)
        elseif i % 8 == 4 then
            t = sub_word(t)
        end
        w[i] = bxor(w[i - 8], t)
    end
    return w
end

local function last_round(a, b, c, d, rk)
    return bxor(SBOX[rshift(a, 24)] * 0x1000000 + SBOX[band(rshift(b, 16), 0xFF)] * 0x10000
        + SBOX[band(rshift(c, 8), 0xFF)] * 0x100 + SBOX[band(d, 0xFF)], rk)
end

local function encrypt_block(w, s0, s1, s2, s3)
    s0, s1, s2, s3 = bxor(s0, w[0]), bxor(s1, w[1]), bxor(s2, w[2]), bxor(s3, w[3])
    local k = 4
    for _ = 1, 13 do
        local t0 = bxor(T0[rshift(s0, 24)], T1[band(rshift(s1, 16), 0xFF)], T2[band(rshift(s2, 8), 0xFF)], T3[band(s3, 0xFF)], w[k])
        local t1 = bxor(T0[rshift(s1, 24)], T1[band(rshift(s2, 16), 0xFF)], T2[band(rshift(s3, 8), 0xFF)], T3[band(s0, 0xFF)], w[k + 1])
        local t2 = bxor(T0[rshift(s2, 24)], T1[band(rshift(s3, 16), 0xFF)], T2[band(rshift(s0, 8), 0xFF)], T3[band(s1, 0xFF)], w[k + 2])
        local t3 = bxor(T0[rshift(s3, 24)], T1[band(rshift(s0, 16), 0xFF)], T2[band(rshift(s1, 8), 0xFF)], T3[band(s2, 0xFF)], w[k + 3])
        s0, s1, s2, s3 = t0, t1, t2, t3
        k = k + 4
    end
    return last_round(s0, s1, s2, s3, w[56]), last_round(s1, s2, s3, s0, w[57]), last_round(s2, s3, s0, s1, w[58]), last_round(s3, s0, s1, s2, w[59])
end

---------------------------------------------------------------------------------------------------
-- GCM (SP 800-38D) with a 96-bit IV: counter blocks IV || 2, IV || 3, ... for the payload,
-- E(K, IV || 1) masks the tag; GHASH multiplies in GF(2^128) by H = E(K, 0^128).
-- Elements are four 32-bit words, most significant first (bit 0 of the spec is the top bit).
---------------------------------------------------------------------------------------------------

-- A 16-entry table of multiples of H by 4-bit values (in the spec's reflected bit order) and the
-- reduction constants for a shift by four bits (Shoup's method, derived here).
local function ghash_tables(h0, h1, h2, h3)
    -- M[i] = i * H, where the nibble i = b0 b1 b2 b3 means b0 * H + b1 * H x + ... (reflected).
    local M = {}
    M[0] = { 0, 0, 0, 0 }
    local v = { h0, h1, h2, h3 }
    local powers = {}
    for bit = 1, 4 do -- powers[1] = H, powers[k + 1] = powers[k] * x
        powers[bit] = { v[1], v[2], v[3], v[4] }
        local carry = band(v[4], 1)
        v[4] = bor(rshift(v[4], 1), lshift(band(v[3], 1), 31))
        v[3] = bor(rshift(v[3], 1), lshift(band(v[2], 1), 31))
        v[2] = bor(rshift(v[2], 1), lshift(band(v[1], 1), 31))
        v[1] = rshift(v[1], 1)
        if carry == 1 then v[1] = bxor(v[1], 0xE1000000) end
    end
    for i = 1, 15 do
        local a, b, c, d = 0, 0, 0, 0
        -- nibble bit 8 -> powers[1] (H), 4 -> H x, 2 -> H x^2, 1 -> H x^3
        local weights = { 8, 4, 2, 1 }
        for bit = 1, 4 do
            if band(i, weights[bit]) ~= 0 then
                local p = powers[bit]
                a, b, c, d = bxor(a, p[1]), bxor(b, p[2]), bxor(c, p[3]), bxor(d, p[4])
            end
        end
        M[i] = { a, b, c, d }
    end
    -- R[r]: what the four bits r shifted out of the low end fold back to (x^128 = x^7+x^2+x+1).
    local R = {}
    for r = 0, 15 do
        -- Shifting Z right by 4 drops bits r (low nibble of word 4); each dropped bit j (value
        -- 1 << j, j = 0..3) was x^(127 - j) and becomes x^(131 - j) = x^(3 - j) * x^128.
        local acc = 0
        for j = 0, 3 do
            if band(r, lshift(1, j)) ~= 0 then
                -- x^(3-j) * (1 + x + x^2 + x^7): in reflected order 0xE1 << 24 shifted right by (3 - j)
                acc = bxor(acc, rshift(0xE1000000, 3 - j))
            end
        end
        R[r] = acc
    end
    return M, R
end

-- (a, b, c, d) * x^32 + x * H in Horner steps of four bits: the eight nibbles of the word x, the
-- least significant first.
local function ghash_word(M, R, x, a, b, c, d)
    for _ = 1, 8 do
        local nib = band(x, 0xF)
        x = rshift(x, 4)
        -- (a,b,c,d) = (a,b,c,d) * x^4, then add nib * H
        local low = band(d, 0xF)
        d = bor(rshift(d, 4), lshift(band(c, 0xF), 28))
        c = bor(rshift(c, 4), lshift(band(b, 0xF), 28))
        b = bor(rshift(b, 4), lshift(band(a, 0xF), 28))
        local m = M[nib]
        a, b, c, d = bxor(rshift(a, 4), R[low], m[1]), bxor(b, m[2]), bxor(c, m[3]), bxor(d, m[4])
    end
    return a, b, c, d
end

-- Z * H: Horner over the 32 nibbles of Z from the least significant (end of the block) upwards.
local function ghash_multiply(M, R, z0, z1, z2, z3)
    local a, b, c, d = ghash_word(M, R, z3, 0, 0, 0, 0)
    a, b, c, d = ghash_word(M, R, z2, a, b, c, d)
    a, b, c, d = ghash_word(M, R, z1, a, b, c, d)
    return ghash_word(M, R, z0, a, b, c, d)
end

local function words_of(s, i)
    if #s - i >= 15 then
        local b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15, b16 = sbyte(s, i, i + 15)
        return b1 * 0x1000000 + b2 * 0x10000 + b3 * 0x100 + b4, b5 * 0x1000000 + b6 * 0x10000 + b7 * 0x100 + b8,
            b9 * 0x1000000 + b10 * 0x10000 + b11 * 0x100 + b12, b13 * 0x1000000 + b14 * 0x10000 + b15 * 0x100 + b16
    end
    local b = { sbyte(s, i, i + 15) }
    for k = #b + 1, 16 do b[k] = 0 end
    return b[1] * 0x1000000 + b[2] * 0x10000 + b[3] * 0x100 + b[4],
        b[5] * 0x1000000 + b[6] * 0x10000 + b[7] * 0x100 + b[8],
        b[9] * 0x1000000 + b[10] * 0x10000 + b[11] * 0x100 + b[12],
        b[13] * 0x1000000 + b[14] * 0x10000 + b[15] * 0x100 + b[16]
end

local function word_bytes(w)
    return rshift(w, 24), band(rshift(w, 16), 0xFF), band(rshift(w, 8), 0xFF), band(w, 0xFF)
end

local schedules = {}
local function schedule_for(key)
    local w = schedules[key]
    if not w then
        w = expand_key(key)
        local h0, h1, h2, h3 = encrypt_block(w, 0, 0, 0, 0)
        w.M, w.R = ghash_tables(h0, h1, h2, h3)
        schedules[key] = w
    end
    return w
end

-- Opens ciphertext (a Lua string) sealed with key under the sequence's nonce. Returns the
-- plaintext and, when tag is given, whether it verifies (aad is the 16-byte header).
local function gcm_open(key, sequence, aad, ciphertext, tag)
    local w = schedule_for(key)
    local out = {}
    local n = #ciphertext
    local counter = 2
    for i = 1, n, 16 do
        local k0, k1, k2, k3 = encrypt_block(w, 0, 0, sequence, counter)
        counter = counter + 1
        if n - i >= 15 then
            -- a whole block: XOR word by word
            local c0, c1, c2, c3 = words_of(ciphertext, i)
            local p0, p1, p2, p3 = bxor(c0, k0), bxor(c1, k1), bxor(c2, k2), bxor(c3, k3)
            local a1, a2, a3, a4 = word_bytes(p0)
            local b1, b2, b3, b4 = word_bytes(p1)
            local d1, d2, d3, d4 = word_bytes(p2)
            local e1, e2, e3, e4 = word_bytes(p3)
            out[#out + 1] = schar(a1, a2, a3, a4, b1, b2, b3, b4, d1, d2, d3, d4, e1, e2, e3, e4)
        else -- the last, partial block
            local ks = { word_bytes(k0) }
            ks[5], ks[6], ks[7], ks[8] = word_bytes(k1)
            ks[9], ks[10], ks[11], ks[12] = word_bytes(k2)
            ks[13], ks[14], ks[15], ks[16] = word_bytes(k3)
            local c = { sbyte(ciphertext, i, i + 15) }
            for j = 1, #c do c[j] = bxor(c[j], ks[j]) end
            out[#out + 1] = schar(unpack(c))
        end
    end
    local plaintext = concat(out)
    if not tag then return plaintext, nil end
    local M, R = w.M, w.R
    local y0, y1, y2, y3 = 0, 0, 0, 0
    local function absorb(s)
        for i = 1, #s, 16 do
            local a, b, c, d = words_of(s, i)
            y0, y1, y2, y3 = ghash_multiply(M, R, bxor(y0, a), bxor(y1, b), bxor(y2, c), bxor(y3, d))
        end
    end
    absorb(aad)
    absorb(ciphertext)
    local abits, cbits = #aad * 8, n * 8
    y0, y1, y2, y3 = ghash_multiply(M, R, y0, bxor(y1, abits), y2, bxor(y3, cbits % 0x100000000))
    if cbits >= 0x100000000 then
        -- lengths above 512 MiB do not occur (frames are at most 8 MiB)
        return plaintext, false
    end
    local j0, j1, j2, j3 = encrypt_block(w, 0, 0, sequence, 1)
    local t0, t1, t2, t3 = words_of(tag, 1)
    local ok = bxor(y0, j0) == t0 and bxor(y1, j1) == t1 and bxor(y2, j2) == t2 and bxor(y3, j3) == t3
    return plaintext, ok
end

-- Known-answer checks at load time: FIPS-197 C.3 and SP 800-38D / GCM spec test case 16 shape.
do
    local key = ""
    for i = 0, 31 do key = key .. schar(i) end
    local w = expand_key(key)
    local c0, c1, c2, c3 = encrypt_block(w, 0x00112233, 0x44556677, 0x8899aabb, 0xccddeeff)
    assert(c0 == 0x8ea2b7ca and c1 == 0x516745bf and c2 == 0xeafc4990 and c3 == 0x4b496089,
        "medledger.lua: AES-256 self-test failed")
end

---------------------------------------------------------------------------------------------------
-- zlib (RFC 1950) and deflate (RFC 1951) inflation, strict as WIRE.md section 3 requires: it stops
-- once more than the declared length would come out, and it tells a malformed stream, a stream
-- cut short and bytes after the stream apart. (TvbRange:uncompress cannot: it returns what it
-- got from a truncated stream and ignores bytes after the end.)
---------------------------------------------------------------------------------------------------

local LENGTH_BASE = { 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
    131, 163, 195, 227, 258 }
local LENGTH_EXTRA = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0 }
local DIST_BASE = { 1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577 }
local DIST_EXTRA = { 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13 }
local CODE_LENGTH_ORDER = { 16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15 }

local MALFORMED, ENDED, TOO_LONG = "malformed", "ended", "too_long"

-- A canonical Huffman code from code lengths lengths[0 .. n-1] (RFC 1951 3.2.2): counts per length
-- and the symbols in code order. An over-subscribed set is malformed; so is an incomplete one,
-- except a single code of length 1 (as zlib allows), or where `incomplete_ok` (the fixed codes).
local function huffman(lengths, n, incomplete_ok)
    local count = {}
    for l = 0, 15 do count[l] = 0 end
    local longest = 0
    for sym = 0, n - 1 do
        local l = lengths[sym]
        count[l] = count[l] + 1
        if l > longest then longest = l end
    end
    local left = 1
    for l = 1, 15 do
        left = left * 2 - count[l]
        if left < 0 then error(MALFORMED, 0) end
    end
    if left > 0 and not incomplete_ok and longest ~= 1 then error(MALFORMED, 0) end
    local offset = { [1] = 0 }
    for l = 1, 14 do offset[l + 1] = offset[l] + count[l] end
    local symbols = {}
    for sym = 0, n - 1 do
        local l = lengths[sym]
        if l ~= 0 then
            symbols[offset[l]] = sym
            offset[l] = offset[l] + 1
        end
    end
    return { count = count, symbols = symbols }
end

local FIXED_LITERALS, FIXED_DISTANCES
do
    local lengths = {}
    for sym = 0, 287 do
        lengths[sym] = (sym < 144 and 8) or (sym < 256 and 9) or (sym < 280 and 7) or 8
    end
    FIXED_LITERALS = huffman(lengths, 288, true)
    local distances = {}
    for sym = 0, 29 do distances[sym] = 5 end
    FIXED_DISTANCES = huffman(distances, 30, true)
end

-- Inflates a compressed payload (u32 inflated_length, then a zlib stream). Returns the message
-- bytes, or nil, the WIRE.md error name and its frame offset.
local function inflate_payload(payload)
    if #payload < 4 then return nil, "truncated", 16 end
    local declared = sbyte(payload, 1) * 0x1000000 + sbyte(payload, 2) * 0x10000 + sbyte(payload, 3) * 0x100 + sbyte(payload, 4)
    if declared > MAX_INFLATED_LENGTH then return nil, "inflated_too_large", 16 end
    local data, size = payload, #payload
    local pos = 5 -- next input byte
    local bitbuf, bitcnt = 0, 0
    local out, n = {}, 0

    local function bits(need)
        while bitcnt < need do
            if pos > size then error(ENDED, 0) end
            bitbuf = bitbuf + sbyte(data, pos) * 2 ^ bitcnt
            pos = pos + 1
            bitcnt = bitcnt + 8
        end
        local v = bitbuf % 2 ^ need
        bitbuf = (bitbuf - v) / 2 ^ need
        bitcnt = bitcnt - need
        return v
    end

    local function decode(h)
        local code, first, index = 0, 0, 0
        local count, symbols = h.count, h.symbols
        for len = 1, 15 do
            code = code + bits(1)
            local c = count[len]
            if code - c < first then return symbols[index + (code - first)] end
            index = index + c
            first = (first + c) * 2
            code = code * 2
        end
        error(MALFORMED, 0)
    end

    local function emit(byte)
        if n >= declared then error(TOO_LONG, 0) end
        n = n + 1
        out[n] = byte
    end

    local function codes(literals, distances)
        while true do
            local sym = decode(literals)
            if sym < 256 then
                emit(sym)
            elseif sym == 256 then
                return
            else
                sym = sym - 256
                if sym > 29 then error(MALFORMED, 0) end
                local len = LENGTH_BASE[sym] + bits(LENGTH_EXTRA[sym])
                local d = decode(distances)
                if d > 29 then error(MALFORMED, 0) end
                local dist = DIST_BASE[d + 1] + bits(DIST_EXTRA[d + 1])
                if dist > n then error(MALFORMED, 0) end
                for _ = 1, len do emit(out[n - dist + 1]) end
            end
        end
    end

    local function dynamic()
        local nlen, ndist, ncode = bits(5) + 257, bits(5) + 1, bits(4) + 4
        if nlen > 286 or ndist > 30 then error(MALFORMED, 0) end
        local lengths = {}
        for i = 0, 18 do lengths[i] = 0 end
        for i = 1, ncode do lengths[CODE_LENGTH_ORDER[i]] = bits(3) end
        local lencode = huffman(lengths, 19, false)
        local all = {}
        local i = 0
        while i < nlen + ndist do
            local sym = decode(lencode)
            if sym < 16 then
                all[i] = sym
                i = i + 1
            else
                local value, times = 0, 0
                if sym == 16 then
                    if i == 0 then error(MALFORMED, 0) end
                    value, times = all[i - 1], 3 + bits(2)
                elseif sym == 17 then
                    times = 3 + bits(3)
                else
                    times = 11 + bits(7)
                end
                if i + times > nlen + ndist then error(MALFORMED, 0) end
                for _ = 1, times do
                    all[i] = value
                    i = i + 1
                end
            end
        end
        if all[256] == 0 then error(MALFORMED, 0) end -- no end-of-block code
        local lit, dist = {}, {}
        for k = 0, nlen - 1 do lit[k] = all[k] end
        for k = 0, ndist - 1 do dist[k] = all[nlen + k] end
        codes(huffman(lit, nlen, false), huffman(dist, ndist, false))
    end

    local ok, why = pcall(function()
        local cmf, flg = bits(8), bits(8)
        if cmf % 16 ~= 8 or cmf >= 0x80 or (cmf * 256 + flg) % 31 ~= 0 or band(flg, 0x20) ~= 0 then
            error(MALFORMED, 0)
        end
        repeat
            local last = bits(1)
            local kind = bits(2)
            if kind == 0 then
                bitbuf, bitcnt = 0, 0 -- to the byte boundary
                local len = bits(16)
                local nlen = bits(16)
                if len + nlen ~= 0xFFFF then error(MALFORMED, 0) end
                for _ = 1, len do emit(bits(8)) end
            elseif kind == 1 then
                codes(FIXED_LITERALS, FIXED_DISTANCES)
            elseif kind == 2 then
                dynamic()
            else
                error(MALFORMED, 0)
            end
        until last == 1
        bitbuf, bitcnt = 0, 0 -- the Adler-32 trailer starts on a byte boundary, big-endian
        local adler = bits(8) * 0x1000000 + bits(8) * 0x10000 + bits(8) * 0x100 + bits(8)
        local a, b = 1, 0
        for k = 1, n do
            a = (a + out[k]) % 65521
            b = (b + a) % 65521
        end
        if adler ~= b * 0x10000 + a then error(MALFORMED, 0) end
    end)
    if not ok then
        if why == TOO_LONG then return nil, "inflated_length_mismatch", 16 end
        if why == MALFORMED or why == ENDED then return nil, "decompression_failed", 20 end
        error(why, 0)
    end
    if pos <= size then return nil, "inflated_length_mismatch", 16 end -- bytes after the stream
    if n < declared then return nil, "inflated_length_mismatch", 16 end
    local parts = {}
    for k = 1, n, 4096 do parts[#parts + 1] = schar(unpack(out, k, math.min(k + 4095, n))) end
    return concat(parts), declared
end

---------------------------------------------------------------------------------------------------
-- Key log (WIRE.md 4.4)
---------------------------------------------------------------------------------------------------

local key_log = { path = nil, entries = {}, malformed = 0, loaded = 0 }

local function unhex(h)
    return (h:gsub("..", function(x) return schar(tonumber(x, 16)) end))
end

local function load_key_log(path)
    key_log = { path = path, entries = {}, malformed = 0, loaded = 0, error = nil }
    if path == nil or path == "" then return end
    local file, problem = io.open(path, "r")
    if not file then
        key_log.error = problem
        return
    end
    for line in file:lines() do
        line = line:gsub("\r$", "")
        if line ~= "" and line:sub(1, 1) ~= "#" then
            local first = line:match("^([^ ]*)")
            if first == "MEDLEDGER_V1" then
                local nI, i2r, r2i = line:match("^MEDLEDGER_V1 (%x+) (%x+) (%x+)$")
                if nI and #nI == 64 and #i2r == 64 and #r2i == 64 then
                    key_log.entries[nI:lower()] = { unhex(i2r), unhex(r2i) } -- the later line wins
                    key_log.loaded = key_log.loaded + 1
                else
                    key_log.malformed = key_log.malformed + 1
                end
            end
        end
    end
    file:close()
end

---------------------------------------------------------------------------------------------------
-- Per-connection state. Rebuilt by init() on every (re)dissection of the capture.
---------------------------------------------------------------------------------------------------

local connections -- tcp.stream -> { initiator = "addr:port", nonce = hex, next = {0, 0} }
local frame_state -- "packet:first 32 bytes" -> { direction, sequence, nonce }

function medledger.init()
    connections = {}
    frame_state = {}
    schedules = {}
    load_key_log(medledger.prefs.key_log)
end

---------------------------------------------------------------------------------------------------
-- Message decoding (WIRE.md section 5): a reader over the message tvb, offsets from its start.
---------------------------------------------------------------------------------------------------

-- RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
local function valid_utf8(s)
    local i, n = 1, #s
    while i <= n do
        local c = sbyte(s, i)
        if c < 0x80 then
            i = i + 1
        elseif c >= 0xC2 and c <= 0xDF then
            local c2 = sbyte(s, i + 1)
            if not c2 or c2 < 0x80 or c2 > 0xBF then return false end
            i = i + 2
        elseif c >= 0xE0 and c <= 0xEF then
            local c2, c3 = sbyte(s, i + 1, i + 2)
            if not c3 then return false end
            local lo, hi = 0x80, 0xBF
            if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end
            if c2 < lo or c2 > hi or c3 < 0x80 or c3 > 0xBF then return false end
            i = i + 3
        elseif c >= 0xF0 and c <= 0xF4 then
            local c2, c3, c4 = sbyte(s, i + 1, i + 3)
            if not c4 then return false end
            local lo, hi = 0x80, 0xBF
            if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
            if c2 < lo or c2 > hi or c3 < 0x80 or c3 > 0xBF or c4 < 0x80 or c4 > 0xBF then return false end
            i = i + 4
        else
            return false
        end
    end
    return true
end

-- Bytewise (unsigned, lexicographic) a < b; Lua's own string order follows the locale.
local function bytes_less(a, b)
    local n = math.min(#a, #b)
    for i = 1, n do
        local x, y = sbyte(a, i), sbyte(b, i)
        if x ~= y then return x < y end
    end
    return #a < #b
end

local Reader = {}
Reader.__index = Reader

local function fail(code, offset, detail)
    error({ code = code, offset = offset, detail = detail }, 0)
end

local function new_reader(tvb)
    return setmetatable({ tvb = tvb, pos = 0, len = tvb:len(), facts = {} }, Reader)
end

function Reader:need(n)
    if self.pos + n > self.len then fail("truncated", self.pos) end
end

function Reader:range(n)
    self:need(n)
    local r = self.tvb(self.pos, n)
    self.pos = self.pos + n
    return r
end

function Reader:uint(n, tree, field)
    local r = self:range(n)
    local v = (n == 8) and r:uint64() or r:uint()
    if tree and field then
        local item = tree:add(field, r)
        if self.facts[field] == nil then self.facts[field] = v end
        if (field == f.timestamp or field == f.time) and v > UInt64(0) then
            local ms = v:tonumber()
            item:append_text(string.format(" (%s.%03dZ)", os.date("!%Y-%m-%dT%H:%M:%S", math.floor(ms / 1000)), ms % 1000))
        end
    end
    return v, r
end

function Reader:fixed(n, tree, field)
    local r = self:range(n)
    if tree and field then tree:add(field, r) end
    return r
end

function Reader:enum(tree, field, names)
    local at = self.pos
    local v, r = self:uint(1)
    if not names[v] then fail("unknown_enum", at, tostring(v)) end
    if tree then
        tree:add(field, r)
        if self.facts[field] == nil then self.facts[field] = v end
    end
    return v
end

-- bytes<=max / string<=max: u32 length then the bytes. Returns the length and the data range.
function Reader:bytes_upto(max, tree, field, label, utf8)
    local at = self.pos
    local n = self:uint(4)
    if n > max then fail("length_exceeds_limit", at, tostring(n)) end
    if at + 4 + n > self.len then fail("truncated", at) end
    local data = nil
    if n > 0 then data = self:range(n) end
    if utf8 and data and not valid_utf8(data:raw()) then fail("invalid_utf8", at) end
    if tree then
        if field and data then
            tree:add(field, data)
        elseif field then
            tree:add(medledger, self.tvb(at, 4), (label or "empty") .. ": (empty)")
        end
    end
    return n, data, at
end

function Reader:chain_id(tree)
    local at = self.pos
    local n, data = self:bytes_upto(64)
    local s = data and data:string() or ""
    if n == 0 or not s:match("^[a-z0-9%-%._]+$") then fail("invalid_chain_id", at) end
    if tree then tree:add(f.chain_id, data) end
    return s
end

function Reader:optional(body)
    local at = self.pos
    local tag = self:uint(1)
    if tag == 0 then return nil end
    if tag ~= 1 then fail("invalid_optional_tag", at) end
    return body()
end

function Reader:count(max)
    local at = self.pos
    local n = self:uint(4)
    if n > max then fail("count_exceeds_limit", at, tostring(n)) end
    return n, at
end

-- A subtree whose length is set once its content has been read.
local function subtree(r, tree, label)
    local item = tree:add(medledger, r.tvb(r.pos, 0), label)
    return item, r.pos
end

local function close_subtree(r, item, start)
    item:set_len(r.pos - start)
end

local function hex8(range)
    return tostring(range:bytes()):sub(1, 16):lower()
end


local decode_transaction, decode_vote, decode_committed_block, decode_block

decode_transaction = function(r, tree)
    local item, start = subtree(r, tree, "Transaction")
    local tx_type = r:uint(2, item, f.tx_type)
    r:fixed(32, item, f.signer)
    r:uint(8, item, f.tx_nonce)
    local n = r:bytes_upto(65536, item, f.body)
    item:add(f.body_length, n):set_generated()
    r:fixed(64, item, f.signature)
    close_subtree(r, item, start)
    item:append_text(": " .. (TX_TYPES[tx_type] or ("tx_type " .. tx_type)))
    return tx_type
end

decode_vote = function(r, tree, label)
    local item, start = subtree(r, tree, label or "Vote")
    local vote_type = r:enum(item, f.vote_type, VOTE_TYPES)
    local height = r:uint(8, item, f.height)
    local round = r:uint(4, item, f.round)
    local hash = r:optional(function() return r:fixed(32, item, f.block_hash) end)
    if not hash then item:add(f.block_hash, r.tvb(r.pos - 1, 1)):append_text(" (nil: a vote for no block)") end
    r:uint(8, item, f.timestamp)
    local validator = r:fixed(32, item, f.validator)
    r:fixed(64, item, f.signature)
    close_subtree(r, item, start)
    local text = string.format("%s h=%s r=%d %s", VOTE_TYPES[vote_type], tostring(height), round,
        hash and hex8(hash) or "nil")
    item:append_text(": " .. text .. " by " .. hex8(validator))
    return text
end

local function decode_block_header(r, tree)
    local item, start = subtree(r, tree, "Header")
    local at = r.pos
    local version = r:uint(2, item, f.block_version)
    if version ~= 1 then fail("value_out_of_range", at, "block version " .. version) end
    r:chain_id(item)
    local height = r:uint(8, item, f.height)
    r:uint(8, item, f.time)
    local names = { "previous_hash", "last_commit_hash", "transactions_root", "evidence_root",
        "state_root", "validators_hash", "next_validators_hash" }
    for _, name in ipairs(names) do
        item:add(f.hash32, r:fixed(32)):prepend_text(name .. ": ")
    end
    r:fixed(32, item, f.proposer)
    close_subtree(r, item, start)
    item:append_text(": height " .. tostring(height))
    return height
end

local function decode_commit(r, tree, label)
    local item, start = subtree(r, tree, label or "Commit")
    local height = r:uint(8, item, f.height)
    local round = r:uint(4, item, f.round)
    r:fixed(32, item, f.block_hash)
    local n, at = r:count(256)
    if n < 1 then fail("value_out_of_range", at, "no signatures") end
    item:add(f.signature_count, r.tvb(at, 4))
    local previous = -1
    for _ = 1, n do
        local element = r.pos
        local sig, sig_start = subtree(r, item, "CommitSignature")
        local index = r:uint(2, sig, f.validator_index)
        r:uint(8, sig, f.timestamp)
        r:fixed(64, sig, f.signature)
        close_subtree(r, sig, sig_start)
        sig:append_text(": validator " .. index)
        if index <= previous then fail("non_canonical", element, "validator_index not increasing") end
        previous = index
    end
    close_subtree(r, item, start)
    item:append_text(string.format(": height %s round %d, %d signatures", tostring(height), round, n))
    return height
end

local function decode_evidence(r, tree)
    local item, start = subtree(r, tree, "Evidence")
    r:enum(item, f.evidence_kind, EVIDENCE_KINDS)
    local a = r.pos
    decode_vote(r, item, "vote_a")
    local b = r.pos
    decode_vote(r, item, "vote_b")
    if not bytes_less(r.tvb(a, b - a):raw(), r.tvb(b, r.pos - b):raw()) then
        fail("non_canonical", b, "vote_a does not sort before vote_b")
    end
    close_subtree(r, item, start)
end

decode_block = function(r, tree)
    local item, start = subtree(r, tree, "Block")
    local height = decode_block_header(r, item)
    local n, at = r:count(10000)
    item:add(f.tx_count, r.tvb(at, 4))
    for _ = 1, n do decode_transaction(r, item) end
    local m, at2 = r:count(100)
    item:add(f.evidence_count, r.tvb(at2, 4))
    for _ = 1, m do decode_evidence(r, item) end
    r:optional(function() return decode_commit(r, item, "last_commit") end)
    close_subtree(r, item, start)
    item:append_text(string.format(": height %s, %d transactions", tostring(height), n))
    return height, n
end

decode_committed_block = function(r, tree)
    local item, start = subtree(r, tree, "CommittedBlock")
    local height, n = decode_block(r, item)
    decode_commit(r, item, "commit")
    close_subtree(r, item, start)
    item:append_text(string.format(": height %s, %d transactions", tostring(height), n))
    return height, n
end

local function decode_signed_request(r, tree)
    local item, start = subtree(r, tree, "SignedRequest")
    local kind = r:uint(2, item, f.request_kind)
    r:fixed(32, item, f.signer)
    r:uint(8, item, f.timestamp)
    local n, data = r:bytes_upto(4194304, item, f.body)
    item:add(f.body_length, n):set_generated()
    if kind == 1 and data then
        -- submit_transaction: the body is a Transaction (CLIENT.md section 2)
        local ok, problem = pcall(function()
            local inner = new_reader(data:tvb())
            decode_transaction(inner, item)
            if inner.pos ~= inner.len then fail("trailing_bytes", inner.pos) end
        end)
        if not ok then
            item:add_proto_expert_info(e.message, "submit_transaction body: " ..
                (type(problem) == "table" and (problem.code .. " at body offset " .. problem.offset) or tostring(problem)))
        end
    end
    r:fixed(64, item, f.signature)
    close_subtree(r, item, start)
    item:append_text(": " .. (REQUEST_KINDS[kind] or ("kind " .. kind)))
    return kind
end

-- Each returns a short summary for the Info column.
local MESSAGES = {
    [0x01] = function(r, tree)
        local at = r.pos
        local min = r:uint(1, tree, f.min_version)
        if min < 1 then fail("value_out_of_range", at, "min_version") end
        at = r.pos
        local max = r:uint(1, tree, f.max_version)
        if max < min then fail("value_out_of_range", at, "max_version") end
        local channel = r:enum(tree, f.channel, CHANNELS)
        local chain = r:chain_id(tree)
        r:fixed(32, tree, f.ephemeral_key)
        local nonce = r:fixed(32, tree, f.nonce)
        return string.format("%s v%d-%d %s", CHANNELS[channel], min, max, chain), { nonce = nonce:bytes():tohex(true):lower() }
    end,
    [0x02] = function(r, tree)
        local key = r:fixed(32, tree, f.node_key)
        r:fixed(64, tree, f.signature)
        return "key " .. hex8(key)
    end,
    [0x03] = function(r, tree)
        local code = r:uint(2, tree, f.code)
        local _, data = r:bytes_upto(512, tree, f.reason, "reason", true)
        return string.format("%s (%d)%s", ERROR_CODES[code] or "?", code, data and (": " .. data:string()) or "")
    end,
    [0x10] = function(r, tree) r:uint(8, tree, f.ping_nonce) return "" end,
    [0x11] = function(r, tree) r:uint(8, tree, f.ping_nonce) return "" end,
    [0x12] = function(r, tree)
        local height = r:uint(8, tree, f.height)
        r:fixed(32, tree, f.block_hash)
        r:uint(8, tree, f.base_height)
        r:uint(8, tree, f.time)
        return "h=" .. tostring(height)
    end,
    [0x20] = function(r, tree)
        local tx_type = decode_transaction(r, tree)
        return TX_TYPES[tx_type] or tostring(tx_type)
    end,
    [0x21] = function(r, tree)
        local height = r:uint(8, tree, f.height)
        local round = r:uint(4, tree, f.round)
        r:optional(function() return r:uint(4, tree, f.pol_round) end)
        r:fixed(32, tree, f.block_hash)
        r:uint(8, tree, f.timestamp)
        r:fixed(32, tree, f.proposer)
        r:fixed(64, tree, f.signature)
        local _, n = decode_block(r, tree)
        return string.format("h=%s r=%d txs=%d", tostring(height), round, n)
    end,
    [0x22] = function(r, tree) return decode_vote(r, tree) end,
    [0x23] = function(r, tree)
        local height, n = decode_committed_block(r, tree)
        return string.format("h=%s txs=%d", tostring(height), n)
    end,
    [0x24] = function(r, tree)
        local id = r:uint(8, tree, f.request_id)
        local at = r.pos
        local start = r:uint(8, tree, f.start_height)
        if start < UInt64(1) then fail("value_out_of_range", at, "start_height") end
        at = r.pos
        local count = r:uint(2, tree, f.count)
        if count < 1 or count > 64 then fail("value_out_of_range", at, "count") end
        return string.format("id=%s from %s count %d", tostring(id), tostring(start), count)
    end,
    [0x25] = function(r, tree)
        local id = r:uint(8, tree, f.request_id)
        local n, at = r:count(64)
        tree:add(f.block_count, r.tvb(at, 4))
        for _ = 1, n do decode_committed_block(r, tree) end
        return string.format("id=%s blocks=%d", tostring(id), n)
    end,
    [0x26] = function(r, tree) decode_evidence(r, tree) return "" end,
    [0x27] = function(r, tree)
        local record = r:fixed(32, tree, f.record)
        local offset = r:uint(8, tree, f.blob_offset)
        local at = r.pos
        local total = r:uint(8, tree, f.blob_total)
        if total < UInt64(1) or total > UInt64(67108864) then fail("value_out_of_range", at, "total") end
        at = r.pos
        local n = r:bytes_upto(1048576)
        tree:add(f.chunk_length, r.tvb(at, 4))
        if offset > total or UInt64(n) > total - offset then fail("value_out_of_range", at, "chunk past total") end
        return string.format("%s %s+%d/%s", hex8(record), tostring(offset), n, tostring(total))
    end,
    [0x28] = function(r, tree) return hex8(r:fixed(32, tree, f.record)) end,
    [0x30] = function(r, tree)
        local id = r:uint(8, tree, f.request_id)
        local kind = decode_signed_request(r, tree)
        return string.format("id=%s %s", tostring(id), REQUEST_KINDS[kind] or tostring(kind))
    end,
    [0x31] = function(r, tree)
        local id = r:uint(8, tree, f.request_id)
        local kind = r:uint(2, tree, f.response_kind)
        local n = r:bytes_upto(4194304, tree, f.body)
        tree:add(f.body_length, n):set_generated()
        return string.format("id=%s %s", tostring(id), REQUEST_KINDS[kind] or tostring(kind))
    end,
    [0x32] = function(r, tree)
        local id = r:uint(8, tree, f.request_id)
        local code = r:uint(2, tree, f.error_code)
        r:bytes_upto(1024, tree, f.error_message, "message", true)
        return string.format("id=%s %s", tostring(id), ERROR_CODES[code] or tostring(code))
    end,
    [0x33] = function(r, tree)
        local id = r:uint(8, tree, f.subscription_id)
        local kind = r:uint(2, tree, f.event_kind)
        local n = r:bytes_upto(1048576, tree, f.body)
        tree:add(f.body_length, n):set_generated()
        return string.format("sub=%s %s", tostring(id), EVENT_KINDS[kind] or tostring(kind))
    end,
}

-- Decodes a whole message payload; returns a summary and extra facts, or reports the error.
-- What the fields read so far say, for a message only partly decrypted.
local function facts_summary(facts)
    local parts = {}
    local function add(text) parts[#parts + 1] = text end
    if facts[f.vote_type] then add(VOTE_TYPES[facts[f.vote_type]]) end
    if facts[f.request_kind] then add(REQUEST_KINDS[facts[f.request_kind]] or tostring(facts[f.request_kind])) end
    if facts[f.request_id] then add("id=" .. tostring(facts[f.request_id])) end
    if facts[f.height] then add("h=" .. tostring(facts[f.height])) end
    if facts[f.round] then add("r=" .. tostring(facts[f.round])) end
    if facts[f.tx_type] then add(TX_TYPES[facts[f.tx_type]] or ("tx_type " .. facts[f.tx_type])) end
    return concat(parts, " ")
end

local function decode_message(type_code, tvb, tree, partial)
    local r = new_reader(tvb)
    local ok, summary, extra = pcall(function()
        local s, x = MESSAGES[type_code](r, tree)
        if r.pos ~= r.len then fail("trailing_bytes", r.pos) end
        return s, x
    end)
    if ok then return summary, extra end
    if type(summary) == "table" and partial and summary.code == "truncated" then
        tree:add(medledger, tvb(0, 0), "(the rest of the message was not decrypted: preference max_decrypt)")
        return facts_summary(r.facts)
    end
    if type(summary) == "table" then
        local text = string.format("%s at message offset %d%s", summary.code, summary.offset,
            summary.detail and (" (" .. summary.detail .. ")") or "")
        local at = math.min(summary.offset, math.max(tvb:len() - 1, 0))
        local item = tree:add(medledger, tvb(at, tvb:len() > 0 and 1 or 0), "Malformed message: " .. text)
        item:add(f.error, summary.code):set_generated()
        item:add(f.error_offset, summary.offset):set_generated()
        item:add_proto_expert_info(e.message, "Malformed message: " .. text)
        return "[" .. summary.code .. "]"
    end
    tree:add_proto_expert_info(e.message, "dissector error: " .. tostring(summary))
    return "[dissector error]"
end

---------------------------------------------------------------------------------------------------
-- The frame (WIRE.md section 2)
---------------------------------------------------------------------------------------------------

-- Checks a 16-byte header string; returns nil when it is acceptable for resynchronisation, else
-- the error name and its frame offset (the header checks of section 2, in order).
local function header_problem(h)
    if h:sub(1, 4) ~= "MLDG" then return "bad_magic", 0 end
    local crc = sbyte(h, 13) * 0x1000000 + sbyte(h, 14) * 0x10000 + sbyte(h, 15) * 0x100 + sbyte(h, 16)
    if crc32(h:sub(1, 12)) ~= crc then return "header_checksum_mismatch", 12 end
    if sbyte(h, 5) ~= 1 then return "unsupported_version", 4 end
    if not TYPE_NAMES[sbyte(h, 6)] then return "unknown_message_type", 5 end
    local flags = sbyte(h, 7)
    if band(flags, 0xFC) ~= 0 then return "unknown_flags", 6 end
    if sbyte(h, 8) ~= 0 then return "reserved_not_zero", 7 end
    local length = sbyte(h, 9) * 0x1000000 + sbyte(h, 10) * 0x10000 + sbyte(h, 11) * 0x100 + sbyte(h, 12)
    if length > MAX_FRAME_LENGTH then return "frame_too_large", 8 end
    if band(flags, FLAG_SEALED) ~= 0 and length < TAG_LENGTH then return "sealed_payload_too_short", 8 end
    return nil
end

local function endpoint(address, port)
    return tostring(address) .. ":" .. tostring(port)
end

-- The connection state for this packet's TCP connection, keyed by its two endpoints in either
-- order. (Not tcp.stream: a field extractor sees nothing when the first pass builds no tree.)
-- A HELLO after sealed frames on the same endpoints starts a new connection (see dissect_frame).
local function connection_for(pinfo)
    local a, b = endpoint(pinfo.src, pinfo.src_port), endpoint(pinfo.dst, pinfo.dst_port)
    local id = (a < b) and (a .. " " .. b) or (b .. " " .. a)
    local c = connections[id]
    if not c then
        c = { next = { 0, 0 } }
        connections[id] = c
    end
    return c
end

-- Opens the payload of a sealed frame; returns a tvb of the plaintext, or nil.
local function open_sealed(tvb, offset, length, pinfo, tree, frame_tree, key_id)
    local state = frame_state[key_id]
    local c = connection_for(pinfo)
    if not state then
        -- first time this frame is seen: count it in its direction
        local from = endpoint(pinfo.src, pinfo.src_port)
        local direction
        if c.initiator == nil then
            direction = nil
        else
            direction = (from == c.initiator) and 1 or 2
        end
        local sequence = nil
        if direction then
            sequence = c.next[direction]
            c.next[direction] = sequence + 1
        end
        state = { direction = direction, sequence = sequence, nonce = c.nonce }
        frame_state[key_id] = state
    end
    if not state.direction then
        frame_tree:add_proto_expert_info(e.no_key, "Sealed: the connection's HELLO is not in the capture, so the direction and sequence are unknown")
        return nil
    end
    frame_tree:add(f.direction, state.direction):set_generated()
    frame_tree:add(f.sequence, state.sequence):set_generated()
    local keys = key_log.entries[state.nonce]
    if not keys then
        local why = (key_log.path == nil or key_log.path == "") and "no key log set (preference medledger.key_log)"
            or (key_log.error and ("key log unreadable: " .. key_log.error))
            or ("no key log line for the initiator nonce " .. state.nonce:sub(1, 16) .. "...")
        frame_tree:add(f.decrypted, false):set_generated()
        frame_tree:add_proto_expert_info(e.no_key, "Sealed frame not decrypted: " .. why)
        return nil
    end
    local key = keys[state.direction]
    local cipher_length = length - TAG_LENGTH
    local limit = medledger.prefs.max_decrypt
    local partial = limit > 0 and cipher_length > limit
    local take = partial and limit or cipher_length
    local header = tvb:raw(offset, HEADER_LENGTH)
    local ciphertext = take > 0 and tvb:raw(offset + HEADER_LENGTH, take) or ""
    local tag = tvb:raw(offset + HEADER_LENGTH + cipher_length, TAG_LENGTH)
    frame_tree:add(f.tag, tvb(offset + HEADER_LENGTH + cipher_length, TAG_LENGTH))
    local verify = medledger.prefs.verify_tag and not partial
    local plaintext, ok = gcm_open(key, state.sequence, header, ciphertext, verify and tag or nil)
    if verify then
        frame_tree:add(f.tag_verified, ok):set_generated()
        if not ok then
            frame_tree:add(f.decrypted, false):set_generated()
            frame_tree:add(f.error, "decryption_failed"):set_generated()
            frame_tree:add(f.error_offset, 16):set_generated()
            frame_tree:add_proto_expert_info(e.decrypt, string.format(
                "decryption_failed at frame offset 16: the tag does not verify (%s sequence %d): a wrong key, or a segment missing from the capture",
                DIRECTIONS[state.direction], state.sequence))
            return nil
        end
    end
    frame_tree:add(f.decrypted, true):set_generated()
    if take == 0 then return nil, true end
    local plain_tvb = ByteArray.new(plaintext, true):tvb("Decrypted MedLedger payload")
    return plain_tvb, true, partial
end

local function summarise(pinfo, text)
    if pinfo.private.medledger_info == "1" then
        pinfo.cols.info:append(", " .. text)
    else
        pinfo.cols.info:set(text)
        pinfo.private.medledger_info = "1"
    end
end

-- The 16 header bytes at offset, field by field, under tree; returns the header subtree.
local function add_header(tvb, offset, tree)
    local type_code = tvb(offset + 5, 1):uint()
    local header_tree = tree:add(medledger, tvb(offset, HEADER_LENGTH), "Header")
    header_tree:add(f.magic, tvb(offset, 4))
    header_tree:add(f.version, tvb(offset + 4, 1))
    header_tree:add(f.type, tvb(offset + 5, 1))
    header_tree:add(f.type_name, tvb(offset + 5, 1), TYPE_NAMES[type_code] or "unknown"):set_generated()
    local flags_item = header_tree:add(f.flags, tvb(offset + 6, 1))
    flags_item:add(f.flag_compressed, tvb(offset + 6, 1))
    flags_item:add(f.flag_sealed, tvb(offset + 6, 1))
    flags_item:add(f.flag_unknown, tvb(offset + 6, 1))
    header_tree:add(f.reserved, tvb(offset + 7, 1))
    header_tree:add(f.length, tvb(offset + 8, 4))
    local crc_item = header_tree:add(f.header_crc, tvb(offset + 12, 4))
    local good = crc32(tvb:raw(offset, 12)) == tvb(offset + 12, 4):uint()
    header_tree:add(f.header_crc_good, good):set_generated()
    crc_item:append_text(good and " [correct]" or " [incorrect]")
    if not good then crc_item:add_proto_expert_info(e.crc) end
    return header_tree
end

-- Dissects one complete frame at offset; returns the frame's total length.
local function dissect_frame(tvb, pinfo, tree, offset, length)
    local total = HEADER_LENGTH + length
    local type_code = tvb(offset + 5, 1):uint()
    local flags = tvb(offset + 6, 1):uint()
    local type_name = TYPE_NAMES[type_code] or string.format("0x%02x", type_code)
    local frame_tree = tree:add(medledger, tvb(offset, total), "MedLedger " .. type_name)
    add_header(tvb, offset, frame_tree)

    local sealed = band(flags, FLAG_SEALED) ~= 0
    local compressed = band(flags, FLAG_COMPRESSED) ~= 0
    local summary = type_name
    local c = connection_for(pinfo)
    local key_id = tostring(pinfo.number) .. ":" .. tvb:raw(offset, math.min(total, 32))

    local message_tvb = nil
    local partial = false
    local empty_message = false
    if sealed then
        message_tvb, _, partial = open_sealed(tvb, offset, length, pinfo, tree, frame_tree, key_id)
        if not message_tvb then
            if length > TAG_LENGTH then frame_tree:add(f.payload, tvb(offset + HEADER_LENGTH, length - TAG_LENGTH)) end
            summary = summary .. " [sealed]"
        elseif partial then
            summary = summary .. " [partly decrypted]"
        end
        if type_code == 0x01 then
            frame_tree:add_proto_expert_info(e.protocol, "HELLO is never sealed (unexpected_message)")
        end
    else
        if length > 0 then message_tvb = tvb(offset + HEADER_LENGTH, length):tvb() end
        if type_code ~= 0x01 and type_code ~= 0x03 then
            frame_tree:add_proto_expert_info(e.protocol, type_name .. " must be sealed (unexpected_message)")
        end
    end
    if message_tvb and compressed then
        -- WIRE.md section 3, with the inflater above
        local problem, problem_at, detail = nil, 16, nil
        if message_tvb:len() >= 4 then frame_tree:add(f.inflated_length, message_tvb(0, 4)) end
        local inflated, why, at = inflate_payload(message_tvb:raw())
        if inflated then
            message_tvb = (#inflated > 0) and ByteArray.new(inflated, true):tvb("Inflated MedLedger message") or nil
            empty_message = (#inflated == 0)
        else
            problem, problem_at = why, at
        end
        if problem then
            frame_tree:add(f.error, problem):set_generated()
            frame_tree:add(f.error_offset, problem_at):set_generated()
            frame_tree:add_proto_expert_info(e.inflate, string.format("%s at frame offset %d%s", problem, problem_at,
                detail and (": " .. detail) or ""))
            message_tvb = nil
            summary = summary .. " [" .. problem .. "]"
        end
    end
    if length == 0 or empty_message then
        frame_tree:add(f.error, "truncated"):set_generated()
        frame_tree:add(f.error_offset, 0):set_generated()
        frame_tree:add_proto_expert_info(e.message, "Malformed message: truncated at message offset 0 (empty payload)")
        summary = summary .. " [truncated]"
    end
    if message_tvb then
        local msg_tvb = message_tvb
        local message_tree = frame_tree:add(medledger, msg_tvb(0, math.min(msg_tvb:len(), 0)), "Message " .. type_name)
        message_tree:set_len(msg_tvb:len())
        local text, extra = decode_message(type_code, msg_tvb, message_tree, partial)
        if text and text ~= "" then summary = summary .. " " .. text end
        if type_code == 0x01 and extra and extra.nonce then
            -- the first HELLO of a connection is the initiator's; its nonce names the connection
            local from = endpoint(pinfo.src, pinfo.src_port)
            if not c.hellos then c.hellos = {} end
            if c.next[1] + c.next[2] > 0 and not c.hellos[key_id] then
                -- the endpoints are reused by a new connection: start counting again
                c.initiator, c.nonce, c.next, c.hellos = nil, nil, { 0, 0 }, {}
            end
            c.hellos[key_id] = true
            if c.initiator == nil then
                c.initiator = from
                c.nonce = extra.nonce
            end
            frame_tree:add(medledger, tvb(offset, 0), (from == c.initiator) and "Role: initiator" or "Role: responder"):set_generated()
        end
        if type_code == 0x03 then frame_tree:add_proto_expert_info(e.disconnect, summary) end
    end
    frame_tree:append_text(": " .. summary:sub(#type_name + 2))
    summarise(pinfo, summary)
    return total
end

-- Walks the frames of a TCP payload, asking TCP for more bytes when a frame is incomplete.
local function dissect(tvb, pinfo, tree)
    local available = tvb:len()
    if available ~= tvb:reported_len() then return 0 end -- a snapped capture: cannot reassemble
    pinfo.cols.protocol = "MedLedger"
    local offset = 0
    while offset < available do
        local remaining = available - offset
        if remaining < HEADER_LENGTH then
            pinfo.desegment_offset = offset
            pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
            return available
        end
        local problem, problem_at = header_problem(tvb:raw(offset, HEADER_LENGTH))
        if problem then
            -- Resynchronise: the next magic whose header passes every check (WIRE.md section 2).
            local data = tvb:raw(offset, remaining)
            local at = 2
            local found = nil
            local wait = false
            while true do
                local p = data:find("MLDG", at, true)
                if not p then break end
                if p + HEADER_LENGTH - 1 > #data then
                    found = p; wait = true
                    break
                end
                if not header_problem(data:sub(p, p + HEADER_LENGTH - 1)) then found = p; break end
                at = p + 1
            end
            local skip = found and (found - 1) or remaining
            if data:sub(1, 4) == "MLDG" then
                -- a candidate header that fails a check: show it, then resynchronise past its magic
                local bad = tree:add(medledger, tvb(offset, HEADER_LENGTH), "MedLedger rejected frame header: " .. problem)
                add_header(tvb, offset, bad)
                bad:add(f.error, problem):set_generated()
                bad:add(f.error_offset, problem_at):set_generated()
                bad:add_proto_expert_info(e.bad_header, "Malformed frame header: " .. problem)
            end
            local item = tree:add(f.unsync, tvb(offset, skip))
            if problem == "bad_magic" then
                item:add(f.error, problem):set_generated()
                item:add(f.error_offset, 0):set_generated()
            end
            item:add_proto_expert_info(e.unsync, string.format(
                "%d bytes outside any frame (first problem: %s); resynchronised on the magic", skip, problem))
            summarise(pinfo, "[unsynchronised " .. skip .. " bytes]")
            offset = offset + skip
            if wait then
                pinfo.desegment_offset = offset
                pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
                return available
            end
        else
            local length = tvb(offset + 8, 4):uint()
            if remaining < HEADER_LENGTH + length then
                pinfo.desegment_offset = offset
                pinfo.desegment_len = HEADER_LENGTH + length - remaining
                return available
            end
            offset = offset + dissect_frame(tvb, pinfo, tree, offset, length)
        end
    end
    return available
end

function medledger.dissector(tvb, pinfo, tree)
    return dissect(tvb, pinfo, tree)
end

local function heuristic(tvb, pinfo, tree)
    if not medledger.prefs.heuristic then return false end
    if tvb:len() < HEADER_LENGTH then return false end
    if header_problem(tvb:raw(0, HEADER_LENGTH)) then return false end
    pinfo.conversation = medledger
    dissect(tvb, pinfo, tree)
    return true
end

local registered_ports = nil
local function register_ports()
    local tcp_port = DissectorTable.get("tcp.port")
    if registered_ports and registered_ports ~= "" then tcp_port:remove(registered_ports, medledger) end
    registered_ports = medledger.prefs.ports
    if registered_ports and registered_ports ~= "" then tcp_port:add(registered_ports, medledger) end
end

function medledger.prefs_changed()
    register_ports()
end

register_ports()
medledger:register_heuristic("tcp", heuristic)

-- For tests outside Wireshark (a host Lua with stubs for the Wireshark API): the pure parts.
if MEDLEDGER_LUA_TEST then
    MEDLEDGER_LUA_TEST.crc32, MEDLEDGER_LUA_TEST.gcm_open = crc32, gcm_open
    MEDLEDGER_LUA_TEST.inflate_payload, MEDLEDGER_LUA_TEST.valid_utf8 = inflate_payload, valid_utf8
end
