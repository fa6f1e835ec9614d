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
/* Drop every subscription (RESET, close); needs the other workers parked. */
void pubsub_client_reset(cb_client *c);
/* For INFO: active channels and pattern subscriptions. */
size_t pubsub_channel_count(void);
size_t pubsub_pattern_count(void);

#endif
