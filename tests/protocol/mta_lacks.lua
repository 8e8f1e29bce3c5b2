-- mta_lacks.lua: an MTA that offers neither header changes, quarantine
-- nor a say in its macros (as sendmail before 8.14 did). Rules that edit
-- headers and quarantine cannot be carried out there: the message is
-- tempfailed, never passed without them; run_miltertest.sh checks that
-- the log said why, once.

dofile(srcdir .. "/tests/protocol/common.lua")

local SMFIF_ADDRCPT = 0x04

local function session(n)
    local conn = mt.connect(sock, 40, 0.25)
    -- Debian's miltertest reads (conn, version, steps, actions), not the
    -- order its manual gives; nil steps are all of protocol 6.
    check(mt.negotiate(conn, 6, nil, SMFIF_ADDRCPT) == nil, "negotiated, session " .. n)
    mt.conninfo(conn, "client.example", "203.0.113.4")
    mt.mailfrom(conn, "<a@outside.example>")
    mt.rcptto(conn, "<u@example.org>")
    mt.header(conn, "X-Spam-Flag", "YES")
    if not mt.test_option(conn, SMFIP_NOEOH) then mt.eoh(conn) end
    if not mt.test_option(conn, SMFIP_NOBODY) then mt.bodystring(conn, "body\r\n") end
    mt.eom(conn)
    local reply = mt.getreply(conn)
    check(reply == SMFIR_REPLYCODE or reply == SMFIR_TEMPFAIL,
          "the edits cannot be made: tempfail, session " .. n)
    check(not mt.eom_check(conn, MT_HDRADD, "X-Gateway"), "no header added, session " .. n)
    mt.disconnect(conn)
end

local function main()
    session(1)
    session(2)
end

run(main)
