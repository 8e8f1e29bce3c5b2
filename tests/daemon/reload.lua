-- reload.lua: driven by reload.sh. A session that started before a reload
-- keeps the rules it started with; a new session gets the new rules.
-- Globals from -D: sock, reload_cmd (a shell command that swaps the rule
-- file, signals the daemon and waits for the reload to be logged), want
-- ("old" or "new": what a new session must see after the reload).

dofile(srcdir .. "/tests/protocol/common.lua")

local function open()
    local conn = mt.connect(sock, 40, 0.25)
    mt.conninfo(conn, "client.example", "203.0.113.50")
    mt.mailfrom(conn, "<a@outside.example>")
    return conn
end

local function relay(conn)
    mt.rcptto(conn, "<victim@elsewhere.example>")
    return mt.getreply(conn)
end

local function main()
    local early = open()
    local first = relay(early)
    print("# first reply: " .. tostring(first))
    check(first == SMFIR_REPLYCODE, "before the reload: relay rejected")
    check(os.execute(reload_cmd), "rule file swapped and reload signalled")
    check(relay(early) == SMFIR_REPLYCODE, "session under way keeps the rules it started with")
    mt.disconnect(early)
    local late = open()
    local got = relay(late)
    if want == "new" then
        check(got == SMFIR_CONTINUE, "new session after a good reload: new rules")
    else
        check(got == SMFIR_REPLYCODE, "new session after a broken reload: old rules still serve")
    end
    mt.disconnect(late)
end

run(main)
