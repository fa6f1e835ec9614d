/* pio.c — the file I/O seam of persist/ (see pio.h): a pointer to a table
 * of system calls, the real ones by default. */
#include "pio.h"

#include <stdio.h>
#include <unistd.h>

static ssize_t sys_write(int fd, const void *buf, size_t n) { return write(fd, buf, n); }
static int sys_fsync(int fd) { return fsync(fd); }
static int sys_fdatasync(int fd) { return fdatasync(fd); }
static int sys_ftruncate(int fd, off_t len) { return ftruncate(fd, len); }
static int sys_rename(const char *from, const char *to) { return rename(from, to); }
static int sys_renameat(int fd1, const char *from, int fd2, const char *to)
{
    return renameat(fd1, from, fd2, to);
}

const pio_ops pio_sys = {sys_write, sys_fsync, sys_fdatasync, sys_ftruncate, sys_rename,
                         sys_renameat};

/* Set by tests only; read by the management thread and the fsync thread. */
static const pio_ops *pio_cur = &pio_sys;

const pio_ops *pio(void) { return __atomic_load_n(&pio_cur, __ATOMIC_ACQUIRE); }

void pio_set(const pio_ops *ops) { __atomic_store_n(&pio_cur, ops ? ops : &pio_sys, __ATOMIC_RELEASE); }
