/* control_internal.h — what the control port's HTTP layer (control.c) and
 * its endpoints (control_endpoints.c) share: one request as the endpoints
 * see it and the response they fill in. Nothing here is public API.
 */
#ifndef CB_CONTROL_INTERNAL_H
#define CB_CONTROL_INTERNAL_H

#include <stdint.h>
#include "../store/ds/cbstr.h"

struct MHD_Connection;

/* Largest request body kept (PUT /config values); more answers 413. */
#define CTL_MAX_BODY (64 * 1024)

enum { CTL_AFTER_NONE = 0, CTL_AFTER_SHUTDOWN = 1 };

typedef struct ctl_req {
    struct MHD_Connection *conn;
    const char *method;   /* "GET", "PUT", ... as sent */
    const char *path;     /* the URL's path, query left out */
    cbstr body;           /* request body (NULL when none) */
    int body_too_large;
    int peer_local;       /* loopback peer (protected configs "local") */
    char peer[80];        /* "ip:port" for logs */
    int authorized;
    /* PUT /restore: the body goes to a temp file (control_restore.c). */
    int upload_fd;        /* -1 when none */
    uint64_t upload_bytes;
    char upload_path[64]; /* relative to upload_dir */
    char upload_dir[1024];
    char upload_err[128];
    /* Work to do once the response has gone out (see control.c). */
    int after;
    int shutdown_flags;
} ctl_req;

typedef struct ctl_resp {
    unsigned status;
    const char *ctype;    /* static text */
    cbstr body;           /* owned; NULL with fd >= 0 */
    int fd;               /* >= 0: stream this file (fd_size bytes) */
    uint64_t fd_size;
    const char *hdr_name, *hdr_value; /* one extra header, static or NULL */
    char hdr_buf[160];    /* storage for hdr_value when built */
} ctl_resp;

/* Route one authorized (or /health/...) request; fills rp. */
void ctl_route(ctl_req *rq, ctl_resp *rp);
/* A query-string argument, or NULL (also finds a bare "?key"). */
const char *ctl_query(ctl_req *rq, const char *key);
/* 1 when "?key" was present, with or without a value. */
int ctl_query_has(ctl_req *rq, const char *key);
/* 1 once the workers run (control_set_ready). */
int ctl_ready(void);

/* PUT /restore (control_restore.c): begin when the headers are in (0 ok,
 * -1 with rq->upload_err set), chunk per body piece, finish when the body
 * is complete, abort (remove the temp file) when the request ends. */
int ctl_restore_begin(ctl_req *rq);
void ctl_restore_chunk(ctl_req *rq, const char *p, size_t n);
void ctl_restore_finish(ctl_req *rq, ctl_resp *rp);
void ctl_restore_abort(ctl_req *rq);

/* Fill rp with a JSON error {"error": msg} and this status. */
void ctl_error(ctl_resp *rp, unsigned status, const char *msg);
/* Fill rp with a JSON body (takes ownership of body). */
void ctl_json(ctl_resp *rp, unsigned status, cbstr body);

#endif
