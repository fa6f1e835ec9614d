/* metrics.h — GET /metrics: the Prometheus text exposition (format 0.0.4)
 * of everything INFO knows, per command and per error code, per worker and
 * per database, plus the control port's own counters.
 */
#ifndef CB_METRICS_H
#define CB_METRICS_H

#include "../store/ds/cbstr.h"

/* The whole exposition. Call only once the workers run (it parks them for
 * the instant INFO needs, as INFO over RESP does). Caller frees. */
cbstr metrics_render(void);

#endif
