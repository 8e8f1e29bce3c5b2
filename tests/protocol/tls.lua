-- tls.lua: facts that come from MTA macros (TLS, any macro by name) reach
-- the rules; the daemon asks for them at negotiation. Rules: tls.rules.

dofile(srcdir .. "/tests/protocol/common.lua")

local function rcpt(macros, to)
    local conn = mt.connect(sock, 40, 0.25)
    mt.conninfo(conn, "client.example", "192.0.2.10")
    mt.mailfrom(conn, "<a@outside.example>")
    if macros ~= nil then
        mt.macro(conn, SMFIC_RCPT, table.unpack(macros))
    end
    mt.rcptto(conn, to)
    local got = mt.getreply(conn)
    mt.disconnect(conn)
    return got
end

local function main()
    check(rcpt(nil, "<u@secure.example>") == SMFIR_REPLYCODE, "no TLS: refused")
    check(rcpt({ "{tls_version}", "TLSv1.3", "{cipher_bits}", "256" }, "<u@secure.example>") == SMFIR_CONTINUE,
          "TLSv1.3 with 256-bit cipher: continues")
    check(rcpt({ "{tls_version}", "TLSv1", "{cipher_bits}", "56" }, "<u@other.example>") == SMFIR_REPLYCODE,
          "56-bit cipher: refused")
    check(rcpt({ "{daemon_name}", "internal" }, "<u@other.example>") == SMFIR_CONTINUE,
          "any macro by name: continues")
end

run(main)
