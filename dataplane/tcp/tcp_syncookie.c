/* tcp_syncookie.c — SYN cookies (RFC 4987 3.6): when the SYN queue is full
 * the SYN-ACK's initial sequence number carries what the handshake needs,
 * and no state is kept until the peer's ACK returns it. Layout of the ISS:
 *
 *   bits 31..12  keyed hash of the 4-tuple, the peer's ISN and bits 11..0
 *   bits 11..8   time slot, now_ms >> 16 (about 65 s) modulo 16
 *   bit      7   the peer's SYN permitted SACK (so we answered SACK-permitted)
 *   bits  6..4   index of the MSS in a table (rounded down)
 *   bits  3..0   the peer's window scale shift, 15 when it sent none
 *
 * A cookie is accepted for the current and the previous slot. Timestamps
 * need no room: they are on iff the peer's ACK carries the option.
 */
#include "tcp.h"

#include <string.h>
#include "../net/netstack.h"
#include "../../platform/util.h"

static const uint16_t MSS_TABLE[8] = {216, 536, 1024, 1220, 1360, 1440, 1460, 8960};

/* Covers the 4-tuple, the peer's ISN and the low 12 bits (slot, MSS, window
 * scale), so none of them can be changed without the key. */
static uint32_t slot_hash(tcp_stack *ts, uint32_t lip, uint16_t lport, uint32_t rip,
                          uint16_t rport, uint32_t irs, uint32_t low) {
    uint8_t k[20];
    memcpy(k, &lip, 4);
    memcpy(k + 4, &rip, 4);
    memcpy(k + 8, &lport, 2);
    memcpy(k + 10, &rport, 2);
    memcpy(k + 12, &irs, 4);
    memcpy(k + 16, &low, 4);
    uint8_t key[16];
    memcpy(key, ts->secret, 16);
    key[1] ^= 0xc3; /* neither the hash-table nor the ISN key */
    return (uint32_t)util_hash(k, sizeof(k), key) & 0xfffff;
}

uint32_t tcp_cookie_make(tcp_stack *ts, uint32_t lip, uint16_t lport, uint32_t rip,
                         uint16_t rport, uint32_t irs, uint16_t peer_mss, int ws, int sack) {
    uint32_t slot = (uint32_t)(ts->ns->now_ms >> 16) & 0xf;
    uint32_t mi = 0;
    for (uint32_t i = 0; i < 8; i++)
        if (MSS_TABLE[i] <= peer_mss) mi = i;
    uint32_t wsenc = ws < 0 ? 15u : (uint32_t)(ws > 14 ? 14 : ws);
    uint32_t low = slot << 8 | (sack ? 1u : 0u) << 7 | mi << 4 | wsenc;
    return slot_hash(ts, lip, lport, rip, rport, irs, low) << 12 | low;
}

int tcp_cookie_check(tcp_stack *ts, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport,
                     uint32_t irs, uint32_t iss, uint16_t *mss, int *ws, int *sack) {
    uint32_t slot = (iss >> 8) & 0xf;
    uint32_t cur = (uint32_t)(ts->ns->now_ms >> 16) & 0xf;
    if (slot != cur && slot != ((cur - 1) & 0xf)) return -1;
    if ((iss >> 12) != slot_hash(ts, lip, lport, rip, rport, irs, iss & 0xfff)) return -1;
    *mss = MSS_TABLE[(iss >> 4) & 7];
    *ws = (iss & 15) == 15 ? -1 : (int)(iss & 15);
    *sack = (int)((iss >> 7) & 1);
    return 0;
}
