/* mgmt.h — the management core: on the kernel plane the main thread. It owns
 * signals, the shutdown sequence and periodic server-wide work; workers reach
 * it only through their rings and its wake fd.
 */
#ifndef CB_MGMT_H
#define CB_MGMT_H

/* Run until shutdown is requested; returns the process exit code. */
int mgmt_run(void);
/* Wake the management loop (callable from any thread). */
void mgmt_wake(void);
/* Set up the wake fd and signal handling; call before workers start. */
int mgmt_init(void);
/* Read pending signals without waiting (SIGTERM/SIGINT: shutdown_asap,
 * SIGHUP: reopen the log); for the start-up loader, which runs before the
 * management loop does. */
void mgmt_check_signals(void);

#endif
