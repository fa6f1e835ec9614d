/* crc64.c — CRC-64/Jones as RDB files carry it (see crc64.h), sliced by 8:
 * eight tables let each step fold eight input bytes, since every DUMP,
 * RESTORE and snapshot byte passes through here (byte at a time it was the
 * top of a RESTORE profile). Tables are built once, on first use, under
 * pthread_once so any thread may call crc64 first.
 */
#include <pthread.h>
#include <string.h>

#include "crc64.h"

/* The Jones polynomial 0xad93d23594c935a9, bit-reflected because the CRC is
 * computed least significant bit first. */
#define CRC64_POLY_REFLECTED 0x95ac9329ac4bc9b5ULL

/* t[0] is the byte-at-a-time table; t[k][i] is byte i's effect k bytes
 * further back in the input. */
static uint64_t crc64_table[8][256];
static pthread_once_t crc64_once = PTHREAD_ONCE_INIT;

static void crc64_build(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint64_t c = i;
        for (int b = 0; b < 8; b++)
            c = (c & 1) ? (c >> 1) ^ CRC64_POLY_REFLECTED : c >> 1;
        crc64_table[0][i] = c;
    }
    for (unsigned i = 0; i < 256; i++)
        for (int k = 1; k < 8; k++) {
            uint64_t prev = crc64_table[k - 1][i];
            crc64_table[k][i] = (prev >> 8) ^ crc64_table[0][prev & 0xff];
        }
}

uint64_t crc64(uint64_t crc, const void *p, size_t len)
{
    pthread_once(&crc64_once, crc64_build);
    const unsigned char *s = p;
    const uint64_t (*t)[256] = (const uint64_t (*)[256])crc64_table;
    while (len >= 8) {
        /* The eight bytes as a little-endian word, whatever the host. */
        uint64_t v = (uint64_t)s[0] | (uint64_t)s[1] << 8 | (uint64_t)s[2] << 16 |
                     (uint64_t)s[3] << 24 | (uint64_t)s[4] << 32 | (uint64_t)s[5] << 40 |
                     (uint64_t)s[6] << 48 | (uint64_t)s[7] << 56;
        crc ^= v;
        crc = t[7][crc & 0xff] ^ t[6][(crc >> 8) & 0xff] ^ t[5][(crc >> 16) & 0xff] ^
              t[4][(crc >> 24) & 0xff] ^ t[3][(crc >> 32) & 0xff] ^ t[2][(crc >> 40) & 0xff] ^
              t[1][(crc >> 48) & 0xff] ^ t[0][crc >> 56];
        s += 8;
        len -= 8;
    }
    while (len--) crc = t[0][(crc ^ *s++) & 0xff] ^ (crc >> 8);
    return crc;
}
