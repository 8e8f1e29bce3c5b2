-- relay.lua: anti-relay verdicts over the milter protocol, against the
-- real daemon on the shipped gateway rules. Run by run_miltertest.sh with
-- -D sock=unix:/path.

local function check(cond, what)
    if not cond then
        error("FAILED: " .. what, 2)
    end
    print("ok - " .. what)
end

local function expect(conn, want, what)
    local got = mt.getreply(conn)
    check(got == want, what)
    if got ~= want then print("# got " .. tostring(got) .. ", want " .. tostring(want)) end
end

local function session(ip, macros_mail)
    local conn = mt.connect(sock, 40, 0.25)
    check(conn ~= nil, "connect to " .. sock)
    -- Pass the IP, never a name: a name would go through the system resolver.
    mt.conninfo(conn, "client.example", ip)
    if mt.test_option(conn, SMFIP_NOHELO) == false then
        mt.helo(conn, "client.example")
    end
    if macros_mail ~= nil then
        mt.macro(conn, SMFIC_MAIL, table.unpack(macros_mail))
    end
    mt.mailfrom(conn, "<sender@outside.example>")
    return conn
end

local function main()
    -- 1. An outside client may not relay.
    local conn = session("203.0.113.7")
    -- The gateway rules verify DKIM: headers and body are taken, but
    -- without a reply, so the MTA streams them.
    check(not mt.test_option(conn, SMFIP_NOHDRS), "header step taken (DKIM)")
    check(mt.test_option(conn, SMFIP_NR_HDR), "header step takes no reply")
    check(not mt.test_option(conn, SMFIP_NOBODY), "body step taken (DKIM)")
    check(mt.test_option(conn, SMFIP_NR_BODY), "body step takes no reply")
    check(mt.test_option(conn, SMFIP_NR_CONN), "connect step takes no reply")
    mt.rcptto(conn, "<victim@elsewhere.example>")
    expect(conn, SMFIR_REPLYCODE, "outside client relaying is rejected with our reply")
    -- 2. ... but may mail our own domains, in any case.
    mt.rcptto(conn, "<user@EXAMPLE.ORG>")
    expect(conn, SMFIR_CONTINUE, "outside client to a local domain continues")
    -- 3. Percent hack through a local domain is refused.
    mt.rcptto(conn, "<victim%elsewhere.example@example.org>")
    expect(conn, SMFIR_REPLYCODE, "percent-hack recipient is rejected")
    -- 4. Source route through a local domain is refused.
    mt.rcptto(conn, "<@example.org:victim@elsewhere.example>")
    expect(conn, SMFIR_REPLYCODE, "source-routed recipient is rejected")
    -- 5. A subdomain is not a local domain with 'in'.
    mt.rcptto(conn, "<user@sub.example.org>")
    expect(conn, SMFIR_REPLYCODE, "subdomain of a local domain is not local")
    mt.disconnect(conn)

    -- 6. A trusted client (IPv4 loopback) may relay.
    conn = session("127.0.0.1")
    mt.rcptto(conn, "<someone@elsewhere.example>")
    expect(conn, SMFIR_CONTINUE, "trusted IPv4 client may relay")
    mt.disconnect(conn)

    -- 7. A trusted client over IPv6.
    conn = session("::1")
    mt.rcptto(conn, "<someone@elsewhere.example>")
    expect(conn, SMFIR_CONTINUE, "trusted IPv6 client may relay")
    mt.disconnect(conn)

    -- 8. An authenticated client may relay from anywhere.
    conn = session("198.51.100.20", { "{auth_authen}", "alice", "{auth_type}", "PLAIN" })
    mt.rcptto(conn, "<someone@elsewhere.example>")
    expect(conn, SMFIR_CONTINUE, "authenticated client may relay")
    mt.disconnect(conn)

    -- 9. Aborted mid-transaction, then a second message on the same
    --    connection: state is reset at MAIL, verdicts stay right.
    conn = session("203.0.113.8")
    mt.rcptto(conn, "<user@example.net>")
    expect(conn, SMFIR_CONTINUE, "first message: local recipient continues")
    mt.abort(conn)
    mt.mailfrom(conn, "<other@outside.example>")
    mt.rcptto(conn, "<victim@elsewhere.example>")
    expect(conn, SMFIR_REPLYCODE, "after abort: relay still rejected")
    mt.rcptto(conn, "<user@example.net>")
    expect(conn, SMFIR_CONTINUE, "after abort: local recipient continues")
    mt.abort(conn)
    mt.disconnect(conn)

    -- 10. A connection dropped in the middle of a transaction (no abort, no
    --     quit) must not hurt the daemon: a new session still works.
    conn = session("203.0.113.9")
    mt.rcptto(conn, "<user@example.org>")
    expect(conn, SMFIR_CONTINUE, "before the drop: local recipient continues")
    mt.disconnect(conn, true)
    conn = session("203.0.113.9")
    mt.rcptto(conn, "<victim@elsewhere.example>")
    expect(conn, SMFIR_REPLYCODE, "after a dropped session: daemon still answers")
    mt.disconnect(conn)
end

local ok, err = xpcall(main, debug.traceback)
if not ok then
    print(err)
    os.exit(1)
end
