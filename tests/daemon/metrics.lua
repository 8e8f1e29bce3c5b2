-- metrics.lua: driven by metrics.sh: n sessions, each one message to a
-- recipient the rules refuse and one they let through, then disconnect.
-- Globals from -D: sock, srcdir, n.

dofile(srcdir .. "/tests/protocol/common.lua")

local function main()
    for i = 1, tonumber(n) do
        local conn = mt.connect(sock, 40, 0.25)
        mt.conninfo(conn, "client.example", "203.0.113.60")
        mt.mailfrom(conn, "<a@outside.example>")
        mt.rcptto(conn, "<victim@elsewhere.example>")
        check(mt.getreply(conn) == SMFIR_REPLYCODE, "session " .. i .. ": relay refused")
        mt.rcptto(conn, "<user@example.org>")
        check(mt.getreply(conn) == SMFIR_CONTINUE, "session " .. i .. ": local recipient taken")
        mt.disconnect(conn)
    end
end

run(main)
