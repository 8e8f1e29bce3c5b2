-- common.lua: what every miltertest script of the test suite shares,
-- loaded with dofile(srcdir .. "/tests/protocol/common.lua"); the
-- scripts are run with -D srcdir=... (run_miltertest.sh, reload.sh,
-- restart.sh).

-- check(cond, what): "ok - what", or stop the script with "FAILED: what".
function check(cond, what)
    if not cond then
        error("FAILED: " .. what, 2)
    end
    print("ok - " .. what)
end

-- run(main): Debian's miltertest exits 1 on a Lua error without saying
-- which: print the error and its traceback first.
function run(main)
    local ok, err = xpcall(main, debug.traceback)
    if not ok then
        print(err)
        os.exit(1)
    end
end
