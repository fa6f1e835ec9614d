/* tcp.h — our TCP (RFC 9293) for one poll core: passive open with a SYN
 * queue bounded by the backlog, active open (tcp_connect), MSS, window
 * scaling and timestamps (RFC 7323), SACK (RFC 2018/6675), in-order delivery
 * with an out-of-order queue, retransmission per RFC 6298 with a 200 ms
 * floor, RACK-TLP loss detection (RFC 8985) with SACK-driven recovery,
 * zero-window
 * probes, keepalive, FIN/RST in every state, RFC 5961 challenge ACKs, RFC 6528
 * ISNs, SYN cookies when the SYN queue is full. Connections live in a hash
 * table and share a timer wheel.
 *
 * Files: tcp_conn.c (table, life cycle, send buffer, app calls),
 * tcp_input.c (segment arrives), tcp_output.c (segments leave),
 * tcp_timer.c (wheel, RTO, probes, TIME_WAIT), tcp_recovery.c (segment
 * records, SACK scoreboard, RACK, TLP), tcp_syncookie.c, tcp_connect.c
 * (active open, ephemeral ports). Design:
 * docs/tcp-stack.md.
 */
#ifndef CB_TCP_H
#define CB_TCP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct net_zbuf;

struct netstack;

enum tcp_state {
    TCP_CLOSED = 0, TCP_LISTEN, TCP_SYN_SENT, TCP_SYN_RCVD, TCP_ESTABLISHED, TCP_FIN_WAIT_1,
    TCP_FIN_WAIT_2, TCP_CLOSE_WAIT, TCP_CLOSING, TCP_LAST_ACK, TCP_TIME_WAIT
};

#define TCP_RTO_MIN_MS 200
#define TCP_RTO_MAX_MS 60000
#define TCP_RTO_INIT_MS 1000
#define TCP_MAX_RETRIES 12
#define TCP_SYNACK_RETRIES 5
#define TCP_SYN_RETRIES 6          /* active open: 1+2+4+8+16+32 s, then ETIMEDOUT */
#define TCP_EPH_LO 32768           /* ephemeral ports, as Linux's default range */
#define TCP_EPH_HI 60999
#define TCP_TIME_WAIT_MS 10000     /* 2*MSL, short as data-centre stacks do */
#define TCP_FIN_WAIT_2_MS 60000
#define TCP_RCV_WND (1u << 20)     /* we consume at once: a constant window */
#define TCP_RCV_WSCALE 7
#define TCP_SNDBUF_MAX (4u << 20)
#define TCP_SNDBUF_FLOOR (64u << 10) /* taken whatever the peer's window */
#define TCP_OOO_MAX 128            /* out-of-order segments kept per connection */
#define TCP_WHEEL_SLOTS 4096       /* 1 ms ticks */
#define TCP_TLP_MIN_MS 10          /* floor of the probe timeout (RFC 8985 7.2) */
#define TCP_SACK_RECENT 4          /* latest out-of-order arrivals remembered */

/* Flags of a connection. */
#define TF_ACKNOW    0x01  /* send an ACK at the end of this loop turn */
#define TF_TS        0x02  /* timestamps negotiated */
#define TF_WS        0x04  /* window scaling negotiated */
#define TF_APP_CLOSED 0x08 /* the application closed: FIN after the data */
#define TF_FIN_SENT  0x10
#define TF_ACKLIST   0x20  /* on the stack's ack list */
#define TF_RTT       0x40  /* timing a segment (no timestamps) */
#define TF_FIN_RCVD  0x80
#define TF_KATIMER   0x100 /* the armed timer is only the keepalive's */
#define TF_HOLD      0x200 /* the application is inside this connection's
                              callback: its segments wait (tcp_hold) */
#define TF_SACK      0x400 /* SACK permitted in both SYNs (RFC 2018) */

/* What the armed (non-keepalive) timer means. */
enum { TK_RTO = 0, TK_TLP, TK_REO };

/* One transmitted segment (RFC 8985 keeps per-segment state): the records
 * cover [snd_una, snd_max) in sequence order and are the SACK scoreboard. */
#define SEG_SACKED  0x01
#define SEG_LOST    0x02  /* marked lost, not yet resent */
#define SEG_RETRANS 0x04
#define SEG_FIN     0x08
#define SEG_RACK    0x10  /* RACK marked it lost (by time) */
typedef struct tcp_sent {
    uint32_t seq, end;    /* end counts the FIN */
    uint64_t xmit_us;     /* last (re)transmission */
    uint8_t flags;
} tcp_sent;
#define TF_ACTIVE    0x800 /* we opened it (tcp_connect): the application
                              is told by connected(), not accepted() */
#define TF_TAP       0x1000 /* the application reads this connection from
                               inside its callback (tcp_tap) */
#define TF_GONE      0x2000 /* tapped, and a reset or a give-up waits for
                               the tap's end */

typedef struct tcp_ooo {
    struct tcp_ooo *next;
    uint32_t seq, len;
    int fin;
    uint8_t data[];
} tcp_ooo;

/* A segment that arrived for a held connection, kept whole for replay. */
typedef struct tcp_deferred {
    struct tcp_deferred *next;
    uint32_t src, dst;
    uint32_t len;
    uint8_t data[];
} tcp_deferred;

typedef struct tcp_conn {
    struct tcp_conn *hnext;               /* hash chain */
    struct tcp_conn *tprev, *tnext;       /* timer wheel slot list */
    struct tcp_conn *anext;               /* ack list */
    uint64_t timer_due_ms;                /* 0: not armed */
    uint32_t lip, rip;                    /* host order */
    uint16_t lport, rport;
    uint8_t state;
    uint8_t snd_wscale, rcv_wscale;
    uint8_t dupacks, backoff, retries;
    uint16_t flags;
    uint16_t mss;                         /* payload bytes per segment we send */
    uint32_t iss, irs;
    uint32_t snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2;
    uint32_t rcv_nxt;
    uint32_t ts_recent;
    uint32_t cwnd, ssthresh;
    uint32_t recover;                     /* fast recovery ends when this is acked */
    int64_t srtt_us, rttvar_us;           /* srtt 0: no sample yet */
    uint32_t rto_ms;
    uint32_t rtt_seq;
    uint64_t rtt_start_us;
    uint64_t last_rx_ms;                  /* keepalive: last segment received */
    uint8_t ka_probes;
    /* Send buffer: bytes from snd_una on, in a power-of-two ring (sbuf is
     * sbo->data). Segments sent by reference hold sbo; while they may
     * (sbo->refs > 1), ring bytes from sequence snic_lo on are not
     * overwritten: tcp_send moves to a fresh ring instead. */
    uint8_t *sbuf;
    struct net_zbuf *sbo;
    uint32_t snic_lo;
    uint32_t scap, shead, slen;
    tcp_ooo *ooo;
    int nooo;
    uint32_t sack_recent[TCP_SACK_RECENT]; /* latest OOO arrivals, newest first */
    uint8_t nsack_recent;
    /* Loss recovery (tcp_recovery.c). */
    uint8_t tkind;                        /* TK_*: the armed timer's meaning */
    uint8_t recov;                        /* 0 open, 1 fast recovery, 2 after RTO */
    uint8_t reo_seen, reo_mult, reo_persist;
    uint8_t tlp_out, tlp_retx, tlp_dsack; /* a probe in flight; it resent; D-SACKed */
    tcp_sent *segs;                       /* ring of records, power-of-two size */
    uint32_t segcap, seghead, nsegs;
    uint32_t sacked_bytes, lost_bytes;    /* sequence space in SACKED / LOST records */
    uint32_t tlp_end;                     /* snd_max when the probe went out */
    uint32_t rack_end, rack_fack;         /* RACK.end_seq; highest delivered end */
    uint64_t rack_xmit_us;                /* RACK.xmit_ts (0: nothing delivered yet) */
    uint64_t reo_due_us;                  /* earliest RACK deadline (0: none) */
    int64_t rack_rtt_us, min_rtt_us;      /* min_rtt 0: no sample */
    void *app;                            /* the application's connection */
    struct tcp_stack *ts;
} tcp_conn;

/* Application side (the I/O driver). The stack calls these; none of them may
 * free the tcp_conn (only the stack does). */
typedef struct tcp_app_ops {
    /* Handshake complete on a listening port: set tc->app, or return -1
     * to have the connection reset. */
    int (*accepted)(void *ctx, tcp_conn *tc);
    void (*recv)(tcp_conn *tc, const uint8_t *p, size_t len);
    /* The peer sent FIN (reset 0), or the connection was reset or timed out
     * (reset 1). tc->app is already NULL; `app` is what it was. */
    void (*closed)(void *app, int reset);
    /* Send-buffer space was freed. */
    void (*writable)(tcp_conn *tc);
    /* An active open (tcp_connect) reached ESTABLISHED. Its failures come
     * through closed(app, reset): 1 refused/reset, 2 timed out. */
    void (*connected)(tcp_conn *tc);
} tcp_app_ops;

typedef struct tcp_stack {
    struct netstack *ns;
    const tcp_app_ops *app;
    void *app_ctx;
    uint16_t listen_port;                 /* 0: none */
    uint32_t backlog;
    uint32_t keepalive_ms;                /* idle time before probes; 0: off */
    tcp_conn **htab;
    uint32_t hmask;
    uint32_t nconns;
    uint8_t secret[16];                   /* RFC 6528 F() key, hash seed */
    tcp_conn *wheel[TCP_WHEEL_SLOTS];
    uint64_t wheel_ms;                    /* last tick processed */
    tcp_conn *acklist;
    tcp_deferred *deferred, **deferred_tail; /* FIFO of held segments */
    uint32_t deferred_bytes;
    /* Active open: may local port lport be used towards rip:rport? The
     * driver says no when the NIC's RSS would steer the replies to another
     * poll core. NULL: any free port. */
    int (*port_ok)(void *ctx, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport);
    void *port_ok_ctx;
    uint32_t eph_next;                    /* where the ephemeral search resumes */
} tcp_stack;

tcp_stack *tcp_stack_create(struct netstack *ns);
void tcp_stack_destroy(tcp_stack *ts);
void tcp_set_app(tcp_stack *ts, const tcp_app_ops *app, void *ctx);
void tcp_listen(tcp_stack *ts, uint16_t port, uint32_t backlog);

/* A TCP segment (IP payload) arrived; addresses host order. */
void tcp_input(tcp_stack *ts, uint32_t src, uint32_t dst, const uint8_t *seg, size_t len);
/* Fire due timers (call once per loop turn after net_set_clock). */
void tcp_timers_run(tcp_stack *ts);
/* Send the ACKs still owed at the end of a loop turn (delayed within the
 * turn only, so a reply carries the ACK of its request). */
void tcp_flush_acks(tcp_stack *ts);

/* Hold (on 1) or release a connection while the application is busy
 * inside its callback and may poll the stack again (a long script): its
 * segments are kept in arrival order, its timers wait, and it is ACKed for
 * what was delivered. Held segments are processed by tcp_run_deferred. */
void tcp_hold(tcp_conn *tc, int on);
/* Process the segments kept for connections no longer held, in order
 * (call from the outermost loop level, never from a callback). */
void tcp_run_deferred(tcp_stack *ts);
/* Tap (on 1) or release a connection whose application stays inside its
 * callback and reads it from there by polling the stack (a Lua debugging
 * session): its segments are processed and delivered, its timers run, but
 * nothing frees it meanwhile: an acceptable reset waits (with what follows
 * it) for tcp_run_deferred and a retransmission or keepalive give-up for
 * the next expiry; either sets TF_GONE, which is how the application
 * learns that the peer is gone. */
void tcp_tap(tcp_conn *tc, int on);

/* Active open (tcp_connect.c): a SYN with our options (MSS, window scale,
 * timestamps) to rip:rport from lport (0: an ephemeral port that the
 * port_ok filter accepts and no connection uses). tc->app = app at once;
 * connected() or closed() follows. NULL with errno (EADDRNOTAVAIL: no free
 * port, EADDRINUSE: that 4-tuple exists, ENOMEM). */
tcp_conn *tcp_connect(tcp_stack *ts, uint32_t rip, uint16_t rport, uint16_t lport, void *app);
/* A free ephemeral port towards rip:rport that port_ok accepts; 0: none. */
uint16_t tcp_ephemeral_port(tcp_stack *ts, uint32_t rip, uint16_t rport);

/* Queue bytes for sending; returns the count taken (0: buffer full). */
size_t tcp_send(tcp_conn *tc, const struct iovec *iov, int n);
/* The application is done: FIN after queued data; tc->app becomes NULL. */
void tcp_close(tcp_conn *tc);
/* Free send-buffer space: twice the peer's window (64 KiB to 4 MiB)
 * less what is queued. */
uint32_t tcp_send_space(const tcp_conn *tc);
/* The send ring's first size; it doubles as a burst needs. */
#define TCP_SBUF_MIN 16384u
const char *tcp_state_name(int state);

/* Internal to dataplane/tcp/. */
tcp_conn *tcp_lookup(tcp_stack *ts, uint32_t rip, uint16_t rport, uint32_t lip, uint16_t lport);
tcp_conn *tcp_conn_new(tcp_stack *ts, uint32_t rip, uint16_t rport, uint32_t lip, uint16_t lport);
void tcp_conn_free(tcp_conn *tc);
/* An empty send ring grown past TCP_SBUF_MIN is given back (the next send
 * starts a small one). */
void tcp_sbuf_trim(tcp_conn *tc);
/* Drop the held segments (stack teardown). */
void tcp_deferred_free(tcp_stack *ts);
/* Drop the connection, telling the application (reset). */
void tcp_abort(tcp_conn *tc);
void tcp_set_state(tcp_conn *tc, int state);
uint32_t tcp_isn(tcp_stack *ts, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport);
void tcp_timer_set(tcp_conn *tc, uint32_t ms);
/* No retransmission or probe timer pending (keepalive's may be). */
static inline int tcp_timer_idle(const tcp_conn *tc) {
    return !tc->timer_due_ms || (tc->flags & TF_KATIMER);
}
/* Idle ESTABLISHED connection: arm the keepalive timer if it is on. */
void tcp_keepalive_arm(tcp_conn *tc);
void tcp_timer_cancel(tcp_conn *tc);
void tcp_ack_later(tcp_conn *tc);
/* Send what the windows allow (data, FIN); force: an ACK even if no data. */
void tcp_output(tcp_conn *tc, int force_ack);
/* The SYN-ACK (or, in SYN_SENT, our SYN) with our options. */
void tcp_send_synack(tcp_conn *tc);
/* SYN_SENT's timer expired: resend with backoff, or fail (ETIMEDOUT). */
void tcp_syn_timeout(tcp_conn *tc);
/* An active open failed or ended abnormally: the application hears
 * closed(app, why) (1 reset, 2 timed out) and the connection is freed. */
void tcp_connect_fail(tcp_conn *tc, int why);
/* One segment of up to len bytes at seq (retransmission or probe). */
void tcp_send_segment(tcp_conn *tc, uint32_t seq, uint32_t len, int fin);
void tcp_send_rst(tcp_stack *ts, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport,
                  uint32_t seq, uint32_t ack, int with_ack);
void tcp_rto_update(tcp_conn *tc, int64_t rtt_us);
/* SYN cookies (tcp_syncookie.c): the ISS for a stateless SYN-ACK (ws -1:
 * the peer sent no window scale), and its check; 0 ok with mss and ws. */
uint32_t tcp_cookie_make(tcp_stack *ts, uint32_t lip, uint16_t lport, uint32_t rip,
                         uint16_t rport, uint32_t irs, uint16_t peer_mss, int ws, int sack);
int tcp_cookie_check(tcp_stack *ts, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport,
                     uint32_t irs, uint32_t iss, uint16_t *mss, int *ws, int *sack);

/* Loss recovery (tcp_recovery.c). */
/* New data [seq, end) left at now (end counts a FIN). */
void tcp_rec_sent(tcp_conn *tc, uint32_t seq, uint32_t end, int fin);
/* Bytes (sequence space) believed in the network: RFC 6675 pipe. */
static inline uint32_t tcp_rec_pipe(const tcp_conn *tc) {
    uint32_t out = tc->snd_max - tc->snd_una, gone = tc->sacked_bytes + tc->lost_bytes;
    return out > gone ? out - gone : 0;
}
/* The cumulative ACK reached `ack`: drop the records it covers. */
void tcp_rec_acked(tcp_conn *tc, uint32_t ack);
/* SACK blocks (pairs of left, right edges) from an ACK of `ack`; a D-SACK
 * (RFC 2883) is recognised and only adapts the reordering window. */
void tcp_rec_sack(tcp_conn *tc, const uint32_t *blk, int n, uint32_t ack);
/* After an ACK's processing: TLP episode, RACK detection, recovery entry
 * and exit, cwnd, retransmission of lost segments, the timer.
 * progress: snd_una moved by `acked`; dupack: a non-SACK duplicate ACK. */
void tcp_rec_on_ack(tcp_conn *tc, int progress, uint32_t acked, int dupack);
/* The first record is lost (no SACK: three duplicate ACKs, partial ACK). */
void tcp_rec_mark_head_lost(tcp_conn *tc);
/* Resend LOST records while the pipe is under cwnd; force: one at least. */
void tcp_rec_xmit_lost(tcp_conn *tc, int force);
/* New data went out: arm the probe (or retransmission) timer. */
void tcp_rec_arm_on_send(tcp_conn *tc);
/* Timer expiries: retransmission timeout, tail loss probe, RACK deadline. */
void tcp_rec_rto(tcp_conn *tc);
void tcp_rec_tlp(tcp_conn *tc);
void tcp_rec_reo(tcp_conn *tc);
/* RTO with the current backoff. */
uint32_t tcp_backed_off(const tcp_conn *tc);
/* Receiver side: remember an out-of-order arrival; write our SACK option
 * (padded, at most `room` bytes) from the out-of-order queue, 0 if none. */
void tcp_sack_note(tcp_conn *tc, uint32_t seq);
size_t tcp_sack_option(const tcp_conn *tc, uint8_t *o, size_t room);
/* Sequence arithmetic (RFC 9293 3.4). */
static inline int seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline int seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline int seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline int seq_ge(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }

#endif
