/* t_zset_ops.c — placeholder, filled below. */
#include "t_zset.h"
