/*
 * test_rules_load.c: every message the loader gives past the syntax
 * (rules/, through ruleset_load).
 *
 * (b) BAD: one case per message of the grammar's actions, includes, list
 *     entries, the compiler (facts, lists, labels, replies) and the rule
 *     file's own tests, each asserting the exact "file:line:col: message"
 *     lines and the error and warning counts; a file with three separate
 *     mistakes; the "can never match" warning, which alone does not fail
 *     the load. Then the loader's limits: missing and irregular files,
 *     long list lines, the cap on messages, too many tags, levels of
 *     include; and loading from memory.
 *
 * Lexer and grammar messages, "did you mean" and unclosed blocks:
 * test_rules_syntax.c. Tests named BUG_... expose a bug in the code under
 * test (see the comment above each); they fail until the bug is fixed.
 */
#include "rules_helpers.h"

#define X10 "xxxxxxxxxx"
#define X100 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
#define X970 X100 X100 X100 X100 X100 X100 X100 X100 X100 X10 X10 X10 X10 X10 X10 X10
#define L4 "\"l\" \"l\" \"l\" \"l\" "
#define L32 L4 L4 L4 L4 L4 L4 L4 L4
#define S100 "\"" X100 "\" "
#define S900 S100 S100 S100 S100 S100 S100 S100 S100 S100

static const struct bad_case bad_cases[] = {
    /* Grammar actions. */
    { "list_already_defined", "list a networks { 10.0.0.0/8 };\nlist a domains { example.org };\n",
      NULL, NULL, NULL, 1, 0, { { NULL, 2, 6, "list <a> is already defined at @FILE@:1" } } },
    { "list_missing_file", "list foo networks file \"missing.list\";\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 24, "cannot read list file \"missing.list\": No such file or directory" } } },
    { "list_file_not_regular", "list foo networks file \".\";\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 24, "cannot read list file \".\": not a regular file" } } },
    { "list_number_entry", "list foo networks { 10 };\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 21, "expected a network, domain or address, found number 10" } } },
    { "reply_code_not_3_digits", "on rcpt { reject 5544 5.7.1 \"x\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 18, "expected a 3-digit SMTP reply code, found 5544" } } },
    { "reply_code_too_small", "on rcpt { reject 55 5.7.1 \"x\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 18, "expected a 3-digit SMTP reply code, found 55" } } },
    { "reply_xcode_too_long", "on rcpt { reject 554 5.7.1.11111111 \"x\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 22, "expected an enhanced status code like 5.7.1, found \"5.7.1.11111111\"" } } },
    { "reply_xcode_missing", "on rcpt { reject 554 \"x\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 22, "expected an enhanced status code like 5.7.1 after the reply code" } } },
    /* A far-off stage name: test_rules_syntax.c, typo_stage_far_off. */
    { "unknown_stage", "on rcpt2 { reject; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 4, "unknown stage \"rcpt2\": did you mean \"rcpt\"?" } } },
    { "invalid_regex", "on rcpt { reject if helo ~ \"a(b\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 32, "invalid regular expression: missing closing parenthesis" } } },
    { "undefined_macro", "on rcpt { reject 554 5.7.1 $nope; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 28, "undefined macro $nope: expected 'define nope \"...\";' before its first use" } } },
    { "macro_already_defined", "define a \"x\";\ndefine a \"y\";\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 2, 8, "macro $a is already defined at @FILE@:1" } } },

    /* clamd { }: the virus scanner's on-error, once per rule set. */
    { "clamd_on_error_value", "clamd { on-error maybe; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 9, "clamd: expected on-error skip or tempfail, found \"maybe\"" } } },
    { "clamd_unknown_setting", "clamd { timeout 5; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 9, "clamd: expected on-error, found \"timeout\"" } } },
    { "clamd_twice", "clamd { on-error skip; }\nclamd { on-error tempfail; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 2, 1, "clamd settings are given once: a 'clamd { ... }' block came before" } } },

    /* Includes. */
    { "include_itself", "include \"include_itself.rules\";\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 9, "include \"include_itself.rules\" includes itself (through @FILE@)" } } },
    { "include_cycle", "include \"cycle-b.rules\";\n", NULL, "cycle-b.rules",
      "\n\ninclude \"include_cycle.rules\";\n", 1, 0,
      { { "cycle-b.rules", 3, 9, "include \"include_cycle.rules\" includes itself (through @FILE@)" } } },
    { "include_missing", "\ninclude \"missing.rules\";\n", NULL, NULL, NULL, 2, 0,
      { { NULL, 0, 0, "@DIR@/missing.rules: cannot open: No such file or directory" },
        { NULL, 2, 9, "cannot include \"missing.rules\"" } } },
    { "include_reports_its_own_mistakes", "include \"included.rules\";\non rcpt { reject; }\n", NULL,
      "included.rules", "on rcpt {\n    accept if nope;\n}\n", 1, 0,
      { { "included.rules", 2, 15, "unknown fact \"nope\" (mxguard.rules(5) lists the facts)" } } },

    /* List entries, inline and from a list file. */
    { "list_entry_host_bits", "list n networks { \"10.1.2.3/8\" };\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 19, "list <n>: \"10.1.2.3/8\": host bits set below the prefix length" } } },
    { "list_entry_dot_domain", "list d domains { \".example.org\" };\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 18,
          "list <d>: \".example.org\": a domain entry starts with '.': write the domain itself "
          "and test it with 'under' to match its subdomains" } } },
    { "list_entry_bad_domain", "list d domains { exa_mple.org };\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 18, "list <d>: \"exa_mple.org\": invalid character in domain" } } },
    { "list_entry_null_address", "list a addresses { \"<>\" };\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 20, "list <a>: \"<>\": expected a mail address, found <>: test sender.null instead" } } },
    { "list_entry_bad_address", "list a addresses { \"user@\" };\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 20, "list <a>: \"user@\": empty domain" } } },
    { "list_file_entries", NULL, "bad-entries.rules", NULL, NULL, 3, 0,
      { { "bad-entries.list", 3, 3, "list <nets>: \"10.1.2.3/8\": host bits set below the prefix length" },
        { "bad-entries.list", 4, 2, "list <nets>: \"2001:db8::/129\": IPv6 prefix length must be 0 to 128" },
        { "bad-entries.list", 7, 1,
          "list <nets>: \"example.org\": expected an IPv4 or IPv6 address or network" } } },
    { "list_file_relative_to_rule_file", "list d domains file \"domains.list\";\n", NULL,
      "domains.list", "example.org\n\n  -bad.example\n", 1, 0,
      { { "domains.list", 3, 3, "list <d>: \"-bad.example\": domain label starts with a hyphen" } } },

    /* Compiler: facts, lists, labels. */
    /* Sender authentication: result words, and effects at stages where they mean something. */
    { "spf_result_typo", "on mail { reject if spf.result = \"fial\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 21, "fact \"spf.result\" is a result: expected one of \"pass\", \"fail\", \"softfail\", "
                       "\"neutral\", \"none\", \"policy\", \"temperror\", \"permerror\", found \"fial\"" } } },
    { "dkim_result_number", "on eom { reject if dkim.result = 1; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 20, "fact \"dkim.result\" is of type result: compare it with a quoted string" } } },
    { "dkim_before_eom", "on rcpt { reject if dkim.result = \"fail\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 21, "fact \"dkim.result\" is not known yet at stage rcpt; it is known from stage eom on" } } },
    { "authres_not_at_eom", "on rcpt { authentication-results; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 11, "authentication-results reports DKIM, known at end of message: expected it at stage eom" } } },
    { "received_spf_at_helo", "on helo { received-spf; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 11, "received-spf needs the sender: expected it at stage mail or later" } } },
    { "unknown_fact", "on rcpt { reject if foo.bar; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 21, "unknown fact \"foo.bar\" (mxguard.rules(5) lists the facts)" } } },
    { "fact_not_known_yet", "on connect { reject if authenticated; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 24,
          "fact \"authenticated\" is not known yet at stage connect; it is known from stage mail on" } } },
    { "fact_not_a_condition", "on rcpt { reject if recipient.domain; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 21,
          "fact \"recipient.domain\" is of type domain, not a condition: expected 'in <list>', "
          "'=' or '!=' after it" } } },
    { "unknown_list", "on rcpt { reject if recipient.domain in <nope>; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 21, "unknown list <nope>: expected the name of a list declared with 'list'" } } },
    { "list_type_mismatch",
      "list n networks { 10.0.0.0/8 };\non rcpt { reject if recipient.domain in <n>; }\n", NULL, NULL,
      NULL, 1, 0,
      { { NULL, 2, 21, "list <n> holds networks, but fact \"recipient.domain\" is of type domain" } } },
    { "under_needs_domains",
      "list n networks { 10.0.0.0/8 };\non rcpt { reject if client.address under <n>; }\n", NULL,
      NULL, NULL, 1, 0,
      { { NULL, 2, 21,
          "'under' matches domains and their subdomains: expected a domain fact and a domains list" } } },
    { "compare_address_fact", "on rcpt { reject if client.address = \"192.0.2.1\"; }\n", NULL, NULL,
      NULL, 1, 0,
      { { NULL, 1, 21, "fact \"client.address\" is of type address: compare it with 'in <list>'" } } },
    { "compare_boolean_fact", "on rcpt { reject if authenticated != \"yes\"; }\n", NULL, NULL, NULL,
      1, 0,
      { { NULL, 1, 21,
          "fact \"authenticated\" is of type boolean: compare it with nothing ('if fact' or 'if not fact')" } } },
    { "compare_number_fact_with_string", "on rcpt { reject if recipient.count = \"3\"; }\n", NULL, NULL,
      NULL, 1, 0,
      { { NULL, 1, 21, "fact \"recipient.count\" is of type number: compare it with a number" } } },
    { "compare_string_fact_with_number", "on rcpt { reject if recipient.local > 3; }\n", NULL, NULL,
      NULL, 1, 0,
      { { NULL, 1, 21, "fact \"recipient.local\" is of type string: compare it with a quoted string" } } },
    { "regex_on_boolean", "on rcpt { reject if authenticated ~ \"x\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 21,
          "fact \"authenticated\" is of type boolean: a regular expression matches text facts only" } } },
    { "label_already_used",
      "on rcpt {\n    [local] continue if recipient.domain = \"example.org\";\n    [local] reject;\n}\n",
      NULL, NULL, NULL, 1, 0,
      { { NULL, 3, 5, "label [local] is already used by the rule at @FILE@:2" } } },
    { "fact_of_one_recipient_only", "on data {\n    reject if recipient.local = \"x\";\n}\n", NULL,
      NULL, NULL, 1, 0,
      { { NULL, 2, 15, "fact \"recipient.local\" describes one recipient: it is known at stage rcpt only" } } },
    { "mta_macro_name", "on rcpt { reject if macro \"{bad name}\" = \"x\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 21, "expected a macro name like \"{tls_version}\" or \"j\", found \"{bad name}\"" } } },
    { "tag_never_set", "on rcpt { reject if tagged foo; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 21, "tag \"foo\" is never set: expected a rule 'tag foo' somewhere" } } },
    { "header_name", "on eom { add-header \"X Bad\" \"v\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 10,
          "expected a header name (printable, no ':' or space, at most 64 bytes), found \"X Bad\"" } } },
    { "header_value_too_long", "on eom { add-header \"X-Long\" \"" X970 X10 X10 "xxxxxxxxx\"; }\n", NULL,
      NULL, NULL, 1, 0, { { NULL, 1, 10, "expected one line of at most 998 bytes" } } },
    { "list_entry_bad_regex", "list r regexes { \"a(\" };\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 18, "list <r>: \"a(\": missing closing parenthesis" } } },
    { "warn_with_continue", "on rcpt { warn continue; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 16,
          "'warn' goes with accept, reject, tempfail, discard or quarantine: it logs what that would have done" } } },
    { "warn_with_an_edit", "on eom { warn add-header \"X-A\" \"v\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 15,
          "'warn' goes with accept, reject, tempfail, discard or quarantine: it logs what that would have done" } } },
    { "discard_too_early", "on connect { discard; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 14, "discard needs a message: expected it at stage mail or later" } } },

    /* Compiler: replies. */
    { "reply_with_accept", "on rcpt { accept 250 2.0.0 \"ok\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 18, "a reply is allowed only with reject, tempfail and greylist" } } },
    { "reply_code_class", "on rcpt { tempfail 554 5.7.1 \"x\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 20,
          "expected a 4xx reply code for tempfail, found 554 (libmilter ignores a mismatched code)" } } },
    { "reply_xcode_class", "on rcpt { reject 554 4.7.1 \"x\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 18,
          "expected an enhanced status code 5.X.Y (RFC 3463) to go with 554, found \"4.7.1\"" } } },
    { "reply_xcode_malformed", "on rcpt { reject 554 5.7 \"x\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 18,
          "expected an enhanced status code 5.X.Y (RFC 3463) to go with 554, found \"5.7\"" } } },
    { "reply_line_too_long", "on rcpt { reject 554 5.7.1 \"" X970 "x\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 18, "a reply line is 971 bytes; a line holds at most 970" } } },
    { "reply_line_longest", "on rcpt { reject 554 5.7.1 \"" X970 "\"; }\n", NULL, NULL, NULL, 0, 0,
      { { NULL, 0, 0, NULL } } },
    { "reply_too_many_lines", "on rcpt { reject 554 5.7.1 " L32 "\"l\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 18, "reply has 33 lines; at most 32" } } },
    { "reply_most_lines", "on rcpt { reject 554 5.7.1 " L32 "; }\n", NULL, NULL, NULL, 0, 0,
      { { NULL, 0, 0, NULL } } },
    { "reply_lines_too_long_together", "on rcpt { reject 554 5.7.1 " S900 "; }\n", NULL, NULL, NULL,
      1, 0,
      { { NULL, 1, 18, "the reply's lines add up to 908 bytes; at most 890 with 9 lines" } } },
    { "reply_lone_percent", "on rcpt { reject 554 5.7.1 \"100% sure\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 18,
          "reply text has a lone '%': write %% for a percent sign or %{fact} to insert a fact" } } },
    { "reply_unterminated_reference", "on rcpt { reject 554 5.7.1 \"%{recipient\"; }\n", NULL, NULL,
      NULL, 1, 0,
      { { NULL, 1, 18,
          "reply text has a lone '%': write %% for a percent sign or %{fact} to insert a fact" } } },
    { "reply_unknown_fact", "on rcpt { reject 554 5.7.1 \"%{nope}\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 18, "unknown fact \"nope\" (mxguard.rules(5) lists the facts)" } } },
    { "reply_fact_not_known_yet", "on helo { reject 554 5.7.1 \"%{sender}\"; }\n", NULL, NULL, NULL,
      1, 0,
      { { NULL, 1, 18,
          "fact \"sender\" is not known yet at stage helo; it is known from stage mail on" } } },

    /* The rule file's own tests: syntax of steps, and failed expectations. */
    { "test_step_option", "on rcpt { reject; }\ntest \"t\" {\n    client 192.0.2.1 nick \"x\";\n}\n",
      NULL, NULL, NULL, 1, 0,
      { { NULL, 3, 22, "expected a step option 'name' or 'auth', found \"nick\"" } } },
    { "test_step_kind", "on rcpt { reject; }\ntest \"t\" {\n    client 192.0.2.1;\n    deliver \"x\";\n}\n",
      NULL, NULL, NULL, 1, 0,
      { { NULL, 4, 5, "expected a test step (client, helo, mail, rcpt, data, header, eoh, body, message, eom, "
                      "rset, dns, dns-fail, macro, authserv-id, enable, store, later, added or removed), found \"deliver\"" } } },
    { "test_step_typo", "on rcpt { reject; }\ntest \"t\" {\n    client 192.0.2.1;\n    mial \"<a@b.example>\";\n}\n",
      NULL, NULL, NULL, 1, 0, { { NULL, 4, 5, "unknown test step \"mial\": did you mean \"mail\"?" } } },
    { "test_step_arguments", "on rcpt { reject; }\ntest \"t\" {\n    client 192.0.2.1;\n    eom \"now\";\n}\n",
      NULL, NULL, NULL, 1, 0, { { NULL, 4, 5, "expected eom" } } },
    { "test_setting_takes_no_expect",
      "on rcpt { reject; }\ntest \"t\" {\n    client 192.0.2.1;\n    later 60 expect continue;\n}\n",
      NULL, NULL, NULL, 1, 0, { { NULL, 4, 14, "a later step takes no 'expect': it only sets up the test" } } },
    { "test_later_seconds", "on rcpt { reject; }\ntest \"t\" {\n    client 192.0.2.1;\n    later soon;\n}\n",
      NULL, NULL, NULL, 1, 0, { { NULL, 4, 11, "expected seconds from 0 to 316224000, found \"soon\"" } } },
    { "test_message_file_missing",
      "on rcpt { reject; }\ntest \"t\" {\n    client 192.0.2.1;\n    mail \"<a@b.example>\";\n"
      "    message \"no-such.eml\";\n}\n",
      NULL, NULL, NULL, 1, 0, { { NULL, 5, 13, "cannot read \"no-such.eml\": No such file or directory" } } },
    { "test_bad_dns_record",
      "on rcpt { reject if rdns.none; }\ntest \"t\" {\n    dns \"x.example. TXX 1\";\n    client 192.0.2.1;\n}\n",
      NULL, NULL, NULL, 1, 0,
      { { NULL, 3, 5, "test \"t\": its DNS: a DNS record could not be read (a record is written \"name. TYPE "
                      "data\", e.g. \"example.org. TXT \\\"v=spf1 -all\\\"\")" } } },
    { "test_enable_needs_a_label",
      "on rcpt { [r] reject if recipient.local = \"x\"; }\ntest \"t\" {\n    enable q;\n    client 192.0.2.1;\n}\n",
      NULL, NULL, NULL, 1, 0, { { NULL, 3, 5, "test \"t\": enable q: expected the label of a rule" } } },
    { "test_macro_step",
      "on connect { [tls] reject if not macro \"{tls_version}\" ~ \"^TLSv1\\\\.3$\"; }\n"
      "test \"t\" {\n    macro \"{tls_version}\" \"TLSv1.2\";\n    client 192.0.2.1 expect continue;\n}\n",
      NULL, NULL, NULL, 1, 0,
      { { NULL, 4, 22, "test \"t\": client 192.0.2.1: expected continue, got reject 550 by tls (@FILE@:1)" } } },
    /* The zone file beside the rule file is what the test's DNS answers: the
       client has a name, so the expectation written here is wrong. */
    { "test_dns_file",
      "on connect { [no-ptr] reject if rdns.none; }\n"
      "test \"t\" {\n    dns file \"test.zone\";\n    client 192.0.2.1 expect reject by no-ptr;\n}\n",
      NULL, "test.zone",
      "; the test's DNS\n1.2.0.192.in-addr.arpa. PTR mx.example.org.\nmx.example.org. A 192.0.2.1\n", 1, 0,
      { { NULL, 4, 22, "test \"t\": client 192.0.2.1: expected reject by no-ptr, got continue 250 by default" } } },
    { "test_added_needs_eom",
      "on eom { add-header \"X-A\" \"1\"; }\ntest \"t\" {\n    client 192.0.2.1;\n    added \"X-A\";\n}\n",
      NULL, NULL, NULL, 1, 0, { { NULL, 4, 5, "test \"t\": added: expected an 'eom' step before it" } } },
    { "test_added_value",
      "on eom { add-header \"X-A\" \"1\"; }\ntest \"t\" {\n    client 192.0.2.1;\n    mail \"<a@b.example>\";\n"
      "    rcpt \"<c@d.example>\";\n    eom expect continue;\n    added \"X-A\" \"2\";\n    added \"X-B\";\n}\n",
      NULL, NULL, NULL, 2, 0,
      { { NULL, 7, 5, "test \"t\": added X-A: expected \"2\", the message got \"1\"" },
        { NULL, 8, 5, "test \"t\": added X-B: the message got no such header edit" } } },
    { "test_step_options_only_on_client",
      "on rcpt { reject; }\ntest \"t\" {\n    client 192.0.2.1;\n    helo mx.example name \"x\";\n}\n",
      NULL, NULL, NULL, 1, 0, { { NULL, 4, 5, "only a client step takes 'name' and 'auth'" } } },
    { "test_client_address", "on rcpt { reject; }\ntest \"t\" {\n    client 192.0.2.300;\n}\n", NULL,
      NULL, NULL, 1, 0,
      { { NULL, 3, 5,
          "test \"t\": expected an IPv4 or IPv6 address after 'client', found \"192.0.2.300\"" } } },
    { "test_starts_with_client", "on rcpt { reject; }\ntest \"t\" {\n    helo mx.example;\n}\n", NULL,
      NULL, NULL, 1, 0, { { NULL, 2, 6, "test \"t\": expected it to start with 'client ADDRESS;'" } } },
    { "test_unknown_label",
      "on rcpt { [r] reject; }\ntest \"t\" {\n    client 192.0.2.1;\n"
      "    rcpt \"<a@b.example>\" expect reject by nosuch;\n}\n",
      NULL, NULL, NULL, 2, 0,
      { { NULL, 4, 26, "test \"t\": no rule is labelled [nosuch]" },
        { NULL, 4, 26,
          "test \"t\": rcpt <a@b.example>: expected reject by nosuch, got reject 550 by r (@FILE@:1)" } } },
    { "test_expectation_fails",
      "on rcpt {\n    [ours] continue if recipient.domain = \"example.org\";\n    reject;\n}\n"
      "test \"relay\" {\n    client 192.0.2.1;\n"
      "    rcpt \"<a@example.org>\" expect continue by ours;\n"
      "    rcpt \"<a@example.net>\" expect continue;\n"
      "    rcpt \"<a@example.net>\" expect reject 554;\n"
      "    rcpt \"<a@example.org>\" expect continue by default;\n}\n",
      NULL, NULL, NULL, 3, 0,
      { { NULL, 8, 28,
          "test \"relay\": rcpt <a@example.net>: expected continue, got reject 550 by the rule at @FILE@:3" },
        { NULL, 9, 28,
          "test \"relay\": rcpt <a@example.net>: expected reject 554, got reject 550 by the rule at @FILE@:3" },
        { NULL, 10, 28,
          "test \"relay\": rcpt <a@example.org>: expected continue by default, got continue 250 by ours (@FILE@:2)" } } },

    /* A warning alone loads; with an error it is reported too. */
    { "never_match_warning",
      "on rcpt {\n    reject;\n    continue if authenticated;\n}\n", NULL, NULL, NULL, 0, 1,
      { { NULL, 3, 5,
          "warning: this rule can never match: the rule at @FILE@:2 always decides first" } } },
    { "warning_and_error",
      "on rcpt {\n    reject;\n    accept if nope;\n}\n", NULL, NULL, NULL, 1, 1,
      { { NULL, 3, 15, "unknown fact \"nope\" (mxguard.rules(5) lists the facts)" },
        { NULL, 3, 5,
          "warning: this rule can never match: the rule at @FILE@:2 always decides first" } } },

    /* Three separate mistakes, one per phase: syntax, names, replies. */
    { "three_mistakes",
      "on rcpt {\n"
      "    reject if client.address in trusted;\n"
      "    tempfail 451 4.3.0 \"x\" if hello = \"a\";\n"
      "    accept 250 2.0.0 \"ok\";\n"
      "}\n",
      NULL, NULL, NULL, 3, 0,
      { { NULL, 2, 33, "expected '<', found name \"trusted\"" },
        { NULL, 3, 31, "unknown fact \"hello\": did you mean \"helo\"?" },
        { NULL, 4, 12, "a reply is allowed only with reject, tempfail and greylist" } } },

    /*
     * BUG (rules/compile.c, check_label): the search for an earlier rule
     * with the same label runs over *every* stage, including the stages
     * compiled later. A label reused in another stage is reported twice,
     * and the first report, on the earlier rule, names the later one as
     * "already used". Expected: one error, on the second use. Fix: stop the
     * scan at r's own stage (for s <= r->stage).
     */
    { "BUG_label_reused_in_another_stage", "on connect { [a] continue; }\non rcpt { [a] reject; }\n",
      NULL, NULL, NULL, 1, 0,
      { { NULL, 2, 11, "label [a] is already used by the rule at @FILE@:1" } } },
    /*
     * BUG (rules/grammar.y, cond_regex): the column of a regex error is the
     * string's column plus the PCRE2 offset in the *unescaped* pattern, so
     * every \\ or \" before the error shifts it left. Here the ')' is at
     * column 32, reported at 31. Map the offset back through the escapes.
     */
    { "BUG_regex_error_column_after_escape", "on rcpt { reject if helo ~ \"\\\\d)\"; }\n", NULL, NULL,
      NULL, 1, 0, { { NULL, 1, 32, "invalid regular expression: unmatched closing parenthesis" } } },
    /*
     * BUG (rules/lexer.c, '$' case): "$reject" is reported twice: "a macro
     * name cannot be a keyword", then, because the lexer returns
     * RULES_UNDEF, a syntax error "found 'invalid token'" at the same place.
     * One mistake should give one error (return VAR with an empty name, or
     * skip the token after reporting it).
     */
    { "BUG_macro_keyword_name", "on rcpt { reject 554 5.7.1 $reject; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 28, "a macro name cannot be a keyword" } } },
};

/* ---- loader cases that need more than a line of text ------------------------------------- */

static void test_missing_rule_file(void **state)
{
    char path[512], want[600];

    (void)state;
    path_in(path, sizeof path, tmpdir, "no-such.rules");
    assert_null(ruleset_load(path, &cur.diag));
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    assert_int_equal(cur.diag.count, 1);
    assert_int_equal(cur.diag.errors, 1);
    assert_string_equal(cur.diag.lines[0], want);
}

static void test_rule_file_not_regular(void **state)
{
    char want[600];

    (void)state;
    assert_null(ruleset_load(tmpdir, &cur.diag));
    snprintf(want, sizeof want, "%s: not a regular file of at most 16777216 bytes", tmpdir);
    assert_int_equal(cur.diag.count, 1);
    assert_int_equal(cur.diag.errors, 1);
    assert_string_equal(cur.diag.lines[0], want);
}

/* A list line of 1024 bytes is read whole; one of 1025 is refused without splitting it. */
static void test_list_line_limit(void **state)
{
    enum { LIMIT = 1024 };
    char rules[512], list[512], want[700];
    char *text = malloc(2 * LIMIT + 64);
    size_t n = 0;

    (void)state;
    assert_non_null(text);
    memset(text + n, '1', LIMIT);             /* line 1: exactly the limit */
    n += LIMIT;
    text[n++] = '\n';
    memset(text + n, '2', LIMIT + 1);         /* line 2: one byte over */
    n += LIMIT + 1;
    memcpy(text + n, "\n192.0.2.0/24\n", 14); /* line 3: still read after it */
    n += 14;
    path_in(list, sizeof list, tmpdir, "long-lines.list");
    write_file(list, text, n);
    free(text);
    write_tmp(rules, sizeof rules, "long-lines.rules", "list n networks file \"long-lines.list\";\n");

    assert_null(ruleset_load(rules, &cur.diag));
    assert_int_equal(cur.diag.errors, 2);
    assert_int_equal(cur.diag.count, 2);
    /* Line 1 is an entry, too long only to be an address. */
    assert_true(strncmp(cur.diag.lines[0], list, strlen(list)) == 0);
    assert_non_null(strstr(cur.diag.lines[0], ":1:1: list <n>: \"1111"));
    snprintf(want, sizeof want, "%s:2:1: list <n>: line longer than 1024 bytes", list);
    assert_string_equal(cur.diag.lines[1], want);
}

/*
 * BUG (rules/lists.c, list_load_file): the "line longer than 1024 bytes"
 * error reuses the column of the previous entry (loc.first_column is only
 * set for entries), so after an indented entry it points past column 1.
 */
static void test_BUG_list_long_line_column(void **state)
{
    char rules[512], list[512], want[700];
    char text[1200];
    size_t n = 0;

    (void)state;
    memcpy(text, "    10.0.0.0/8\n", 15);
    n += 15;
    memset(text + n, '2', 1100);
    n += 1100;
    text[n++] = '\n';
    path_in(list, sizeof list, tmpdir, "long-line-column.list");
    write_file(list, text, n);
    write_tmp(rules, sizeof rules, "long-line-column.rules",
              "list n networks file \"long-line-column.list\";\n");

    assert_null(ruleset_load(rules, &cur.diag));
    snprintf(want, sizeof want, "%s:2:1: list <n>: line longer than 1024 bytes", list);
    assert_int_equal(cur.diag.count, 1);
    assert_string_equal(cur.diag.lines[0], want);
}

/*
 * BUG (rules/grammar.y, list_begin): "expected list type ..." points at
 * the column after the list *name* (loc->last_column + 1, the blank),
 * not at the type word: "list foo bar" reports 1:9, the word is at 1:10,
 * and with two blanks or a tab it is further off. Pass @3 to list_begin.
 */
static void test_BUG_list_type_column(void **state)
{
    char path[512], want[700];

    (void)state;
    write_tmp(path, sizeof path, "list-type-column.rules", "list foo  bar { x };\n");
    assert_null(ruleset_load(path, &cur.diag));
    snprintf(want, sizeof want,
             "%s:1:11: expected list type networks, domains, addresses, regexes or words, found \"bar\"", path);
    assert_int_equal(cur.diag.count, 1);
    assert_string_equal(cur.diag.lines[0], want);
}

/*
 * BUG (rules/lexer.c, rules_lex): a NUL byte outside a string is returned
 * as token 0 because strchr("{}()<>;,=[]", 0) finds the terminator, and
 * token 0 is end of input to bison: the rest of the file is silently
 * ignored and the load succeeds. Here the reject rule after the NUL
 * vanishes. Fix: test c != '\0' before the strchr (it then reports
 * "unexpected byte 0x00").
 */
static void test_BUG_nul_byte_truncates_file(void **state)
{
    static const char text[] = "on mail {\n    continue;\n}\n\0\non rcpt {\n    reject;\n}\n";
    char path[512], want[700];

    (void)state;
    path_in(path, sizeof path, tmpdir, "nul-byte.rules");
    write_file(path, text, sizeof text - 1);
    cur.rs = ruleset_load(path, &cur.diag);
    snprintf(want, sizeof want, "%s:4:1: unexpected byte 0x00", path);
    if (cur.rs != NULL)
        fail_msg("BUG: a rule file with a NUL byte loaded with %u rule(s); "
                 "everything after the NUL was ignored", ruleset_rule_count(cur.rs));
    assert_true(cur.diag.count >= 1);
    assert_string_equal(cur.diag.lines[0], want);
}

/* The loader keeps at most 200 lines but counts every error. */
static void test_diag_cap(void **state)
{
    char path[512], text[600];

    (void)state;
    memset(text, '?', 250);
    text[250] = '\n';
    text[251] = '\0';
    write_tmp(path, sizeof path, "many-errors.rules", text);
    assert_null(ruleset_load(path, &cur.diag));
    assert_int_equal(cur.diag.errors, 250);
    assert_int_equal(cur.diag.count, 200);
    assert_non_null(strstr(cur.diag.lines[199], ":1:200: unexpected character '?'"));
}

/* At most 64 distinct tags. */
static void test_too_many_tags(void **state)
{
    char path[512], want[700];
    char text[64 * 20 + 64];
    size_t n = 0;

    (void)state;
    n += (size_t)snprintf(text + n, sizeof text - n, "on rcpt {\n");
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "    tag t%d;\n", i);
    snprintf(text + n, sizeof text - n, "}\n");
    write_tmp(path, sizeof path, "tags.rules", text);
    assert_null(ruleset_load(path, &cur.diag));
    snprintf(want, sizeof want, "%s:66:5: more than 64 tags", path);
    assert_int_equal(cur.diag.count, 1);
    assert_string_equal(cur.diag.lines[0], want);
}

/*
 * BUG (rules/cidr_set.c, cidr_set_freeze): a networks list with no entries
 * makes qsort(NULL, 0, ...) run, undefined behaviour that UBSan aborts on
 * (see test_cidr.c). Only the sanitizer build sees it; there, any test
 * that loads an empty networks list (this one, list_missing_file, ...)
 * stops the run.
 */
/* Sixteen levels of include are allowed, a seventeenth is not. */
static void test_include_depth(void **state)
{
    enum { FILES = 19 };
    char path[512], name[64], text[64], want[700];

    (void)state;
    for (int i = 0; i < FILES; i++) {
        snprintf(name, sizeof name, "depth-%d.rules", i);
        if (i + 1 < FILES)
            snprintf(text, sizeof text, "include \"depth-%d.rules\";\n", i + 1);
        else
            snprintf(text, sizeof text, "on rcpt { reject; }\n");
        write_tmp(path, sizeof path, name, text);
    }
    /* depth-2 .. depth-18: the top file and 16 levels below it. */
    path_in(path, sizeof path, tmpdir, "depth-2.rules");
    load_ok(path);
    assert_int_equal(ruleset_rule_count(cur.rs), 1);
    ruleset_unref(cur.rs);
    cur.rs = NULL;

    path_in(path, sizeof path, tmpdir, "depth-1.rules");
    assert_null(ruleset_load(path, &cur.diag));
    snprintf(want, sizeof want,
             "%s/depth-17.rules:1:9: include \"depth-18.rules\": more than 16 levels of include", tmpdir);
    assert_int_equal(cur.diag.count, 1);
    assert_string_equal(cur.diag.lines[0], want);
}

/* ruleset_load_buffer: the name stands for the file and anchors relative list paths. */
static void test_load_buffer(void **state)
{
    static const char text[] =
        "list local domains file \"buffer-domains.list\";\n"
        "on rcpt { continue if recipient.domain in <local>; reject; }\n";
    char list[512], name[512];
    struct verdict v;

    (void)state;
    write_tmp(list, sizeof list, "buffer-domains.list", "example.org\n");
    path_in(name, sizeof name, tmpdir, "in-memory.rules");
    cur.rs = ruleset_load_buffer(name, text, sizeof text - 1, &cur.diag);
    if (cur.rs == NULL) {
        dump_diag(&cur.diag);
        fail_msg("did not load");
    }
    assert_int_equal(envelope_set_rcpt(&cur.env, "<a@example.org>"), 0);
    assert_int_equal(ruleset_eval(cur.rs, STAGE_RCPT, &cur.env, &v), 0);
    assert_int_equal(v.action, ACTION_CONTINUE);
    assert_int_equal(envelope_set_rcpt(&cur.env, "<a@example.com>"), 0);
    assert_int_equal(ruleset_eval(cur.rs, STAGE_RCPT, &cur.env, &v), 0);
    assert_int_equal(v.action, ACTION_REJECT);
}

/* Printed by file (in the order first met), then by place: an included file's messages stay together. */
static void test_diag_print_order(void **state)
{
    char path[512], inc[512], want[2048], *out = NULL;
    size_t size = 0;
    FILE *f;

    (void)state;
    write_tmp(inc, sizeof inc, "order-inc.rules", "on rcpt {\n    reject if nope;\n}\n");
    write_tmp(path, sizeof path, "order.rules",
              "on rcpt { reject if first; }\ninclude \"order-inc.rules\";\non rcpt {\n    reject if third;\n}\n");
    assert_null(ruleset_load(path, &cur.diag));
    assert_non_null(f = open_memstream(&out, &size));
    diag_print(&cur.diag, f);
    assert_int_equal(fclose(f), 0);
    snprintf(want, sizeof want,
             "%s:1:21: unknown fact \"first\" (mxguard.rules(5) lists the facts)\n"
             "%s:4:15: unknown fact \"third\" (mxguard.rules(5) lists the facts)\n"
             "%s:2:15: unknown fact \"nope\" (mxguard.rules(5) lists the facts)\n",
             path, path, inc);
    assert_string_equal(out, want);
    free(out);
}

/* ---- main ------------------------------------------------------------------------------------ */

#define EXTRA_TESTS 11

int main(void)
{
    static struct CMUnitTest tests[ARRAY_SIZE(bad_cases) + EXTRA_TESTS];
    static const struct CMUnitTest extra[EXTRA_TESTS] = {
        cmocka_unit_test_setup_teardown(test_missing_rule_file, case_setup, case_teardown),
        cmocka_unit_test_setup_teardown(test_rule_file_not_regular, case_setup, case_teardown),
        cmocka_unit_test_setup_teardown(test_list_line_limit, case_setup, case_teardown),
        cmocka_unit_test_setup_teardown(test_diag_cap, case_setup, case_teardown),
        cmocka_unit_test_setup_teardown(test_diag_print_order, case_setup, case_teardown),
        cmocka_unit_test_setup_teardown(test_too_many_tags, case_setup, case_teardown),
        cmocka_unit_test_setup_teardown(test_include_depth, case_setup, case_teardown),
        cmocka_unit_test_setup_teardown(test_load_buffer, case_setup, case_teardown),
        cmocka_unit_test_setup_teardown(test_BUG_list_long_line_column, case_setup, case_teardown),
        cmocka_unit_test_setup_teardown(test_BUG_list_type_column, case_setup, case_teardown),
        cmocka_unit_test_setup_teardown(test_BUG_nul_byte_truncates_file, case_setup, case_teardown),
    };

    return run_rules_tests("test_rules_load", bad_cases, ARRAY_SIZE(bad_cases), extra, EXTRA_TESTS, tests);
}
