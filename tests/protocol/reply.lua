-- reply.lua: the admin's reply text, code and enhanced code reach the MTA
-- (read at end of message, where miltertest can see them), and a '%'
-- in the text is doubled for libmilter. Rules: reply.rules.

dofile(srcdir .. "/tests/protocol/common.lua")

local function message(ip, sender)
    local conn = mt.connect(sock, 40, 0.25)
    check(conn ~= nil, "connect to " .. sock)
    mt.conninfo(conn, "client.example", ip)
    mt.mailfrom(conn, sender)
    mt.rcptto(conn, "<user@example.org>")
    check(mt.getreply(conn) == SMFIR_CONTINUE, "recipient continues")
    return conn
end

local function main()
    local conn = message("192.0.2.1", "<x@BAD.example>")
    check(mt.eom(conn) == nil, "end of message sent")
    check(mt.getreply(conn) == SMFIR_REPLYCODE, "reject with a reply code")
    check(mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1",
                       "Sender <x@bad.example> refused, 100%% sure"),
          "reply text expanded, percent doubled for libmilter")
    mt.disconnect(conn)

    conn = message("2001:db8::7", "<later@ok.example>")
    mt.eom(conn)
    check(mt.getreply(conn) == SMFIR_REPLYCODE, "tempfail with a reply code")
    check(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.7.1", "Try later 2001:db8::7"),
          "tempfail reply names the IPv6 client")
    mt.disconnect(conn)

    conn = message("192.0.2.2", "<fine@ok.example>")
    mt.eom(conn)
    check(mt.getreply(conn) == SMFIR_CONTINUE, "no rule matched: continue")
    mt.disconnect(conn)
end

run(main)
