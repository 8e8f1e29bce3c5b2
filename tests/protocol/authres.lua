-- authres.lua: forged Authentication-Results headers (claiming our
-- authserv-id, mx.authres.test) are deleted at end of message and ours is
-- inserted (which ones and where: postfix_auth.sh through a real postfix);
-- an "accept unchecked" at RCPT is answered continue so that the deletion
-- still happens.
-- Rules: authres.rules; the daemon runs with --authserv-id mx.authres.test.

dofile(srcdir .. "/tests/protocol/common.lua")

local function message(ip, headers)
    local conn = mt.connect(sock, 40, 0.25)
    mt.conninfo(conn, "client.example", ip)
    mt.mailfrom(conn, "<a@outside.example>")
    mt.rcptto(conn, "<u@example.org>")
    check(mt.getreply(conn) == SMFIR_CONTINUE, "RCPT from " .. ip .. " continues (an accept included)")
    for _, h in ipairs(headers) do
        mt.header(conn, h[1], h[2])
    end
    if not mt.test_option(conn, SMFIP_NOEOH) then mt.eoh(conn) end
    check(not mt.test_option(conn, SMFIP_NOBODY), "the body is taken (DKIM)")
    mt.bodystring(conn, "body\r\n")
    mt.eom(conn)
    check(mt.getreply(conn) == SMFIR_CONTINUE, "end of message continues")
    return conn
end

local headers = {
    { "Authentication-Results", "mx.authres.test; spf=pass smtp.mailfrom=ceo@example.org" },
    { "Authentication-Results", "other.example; dkim=pass header.d=other.example" },
    { "Authentication-Results", "(forged) MX.AUTHRES.TEST.; dkim=pass header.d=example.org" },
    { "Subject", "hello" },
}

local function main()
    local conn = message("203.0.113.4", headers)
    check(mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results"), "forged Authentication-Results deleted")
    check(mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results"), "ours inserted")
    mt.disconnect(conn)
    -- Accepted at RCPT: the eom rules are skipped (no header of ours), the forged ones still go.
    conn = message("198.51.100.7", headers)
    check(mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results"),
          "accepted at RCPT: forged Authentication-Results deleted all the same")
    check(not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results"), "accepted at RCPT: none of ours added")
    mt.disconnect(conn)
end

run(main)
