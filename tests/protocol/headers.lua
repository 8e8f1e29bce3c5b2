-- headers.lua: header rules see each header; header edits and quarantine
-- are applied at end of message; deletes go from the last copy down.

dofile(srcdir .. "/tests/protocol/common.lua")

local function message(ip, headers)
    local conn = mt.connect(sock, 40, 0.25)
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
    finish(conn)
    check(mt.getreply(conn) == SMFIR_CONTINUE, "message continues")
    check(mt.eom_check(conn, MT_HDRADD, "X-Gateway", "checked for 203.0.113.4"), "stamp header added")
    check(mt.eom_check(conn, MT_HDRDELETE, "X-Internal-Secret"), "secret header deleted")
    check(mt.eom_check(conn, MT_QUARANTINE, "spam flag from 203.0.113.4"), "quarantined with the reason")
    mt.disconnect(conn)

    conn = message("127.0.0.1", { { "X-Internal-Secret", "kept" } })
    finish(conn)
    check(mt.getreply(conn) == SMFIR_CONTINUE, "internal message continues")
    check(not mt.eom_check(conn, MT_HDRDELETE, "X-Internal-Secret"), "a tag set at connect keeps the secret")
    check(not mt.eom_check(conn, MT_QUARANTINE), "no quarantine without the spam flag")
    mt.disconnect(conn)

    conn = message("203.0.113.5", { { "Content-Type", "application/octet-stream; name=\"evil.exe\"" } })
    check(mt.getreply(conn) == SMFIR_REPLYCODE, "a header rule rejects the message")
    mt.disconnect(conn)
end

run(main)
