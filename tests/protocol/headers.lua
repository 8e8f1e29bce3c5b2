-- headers.lua: header rules see each header; header edits and quarantine
-- are applied at end of message; deletes go from the last copy down.
-- miltertest offers SMFIP_HDR_LEADSPC and mxguard takes it: header values
-- come as they were after the colon (rules see them without the leading
-- whitespace) and the values of headers mxguard adds carry their own
-- space; an MTA that does not offer it adds that space itself.

dofile(srcdir .. "/tests/protocol/common.lua")

local function message(ip, headers, steps)
    local conn = mt.connect(sock, 40, 0.25)
    if steps ~= nil then
        -- Debian's miltertest reads (conn, version, steps, actions).
        check(mt.negotiate(conn, 6, steps, nil) == nil, "negotiated steps " .. steps)
    end
    mt.conninfo(conn, "client.example", ip)
    check(not mt.test_option(conn, SMFIP_NOHDRS), "header step taken")
    mt.mailfrom(conn, "<a@outside.example>")
    mt.rcptto(conn, "<u@example.org>")
    for _, h in ipairs(headers) do
        mt.header(conn, h[1], h[2])
    end
    return conn
end

-- Steps the filter negotiated away must not be sent.
local function finish(conn)
    if not mt.test_option(conn, SMFIP_NOEOH) then mt.eoh(conn) end
    if not mt.test_option(conn, SMFIP_NOBODY) then mt.bodystring(conn, "body\r\n") end
    mt.eom(conn)
end

local function main()
    local conn = message("203.0.113.4", {
        { "Subject", "hello" },
        { "X-Internal-Secret", "one" },
        { "X-Spam-Flag", "YES" },
        { "X-Internal-Secret", "two" },
    })
    check(mt.test_option(conn, 0x100000), "SMFIP_HDR_LEADSPC taken where offered")
    finish(conn)
    check(mt.getreply(conn) == SMFIR_CONTINUE, "message continues")
    check(mt.eom_check(conn, MT_HDRADD, "X-Gateway", " checked for 203.0.113.4"),
          "stamp header added, with its space after the colon")
    check(mt.eom_check(conn, MT_HDRDELETE, "X-Internal-Secret"), "secret header deleted")
    check(mt.eom_check(conn, MT_QUARANTINE, "spam flag from 203.0.113.4"), "quarantined with the reason")
    mt.disconnect(conn)

    conn = message("127.0.0.1", { { "X-Internal-Secret", "kept" } })
    finish(conn)
    check(mt.getreply(conn) == SMFIR_CONTINUE, "internal message continues")
    check(not mt.eom_check(conn, MT_HDRDELETE, "X-Internal-Secret"), "a tag set at connect keeps the secret")
    check(not mt.eom_check(conn, MT_QUARANTINE), "no quarantine without the spam flag")
    mt.disconnect(conn)

    -- As postfix and sendmail pass "X-Spam-Flag:  \tYES" with SMFIP_HDR_LEADSPC:
    -- the rule compares the value without its leading whitespace.
    conn = message("203.0.113.4", { { "X-Spam-Flag", "  \tYES" } })
    finish(conn)
    check(mt.getreply(conn) == SMFIR_CONTINUE, "leading whitespace: message continues")
    check(mt.eom_check(conn, MT_QUARANTINE, "spam flag from 203.0.113.4"),
          "leading whitespace: the header rule matched \"YES\"")
    mt.disconnect(conn)

    -- An MTA without SMFIP_HDR_LEADSPC (sendmail before 8.14) adds the space itself.
    conn = message("203.0.113.4", { { "Subject", "hello" } }, 0x0FFFFF)
    check(not mt.test_option(conn, 0x100000), "SMFIP_HDR_LEADSPC not taken when not offered")
    finish(conn)
    check(mt.getreply(conn) == SMFIR_CONTINUE, "no SMFIP_HDR_LEADSPC: message continues")
    check(mt.eom_check(conn, MT_HDRADD, "X-Gateway", "checked for 203.0.113.4"),
          "no SMFIP_HDR_LEADSPC: stamp header added without a space of ours")
    mt.disconnect(conn)

    conn = message("203.0.113.5", { { "Content-Type", "application/octet-stream; name=\"evil.exe\"" } })
    check(mt.getreply(conn) == SMFIR_REPLYCODE, "a header rule rejects the message")
    mt.disconnect(conn)
end

run(main)
