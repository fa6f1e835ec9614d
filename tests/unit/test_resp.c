/* test_resp.c — the RESP request parser: multibulk and inline commands,
 * pipelines, every split point across two segments (with detach between, as
 * the connection layer does), big arguments over many segments, and each
 * protocol error with Redis's exact text.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../dataplane/resp/parser.h"
#include "../../platform/mem.h"

/* Feeds segments, collecting commands as "arg|arg|...;" into out. Returns
 * the final status (RESP_ERROR stops). */
static resp_status feed_all(resp_parser *p, const char *const *segs, const size_t *lens, int n,
                            char *out, size_t outcap, const resp_limits *lim) {
    size_t ol = 0;
    out[0] = '\0';
    for (int s = 0; s < n; s++) {
        size_t off = 0;
        while (off < lens[s]) {
            size_t used;
            resp_status st = resp_parse(p, segs[s] + off, lens[s] - off, &used, lim);
            off += used;
            if (st == RESP_ERROR) return st;
            if (st == RESP_COMMAND) {
                for (int i = 0; i < p->argc; i++) {
                    if (i) out[ol++] = '|';
                    CU_ASSERT_FATAL(ol + p->argv_len[i] + 2 < outcap);
                    memcpy(out + ol, p->argv[i], p->argv_len[i]);
                    ol += p->argv_len[i];
                }
                out[ol++] = ';';
                out[ol] = '\0';
                resp_parser_reset(p);
            }
        }
        resp_parser_detach(p);
    }
    return RESP_NEED_MORE;
}

static const char *parse_one_segment(const char *in, resp_status *st) {
    static char out[4096];
    resp_parser p;
    resp_parser_init(&p);
    const char *segs[1] = {in};
    size_t lens[1] = {strlen(in)};
    *st = feed_all(&p, segs, lens, 1, out, sizeof(out), NULL);
    if (*st == RESP_ERROR) snprintf(out, sizeof(out), "%s", p.errmsg ? p.errmsg : "(close)");
    resp_parser_free(&p);
    return out;
}

static void test_multibulk(void) {
    resp_status st;
    CU_ASSERT_STRING_EQUAL(parse_one_segment("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n", &st),
                           "SET|k|hello;");
    CU_ASSERT_STRING_EQUAL(parse_one_segment("*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", &st),
                           "PING;ECHO|;");
    /* Empty and negative counts are skipped silently, as Redis does. */
    CU_ASSERT_STRING_EQUAL(parse_one_segment("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", &st), "PING;");
}

static void test_inline(void) {
    resp_status st;
    CU_ASSERT_STRING_EQUAL(parse_one_segment("PING\r\n", &st), "PING;");
    CU_ASSERT_STRING_EQUAL(parse_one_segment("set k \"a b\\n\"\n", &st), "set|k|a b\n;");
    CU_ASSERT_STRING_EQUAL(parse_one_segment("echo 'it''s'\r\n", &st),
                           "-ERR Protocol error: unbalanced quotes in request");
    CU_ASSERT_STRING_EQUAL(parse_one_segment("echo \"\\x41\\x62\"\r\n\r\n", &st), "echo|Ab;");
    CU_ASSERT_STRING_EQUAL(parse_one_segment("echo \"abc\r\n", &st),
                           "-ERR Protocol error: unbalanced quotes in request");
}

/* An inline line ends at a NUL (fuzzer find: it once looped on it). */
static void test_inline_nul(void) {
    static const char in[] = "\x01\x80*abc\0\0\0\0\r\nPING\r\n";
    resp_parser p;
    char out[256];
    const char *segs[1] = {in};
    size_t lens[1] = {sizeof(in) - 1};
    resp_parser_init(&p);
    CU_ASSERT_EQUAL(feed_all(&p, segs, lens, 1, out, sizeof(out), NULL), RESP_NEED_MORE);
    CU_ASSERT_STRING_EQUAL(out, "\x01\x80*abc;PING;");
    resp_parser_free(&p);
}

static void test_errors(void) {
    resp_status st;
    CU_ASSERT_STRING_EQUAL(parse_one_segment("*x\r\n", &st),
                           "-ERR Protocol error: invalid multibulk length");
    CU_ASSERT_EQUAL(st, RESP_ERROR);
    CU_ASSERT_STRING_EQUAL(parse_one_segment("*3000000000\r\n", &st),
                           "-ERR Protocol error: invalid multibulk length");
    CU_ASSERT_STRING_EQUAL(parse_one_segment("*1\r\n+PING\r\n", &st),
                           "-ERR Protocol error: expected '$', got '+'");
    CU_ASSERT_STRING_EQUAL(parse_one_segment("*1\r\n$-5\r\n", &st),
                           "-ERR Protocol error: invalid bulk length");
    CU_ASSERT_STRING_EQUAL(parse_one_segment("*1\r\n$abc\r\n", &st),
                           "-ERR Protocol error: invalid bulk length");
    char *big = malloc(70000);
    memset(big, 'a', 69998);
    big[69998] = '\n';
    big[69999] = '\0';
    big[0] = '*';
    CU_ASSERT_STRING_EQUAL(parse_one_segment(big, &st),
                           "-ERR Protocol error: too big mbulk count string");
    big[0] = 'a';
    big[69998] = 'x';
    CU_ASSERT_STRING_EQUAL(parse_one_segment(big, &st),
                           "-ERR Protocol error: too big inline request");
    free(big);
}

static void test_limits(void) {
    resp_parser p;
    char out[256];
    resp_limits lim = {.proto_max_bulk_len = 10, .query_buffer_limit = 0, .authenticated = 1};
    const char *in = "*1\r\n$11\r\nhello world\r\n";
    size_t len = strlen(in);
    resp_parser_init(&p);
    CU_ASSERT_EQUAL(feed_all(&p, &in, &len, 1, out, sizeof(out), &lim), RESP_ERROR);
    CU_ASSERT_STRING_EQUAL(p.errmsg, "-ERR Protocol error: invalid bulk length");
    resp_parser_free(&p);

    /* Unauthenticated peers may not announce big commands. */
    lim.proto_max_bulk_len = 1 << 20;
    lim.authenticated = 0;
    in = "*11\r\n";
    len = strlen(in);
    resp_parser_init(&p);
    CU_ASSERT_EQUAL(feed_all(&p, &in, &len, 1, out, sizeof(out), &lim), RESP_ERROR);
    CU_ASSERT_STRING_EQUAL(p.errmsg, "-ERR Protocol error: unauthenticated multibulk length");
    resp_parser_free(&p);

    /* The query buffer limit closes without a message. */
    lim.authenticated = 1;
    lim.query_buffer_limit = 100;
    char *segs[3];
    size_t lens[3];
    segs[0] = "*2\r\n$3\r\nSET\r\n$200\r\n";
    lens[0] = strlen(segs[0]);
    char payload[120];
    memset(payload, 'z', sizeof(payload));
    segs[1] = payload;
    lens[1] = sizeof(payload);
    resp_parser_init(&p);
    CU_ASSERT_EQUAL(feed_all(&p, (const char *const *)segs, lens, 2, out, sizeof(out), &lim),
                    RESP_ERROR);
    CU_ASSERT_PTR_NULL(p.errmsg);
    resp_parser_free(&p);
}

/* Every split point of a pipeline must yield the same commands. */
static void test_every_split(void) {
    const char *in =
        "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$10\r\n0123456789\r\n"
        "PING\r\n"
        "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"
        "*1\r\n$4\r\nPING\r\n";
    const char *want = "SET|key|0123456789;PING;ECHO|;PING;";
    size_t n = strlen(in);
    char out[512];
    for (size_t cut = 0; cut <= n; cut++) {
        for (size_t cut2 = cut; cut2 <= n; cut2 += 7) {
            /* Copies so detach must really copy (segments are overwritten). */
            char *a = malloc(cut + 1), *b = malloc(cut2 - cut + 1), *c = malloc(n - cut2 + 1);
            memcpy(a, in, cut);
            memcpy(b, in + cut, cut2 - cut);
            memcpy(c, in + cut2, n - cut2);
            const char *segs[3] = {a, b, c};
            size_t lens[3] = {cut, cut2 - cut, n - cut2};
            resp_parser p;
            resp_parser_init(&p);
            /* Scribble over a consumed segment to catch dangling borrows. */
            size_t ol = 0;
            out[0] = '\0';
            for (int s = 0; s < 3; s++) {
                size_t off = 0;
                while (off < lens[s]) {
                    size_t used;
                    resp_status st = resp_parse(&p, segs[s] + off, lens[s] - off, &used, NULL);
                    off += used;
                    CU_ASSERT_NOT_EQUAL_FATAL(st, RESP_ERROR);
                    if (st == RESP_COMMAND) {
                        for (int i = 0; i < p.argc; i++) {
                            if (i) out[ol++] = '|';
                            memcpy(out + ol, p.argv[i], p.argv_len[i]);
                            ol += p.argv_len[i];
                        }
                        out[ol++] = ';';
                        out[ol] = '\0';
                        resp_parser_reset(&p);
                    }
                }
                resp_parser_detach(&p);
                memset((char *)segs[s], '#', lens[s]);
            }
            CU_ASSERT_STRING_EQUAL(out, want);
            resp_parser_free(&p);
            free(a);
            free(b);
            free(c);
        }
    }
}

/* A 4 MB argument arriving in 1 KB segments. */
static void test_big_argument(void) {
    size_t big = 4u << 20;
    char head[64];
    int hl = snprintf(head, sizeof(head), "*2\r\n$3\r\nSET\r\n$%zu\r\n", big);
    size_t total = (size_t)hl + big + 2;
    char *in = malloc(total);
    memcpy(in, head, (size_t)hl);
    for (size_t i = 0; i < big; i++) in[hl + i] = (char)('a' + i % 26);
    memcpy(in + hl + big, "\r\n", 2);
    resp_parser p;
    resp_parser_init(&p);
    int got = 0;
    for (size_t off = 0; off < total; off += 1024) {
        size_t seg = total - off < 1024 ? total - off : 1024;
        size_t o2 = 0;
        while (o2 < seg) {
            size_t used;
            resp_status st = resp_parse(&p, in + off + o2, seg - o2, &used, NULL);
            o2 += used;
            if (st == RESP_COMMAND) {
                got = 1;
                CU_ASSERT_EQUAL(p.argc, 2);
                CU_ASSERT_EQUAL(p.argv_len[1], big);
                CU_ASSERT(memcmp(p.argv[1], in + hl, big) == 0);
                resp_parser_reset(&p);
            }
        }
        resp_parser_detach(&p);
    }
    CU_ASSERT(got);
    resp_parser_free(&p);
    free(in);
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return 2;
    CU_pSuite s = CU_add_suite("resp_parser", NULL, NULL);
    CU_add_test(s, "multibulk", test_multibulk);
    CU_add_test(s, "inline", test_inline);
    CU_add_test(s, "errors", test_errors);
    CU_add_test(s, "inline_nul", test_inline_nul);
    CU_add_test(s, "limits", test_limits);
    CU_add_test(s, "every_split", test_every_split);
    CU_add_test(s, "big_argument", test_big_argument);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
