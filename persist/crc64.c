/* crc64.c — CRC-64/Jones as RDB files carry it (see crc64.h). A plain
 * byte-at-a-time table: snapshot I/O is bounded by the disk, not this loop.
 * The table is built once, on first use, under pthread_once so any thread
 * may call crc64 first.
 */
#include <pthread.h>

#include "crc64.h"

/* The Jones polynomial 0xad93d23594c935a9, bit-reflected because the CRC is
 * computed least significant bit first. */
#define CRC64_POLY_REFLECTED 0x95ac9329ac4bc9b5ULL

static uint64_t crc64_table[256];
static pthread_once_t crc64_once = PTHREAD_ONCE_INIT;

static void crc64_build(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint64_t c = i;
        for (int b = 0; b < 8; b++)
            c = (c & 1) ? (c >> 1) ^ CRC64_POLY_REFLECTED : c >> 1;
        crc64_table[i] = c;
    }
}

uint64_t crc64(uint64_t crc, const void *p, size_t len)
{
    pthread_once(&crc64_once, crc64_build);
    const unsigned char *s = p;
    for (size_t i = 0; i < len; i++)
        crc = crc64_table[(crc ^ s[i]) & 0xff] ^ (crc >> 8);
    return crc;
}
