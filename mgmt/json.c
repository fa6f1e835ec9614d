/* json.c — JSON output for the control port (see json.h). Written for INFO
 * text, client lists and small replies: everything is appended to a cbstr.
 */
#include "json.h"

#include <string.h>

#include "../platform/util.h"

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t need;
    if (p[0] < 0x80) return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) need = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef) need = 3;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4) need = 4;
    else return 0;
    if (need > n) return 0;
    for (size_t i = 1; i < need; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    return need;
}

cbstr json_str(cbstr s, const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    s = cbstr_cat(s, "\"", 1);
    size_t i = 0;
    while (i < n) {
        unsigned char ch = u[i];
        if (ch == '"' || ch == '\\') {
            char esc[2] = { '\\', (char)ch };
            s = cbstr_cat(s, esc, 2);
            i++;
        } else if (ch < 0x20 || ch == 0x7f) {
            s = cbstr_catfmt(s, "\\u%04x", ch);
            i++;
        } else {
            size_t l = utf8_len(u + i, n - i);
            if (l == 0) {
                s = cbstr_cat(s, "\\ufffd", 6);
                i++;
            } else {
                s = cbstr_cat(s, p + i, l);
                i += l;
            }
        }
    }
    return cbstr_cat(s, "\"", 1);
}

/* JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int is_json_number(const char *p, size_t n)
{
    size_t i = 0;
    if (i < n && p[i] == '-') i++;
    if (i >= n) return 0;
    if (p[i] == '0') {
        i++;
    } else if (p[i] >= '1' && p[i] <= '9') {
        while (i < n && p[i] >= '0' && p[i] <= '9') i++;
    } else {
        return 0;
    }
    if (i < n && p[i] == '.') {
        size_t d = ++i;
        while (i < n && p[i] >= '0' && p[i] <= '9') i++;
        if (i == d) return 0;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-')) i++;
        size_t d = i;
        while (i < n && p[i] >= '0' && p[i] <= '9') i++;
        if (i == d) return 0;
    }
    return i == n;
}

cbstr json_scalar(cbstr s, const char *p, size_t n)
{
    if (is_json_number(p, n)) return cbstr_cat(s, p, n);
    return json_str(s, p, n);
}

cbstr json_pairs(cbstr s, const char *p, size_t n, char sep)
{
    s = cbstr_cat(s, "{", 1);
    size_t i = 0;
    int first = 1;
    while (i < n) {
        const char *item = p + i;
        const char *end = memchr(item, sep, n - i);
        size_t len = end ? (size_t)(end - item) : n - i;
        i += len + 1;
        if (len == 0) continue;
        const char *eq = memchr(item, '=', len);
        if (!first) s = cbstr_cat(s, ",", 1);
        first = 0;
        if (!eq) {
            s = json_str(s, item, len);
            s = cbstr_cat(s, ":null", 5);
            continue;
        }
        s = json_str(s, item, (size_t)(eq - item));
        s = cbstr_cat(s, ":", 1);
        s = json_scalar(s, eq + 1, len - (size_t)(eq - item) - 1);
    }
    return cbstr_cat(s, "}", 1);
}

/* Sections whose values are "k=v,k=v" lists. */
static int section_has_pairs(const char *sec, size_t n)
{
    return util_eq_nocase(sec, n, "keyspace") || util_eq_nocase(sec, n, "commandstats") ||
           util_eq_nocase(sec, n, "errorstats") || util_eq_nocase(sec, n, "latencystats");
}

cbstr json_info(cbstr s, const char *text, size_t len)
{
    s = cbstr_cat(s, "{", 1);
    const char *sec = NULL;
    size_t seclen = 0;
    int open = 0, nsec = 0, nfield = 0;
    size_t i = 0;
    while (i < len) {
        const char *line = text + i;
        const char *nl = memchr(line, '\n', len - i);
        size_t l = nl ? (size_t)(nl - line) : len - i;
        i += l + 1;
        if (l && line[l - 1] == '\r') l--;
        if (l == 0) continue;
        if (line[0] == '#') {
            if (open) s = cbstr_cat(s, "}", 1);
            sec = line + 1;
            seclen = l - 1;
            while (seclen && *sec == ' ') sec++, seclen--;
            if (nsec++) s = cbstr_cat(s, ",", 1);
            /* Lower-case, as the section names INFO takes. */
            char name[64];
            size_t k;
            for (k = 0; k < seclen && k < sizeof(name); k++)
                name[k] = (char)(sec[k] >= 'A' && sec[k] <= 'Z' ? sec[k] + 32 : sec[k]);
            s = json_str(s, name, k);
            s = cbstr_cat(s, ":{", 2);
            open = 1;
            nfield = 0;
            continue;
        }
        if (!open) continue;
        const char *colon = memchr(line, ':', l);
        if (!colon) continue;
        size_t kl = (size_t)(colon - line), vl = l - kl - 1;
        if (nfield++) s = cbstr_cat(s, ",", 1);
        s = json_str(s, line, kl);
        s = cbstr_cat(s, ":", 1);
        if (section_has_pairs(sec, seclen) && memchr(colon + 1, '=', vl))
            s = json_pairs(s, colon + 1, vl, ',');
        else
            s = json_scalar(s, colon + 1, vl);
    }
    if (open) s = cbstr_cat(s, "}", 1);
    return cbstr_cat(s, "}", 1);
}
