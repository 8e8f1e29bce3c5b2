/*
 * test_rules_syntax.c: the rule language's syntax and its messages
 * (rules/lexer.c, rules/grammar.y, rules/suggest.c).
 *
 * One table of rule texts and the exact "file:line:col: message" lines
 * each gets: lexical mistakes, "expected ..., found ..." for each kind of
 * token found, a ';' after a block's '}' (optional everywhere, so both
 * spellings load without a word), a block left open at the end of a file
 * (named where it opened, in the file that opened it), and typos of
 * keywords, facts, lists, stages and block settings ("did you mean"),
 * with a far-off word getting no suggestion. Then the edit distance and
 * the choice of a suggestion on their own.
 */
#include "rules_helpers.h"
#include "rules/suggest.h"

/* Every kind of block, and a dnslist's codes { }, ended the way the test says. */
#define EVERY_BLOCK(END)                                                        \
    "list ours domains { example.org }" END "\n"                                \
    "list lan networks file \"lan.list\";\n"                                   \
    "dnslist zen {\n    zone \"zen.test\";\n    codes { \"127.0.0.2\" }" END "\n}" END "\n" \
    "ratelimit per-client {\n    key client.address;\n    window 1h;\n    limit 100;\n}" END "\n" \
    "greylist {\n    delay 300;\n}" END "\n"                                    \
    "on rcpt {\n    continue if recipient.domain in <ours>;\n    reject;\n}" END "\n" \
    "test \"ours\" {\n    client 192.0.2.1;\n    rcpt \"<a@example.org>\" expect continue;\n}" END "\n"

#define NOT_CLOSED(what) "'" what "' block opened here is not closed: expected '}' before the end of the file"

static const struct bad_case syntax_cases[] = {
    /* Lexer. */
    { "unterminated_string",
      "on rcpt {\n    reject 554 5.7.1 \"no closing quote\n    ;\n}\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 2, 22, "unterminated string: expected '\"' before the end of the line" } } },
    { "unknown_escape", "on rcpt { reject 554 5.7.1 \"a\\qb\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 30, "unknown escape in string: expected \\\" or \\\\" } } },
    { "control_character_in_string", "on rcpt { reject 554 5.7.1 \"a\x01" "b\"; }\n", NULL, NULL,
      NULL, 1, 0, { { NULL, 1, 30, "control character in string" } } },
    { "unexpected_character", "on rcpt { reject ?; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 18, "unexpected character '?'" } } },
    { "unexpected_byte", "on rcpt {\n\treject\x7f;\n}\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 2, 8, "unexpected byte 0x7f" } } },

    /* Grammar: "expected ..., found ..." for each kind of token found. */
    { "syntax_found_punctuation", "list a networks file ;\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 22, "expected quoted string or '$macro', found ';'" } } },
    { "syntax_found_name", "on rcpt { continue if client.address in trusted; }\n", NULL, NULL,
      NULL, 1, 0, { { NULL, 1, 41, "expected '<', found name \"trusted\"" } } },
    { "syntax_found_string", "list a \"x\";\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 8, "expected name, found quoted string \"x\"" } } },
    { "syntax_found_number", "on rcpt { reject 554 5.7.1 \"x\" 55; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 32, "expected quoted string, '$macro', 'if' or ';', found number \"55\"" } } },
    { "syntax_found_keyword", "list a networks if;\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 17, "expected 'file' or '{', found 'if'" } } },
    /* Inside a block, the end of the file is reported where the block opened (below). */
    { "syntax_found_end_of_file", "define a \"x\"\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 2, 1, "expected ';', found end of file" } } },
    /* Past seven possibilities the message gives up listing them. */
    { "syntax_expected_after_fact", "on rcpt { reject if recipient.routed }\n", NULL, NULL, NULL,
      1, 0, { { NULL, 1, 38, "expected 'and', 'or', 'in', 'under', '~', '!~', '!=', '<=', '>=', ';', '<', '>' or '=', found '}'" } } },
    /* An inline list is a block (its ';' is optional, see below); a list file's ';' is not. */
    { "syntax_missing_list_semicolon",
      "list n networks file \"n.list\"\non rcpt { reject if client.address in <n>; }\n", NULL, "n.list",
      "10.0.0.0/8\n", 1, 0, { { NULL, 2, 1, "expected ';', found 'on'" } } },


    /* A ';' after a '}' is optional and means nothing: both spellings load, with no message. */
    { "semicolon_after_every_block", EVERY_BLOCK(";"), NULL, "lan.list", "192.0.2.0/24\n", 0, 0,
      { { NULL, 0, 0, NULL } } },
    { "no_semicolon_after_any_block", EVERY_BLOCK(""), NULL, "lan.list", "192.0.2.0/24\n", 0, 0,
      { { NULL, 0, 0, NULL } } },
    { "semicolon_after_inline_list_then_rules",
      "list n networks { 10.0.0.0/8 }\non rcpt { reject if client.address in <n>; }\n", NULL, NULL,
      NULL, 0, 0, { { NULL, 0, 0, NULL } } },
    /* Only one: a second ';' is a mistake of its own. */
    { "two_semicolons_after_a_block", "on rcpt { reject; };;\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 21, "expected end of file, 'list', 'on', 'test', 'include', 'define', 'dnslist', "
                       "'clamd', 'greylist', 'ratelimit' or 'dkim-keys', found ';'" } } },

    /* A block still open at the end of the file: named where it opened. */
    { "unclosed_stage_block", "on mail { continue; }\non rcpt {\n    reject;\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 2, 1, NOT_CLOSED("on rcpt") } } },
    { "unclosed_block_mid_rule", "on rcpt {\n    reject\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 1, NOT_CLOSED("on rcpt") } } },
    { "unclosed_list", "\nlist x domains {\n    example.org,\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 2, 1, NOT_CLOSED("list x") } } },
    { "unclosed_dnslist_codes", "dnslist zen {\n    zone \"zen.test\";\n    codes { \"127.0.0.2\"\n", NULL,
      NULL, NULL, 1, 0, { { NULL, 1, 1, NOT_CLOSED("dnslist zen") } } },
    { "unclosed_ratelimit", "ratelimit r {\n    key client.address;\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 1, NOT_CLOSED("ratelimit r") } } },
    { "unclosed_greylist", "  greylist {\n    delay 300;\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 3, NOT_CLOSED("greylist") } } },
    { "unclosed_test", "on rcpt { continue; }\ntest \"t\" {\n    client 192.0.2.1;\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 2, 1, NOT_CLOSED("test \"t\"") } } },
    /* A '{' that opens no block is a syntax error, reported once. */
    { "unclosed_brace_alone", "on rcpt { continue; }\n{\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 2, 1, "expected end of file, 'list', 'on', 'test', 'include', 'define', 'dnslist', "
                      "'clamd', 'greylist', 'ratelimit', 'dkim-keys' or ';', found '{'" } } },
    /* After a syntax error inside it, too (the error recovery reads to the end). */
    { "unclosed_after_syntax_error", "on rcpt {\n    reject if authenticated authenticated\n", NULL, NULL,
      NULL, 2, 0,
      { { NULL, 2, 29, "expected 'and', 'or', 'in', 'under', '~', '!~', '!=', '<=', '>=', ';', '<', '>' or '=', "
                       "found name \"authenticated\"" },
        { NULL, 1, 1, NOT_CLOSED("on rcpt") } } },
    /* Each file's blocks close in that file: the includer's '}' does not close them. */
    { "unclosed_in_included_file", "include \"open.rules\";\n}\non rcpt { reject; }\n", NULL, "open.rules",
      "\non mail {\n    continue;\n", 2, 0,
      { { "open.rules", 2, 1, NOT_CLOSED("on mail") },
        { NULL, 2, 1, "expected end of file, 'list', 'on', 'test', 'include', 'define', 'dnslist', "
                      "'clamd', 'greylist', 'ratelimit' or 'dkim-keys', found '}'" } } },

    /* A keyword misspelt: did you mean, instead of the list of what may come. */
    { "typo_continue", "on rcpt {\n    contine if authenticated;\n}\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 2, 5, "unknown keyword \"contine\": did you mean 'continue'?" } } },
    { "typo_reject", "on rcpt { rejct 554 5.7.1 \"no\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 11, "unknown keyword \"rejct\": did you mean 'reject'?" } } },
    { "typo_tempfail", "on rcpt { tempfial 451 4.7.1 \"later\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 11, "unknown keyword \"tempfial\": did you mean 'tempfail'?" } } },
    { "typo_accept", "on connect {\n    acept;\n}\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 2, 5, "unknown keyword \"acept\": did you mean 'accept'?" } } },
    { "typo_keyword_case", "on rcpt { Reject; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 11, "unknown keyword \"Reject\": did you mean 'reject'?" } } },
    { "typo_top_level_keyword", "lsit ours domains { example.org }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 1, "unknown keyword \"lsit\": did you mean 'list'?" } } },
    { "typo_keyword_far_off", "on rcpt { bounce; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 11, "expected something else, found name \"bounce\"" } } },
    { "typo_keyword_too_short", "on rcpt { reject if authenticated an sender.null; }\n", NULL, NULL, NULL,
      1, 0, { { NULL, 1, 35, "expected 'and', 'or', 'in', 'under', '~', '!~', '!=', '<=', '>=', ';', '<', '>' "
                             "or '=', found name \"an\"" } } },

    /* Facts, lists, rate limits and stages misspelt. */
    { "typo_fact", "on mail { reject if authenticted; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 21, "unknown fact \"authenticted\": did you mean \"authenticated\"?" } } },
    { "typo_fact_swapped_letters", "on rcpt { reject if recipient.domian = \"example.org\"; }\n", NULL, NULL,
      NULL, 1, 0, { { NULL, 1, 21, "unknown fact \"recipient.domian\": did you mean \"recipient.domain\"?" } } },
    { "typo_fact_in_reply", "on rcpt { reject 554 5.7.1 \"%{recipent}\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 18, "unknown fact \"recipent\": did you mean \"recipient\"?" } } },
    { "typo_fact_far_off", "on rcpt { reject if spam.verdict; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 21, "unknown fact \"spam.verdict\" (mxguard.rules(5) lists the facts)" } } },
    { "typo_list", "list local domains { example.org }\non rcpt { continue if recipient.domain in <lcoal>; }\n",
      NULL, NULL, NULL, 1, 0, { { NULL, 2, 23, "unknown list <lcoal>: did you mean <local>?" } } },
    { "typo_list_far_off",
      "list local domains { example.org }\non rcpt { continue if recipient.domain in <partners>; }\n", NULL,
      NULL, NULL, 1, 0,
      { { NULL, 2, 23, "unknown list <partners>: expected the name of a list declared with 'list'" } } },
    { "typo_rate_limit",
      "ratelimit per-user { key auth.user; window 1h; limit 10; }\non rcpt { reject if over <peruser>; }\n",
      NULL, NULL, NULL, 1, 0, { { NULL, 2, 21, "unknown rate limit <peruser>: did you mean <per-user>?" } } },
    { "typo_stage", "on rctp { reject; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 4, "unknown stage \"rctp\": did you mean \"rcpt\"?" } } },
    { "typo_stage_far_off", "on delivery { reject; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 4,
          "expected a stage (connect, helo, mail, rcpt, data, header, eoh or eom), found \"delivery\"" } } },

    /* Settings of dnslist, ratelimit and greylist blocks; a misspelt required one is not "missing" too. */
    { "typo_dnslist_zone", "dnslist zen { zoen \"zen.test\"; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 15, "dnslist <zen>: unknown setting \"zoen\": did you mean \"zone\"?" } } },
    { "typo_dnslist_codes", "dnslist zen { zone \"zen.test\"; cdoes { \"127.0.0.2\" } }\n", NULL, NULL, NULL,
      1, 0, { { NULL, 1, 32, "dnslist <zen>: unknown setting \"cdoes\": did you mean \"codes\"?" } } },
    { "typo_dnslist_weight", "dnslist zen { zone \"zen.test\"; wieght 2; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 32, "dnslist <zen>: unknown setting \"wieght\": did you mean \"weight\"?" } } },
    { "typo_ratelimit_window", "ratelimit r { key client.address; windwo 1h; limit 10; }\n", NULL, NULL,
      NULL, 1, 0, { { NULL, 1, 35, "ratelimit <r>: unknown setting \"windwo\": did you mean \"window\"?" } } },
    { "typo_greylist_delay", "greylist { dealy 300; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 12, "greylist: unknown setting \"dealy\": did you mean \"delay\"?" } } },
    { "typo_greylist_far_off", "greylist { colour 5; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 12, "greylist: expected delay, window, lifetime, auto-allow, auto-allow-lifetime, "
                       "ipv4-prefix, ipv6-prefix or on-error, found \"colour\"" } } },
    { "typo_ratelimit_far_off", "ratelimit r { key client.address; window 1h; limit 10; burst 3; }\n", NULL,
      NULL, NULL, 1, 0,
      { { NULL, 1, 56, "ratelimit <r>: expected key, window, limit, count or on-error, found \"burst\"" } } },
};

/* ---- the edit distance and the choice of a suggestion ------------------------------------------ */

static void test_suggest_distance(void **state)
{
    static const struct {
        const char *a, *b;
        unsigned d;
    } cases[] = {
        { "", "", 0 },
        { "reject", "reject", 0 },
        { "ReJeCt", "reject", 0 },            /* any case */
        { "rejact", "reject", 1 },            /* a substitution */
        { "acept", "accept", 1 },             /* an insertion */
        { "continuee", "continue", 1 },       /* a deletion */
        { "tempfial", "tempfail", 1 },        /* two neighbours swapped */
        { "recipient.domian", "recipient.domain", 1 },
        { "kitten", "sitting", 3 },
        { "", "abc", 3 },
        { "abc", "", 3 },
        { "ca", "abc", 3 },                   /* optimal string alignment: no edit of a swapped pair */
    };
    char longword[SUGGEST_WORD_MAX + 2];

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        unsigned d = suggest_distance(cases[i].a, cases[i].b);
        if (d != cases[i].d)
            fail_msg("distance(\"%s\", \"%s\") = %u, expected %u", cases[i].a, cases[i].b, d, cases[i].d);
        assert_int_equal(suggest_distance(cases[i].b, cases[i].a), cases[i].d);
    }
    memset(longword, 'a', sizeof longword - 1);
    longword[sizeof longword - 1] = '\0';
    assert_int_equal(suggest_distance(longword, "a"), SUGGEST_FAR);
    longword[SUGGEST_WORD_MAX] = '\0';
    assert_int_equal(suggest_distance(longword, longword), 0);
}

static void test_suggest_name(void **state)
{
    static const char *const actions[] = { "accept", "reject", "tempfail", "discard", "continue" };
    static const char *const close[] = { "cat", "hat", "abc", "abcdefg", "abcdef" };
    static const struct {
        const char *word, *want;
    } cases[] = {
        { "rejct", "reject" },
        { "ACEPT", "accept" },
        { "contnue", "continue" },
        { "tempfial", "tempfail" },
        { "dicsard", "discard" },
        { "bounce", NULL },       /* far off */
        { "rjct", NULL },         /* two edits, but half of its four letters */
        { "", NULL },
    };
    struct suggest s;

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const char *got = suggest_name(cases[i].word, actions, ARRAY_SIZE(actions));
        if (got != cases[i].want && (got == NULL || cases[i].want == NULL || strcmp(got, cases[i].want) != 0))
            fail_msg("suggest(\"%s\") = %s, expected %s", cases[i].word, got ? got : "none",
                     cases[i].want ? cases[i].want : "none");
    }
    /* Ties go to the first; one edit is too many for two letters; two are allowed from five on. */
    assert_string_equal(suggest_name("bat", close, ARRAY_SIZE(close)), "cat");
    assert_null(suggest_name("ab", close + 2, 1));
    assert_null(suggest_name("abcd", close + 4, 1));
    assert_string_equal(suggest_name("abcde", close + 3, 1), "abcdefg");
    assert_null(suggest_name("rejct", actions, 0));
    /* The collecting form gives the same, and ignores what is not there. */
    suggest_init(&s, "tempfial");
    for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
        suggest_add(&s, actions[i]);
    suggest_add(&s, NULL);
    assert_string_equal(suggest_result(&s), "tempfail");
    suggest_init(&s, "zzzzzz");
    suggest_add(&s, "reject");
    assert_null(suggest_result(&s));
}

/* ---- main ------------------------------------------------------------------------------------ */

#define EXTRA_TESTS 2

int main(void)
{
    static struct CMUnitTest tests[ARRAY_SIZE(syntax_cases) + EXTRA_TESTS];
    static const struct CMUnitTest extra[EXTRA_TESTS] = {
        cmocka_unit_test(test_suggest_distance),
        cmocka_unit_test(test_suggest_name),
    };

    return run_rules_tests("test_rules_syntax", syntax_cases, ARRAY_SIZE(syntax_cases), extra, EXTRA_TESTS,
                           tests);
}
