/* crc64.h — the CRC-64 RDB files end with: Redis's "Jones" variant
 * (reflected polynomial 0x95ac9329ac4bc9b5, initial value 0, no final xor).
 * crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9ca.
 */
#ifndef CB_CRC64_H
#define CB_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* Continues crc over len more bytes (start with crc = 0). */
uint64_t crc64(uint64_t crc, const void *p, size_t len);

#endif
