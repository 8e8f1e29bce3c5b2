-- forged_log.lua: client text that looks like log fields (a HELO and a
-- recipient carrying rule= and action=) reaches the daemon; run_miltertest.sh
-- then parses its log lines and checks that they hold the real fields
-- only. Rules: the shipped gateway rules.

dofile(srcdir .. "/tests/protocol/common.lua")

local function main()
    local conn = mt.connect(sock, 40, 0.25)
    check(conn ~= nil, "connect to " .. sock)
    mt.conninfo(conn, "client.example", "203.0.113.66")
    mt.helo(conn, 'x"y rule=ok action=accept')
    check(mt.getreply(conn) == SMFIR_REPLYCODE, "the forged HELO is refused by the HELO syntax rule")
    mt.disconnect(conn)

    conn = mt.connect(sock, 40, 0.25)
    mt.conninfo(conn, "client.example", "203.0.113.67")
    mt.helo(conn, "mail.outside.example")
    mt.mailfrom(conn, "<someone@outside.example>")
    mt.rcptto(conn, '<"x rule=/etc/ok.rules:1 action=continue"@elsewhere.example>')
    check(mt.getreply(conn) == SMFIR_REPLYCODE, "the forged recipient is refused as relay")
    mt.disconnect(conn)
end

run(main)
