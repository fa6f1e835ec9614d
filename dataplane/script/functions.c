/* functions.c — the process-wide registry of function libraries (FUNCTION
 * LOAD / DELETE / FLUSH / RESTORE, FCALL's lookup): library name, code and
 * the functions its code registered (name, description, flags).
 *
 * One registry for all workers, under a mutex, with a generation counter
 * bumped by every change: each worker's VM holds the callbacks of the
 * libraries it last loaded and runs every library's code again when it
 * sees a new generation (func_lua.c). Readers get deep copies, so nothing
 * handed out changes under them.
 */
#include "script_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../../platform/mem.h"

static struct {
    pthread_mutex_t mu;
    fn_lib **libs;
    int n, cap;
    uint64_t gen;
    size_t mem; /* bytes of names, code and descriptions (INFO) */
} reg = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, 1, 0};

/* ------------------------------------------------------------ libraries */

fn_lib *fn_lib_new(const char *name, size_t nlen, const char *code, size_t clen) {
    fn_lib *l = cb_calloc(sizeof(*l));
    l->name = cb_malloc(nlen + 1);
    memcpy(l->name, name, nlen);
    l->name[nlen] = '\0';
    l->code = cb_malloc(clen + 1);
    memcpy(l->code, code, clen);
    l->code[clen] = '\0';
    l->codelen = clen;
    return l;
}

void fn_lib_free(fn_lib *l) {
    if (!l) return;
    for (int i = 0; i < l->nfuncs; i++) {
        cb_free(l->funcs[i].name);
        cb_free(l->funcs[i].desc);
    }
    cb_free(l->funcs);
    cb_free(l->name);
    cb_free(l->code);
    cb_free(l);
}

int fn_lib_add_func(fn_lib *l, const char *name, size_t nlen, const char *desc, size_t dlen,
                    unsigned flags) {
    for (int i = 0; i < l->nfuncs; i++)
        if (strlen(l->funcs[i].name) == nlen && memcmp(l->funcs[i].name, name, nlen) == 0)
            return -1;
    l->funcs = cb_realloc(l->funcs, sizeof(fn_func) * (size_t)(l->nfuncs + 1));
    fn_func *f = &l->funcs[l->nfuncs++];
    f->name = cb_malloc(nlen + 1);
    memcpy(f->name, name, nlen);
    f->name[nlen] = '\0';
    f->desc = NULL;
    if (desc) {
        f->desc = cb_malloc(dlen + 1);
        memcpy(f->desc, desc, dlen);
        f->desc[dlen] = '\0';
    }
    f->flags = flags;
    return 0;
}

static fn_lib *lib_copy(const fn_lib *s) {
    fn_lib *l = fn_lib_new(s->name, strlen(s->name), s->code, s->codelen);
    for (int i = 0; i < s->nfuncs; i++)
        fn_lib_add_func(l, s->funcs[i].name, strlen(s->funcs[i].name), s->funcs[i].desc,
                        s->funcs[i].desc ? strlen(s->funcs[i].desc) : 0, s->funcs[i].flags);
    return l;
}

static size_t lib_mem(const fn_lib *l) {
    size_t m = sizeof(*l) + strlen(l->name) + l->codelen;
    for (int i = 0; i < l->nfuncs; i++)
        m += sizeof(fn_func) + strlen(l->funcs[i].name) +
             (l->funcs[i].desc ? strlen(l->funcs[i].desc) : 0);
    return m;
}

/* ------------------------------------------------------------- registry */

static int find_lib(const char *name) {
    for (int i = 0; i < reg.n; i++)
        if (strcmp(reg.libs[i]->name, name) == 0) return i;
    return -1;
}

static void remove_at(int i) {
    reg.mem -= lib_mem(reg.libs[i]);
    fn_lib_free(reg.libs[i]);
    reg.libs[i] = reg.libs[--reg.n];
}

/* The library (other than those named in skip) that has function fname. */
static int func_owner(const char *fname, fn_lib *const *skip, int nskip) {
    for (int i = 0; i < reg.n; i++) {
        int skipped = 0;
        for (int k = 0; k < nskip; k++)
            if (strcmp(reg.libs[i]->name, skip[k]->name) == 0) skipped = 1;
        if (skipped) continue;
        for (int j = 0; j < reg.libs[i]->nfuncs; j++)
            if (strcasecmp(reg.libs[i]->funcs[j].name, fname) == 0) return i;
    }
    return -1;
}

static char *errdup(const char *fmt, const char *arg) {
    size_t n = strlen(fmt) + strlen(arg) + 1;
    char *e = cb_malloc(n);
    snprintf(e, n, fmt, arg);
    return e;
}

int fn_registry_exists(const char *name) {
    pthread_mutex_lock(&reg.mu);
    int r = find_lib(name) >= 0;
    pthread_mutex_unlock(&reg.mu);
    return r;
}

int fn_registry_commit(fn_lib **libs, int n, int policy, const char *exists_fmt, char **err) {
    pthread_mutex_lock(&reg.mu);
    *err = NULL;
    /* New libraries replace (or, without REPLACE, collide with) same-named
     * ones; with FLUSH every old one goes. */
    fn_lib *const *skip = libs;
    int nskip = n;
    if (policy != FN_POLICY_FLUSH) {
        for (int k = 0; k < n && !*err; k++)
            if (find_lib(libs[k]->name) >= 0 && policy == FN_POLICY_APPEND)
                *err = errdup(exists_fmt, libs[k]->name);
        for (int k = 0; k < n && !*err; k++)
            for (int j = 0; j < libs[k]->nfuncs && !*err; j++)
                if (func_owner(libs[k]->funcs[j].name, skip, nskip) >= 0)
                    *err = errdup("Function %s already exists", libs[k]->funcs[j].name);
    }
    if (*err) {
        pthread_mutex_unlock(&reg.mu);
        return -1;
    }
    if (policy == FN_POLICY_FLUSH) {
        while (reg.n) remove_at(reg.n - 1);
    } else {
        for (int k = 0; k < n; k++) {
            int i = find_lib(libs[k]->name);
            if (i >= 0) remove_at(i);
        }
    }
    for (int k = 0; k < n; k++) {
        if (reg.n == reg.cap) {
            reg.cap = reg.cap ? reg.cap * 2 : 8;
            reg.libs = cb_realloc(reg.libs, sizeof(fn_lib *) * (size_t)reg.cap);
        }
        reg.libs[reg.n++] = libs[k];
        reg.mem += lib_mem(libs[k]);
        libs[k] = NULL;
    }
    reg.gen++;
    pthread_mutex_unlock(&reg.mu);
    return 0;
}

int fn_registry_delete(const char *name, size_t len) {
    pthread_mutex_lock(&reg.mu);
    int found = -1;
    for (int i = 0; i < reg.n; i++)
        if (strlen(reg.libs[i]->name) == len && memcmp(reg.libs[i]->name, name, len) == 0) found = i;
    if (found >= 0) {
        remove_at(found);
        reg.gen++;
    }
    pthread_mutex_unlock(&reg.mu);
    return found >= 0 ? 0 : -1;
}

void fn_registry_flush(void) {
    pthread_mutex_lock(&reg.mu);
    while (reg.n) remove_at(reg.n - 1);
    reg.gen++;
    pthread_mutex_unlock(&reg.mu);
}

uint64_t fn_registry_gen(void) {
    pthread_mutex_lock(&reg.mu);
    uint64_t g = reg.gen;
    pthread_mutex_unlock(&reg.mu);
    return g;
}

int fn_registry_lookup(const char *name, size_t len, unsigned *flags, char *canon, size_t cap) {
    pthread_mutex_lock(&reg.mu);
    int found = 0;
    for (int i = 0; i < reg.n && !found; i++)
        for (int j = 0; j < reg.libs[i]->nfuncs; j++) {
            const fn_func *f = &reg.libs[i]->funcs[j];
            /* Function names are looked up case-insensitively, as Redis's
             * functions dict compares them. */
            if (strlen(f->name) == len && strncasecmp(f->name, name, len) == 0) {
                *flags = f->flags;
                if (canon) snprintf(canon, cap, "%s", f->name);
                found = 1;
                break;
            }
        }
    pthread_mutex_unlock(&reg.mu);
    return found ? 0 : -1;
}

fn_lib **fn_registry_snapshot(int *n, uint64_t *gen) {
    pthread_mutex_lock(&reg.mu);
    fn_lib **out = cb_malloc(sizeof(fn_lib *) * (size_t)(reg.n ? reg.n : 1));
    for (int i = 0; i < reg.n; i++) out[i] = lib_copy(reg.libs[i]);
    *n = reg.n;
    if (gen) *gen = reg.gen;
    pthread_mutex_unlock(&reg.mu);
    return out;
}

void fn_snapshot_free(fn_lib **libs, int n) {
    for (int i = 0; i < n; i++) fn_lib_free(libs[i]);
    cb_free(libs);
}

size_t fn_registry_counts(size_t *nfuncs) {
    pthread_mutex_lock(&reg.mu);
    size_t f = 0;
    for (int i = 0; i < reg.n; i++) f += (size_t)reg.libs[i]->nfuncs;
    size_t l = (size_t)reg.n;
    pthread_mutex_unlock(&reg.mu);
    if (nfuncs) *nfuncs = f;
    return l;
}

size_t script_functions_count(void) {
    size_t f;
    fn_registry_counts(&f);
    return f;
}

size_t script_libraries_count(void) {
    return fn_registry_counts(NULL);
}

size_t script_functions_memory(void) {
    return __atomic_load_n(&reg.mem, __ATOMIC_RELAXED);
}
