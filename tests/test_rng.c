/* Philox4x32-10 against the published known-answer vectors (Random123 kat_vectors), and
 * properties of the uniform/normal streams built on it. Host only. */
#include "test_util.h"

static void test_philox_kat(void **state) {
  (void)state;
  static const uint32_t v[3][10] = {
      {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
      {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
      {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
  };
  for (int i = 0; i < 3; i++) {
    uint32_t out[4];
    cld_philox4x32_10(v[i], v[i] + 4, out);
    for (int j = 0; j < 4; j++) assert_int_equal(out[j], v[i][6 + j]);
  }
}

static void test_offsets_are_consistent(void **state) {
  (void)state;
  float all[103], part[50];
  cld_rng_normal_host(9, 4, 0, 103, all);
  cld_rng_normal_host(9, 4, 37, 50, part); /* an unaligned window of the same stream */
  for (int i = 0; i < 50; i++) assert_true(all[37 + i] == part[i]);
  cld_rng_uniform_host(9, 4, 0, 103, all);
  cld_rng_uniform_host(9, 4, 53, 50, part);
  for (int i = 0; i < 50; i++) assert_true(all[53 + i] == part[i]);
}

static void test_moments(void **state) {
  (void)state;
  size_t n = 1 << 18;
  float *u = tu_alloc(n), *z = tu_alloc(n);
  cld_rng_uniform_host(1, 0, 0, n, u);
  cld_rng_normal_host(1, 0, 0, n, z);
  double su = 0, sz = 0, szz = 0;
  float umin = 1, umax = 0;
  for (size_t i = 0; i < n; i++) {
    su += u[i];
    sz += z[i];
    szz += (double)z[i] * z[i];
    if (u[i] < umin) umin = u[i];
    if (u[i] > umax) umax = u[i];
  }
  assert_true(umin >= 0.0f && umax < 1.0f);
  assert_true(fabs(su / n - 0.5) < 0.003);
  assert_true(fabs(sz / n) < 0.006);
  assert_true(fabs(szz / n - 1.0) < 0.01);
  /* different streams differ */
  cld_rng_uniform_host(1, 1, 0, 16, z);
  int same = 0;
  for (int i = 0; i < 16; i++) same += z[i] == u[i];
  assert_true(same < 2);
  free(u);
  free(z);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_philox_kat),
      cmocka_unit_test(test_offsets_are_consistent),
      cmocka_unit_test(test_moments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
