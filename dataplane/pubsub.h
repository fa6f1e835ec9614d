/* pubsub.h — Pub/Sub channels, patterns and shard channels (pubsub.c). */
#ifndef CB_PUBSUB_H
#define CB_PUBSUB_H

#include <stddef.h>
#include "client.h"

void pubsub_init(void);
/* Channels + patterns the client is subscribed to (the count in replies). */
int pubsub_count(const cb_client *c);
/* Any subscription at all, shard channels included (subscriber mode). */
int pubsub_client_subscribed(const cb_client *c);
/* Visit the client's patterns (is_pattern 1), channels and shard channels
 * until fn returns non-zero (ACL checks them when rules change). */
void pubsub_client_each(const cb_client *c, int (*fn)(void *arg, const char *name, size_t len,
                                                      int is_pattern), void *arg);
/* Drop every subscription (RESET, close); needs the other workers parked. */
void pubsub_client_reset(cb_client *c);
/* For INFO: active channels and pattern subscriptions. */
size_t pubsub_channel_count(void);
size_t pubsub_pattern_count(void);
struct cb_worker;
/* PUBLISH's delivery for messages the server raises itself (keyspace
 * events): from worker self (NULL only with every worker parked). Returns
 * the number of receivers. */
int pubsub_publish(struct cb_worker *self, const char *ch, size_t chlen, const char *msg,
                   size_t msglen);
/* Any channel or pattern subscription exists (a cheap early exit). */
int pubsub_has_subscribers(void);

#endif
