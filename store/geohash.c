/* geohash.c — geohash arithmetic for the geo commands (see geohash.h).
 *
 * A position becomes a cell index: each coordinate is scaled to [0, 1)
 * over its range, multiplied by 2^step and truncated; the two indexes are
 * interleaved bit by bit (latitude even, longitude odd). At step 26 that is
 * the 52-bit integer stored as the zset score, exact in a double. A search
 * picks a step whose cells are about as large as the search radius, then
 * scans the centre cell and its eight neighbours as score ranges.
 */
#include "geohash.h"

#include <math.h>

#define GEO_EARTH_RADIUS_M 6372797.560856
#define GEO_MERCATOR_MAX 20037726.37
#define GEO_D_R (M_PI / 180.0)

static double deg_rad(double deg)
{
    return deg * GEO_D_R;
}

static double rad_deg(double rad)
{
    return rad / GEO_D_R;
}

/* Spreads the 32 bits of v to the even positions of a 64-bit word. */
static uint64_t spread(uint32_t v)
{
    uint64_t x = v;
    x = (x | (x << 16)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x << 8)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x << 2)) & 0x3333333333333333ULL;
    x = (x | (x << 1)) & 0x5555555555555555ULL;
    return x;
}

/* Gathers the even bits of v into the low 32 bits. */
static uint64_t gather(uint64_t x)
{
    x &= 0x5555555555555555ULL;
    x = (x | (x >> 1)) & 0x3333333333333333ULL;
    x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x >> 4)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x >> 8)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x >> 16)) & 0x00000000FFFFFFFFULL;
    return x;
}

uint64_t geo_interleave(uint32_t x, uint32_t y)
{
    return spread(x) | (spread(y) << 1);
}

uint64_t geo_deinterleave(uint64_t v)
{
    return gather(v) | (gather(v >> 1) << 32);
}

static const geo_range lon_wgs84 = {GEO_LONG_MIN, GEO_LONG_MAX};
static const geo_range lat_wgs84 = {GEO_LAT_MIN, GEO_LAT_MAX};

int geo_valid_lonlat(double lon, double lat)
{
    return !(lon < GEO_LONG_MIN || lon > GEO_LONG_MAX || lat < GEO_LAT_MIN || lat > GEO_LAT_MAX);
}

int geo_encode(geo_range lon_r, geo_range lat_r, double lon, double lat, uint8_t step,
               geo_cell *out)
{
    if (step == 0 || step > 32) return 0;
    if (lon > GEO_LONG_MAX || lon < GEO_LONG_MIN || lat > GEO_LAT_MAX || lat < GEO_LAT_MIN)
        return 0;
    out->bits = 0;
    out->step = step;
    if (lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max) return 0;
    double lat_off = (lat - lat_r.min) / (lat_r.max - lat_r.min);
    double lon_off = (lon - lon_r.min) / (lon_r.max - lon_r.min);
    lat_off *= (double)(1ULL << step);
    lon_off *= (double)(1ULL << step);
    out->bits = geo_interleave((uint32_t)lat_off, (uint32_t)lon_off);
    return 1;
}

uint64_t geo_score_of(double lon, double lat)
{
    geo_cell c = {0, 0};
    geo_encode(lon_wgs84, lat_wgs84, lon, lat, GEO_STEP_MAX, &c);
    return c.bits << (52 - 2 * GEO_STEP_MAX);
}

static int decode_area(geo_range lon_r, geo_range lat_r, geo_cell cell, geo_area *a)
{
    if (cell.bits == 0 && cell.step == 0) return 0;
    uint64_t sep = geo_deinterleave(cell.bits);
    uint32_t ilat = (uint32_t)sep, ilon = (uint32_t)(sep >> 32);
    double lat_scale = lat_r.max - lat_r.min, lon_scale = lon_r.max - lon_r.min;
    double cells = (double)(1ULL << cell.step);
    a->lat.min = lat_r.min + (ilat * 1.0 / cells) * lat_scale;
    a->lat.max = lat_r.min + ((ilat + 1) * 1.0 / cells) * lat_scale;
    a->lon.min = lon_r.min + (ilon * 1.0 / cells) * lon_scale;
    a->lon.max = lon_r.min + ((ilon + 1) * 1.0 / cells) * lon_scale;
    return 1;
}

int geo_decode_area(geo_cell cell, geo_area *area)
{
    return decode_area(lon_wgs84, lat_wgs84, cell, area);
}

int geo_decode_score(double score, double *lon, double *lat)
{
    /* The score converts to an integer the way a C cast does on the
     * oracle's platform; non-geo scores decode to whatever that yields. */
    geo_cell c = {(uint64_t)score, GEO_STEP_MAX};
    geo_area a;
    if (!geo_decode_area(c, &a)) return 0;
    double x = (a.lon.min + a.lon.max) / 2;
    if (x > GEO_LONG_MAX) x = GEO_LONG_MAX;
    if (x < GEO_LONG_MIN) x = GEO_LONG_MIN;
    double y = (a.lat.min + a.lat.max) / 2;
    if (y > GEO_LAT_MAX) y = GEO_LAT_MAX;
    if (y < GEO_LAT_MIN) y = GEO_LAT_MIN;
    *lon = x;
    *lat = y;
    return 1;
}

int geo_hash_string(double score, char buf[12])
{
    static const char alphabet[] = "0123456789bcdefghjkmnpqrstuvwxyz";
    double lon, lat;
    if (!geo_decode_score(score, &lon, &lat)) return 0;
    geo_range lr = {-180, 180}, ar = {-90, 90};
    geo_cell c = {0, 0};
    geo_encode(lr, ar, lon, lat, GEO_STEP_MAX, &c);
    /* 52 bits make ten full base32 digits; the eleventh has no bits. */
    for (int i = 0; i < 11; i++) {
        unsigned idx = i == 10 ? 0 : (unsigned)((c.bits >> (52 - (i + 1) * 5)) & 0x1f);
        buf[i] = alphabet[idx];
    }
    buf[11] = '\0';
    return 1;
}

static double lat_distance(double lat1, double lat2)
{
    return GEO_EARTH_RADIUS_M * fabs(deg_rad(lat2) - deg_rad(lat1));
}

double geo_distance(double lon1, double lat1, double lon2, double lat2)
{
    double lat1r = deg_rad(lat1), lon1r = deg_rad(lon1);
    double lat2r = deg_rad(lat2), lon2r = deg_rad(lon2);
    double v = sin((lon2r - lon1r) / 2);
    /* Same meridian: the great circle is the meridian itself. */
    if (v == 0.0) return lat_distance(lat1, lat2);
    double u = sin((lat2r - lat1r) / 2);
    double a = u * u + cos(lat1r) * cos(lat2r) * v * v;
    return 2.0 * GEO_EARTH_RADIUS_M * asin(sqrt(a));
}

double geo_distance_in_shape(const geo_shape *sh, double lon2, double lat2)
{
    if (sh->type == GEO_SHAPE_RADIUS) {
        double d = geo_distance(sh->lon, sh->lat, lon2, lat2);
        return d > sh->radius * sh->conversion ? -1 : d;
    }
    double w = sh->width * sh->conversion, h = sh->height * sh->conversion;
    /* The latitude test is the cheaper one, so it goes first. */
    if (lat_distance(lat2, sh->lat) > h / 2) return -1;
    if (geo_distance(lon2, lat2, sh->lon, lat2) > w / 2) return -1;
    return geo_distance(sh->lon, sh->lat, lon2, lat2);
}

void geo_cell_scores(geo_cell cell, double *min, double *max)
{
    int shift = 52 - cell.step * 2;
    *min = (double)(cell.bits << shift);
    *max = (double)((cell.bits + 1) << shift);
}

uint8_t geo_steps_for_radius(double meters, double lat)
{
    if (meters == 0) return 26;
    int step = 1;
    while (meters < GEO_MERCATOR_MAX) {
        meters *= 2;
        step++;
    }
    step -= 2; /* leaves room so the radius usually fits the 3x3 cells */
    /* Cells shrink in meters towards the poles. */
    if (lat > 66 || lat < -66) {
        step--;
        if (lat > 80 || lat < -80) step--;
    }
    if (step < 1) step = 1;
    if (step > 26) step = 26;
    return (uint8_t)step;
}

/* Moves a cell by d (+1/-1) along longitude (odd bits) or latitude (even
 * bits), wrapping around at the grid's edge. */
static void move(geo_cell *c, int d, int along_lon)
{
    if (d == 0) return;
    uint64_t odd = 0xaaaaaaaaaaaaaaaaULL, even = 0x5555555555555555ULL;
    uint64_t mine = c->bits & (along_lon ? odd : even);
    uint64_t other = c->bits & (along_lon ? even : odd);
    /* Filling the other coordinate's bits with ones lets a carry ripple
     * through only this coordinate's bits. */
    uint64_t fill = (along_lon ? even : odd) >> (64 - c->step * 2);
    if (d > 0) {
        mine = mine + (fill + 1);
    } else {
        mine = mine | fill;
        mine = mine - (fill + 1);
    }
    mine &= (along_lon ? odd : even) >> (64 - c->step * 2);
    c->bits = mine | other;
}

static geo_cell moved(geo_cell c, int dlon, int dlat)
{
    move(&c, dlon, 1);
    move(&c, dlat, 0);
    return c;
}

/* Bounding box (min lon, min lat, max lon, max lat) of the shape. */
static void bounding_box(const geo_shape *sh, double b[4])
{
    double h = sh->conversion * (sh->type == GEO_SHAPE_RADIUS ? sh->radius : sh->height / 2);
    double w = sh->conversion * (sh->type == GEO_SHAPE_RADIUS ? sh->radius : sh->width / 2);
    double lat_delta = rad_deg(h / GEO_EARTH_RADIUS_M);
    double lon_top = rad_deg(w / GEO_EARTH_RADIUS_M / cos(deg_rad(sh->lat + lat_delta)));
    double lon_bottom = rad_deg(w / GEO_EARTH_RADIUS_M / cos(deg_rad(sh->lat - lat_delta)));
    /* The wider edge is the one nearer the equator. */
    int south = sh->lat < 0;
    b[0] = south ? sh->lon - lon_bottom : sh->lon - lon_top;
    b[2] = south ? sh->lon + lon_bottom : sh->lon + lon_top;
    b[1] = sh->lat - lat_delta;
    b[3] = sh->lat + lat_delta;
}

enum { C_CENTER, C_N, C_S, C_E, C_W, C_NE, C_NW, C_SE, C_SW };

static void fill_cells(geo_cell center, geo_scan *out)
{
    out->cells[C_CENTER] = center;
    out->cells[C_N] = moved(center, 0, 1);
    out->cells[C_S] = moved(center, 0, -1);
    out->cells[C_E] = moved(center, 1, 0);
    out->cells[C_W] = moved(center, -1, 0);
    out->cells[C_NE] = moved(center, 1, 1);
    out->cells[C_NW] = moved(center, -1, 1);
    out->cells[C_SE] = moved(center, 1, -1);
    out->cells[C_SW] = moved(center, -1, -1);
}

void geo_scan_cells(const geo_shape *sh, geo_scan *out)
{
    double b[4];
    bounding_box(sh, b);
    double min_lon = b[0], min_lat = b[1], max_lon = b[2], max_lat = b[3];
    double radius_m = sh->type == GEO_SHAPE_RADIUS
                          ? sh->radius
                          : sqrt((sh->width / 2) * (sh->width / 2) +
                                 (sh->height / 2) * (sh->height / 2));
    radius_m *= sh->conversion;
    uint8_t steps = geo_steps_for_radius(radius_m, sh->lat);
    geo_cell center = {0, 0};
    geo_area area = {{0, 0}, {0, 0}};
    geo_encode(lon_wgs84, lat_wgs84, sh->lon, sh->lat, steps, &center);
    fill_cells(center, out);
    geo_decode_area(center, &area);

    /* Near an edge of the centre cell the estimated step can leave part of
     * the search outside the 3x3 block; one step coarser then. */
    geo_area n, s, e, w;
    int coarser = 0;
    if (geo_decode_area(out->cells[C_N], &n) && n.lat.max < max_lat) coarser = 1;
    if (geo_decode_area(out->cells[C_S], &s) && s.lat.min > min_lat) coarser = 1;
    if (geo_decode_area(out->cells[C_E], &e) && e.lon.max < max_lon) coarser = 1;
    if (geo_decode_area(out->cells[C_W], &w) && w.lon.min > min_lon) coarser = 1;
    if (steps > 1 && coarser) {
        steps--;
        geo_encode(lon_wgs84, lat_wgs84, sh->lon, sh->lat, steps, &center);
        fill_cells(center, out);
        geo_decode_area(center, &area);
    }

    /* Drop neighbours the bounding box cannot reach. */
    if (steps >= 2) {
        geo_cell none = {0, 0};
        if (area.lat.min < min_lat) out->cells[C_S] = out->cells[C_SW] = out->cells[C_SE] = none;
        if (area.lat.max > max_lat) out->cells[C_N] = out->cells[C_NE] = out->cells[C_NW] = none;
        if (area.lon.min < min_lon) out->cells[C_W] = out->cells[C_SW] = out->cells[C_NW] = none;
        if (area.lon.max > max_lon) out->cells[C_E] = out->cells[C_SE] = out->cells[C_NE] = none;
    }
}
