/* pio.h — the persistence layer's file I/O seam: the few system calls
 * whose failures decide what a save or an AOF write means (write, fsync,
 * fdatasync, ftruncate, rename, renameat). Every writer in persist/ (RDB
 * SAVE and BGSAVE, the AOF writer and its rewrite, the manifest) calls
 * them through pio(), which is the real system calls unless a test has
 * installed others: tests/unit/test_persist_faults.c makes them fail with
 * ENOSPC, EIO or a short count to drive the error paths for real, without
 * mocking the logic around them (SQLite's I/O hooks are the model).
 */
#ifndef CB_PIO_H
#define CB_PIO_H

#include <stddef.h>
#include <sys/types.h>

typedef struct pio_ops {
    ssize_t (*write)(int fd, const void *buf, size_t n);
    int (*fsync)(int fd);
    int (*fdatasync)(int fd);
    int (*ftruncate)(int fd, off_t len);
    int (*rename)(const char *from, const char *to);
    int (*renameat)(int fromdir, const char *from, int todir, const char *to);
} pio_ops;

/* The real system calls (a test's ops may forward to them). */
extern const pio_ops pio_sys;

/* The ops in force; never NULL. */
const pio_ops *pio(void);
/* Installs ops for every later call on any thread (NULL: back to
 * pio_sys). For tests; ops must outlive their use. */
void pio_set(const pio_ops *ops);

#endif
