/* fuzz_resp.c — libFuzzer target for the RESP request parser
 * (dataplane/resp/parser.c). The input is cut at a point derived from its
 * first byte into two segments, as two TCP reads would deliver it; between
 * them the parser is told to detach (the first segment is freed, so ASan
 * catches any argument still pointing into it). Every complete command is
 * checked for sane argv/argv_len and then reset, as the connection does
 * after running it. Built and run by tests/run_fuzz.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/resp/parser.h"

/* Touch every byte of every argument so ASan sees stale pointers. */
static void check_command(const resp_parser *p)
{
    volatile unsigned sum = 0;
    if (p->argc < 0 || (p->argc > 0 && (p->argv == NULL || p->argv_len == NULL)))
        abort();
    for (int i = 0; i < p->argc; i++) {
        if (p->argv_len[i] > 0 && p->argv[i] == NULL)
            abort();
        for (size_t j = 0; j < p->argv_len[i]; j++)
            sum += (unsigned char)p->argv[i][j];
    }
    (void)sum;
}

/* Feeds one segment; returns -1 after a protocol error, else 0. */
static int feed(resp_parser *p, const char *buf, size_t len, const resp_limits *lim)
{
    size_t off = 0;
    while (off < len) {
        size_t used = 0;
        resp_status st = resp_parse(p, buf + off, len - off, &used, lim);
        if (used > len - off)
            abort();
        off += used;
        if (st == RESP_ERROR) {
            if (p->errmsg == NULL || strncmp(p->errmsg, "-ERR Protocol error: ", 21) != 0)
                abort();
            return -1;
        }
        if (st == RESP_COMMAND) {
            check_command(p);
            resp_parser_reset(p);
            continue;
        }
        if (used == 0)   /* NEED_MORE must have consumed everything */
            break;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    /* Small limits so the fuzzer reaches the limit paths quickly. */
    resp_limits lim = {
        .proto_max_bulk_len = 1 << 16,
        .query_buffer_limit = 1 << 18,
        .authenticated = data[0] & 1,
    };
    size_t cut = 1 + (size_t)data[1] * (size - 1) / 256;
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    if (cut > n)
        cut = n;

    /* Heap copies of each segment, freed as a connection frees them. */
    char *a = malloc(cut ? cut : 1);
    char *b = malloc(n - cut ? n - cut : 1);
    if (!a || !b)
        abort();
    memcpy(a, in, cut);
    memcpy(b, in + cut, n - cut);

    resp_parser p;
    resp_parser_init(&p);
    if (feed(&p, a, cut, &lim) == 0) {
        resp_parser_detach(&p);
        free(a);
        a = NULL;
        feed(&p, b, n - cut, &lim);
        resp_parser_detach(&p);
    }
    free(b);
    free(a);
    resp_parser_free(&p);
    return 0;
}
