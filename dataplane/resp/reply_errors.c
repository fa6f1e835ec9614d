/* reply_errors.c — the shared error texts declared in reply.h. */
#include "reply.h"

const char *const ERR_WRONGTYPE =
    "-WRONGTYPE Operation against a key holding the wrong kind of value";
const char *const ERR_SYNTAX = "-ERR syntax error";
const char *const ERR_NOT_INT = "-ERR value is not an integer or out of range";
const char *const ERR_NOT_FLOAT = "-ERR value is not a valid float";
const char *const ERR_OUT_OF_RANGE = "-ERR index out of range";
const char *const ERR_NO_SUCH_KEY = "-ERR no such key";
const char *const ERR_DB_INDEX = "-ERR DB index is out of range";
const char *const ERR_SAME_OBJECT =
    "-ERR source and destination objects are the same";
const char *const ERR_OVERFLOW = "-ERR increment or decrement would overflow";
