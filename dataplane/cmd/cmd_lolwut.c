/* cmd_lolwut.c — LOLWUT [VERSION v] [args], as Redis 7.0.15 answers it.
 *
 * Redis 7.0 has no artwork of its own: the default (and any version but 5
 * and 6) is the line "Redis ver. 7.0.15\n". VERSION 5 draws Georg Nees's
 * "Schotter" (squares that turn and drift more the lower their row) in
 * Braille characters, 2x4 pixels each; VERSION 6 draws a skyline of
 * skyscrapers in the four grays of a colour terminal. Both end with the
 * credit line and the version. The drawings use the same geometry, in the
 * same float/double arithmetic, as Redis, so whatever is not random (the
 * first two rows of Schotter, every size, every text) is byte-identical;
 * the random parts come from a generator seeded per call (Redis uses rand()).
 * The reply is a verbatim string ("txt") in RESP3, a bulk string in RESP2.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../client.h"
#include "../resp/reply.h"
#include "../../platform/mem.h"
#include "../../platform/util.h"

#define LW_RAND_MAX 2147483647 /* as glibc's RAND_MAX: the scale Redis divides by */
#define REDIS_VERSION_TEXT "7.0.15"

/* A pixel canvas; colours 0..3. */
typedef struct {
    int width, height;
    unsigned char *px;
    uint64_t rng;           /* this call's random state */
} lw_canvas;

static int lw_rand(lw_canvas *cv) {
    /* xorshift64*, top 31 bits: 0..LW_RAND_MAX like rand(). */
    cv->rng ^= cv->rng >> 12;
    cv->rng ^= cv->rng << 25;
    cv->rng ^= cv->rng >> 27;
    return (int)((cv->rng * 2685821657736338717ULL) >> 33);
}

static void lw_init(lw_canvas *cv, int w, int h, int bg, uint64_t seed) {
    cv->width = w;
    cv->height = h;
    cv->px = cb_malloc((size_t)w * (size_t)h);
    memset(cv->px, bg, (size_t)w * (size_t)h);
    cv->rng = seed | 1;
}

static void lw_set(lw_canvas *cv, int x, int y, int color) {
    if (x < 0 || x >= cv->width || y < 0 || y >= cv->height) return;
    cv->px[(size_t)y * (size_t)cv->width + (size_t)x] = (unsigned char)color;
}

static int lw_get(const lw_canvas *cv, int x, int y) {
    if (x < 0 || x >= cv->width || y < 0 || y >= cv->height) return 0;
    return cv->px[(size_t)y * (size_t)cv->width + (size_t)x];
}

/* Bresenham from (x1,y1) to (x2,y2). */
static void lw_line(lw_canvas *cv, int x1, int y1, int x2, int y2) {
    int dx = x2 > x1 ? x2 - x1 : x1 - x2, dy = y2 > y1 ? y2 - y1 : y1 - y2;
    int sx = x1 < x2 ? 1 : -1, sy = y1 < y2 ? 1 : -1;
    int err = dx - dy;
    for (;;) {
        lw_set(cv, x1, y1, 1);
        if (x1 == x2 && y1 == y2) break;
        int e2 = err * 2;
        if (e2 > -dy) {
            err -= dy;
            x1 += sx;
        }
        if (e2 < dx) {
            err += dx;
            y1 += sy;
        }
    }
}

/* A square of side `size` centred at (x,y), turned by angle: its corners
 * lie on the circle through them, 90 degrees apart from 45 + angle. The
 * float/double mix is Redis's: it decides which pixel each corner hits. */
static void lw_square(lw_canvas *cv, int x, int y, float size, float angle) {
    int px[4], py[4];
    size = (float)(size / 1.4142135623);
    size = (float)round(size);
    float k = (float)(M_PI / 4 + angle);
    for (int j = 0; j < 4; j++) {
        px[j] = (int)round(sin(k) * size + x);
        py[j] = (int)round(cos(k) * size + y);
        k = (float)(k + M_PI / 2);
    }
    for (int j = 0; j < 4; j++) lw_line(cv, px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4]);
}

static char *lw_schotter(int cols, int per_row, int per_col, uint64_t seed, size_t *len) {
    int width = cols * 2;
    int padding = width > 4 ? 2 : 0;
    float side = (float)(width - padding * 2) / per_row;
    int height = (int)(side * per_col + padding * 2);
    lw_canvas cv;
    lw_init(&cv, width, height, 0, seed);
    for (int y = 0; y < per_col; y++) {
        for (int x = 0; x < per_row; x++) {
            int sx = (int)(x * side + side / 2 + padding);
            int sy = (int)(y * side + side / 2 + padding);
            float angle = 0;
            if (y > 1) {
                /* Lower rows turn and drift more. */
                float r1 = (float)lw_rand(&cv) / LW_RAND_MAX / per_col * y;
                float r2 = (float)lw_rand(&cv) / LW_RAND_MAX / per_col * y;
                float r3 = (float)lw_rand(&cv) / LW_RAND_MAX / per_col * y;
                if (lw_rand(&cv) % 2) r1 = -r1;
                if (lw_rand(&cv) % 2) r2 = -r2;
                if (lw_rand(&cv) % 2) r3 = -r3;
                angle = r1;
                sx = (int)(sx + r2 * side / 3);
                sy = (int)(sy + r3 * side / 3);
            }
            lw_square(&cv, sx, sy, side, angle);
        }
    }
    /* Braille: one character per 2x4 block, dots numbered
     *   0 3 / 1 4 / 2 5 / 6 7 (bit i = dot i), U+2800 + bits, UTF-8. */
    size_t cap = ((size_t)(width + 1) / 2 * 3 + 1) * ((size_t)height / 4 + 2) + 128;
    char *out = cb_malloc(cap);
    size_t n = 0;
    for (int y = 0; y < height; y += 4) {
        for (int x = 0; x < width; x += 2) {
            int b = 0;
            static const int dx[8] = {0, 0, 0, 1, 1, 1, 0, 1}, dy[8] = {0, 1, 2, 0, 1, 2, 3, 3};
            for (int i = 0; i < 8; i++)
                if (lw_get(&cv, x + dx[i], y + dy[i])) b |= 1 << i;
            int code = 0x2800 + b;
            out[n++] = (char)(0xE0 | (code >> 12));
            out[n++] = (char)(0x80 | ((code >> 6) & 0x3F));
            out[n++] = (char)(0x80 | (code & 0x3F));
        }
        if (y != height - 1) out[n++] = '\n';
    }
    cb_free(cv.px);
    n += (size_t)snprintf(out + n, cap - n,
                          "\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. %s\n",
                          REDIS_VERSION_TEXT);
    *len = n;
    return out;
}

/* One skyscraper standing on the bottom row; windows (two pixels wide, one
 * tall, every other column pair and row) take a random other gray. */
static void lw_skyscraper(lw_canvas *cv, int xoff, int width, int height, int windows, int color) {
    int starty = cv->height - 1, endy = starty - height + 1;
    for (int y = starty; y >= endy; y--) {
        for (int x = xoff; x < xoff + width; x++) {
            if (y == endy && (x <= xoff + 1 || x >= xoff + width - 2)) continue; /* roof */
            int c = color;
            if (windows && x > xoff + 1 && x < xoff + width - 2 && y > endy + 1 && y < starty - 1) {
                int relx = x - (xoff + 1), rely = y - (endy + 1);
                if (relx / 2 % 2 && rely % 2) {
                    do {
                        c = 1 + lw_rand(cv) % 2;
                    } while (c == color);
                    if (relx % 2) c = lw_get(cv, x - 1, y);
                }
            }
            lw_set(cv, x, y, c);
        }
    }
}

static char *lw_skyline(int cols, int rows, uint64_t seed, size_t *len) {
    lw_canvas cv;
    lw_init(&cv, cols, rows, 3, seed);
    /* Two gray layers without windows, the lighter behind... */
    for (int color = 2; color >= 1; color--) {
        for (int off = -10; off < cv.width;) {
            off += lw_rand(&cv) % 8;
            int w = 10 + lw_rand(&cv) % 9;
            int h = color == 2 ? cv.height / 2 + lw_rand(&cv) % cv.height / 2
                               : cv.height / 2 + lw_rand(&cv) % cv.height / 3;
            lw_skyscraper(&cv, off, w, h, 0, color);
            off += color == 2 ? w / 2 : w + 1;
        }
    }
    /* ...then black ones with windows in front. */
    for (int off = -10; off < cv.width;) {
        off += lw_rand(&cv) % 8;
        int w = 5 + lw_rand(&cv) % 14;
        if (w % 4) w += w % 3;
        int h = cv.height / 3 + lw_rand(&cv) % cv.height / 2;
        lw_skyscraper(&cv, off, w, h, 1, 0);
        off += w + 5;
    }
    static const char *const esc[4] = {"0;30;40m", "0;90;100m", "0;37;47m", "0;97;107m"};
    size_t cap = (size_t)rows * ((size_t)cols * 16 + 1) + 256;
    char *out = cb_malloc(cap);
    size_t n = 0;
    for (int y = 0; y < rows; y++) {
        for (int x = 0; x < cols; x++) {
            const char *e = esc[lw_get(&cv, x, y) & 3];
            size_t el = strlen(e);
            memcpy(out + n, "\033[", 2);
            memcpy(out + n + 2, e, el);
            memcpy(out + n + 2 + el, " \033[0m", 5);
            n += el + 7;
        }
        if (y != rows - 1) out[n++] = '\n';
    }
    cb_free(cv.px);
    n += (size_t)snprintf(out + n, cap - n,
                          "\nDedicated to the 8 bit game developers of past and present.\n"
                          "Original 8 bit image from Plaguemon by hikikomori. Redis ver. %s\n",
                          REDIS_VERSION_TEXT);
    *len = n;
    return out;
}

static long clamp(long v, long lo, long hi) { return v < lo ? lo : v > hi ? hi : v; }

void cmd_lolwut(cb_client *c) {
    char ver[32];
    snprintf(ver, sizeof(ver), "%s", REDIS_VERSION_TEXT);
    int first = 1; /* the first argument of the version's own parameters */
    if (c->argc >= 3 && arg_eq(c, 1, "version")) {
        long long v;
        if (arg_ll(c, 2, &v, NULL) < 0) return;
        /* Redis prints the number as an unsigned int and matches the text. */
        snprintf(ver, sizeof(ver), "%u.0.0", (unsigned)v);
        first = 3;
    }
    int is5 = (ver[0] == '5' && ver[1] == '.' && ver[2] != '9') ||
              (ver[0] == '4' && ver[1] == '.' && ver[2] == '9');
    int is6 = (ver[0] == '6' && ver[1] == '.' && ver[2] != '9') ||
              (ver[0] == '5' && ver[1] == '.' && ver[2] == '9');
    char *out = NULL;
    size_t len = 0;
    uint64_t seed = (uint64_t)util_ustime() ^ (c->id * 0x9E3779B97F4A7C15ULL);
    if (is5 || is6) {
        long long a[3] = {is5 ? 66 : 80, is5 ? 8 : 20, 12};
        int nparams = is5 ? 3 : 2;
        for (int i = 0; i < nparams && first + i < c->argc; i++)
            if (arg_ll(c, first + i, &a[i], NULL) < 0) return;
        if (is5)
            out = lw_schotter((int)clamp((long)a[0], 1, 1000), (int)clamp((long)a[1], 1, 200),
                              (int)clamp((long)a[2], 1, 200), seed, &len);
        else
            out = lw_skyline((int)clamp((long)a[0], 1, 1000), (int)clamp((long)a[1], 1, 1000),
                             seed, &len);
    } else {
        out = cb_malloc(64);
        len = (size_t)snprintf(out, 64, "Redis ver. %s\n", REDIS_VERSION_TEXT);
    }
    reply_verbatim(c, out, len, "txt");
    cb_free(out);
}
