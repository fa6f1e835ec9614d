/* geohash.h — the 52-bit interleaved geohash the geo commands keep as a
 * sorted-set score, and the geometry around it: encoding and decoding on
 * the Web-Mercator-limited WGS84 grid (longitude -180..180, latitude
 * +-85.05112878), the eight neighbour cells, the cells a radius or box
 * search must scan, and haversine distances. Everything here is pure
 * arithmetic; the commands live in t_geo.c. The numeric steps (constants,
 * operation order, clamping) follow Redis 7.0's observable behaviour, since
 * scores, coordinates and distances must print identically.
 */
#ifndef CB_GEOHASH_H
#define CB_GEOHASH_H

#include <stdint.h>

#define GEO_STEP_MAX 26
#define GEO_LAT_MIN -85.05112878
#define GEO_LAT_MAX 85.05112878
#define GEO_LONG_MIN -180.0
#define GEO_LONG_MAX 180.0

/* A cell: bits holds 2*step interleaved bits, latitude in the even
 * positions and longitude in the odd ones. step 0 with bits 0 is "none". */
typedef struct geo_cell {
    uint64_t bits;
    uint8_t step;
} geo_cell;

typedef struct geo_range {
    double min, max;
} geo_range;

typedef struct geo_area {
    geo_range lon, lat;
} geo_area;

enum { GEO_SHAPE_RADIUS, GEO_SHAPE_BOX };

/* A search shape: centre lon/lat, sizes in the user's unit and the factor
 * (meters per unit) that turns them into meters. */
typedef struct geo_shape {
    int type;
    double lon, lat;
    double conversion;
    double radius;        /* GEO_SHAPE_RADIUS */
    double width, height; /* GEO_SHAPE_BOX */
} geo_shape;

/* The cells to scan, in the order the search visits them: centre, N, S, E,
 * W, NE, NW, SE, SW; pruned ones are {0, 0}. */
typedef struct geo_scan {
    geo_cell cells[9];
} geo_scan;

/* 1 when lon/lat lie in the indexable limits. */
int geo_valid_lonlat(double lon, double lat);
/* Encodes at step over the given ranges; 0 when out of the limits. */
int geo_encode(geo_range lon_r, geo_range lat_r, double lon, double lat, uint8_t step,
               geo_cell *out);
/* The 52-bit score of a position (assumes geo_valid_lonlat). */
uint64_t geo_score_of(double lon, double lat);
/* Cell bounds over the WGS84 limits; 0 for the "none" cell. */
int geo_decode_area(geo_cell cell, geo_area *area);
/* Centre of the cell a zset score names, clamped to the limits. 0 on failure. */
int geo_decode_score(double score, double *lon, double *lat);
/* The standard 11-character base32 geohash (-90..90 latitude) of a score;
 * buf gets 11 chars plus a NUL. 0 on failure. */
int geo_hash_string(double score, char buf[12]);
/* Haversine distance in meters, as Redis computes it. */
double geo_distance(double lon1, double lat1, double lon2, double lat2);
/* Distance in meters when (lon2, lat2) lies in the shape, else -1. */
double geo_distance_in_shape(const geo_shape *sh, double lon2, double lat2);
/* The score interval [*min, *max) a cell covers at 52-bit precision. */
void geo_cell_scores(geo_cell cell, double *min, double *max);
/* Steps of precision fitting a radius in meters at a latitude. */
uint8_t geo_steps_for_radius(double meters, double lat);
/* The cells a search of the shape must scan. */
void geo_scan_cells(const geo_shape *sh, geo_scan *out);
/* Interleaves two 32-bit values: x to the even bits, y to the odd ones. */
uint64_t geo_interleave(uint32_t x, uint32_t y);
/* Inverse of geo_interleave: x in the low 32 bits, y in the high ones. */
uint64_t geo_deinterleave(uint64_t v);

#endif
