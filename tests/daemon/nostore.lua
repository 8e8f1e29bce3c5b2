-- nostore.lua: driven by reload.sh after a reload brought the first
-- greylist rule into a filter that opened no state store: two sessions
-- are not greylisted (the check is skipped, never a crash or a tempfail
-- of everything); reload.sh checks that the log said so once.

dofile(srcdir .. "/tests/protocol/common.lua")

local function main()
    for i = 1, 2 do
        local conn = mt.connect(sock, 40, 0.25)
        mt.conninfo(conn, "client.example", "203.0.113.51")
        mt.mailfrom(conn, "<a@outside.example>")
        mt.rcptto(conn, "<user@example.org>")
        check(mt.getreply(conn) == SMFIR_CONTINUE, "session " .. i .. ": greylisting skipped without a store")
        mt.disconnect(conn)
    end
end

run(main)
