-- lazy_dns.lua: driven by lazy_dns.sh: one SMTP session from client ip
-- (connect, helo, mail, rcpt; with full=1 a message too, to the end),
-- every step answered continue. Globals from -D: sock, srcdir, ip,
-- sender, rcpt, full.

dofile(srcdir .. "/tests/protocol/common.lua")

local function step(conn, what, ok)
    check(ok == nil, what .. " sent")
    check(mt.getreply(conn) == SMFIR_CONTINUE, what .. ": continue")
end

-- A step the filter asked not to get (SMFIP_NOEOH and the like) is not sent.
local function skippable(conn, what, fn)
    local ok, err = pcall(fn, conn)
    if not ok and string.find(tostring(err), "negotiated") then
        print("skipped - " .. what .. " (" .. tostring(err) .. ")")
        return
    end
    check(ok, what .. " sent")
    step(conn, what, err)
end

local function main()
    -- An outside client's connect waits for DNS up to the budget: longer than the default 10 s would be wrong too.
    mt.set_timeout(15)
    local conn = mt.connect(sock, 40, 0.25)
    step(conn, "connect from " .. ip, mt.conninfo(conn, "client.example", ip))
    step(conn, "helo", mt.helo(conn, "client.example.org"))
    mt.macro(conn, SMFIC_MAIL, "i", "LAZY1")
    step(conn, "mail " .. sender, mt.mailfrom(conn, sender))
    step(conn, "rcpt " .. rcpt, mt.rcptto(conn, rcpt))
    if full == "1" then
        step(conn, "header From", mt.header(conn, "From", "User <user@example.org>"))
        step(conn, "header Subject", mt.header(conn, "Subject", "lazy DNS"))
        skippable(conn, "eoh", mt.eoh)
        step(conn, "body", mt.bodystring(conn, "hello\r\n"))
        step(conn, "eom", mt.eom(conn))
    end
    mt.disconnect(conn)
end

run(main)
