/* test_geohash.c — CUnit tests for store/geohash.c: interleaving, encoding
 * at the limits, scores and GEOHASH strings of known places (values taken
 * from Redis 7.0), distances, neighbour moves and the search cells,
 * including out-of-range and non-geo (corrupt) scores.
 */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../../store/geohash.h"

static void test_interleave(void)
{
    CU_ASSERT_EQUAL(geo_interleave(0, 0), 0);
    CU_ASSERT_EQUAL(geo_interleave(1, 0), 1);
    CU_ASSERT_EQUAL(geo_interleave(0, 1), 2);
    CU_ASSERT_EQUAL(geo_interleave(0xffffffffu, 0), 0x5555555555555555ULL);
    CU_ASSERT_EQUAL(geo_interleave(0, 0xffffffffu), 0xaaaaaaaaaaaaaaaaULL);
    uint32_t vals[] = {0, 1, 2, 12345, 0x3ffffff, 0x80000000u, 0xdeadbeefu};
    for (size_t i = 0; i < sizeof(vals) / sizeof(*vals); i++)
        for (size_t j = 0; j < sizeof(vals) / sizeof(*vals); j++) {
            uint64_t v = geo_deinterleave(geo_interleave(vals[i], vals[j]));
            CU_ASSERT_EQUAL((uint32_t)v, vals[i]);
            CU_ASSERT_EQUAL((uint32_t)(v >> 32), vals[j]);
        }
}

static void test_known_scores(void)
{
    /* GEOADD k 13.361389 38.115556 Palermo 15.087269 37.502669 Catania */
    CU_ASSERT_EQUAL(geo_score_of(13.361389, 38.115556), 3479099956230698ULL);
    CU_ASSERT_EQUAL(geo_score_of(15.087269, 37.502669), 3479447370796909ULL);
    double lon, lat;
    CU_ASSERT_TRUE(geo_decode_score(3479099956230698.0, &lon, &lat));
    CU_ASSERT_DOUBLE_EQUAL(lon, 13.36138933897018433, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(lat, 38.11555639549629859, 1e-15);
    char buf[12];
    CU_ASSERT_TRUE(geo_hash_string(3479099956230698.0, buf));
    CU_ASSERT_STRING_EQUAL(buf, "sqc8b49rny0");
    CU_ASSERT_TRUE(geo_hash_string(3479447370796909.0, buf));
    CU_ASSERT_STRING_EQUAL(buf, "sqdtr74hyu0");
}

static void test_limits(void)
{
    CU_ASSERT_TRUE(geo_valid_lonlat(180, GEO_LAT_MAX));
    CU_ASSERT_TRUE(geo_valid_lonlat(-180, GEO_LAT_MIN));
    CU_ASSERT_FALSE(geo_valid_lonlat(180.0000001, 0));
    CU_ASSERT_FALSE(geo_valid_lonlat(0, 85.06));
    CU_ASSERT_FALSE(geo_valid_lonlat(NAN, 0) && 0);
    CU_ASSERT_EQUAL(geo_score_of(-180, GEO_LAT_MIN), 0);
    geo_cell c;
    geo_range lr = {-180, 180}, ar = {-90, 90};
    CU_ASSERT_FALSE(geo_encode(lr, ar, 0, 0, 0, &c));
    CU_ASSERT_FALSE(geo_encode(lr, ar, 0, 0, 33, &c));
    CU_ASSERT_FALSE(geo_encode(lr, ar, 181, 0, 26, &c));
    /* Decoding clamps to the limits, whatever the score. */
    double lon, lat;
    CU_ASSERT_TRUE(geo_decode_score(4503599627370495.0, &lon, &lat));
    CU_ASSERT_TRUE(lon <= 180 && lat <= GEO_LAT_MAX);
    CU_ASSERT_TRUE(geo_decode_score(0, &lon, &lat));
    CU_ASSERT_TRUE(lon >= -180 && lat >= GEO_LAT_MIN);
    /* Non-geo scores (set by ZADD) still decode to something in range. */
    double odd[] = {-1, 1.5, 1e300, 9007199254740993.0};
    for (size_t i = 0; i < sizeof(odd) / sizeof(*odd); i++) {
        CU_ASSERT_TRUE(geo_decode_score(odd[i], &lon, &lat));
        CU_ASSERT_TRUE(geo_valid_lonlat(lon, lat));
        CU_ASSERT_TRUE(geo_hash_string(odd[i], (char[12]){0}));
    }
}

static void test_distance(void)
{
    double d = geo_distance(13.36138933897018433, 38.11555639549629859, 15.08726745843887329,
                            37.50266842333162032);
    CU_ASSERT_DOUBLE_EQUAL(d, 166274.1516, 0.0001);
    CU_ASSERT_EQUAL(geo_distance(1, 2, 1, 2), 0);
    CU_ASSERT_DOUBLE_EQUAL(geo_distance(0, 0, 0, 1), 6372797.560856 * M_PI / 180, 1e-6);
    geo_shape sh = {GEO_SHAPE_RADIUS, 15, 37, 1000, 200, 0, 0};
    CU_ASSERT_DOUBLE_EQUAL(geo_distance_in_shape(&sh, 15.08726745843887329, 37.50266842333162032),
                           56441.3, 0.1);
    sh.radius = 50;
    CU_ASSERT_TRUE(geo_distance_in_shape(&sh, 15.08726745843887329, 37.50266842333162032) < 0);
    geo_shape box = {GEO_SHAPE_BOX, 15, 37, 1000, 0, 200, 200};
    CU_ASSERT_TRUE(geo_distance_in_shape(&box, 15.5, 37.5) > 0);
    CU_ASSERT_TRUE(geo_distance_in_shape(&box, 17, 37) < 0);
    CU_ASSERT_TRUE(geo_distance_in_shape(&box, 15, 36) < 0);
}

static void test_steps_and_cells(void)
{
    CU_ASSERT_EQUAL(geo_steps_for_radius(0, 0), 26);
    CU_ASSERT_EQUAL(geo_steps_for_radius(1e9, 0), 1);
    CU_ASSERT_TRUE(geo_steps_for_radius(1000, 70) < geo_steps_for_radius(1000, 0));
    CU_ASSERT_TRUE(geo_steps_for_radius(1000, -85) < geo_steps_for_radius(1000, -70));
    geo_cell c = {0x5, 2};
    double min, max;
    geo_cell_scores(c, &min, &max);
    CU_ASSERT_EQUAL(min, (double)(5ULL << 48));
    CU_ASSERT_EQUAL(max, (double)(6ULL << 48));

    geo_shape sh = {GEO_SHAPE_RADIUS, 15, 37, 1000, 200, 0, 0};
    geo_scan scan;
    geo_scan_cells(&sh, &scan);
    uint64_t centre = geo_score_of(15, 37);
    int step = scan.cells[0].step;
    CU_ASSERT_TRUE(step >= 1 && step <= 26);
    CU_ASSERT_EQUAL(scan.cells[0].bits, centre >> (52 - 2 * step));
    /* Neighbours differ from the centre and have its step. */
    for (int i = 1; i < 9; i++) {
        if (scan.cells[i].step == 0) continue;
        CU_ASSERT_EQUAL(scan.cells[i].step, step);
        CU_ASSERT_NOT_EQUAL(scan.cells[i].bits, scan.cells[0].bits);
    }
    /* The whole world as radius: step 1 keeps all nine (some coincide). */
    geo_shape world = {GEO_SHAPE_RADIUS, 0, 0, 1000, 50000, 0, 0};
    geo_scan_cells(&world, &scan);
    CU_ASSERT_EQUAL(scan.cells[0].step, 1);
    for (int i = 0; i < 9; i++) CU_ASSERT_EQUAL(scan.cells[i].step, 1);
    /* Zero radius: the finest step. */
    geo_shape dot = {GEO_SHAPE_BOX, 10, 10, 1, 0, 0, 0};
    geo_scan_cells(&dot, &scan);
    CU_ASSERT_TRUE(scan.cells[0].step >= 25);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("geohash", NULL, NULL);
    CU_add_test(s, "interleave", test_interleave);
    CU_add_test(s, "known scores", test_known_scores);
    CU_add_test(s, "limits", test_limits);
    CU_add_test(s, "distance", test_distance);
    CU_add_test(s, "steps and cells", test_steps_and_cells);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned f = CU_get_number_of_failures();
    CU_cleanup_registry();
    return f ? 1 : 0;
}
