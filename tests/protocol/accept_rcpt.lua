-- accept_rcpt.lua: "accept" at RCPT is per recipient. A local recipient
-- accepted first must not open the relay for the next one, and the
-- message's own rules still run at end of message. Rules: accept_rcpt.rules.

dofile(srcdir .. "/tests/protocol/common.lua")

local function main()
    local conn = mt.connect(sock, 40, 0.25)
    check(conn ~= nil, "connect to " .. sock)
    mt.conninfo(conn, "client.example", "203.0.113.9")
    mt.mailfrom(conn, "<someone@outside.example>")
    mt.rcptto(conn, "<user@example.org>")
    check(mt.getreply(conn) == SMFIR_CONTINUE, "local recipient accepted: answered continue, not accept")
    mt.rcptto(conn, "<victim@elsewhere.example>")
    check(mt.getreply(conn) == SMFIR_REPLYCODE, "the next recipient, elsewhere: relay refused")
    mt.rcptto(conn, "<other@example.org>")
    check(mt.getreply(conn) == SMFIR_CONTINUE, "another local recipient: continue")
    -- The rules read no header or body: those steps were negotiated away.
    mt.eom(conn)
    -- miltertest offers SMFIP_HDR_LEADSPC: the value carries its space after the colon.
    check(mt.eom_check(conn, MT_HDRADD, "X-Checked", " yes"), "end of message rules still ran")
    mt.disconnect(conn)
end

run(main)
