/* control.c — the control port's HTTP server: token file, libmicrohttpd
 * set-up with bounded resources, authentication, the request life cycle,
 * and turning an endpoint's ctl_resp into an HTTP response. Endpoints live
 * in control_endpoints.c, the Prometheus text in metrics.c.
 *
 * libmicrohttpd runs one internal thread with epoll: every request of the
 * port is served in that one thread, one at a time, which is all a control
 * port needs. Like the management loop it never touches a worker's data:
 * it reads their relaxed counters, or parks every worker (xshard) for the
 * moment it reads shards and client lists, exactly as INFO does.
 *
 * Resources are bounded so that a slow or hostile peer cannot wear the port
 * down (slowloris): a connection limit overall and per IP, an idle timeout,
 * a per-connection memory pool that caps the request line and headers
 * (MHD answers 431 beyond it), and a cap on the body we keep.
 * Design: docs/control-port.md.
 */
#include "control.h"
#include "control_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "../dataplane/server.h"
#include "../platform/config.h"
#include "../platform/log.h"
#include "../platform/mem.h"
#include "../platform/util.h"

/* Bounds against slow or hostile peers. */
#define CTL_CONN_LIMIT 128
#define CTL_PER_IP_LIMIT 32
#define CTL_IDLE_TIMEOUT_S 10
#define CTL_CONN_MEMORY (32 * 1024) /* request line + headers must fit */
#define CTL_TOKEN_HEX 64             /* 256 random bits */
#define CTL_TOKEN_MAX 1024

static struct MHD_Daemon *daemon_h;
static char token[CTL_TOKEN_MAX + 1];
static size_t token_len;
static int ready;
static ctl_counters counters; /* atomics */
static long long last_denial_log_ms; /* control thread only */
static uint64_t denials_not_logged;  /* control thread only */

int ctl_ready(void) { return __atomic_load_n(&ready, __ATOMIC_ACQUIRE); }

void control_set_ready(void) { __atomic_store_n(&ready, 1, __ATOMIC_RELEASE); }

void control_counters(ctl_counters *out)
{
    out->requests = __atomic_load_n(&counters.requests, __ATOMIC_RELAXED);
    out->unauthorized = __atomic_load_n(&counters.unauthorized, __ATOMIC_RELAXED);
    out->client_errors = __atomic_load_n(&counters.client_errors, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------ token file */

/* Reads the token from path, or creates the file (mode 0600, O_EXCL so we
 * never follow or overwrite what someone else put there) with a fresh
 * random token. The token itself is never logged. */
static int load_or_create_token(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        char fresh[CTL_TOKEN_HEX + 1];
        util_random_hex(fresh, CTL_TOKEN_HEX);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            snprintf(err, errlen, "Can't create the control token file '%s': %s", path,
                     strerror(errno));
            return -1;
        }
        /* The umask may only take bits away; make sure of 0600 anyway. */
        char line[CTL_TOKEN_HEX + 2];
        memcpy(line, fresh, CTL_TOKEN_HEX);
        line[CTL_TOKEN_HEX] = '\n';
        if (fchmod(fd, 0600) < 0 || write(fd, line, sizeof(line) - 1) != (ssize_t)sizeof(line) - 1 ||
            fsync(fd) < 0) {
            snprintf(err, errlen, "Can't write the control token file '%s': %s", path,
                     strerror(errno));
            close(fd);
            unlink(path);
            return -1;
        }
        close(fd);
        memcpy(token, fresh, CTL_TOKEN_HEX);
        token_len = CTL_TOKEN_HEX;
        token[token_len] = '\0';
        cb_log(LOG_NOTICE, "Control port token created in '%s' (mode 0600)", path);
        return 0;
    }
    if (fd < 0) {
        snprintf(err, errlen, "Can't open the control token file '%s': %s", path,
                 strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_mode & 077))
        cb_log(LOG_WARNING, "WARNING: the control token file '%s' is readable by others "
                            "than its owner (mode %03o); chmod 600 it",
               path, (unsigned)(st.st_mode & 0777));
    ssize_t n = read(fd, token, CTL_TOKEN_MAX);
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "Can't read the control token file '%s': %s", path,
                 strerror(errno));
        return -1;
    }
    /* One line; trailing white space (the newline) is not part of it. */
    size_t len = (size_t)n;
    while (len && (token[len - 1] == '\n' || token[len - 1] == '\r' || token[len - 1] == ' ' ||
                   token[len - 1] == '\t'))
        len--;
    token[len] = '\0';
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)token[i] <= ' ' || token[i] == 0x7f) {
            snprintf(err, errlen, "The control token file '%s' must hold one token of "
                                  "printable characters", path);
            return -1;
        }
    }
    if (len < 16) {
        snprintf(err, errlen, "The control token in '%s' is too short (16 characters at least)",
                 path);
        return -1;
    }
    token_len = len;
    return 0;
}

/* ------------------------------------------------------------------ auth */

/* Constant time in the length of what was sent, so that timing does not
 * reveal how much of a guess matched. */
static int token_matches(const char *got, size_t n)
{
    unsigned diff = (unsigned)(n ^ token_len);
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)got[i] ^ (unsigned char)token[i % token_len];
    return diff == 0;
}

/* 1 when the Authorization header carries our token as a Bearer token. */
static int authorized(struct MHD_Connection *conn, int *missing)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    *missing = h == NULL;
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return 0;
    h += 7;
    while (*h == ' ') h++;
    size_t n = strlen(h);
    while (n && h[n - 1] == ' ') n--;
    return token_matches(h, n);
}

/* Printable, bounded copy of a client-supplied string for the log. */
static void log_safe(char *dst, size_t cap, const char *src)
{
    size_t j = 0;
    for (size_t i = 0; src && src[i] && j + 1 < cap; i++)
        dst[j++] = (src[i] >= ' ' && src[i] < 0x7f) ? src[i] : '?';
    dst[j] = '\0';
}

static void log_denial(ctl_req *rq, int missing)
{
    /* At most one line a second, so a flood cannot fill the disk. */
    long long now = util_mstime();
    if (now - last_denial_log_ms < 1000) {
        denials_not_logged++;
        return;
    }
    char m[16], p[128];
    log_safe(m, sizeof(m), rq->method);
    log_safe(p, sizeof(p), rq->path);
    cb_log(LOG_WARNING, "Control port: %s token, request %s %s from %s refused%s",
           missing ? "missing" : "wrong", m, p, rq->peer,
           denials_not_logged ? " (and earlier refusals not logged)" : "");
    last_denial_log_ms = now;
    denials_not_logged = 0;
}

/* ------------------------------------------------------------- responses */

void ctl_error(ctl_resp *rp, unsigned status, const char *msg)
{
    cbstr b = cbstr_from_cstr("{\"error\":");
    b = json_str(b, msg, strlen(msg));
    b = cbstr_cat(b, "}\n", 2);
    ctl_json(rp, status, b);
}

void ctl_json(ctl_resp *rp, unsigned status, cbstr body)
{
    if (rp->body) cbstr_free(rp->body);
    rp->status = status;
    rp->ctype = "application/json";
    rp->body = body;
}

const char *ctl_query(ctl_req *rq, const char *key)
{
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, key);
}

int ctl_query_has(ctl_req *rq, const char *key)
{
    /* A bare "?key" is stored with a NULL value: check presence. */
    const char *v = NULL;
    return MHD_lookup_connection_value_n(rq->conn, MHD_GET_ARGUMENT_KIND, key, strlen(key), &v,
                                         NULL) == MHD_YES;
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, ctl_resp *rp)
{
    struct MHD_Response *r;
    if (rp->fd >= 0) {
        r = MHD_create_response_from_fd64(rp->fd_size, rp->fd); /* closes fd */
        rp->fd = -1;
    } else {
        size_t n = rp->body ? cbstr_len(rp->body) : 0;
        r = MHD_create_response_from_buffer(n, rp->body ? rp->body : (void *)"",
                                            MHD_RESPMEM_MUST_COPY);
    }
    if (!r) return MHD_NO;
    if (rp->ctype) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rp->ctype);
    if (rp->hdr_name && rp->hdr_value) MHD_add_response_header(r, rp->hdr_name, rp->hdr_value);
    if (rp->status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"cachebox\"");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, rp->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* ------------------------------------------------------------- lifecycle */

static void peer_of(struct MHD_Connection *conn, ctl_req *rq)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(rq->peer, sizeof(rq->peer), "?");
    if (!ci || !ci->client_addr) return;
    char ip[INET6_ADDRSTRLEN] = "?";
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        rq->peer_local = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
        snprintf(rq->peer, sizeof(rq->peer), "%s:%u", ip, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        rq->peer_local = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
                         (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127);
        snprintf(rq->peer, sizeof(rq->peer), "[%s]:%u", ip, ntohs(in6->sin6_port));
    }
}

static int is_health(const char *url) { return strncmp(url, "/health/", 8) == 0; }

/* PUT /restore streams its body to disk instead of memory. */
static int is_restore(const ctl_req *rq)
{
    return !strcmp(rq->path, "/restore") && !strcmp(rq->method, "PUT");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)cls;
    (void)version;
    ctl_req *rq = *con_cls;
    if (!rq) {
        /* First call: headers are in. Decide on the token before any body
         * is read, so an unauthenticated peer cannot make us buffer one. */
        rq = cb_calloc(sizeof(*rq));
        rq->upload_fd = -1;
        rq->conn = conn;
        rq->method = method;
        rq->path = url;
        peer_of(conn, rq);
        int missing = 0;
        rq->authorized = is_health(url) || authorized(conn, &missing);
        *con_cls = rq;
        __atomic_add_fetch(&counters.requests, 1, __ATOMIC_RELAXED);
        if (!rq->authorized) {
            __atomic_add_fetch(&counters.unauthorized, 1, __ATOMIC_RELAXED);
            log_denial(rq, missing);
            ctl_resp rp = { .fd = -1 };
            ctl_error(&rp, MHD_HTTP_UNAUTHORIZED,
                      missing ? "missing bearer token" : "invalid bearer token");
            enum MHD_Result ret = send_resp(conn, &rp);
            cbstr_free(rp.body);
            return ret;
        }
        if (is_restore(rq) && ctl_ready() && ctl_restore_begin(rq) < 0)
            cb_log(LOG_WARNING, "Control port: PUT /restore: %s", rq->upload_err);
        return MHD_YES;
    }
    if (!rq->authorized) {
        *upload_data_size = 0; /* the 401 is queued; drop what follows */
        return MHD_YES;
    }
    if (*upload_data_size && (rq->upload_fd >= 0 || rq->upload_err[0])) {
        ctl_restore_chunk(rq, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!rq->body_too_large) {
            size_t have = rq->body ? cbstr_len(rq->body) : 0;
            if (have + *upload_data_size > CTL_MAX_BODY) {
                rq->body_too_large = 1;
            } else {
                if (!rq->body) rq->body = cbstr_with_cap(*upload_data_size);
                rq->body = cbstr_cat(rq->body, upload_data, *upload_data_size);
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    ctl_resp rp = { .fd = -1, .status = MHD_HTTP_OK };
    if (is_restore(rq) && ctl_ready())
        ctl_restore_finish(rq, &rp);
    else if (rq->body_too_large)
        ctl_error(&rp, 413, "request body too large");
    else
        ctl_route(rq, &rp);
    if (rp.status >= 400 && rp.status < 500)
        __atomic_add_fetch(&counters.client_errors, 1, __ATOMIC_RELAXED);
    enum MHD_Result ret = send_resp(conn, &rp);
    if (rp.body) cbstr_free(rp.body);
    if (rp.fd >= 0) close(rp.fd);
    return ret;
}

/* The response went out (or the connection died): free the request, and
 * run what had to wait for the reply to leave (shutdown). */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    ctl_req *rq = *con_cls;
    if (!rq) return;
    *con_cls = NULL;
    if (rq->after == CTL_AFTER_SHUTDOWN) server_request_shutdown(rq->shutdown_flags);
    ctl_restore_abort(rq); /* a temp file not renamed into place goes */
    if (rq->body) cbstr_free(rq->body);
    cb_free(rq);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    cb_log(LOG_VERBOSE, "Control port: %s", line);
}

/* Parses control-bind: one IPv4 or IPv6 address ("*" = every IPv4). */
static int parse_bind(const char *s, int port, struct sockaddr_storage *ss, int *v6)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (!strcmp(s, "*")) s = "0.0.0.0";
    if (inet_pton(AF_INET, s, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        *v6 = 0;
        return 0;
    }
    if (inet_pton(AF_INET6, s, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *v6 = 1;
        return 0;
    }
    return -1;
}

int control_start(char *err, size_t errlen)
{
    if (g_config.control_port == 0) return 0;
    const char *bind = g_config.control_bind && g_config.control_bind[0] ? g_config.control_bind
                                                                          : "127.0.0.1";
    struct sockaddr_storage ss;
    int v6;
    if (parse_bind(bind, g_config.control_port, &ss, &v6) < 0) {
        snprintf(err, errlen, "control-bind '%s' is not an IPv4 or IPv6 address", bind);
        return -1;
    }
    const char *tf = g_config.control_token_file && g_config.control_token_file[0]
                         ? g_config.control_token_file
                         : "control.token";
    if (load_or_create_token(tf, err, errlen) < 0) return -1;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (v6) flags |= MHD_USE_IPv6;
    daemon_h = MHD_start_daemon(
        flags, (uint16_t)g_config.control_port, NULL, NULL, on_request, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)CTL_CONN_LIMIT,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)CTL_PER_IP_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CTL_IDLE_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CTL_CONN_MEMORY,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)64,
        MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_END);
    if (!daemon_h) {
        snprintf(err, errlen, "Could not listen on the control port %s:%d: %s", bind,
                 g_config.control_port, errno ? strerror(errno) : "libmicrohttpd refused");
        return -1;
    }
    cb_log(LOG_NOTICE, "Control port listening on %s:%d", bind, g_config.control_port);
    return 0;
}

void control_stop(void)
{
    if (!daemon_h) return;
    MHD_stop_daemon(daemon_h);
    daemon_h = NULL;
}
