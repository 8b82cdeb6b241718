/* Data formats: IDX (gzip and raw; truncation named), CIFAR-10 binary records, a PNG folder
 * (resize of the shorter side + center crop, gray/RGB mixing), PNG write/read round trip,
 * .npy header. Files are made by the test in a temporary directory. */
#define _GNU_SOURCE
#include <sys/stat.h>
#include "test_util.h"
#include <unistd.h>
#include <zlib.h>

static char tmpdir[64];

static int setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/cldiff-data-XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}
static int teardown(void **state) {
  (void)state;
  return tu_rmtree(tmpdir);
}

static void put_u32(unsigned char *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }

static void test_idx(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  unsigned char hdr[16], px[3 * 4 * 5];
  put_u32(hdr, 0x803);
  put_u32(hdr + 4, 3);
  put_u32(hdr + 8, 4);
  put_u32(hdr + 12, 5);
  for (int i = 0; i < 60; i++) px[i] = (unsigned char)(i * 4);
  char gz[128], raw[128];
  snprintf(gz, sizeof gz, "%s/img.gz", tmpdir);
  snprintf(raw, sizeof raw, "%s/img", tmpdir);
  gzFile g = gzopen(gz, "wb");
  gzwrite(g, hdr, 16);
  gzwrite(g, px, 60);
  gzclose(g);
  FILE *f = fopen(raw, "wb");
  fwrite(hdr, 1, 16, f);
  fwrite(px, 1, 50, f); /* truncated */
  fclose(f);
  cld_dataset *d;
  TU_OK(ctx, cld_idx_load(ctx, gz, NULL, &d));
  assert_int_equal(d->n, 3);
  assert_int_equal(d->h, 4);
  assert_int_equal(d->w, 5);
  for (int i = 0; i < 60; i++) assert_true(fabsf(d->x[i] - (px[i] / 127.5f - 1.0f)) < 1e-6f);
  cld_dataset_free(d);
  assert_int_equal(cld_idx_load(ctx, raw, NULL, &d), CLD_ERR_FORMAT);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), raw));
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "truncated"));
  assert_int_equal(cld_dataset_open(ctx, "fmnist:/nonexistent-dir", "train", &d), CLD_ERR_IO);
  assert_int_equal(cld_dataset_open(ctx, "imagenet:/x", "train", &d), CLD_ERR_INVALID_ARG);
  cld_ctx_destroy(ctx);
}

/* hostile IDX headers: dims whose product wraps a 64-bit size, a payload promised but absent,
 * trailing bytes; each fails with the file named and no large allocation */
static void test_idx_hostile(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  char path[128];
  snprintf(path, sizeof path, "%s/hostile.idx", tmpdir);
  const uint32_t dims[][3] = {{1u << 24, 1u << 24, 1u << 24}, /* 2^72 bytes: wrapped to 0 before */
                              {16000000, 16000000, 3},       /* 7.7e14 bytes, over the bound */
                              {1000, 28, 28}};                 /* 784000 bytes promised, 10 present */
  const char *want[] = {"payload bytes", "payload bytes", "truncated"};
  for (int k = 0; k < 3; k++) {
    unsigned char hdr[16], px[10] = {0};
    put_u32(hdr, 0x803);
    for (int i = 0; i < 3; i++) put_u32(hdr + 4 + 4 * i, dims[k][i]);
    FILE *f = fopen(path, "wb");
    fwrite(hdr, 1, 16, f);
    fwrite(px, 1, sizeof px, f);
    fclose(f);
    cld_dataset *d = NULL;
    assert_int_equal(cld_idx_load(ctx, path, NULL, &d), CLD_ERR_FORMAT);
    assert_null(d);
    assert_non_null(strstr(cld_ctx_errmsg(ctx), path));
    assert_non_null(strstr(cld_ctx_errmsg(ctx), want[k]));
  }
  unsigned char hdr[16], px[7] = {0}; /* 2x1x3 = 6 payload bytes, one extra */
  put_u32(hdr, 0x803);
  put_u32(hdr + 4, 2);
  put_u32(hdr + 8, 1);
  put_u32(hdr + 12, 3);
  FILE *f = fopen(path, "wb");
  fwrite(hdr, 1, 16, f);
  fwrite(px, 1, sizeof px, f);
  fclose(f);
  cld_dataset *d = NULL;
  assert_int_equal(cld_idx_load(ctx, path, NULL, &d), CLD_ERR_FORMAT);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "after the 6-byte payload"));
  cld_ctx_destroy(ctx);
}

static void test_cifar(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  char path[128];
  snprintf(path, sizeof path, "%s/test_batch.bin", tmpdir);
  FILE *f = fopen(path, "wb");
  unsigned char rec[3073];
  for (int r = 0; r < 2; r++) {
    rec[0] = (unsigned char)(7 + r);
    for (int k = 0; k < 3072; k++) rec[1 + k] = (unsigned char)((k + r) % 256);
    fwrite(rec, 1, 3073, f);
  }
  fclose(f);
  cld_dataset *d;
  char spec[128];
  snprintf(spec, sizeof spec, "cifar10:%s", tmpdir);
  TU_OK(ctx, cld_dataset_open(ctx, spec, "test", &d));
  assert_int_equal(d->n, 2);
  assert_int_equal(d->c, 3);
  assert_int_equal(d->labels[1], 8);
  assert_true(fabsf(d->x[3072 + 1024] - ((1024 + 1) % 256 / 127.5f - 1.0f)) < 1e-6f); /* G plane of record 1 */
  cld_dataset_free(d);
  f = fopen(path, "ab");
  fwrite(rec, 1, 100, f); /* a partial record */
  fclose(f);
  assert_int_equal(cld_dataset_open(ctx, spec, "test", &d), CLD_ERR_FORMAT);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "test_batch.bin"));
  cld_ctx_destroy(ctx);
}

static void test_png_folder(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  char dir[128], path[192];
  snprintf(dir, sizeof dir, "%s/pngs", tmpdir);
  assert_int_equal(mkdir(dir, 0755), 0);
  /* a: gray 12 rows x 6 cols: value = column (so a center crop of the resize is known); b: RGB 4x4 */
  float a[72], b[48];
  for (int y = 0; y < 12; y++)
    for (int x = 0; x < 6; x++) a[y * 6 + x] = (x * 40) / 127.5f - 1.0f;
  for (int i = 0; i < 48; i++) b[i] = i < 16 ? 1.0f : i < 32 ? -1.0f : 0.0f; /* R=255, G=0, B~128 */
  snprintf(path, sizeof path, "%s/a.png", dir);
  TU_OK(ctx, cld_png_write_grid(ctx, path, a, 1, 1, 12, 6, 1));
  snprintf(path, sizeof path, "%s/b.png", dir);
  TU_OK(ctx, cld_png_write_grid(ctx, path, b, 1, 3, 4, 4, 1));
  float *px;
  int w, h, c;
  TU_OK(ctx, cld_png_read(ctx, path, &px, &w, &h, &c));
  assert_int_equal(w, 8); /* the grid writer adds a 2-pixel frame */
  assert_int_equal(c, 3);
  assert_true(px[(2 * 8 + 2) * 3 + 0] == 255 && px[(2 * 8 + 2) * 3 + 1] == 0);
  free(px);
  cld_dataset *d;
  char spec[160];
  snprintf(spec, sizeof spec, "png:%s", dir);
  assert_int_equal(cld_dataset_open(ctx, spec, "train", &d), CLD_ERR_INVALID_ARG); /* needs a size */
  TU_OK(ctx, cld_dataset_open_sized(ctx, spec, "train", 4, &d));
  assert_int_equal(d->n, 2);
  assert_int_equal(d->c, 3); /* b is RGB, so a is repeated to RGB */
  assert_int_equal(d->h, 4);
  /* a (16 x 10 with the frame) -> 6.4 x 4 -> rows cropped; every channel equal for a gray image */
  for (int k = 0; k < 16; k++) assert_true(d->x[k] == d->x[16 + k] && d->x[k] == d->x[32 + k]);
  /* b (8 x 8 framed, 4 x 4 red inside) downsampled by 2: the center 2x2 is pure red */
  const float *r = d->x + 48, *g = d->x + 48 + 16;
  assert_true(fabsf(r[5] - 1.0f) < 1e-6f && fabsf(g[5] + 1.0f) < 1e-6f);
  cld_dataset_free(d);
  snprintf(path, sizeof path, "%s/bad.png", dir);
  FILE *f = fopen(path, "wb");
  fputs("not a png", f);
  fclose(f);
  /* one unreadable file is skipped and named, not fatal (it used to fail the whole folder) */
  TU_OK(ctx, cld_dataset_open_sized(ctx, spec, "train", 4, &d));
  assert_int_equal(d->n, 2);
  assert_int_equal(d->n_skipped, 1);
  assert_non_null(strstr(d->skipped_first, "bad.png"));
  cld_dataset_free(d);
  /* a folder where nothing reads fails, naming a file */
  char dir2[128];
  snprintf(dir2, sizeof dir2, "%s/pngs-bad", tmpdir);
  assert_int_equal(mkdir(dir2, 0755), 0);
  snprintf(path, sizeof path, "%s/only.png", dir2);
  f = fopen(path, "wb");
  fputs("not a png either", f);
  fclose(f);
  snprintf(spec, sizeof spec, "png:%s", dir2);
  assert_int_equal(cld_dataset_open_sized(ctx, spec, "train", 4, &d), CLD_ERR_FORMAT);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "only.png"));
  cld_ctx_destroy(ctx);
}

#define JPEG_GOLDEN CLDIFF_SOURCE_DIR "/tests/golden/jpeg"

static void copy_file(const char *from, const char *to) {
  FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
  assert_non_null(a);
  assert_non_null(b);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, a)) > 0) assert_int_equal(fwrite(buf, 1, n, b), n);
  fclose(a);
  fclose(b);
}

/* JPEG decoding against Pillow's (tools/golden/make_jpeg_golden.py): baseline gray and 4:2:0 color,
 * progressive; CMYK refused, a truncated file an error (not a gray-padded image) */
static void test_jpeg(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  cld_safetensors *st;
  TU_OK(ctx, cld_safetensors_open(ctx, JPEG_GOLDEN "/pixels.safetensors", &st));
  const char *names[3] = {"gray", "rgb", "prog"};
  for (int k = 0; k < 3; k++) {
    char path[256];
    snprintf(path, sizeof path, JPEG_GOLDEN "/%s.jpg", names[k]);
    float *px;
    int w, h, c, id = cld_safetensors_find(st, names[k]);
    TU_OK(ctx, cld_jpeg_read(ctx, path, &px, &w, &h, &c));
    int64_t shape[8];
    assert_int_equal(cld_safetensors_shape(st, id, shape), 3);
    assert_int_equal(h, shape[0]);
    assert_int_equal(w, shape[1]);
    assert_int_equal(c, shape[2]);
    float *want = tu_alloc((size_t)(w * h * c));
    TU_OK(ctx, cld_safetensors_read(st, id, want));
    /* the same IDCT and upsampling: equal, within one level for decoder versions that round apart */
    double worst = 0;
    for (int i = 0; i < w * h * c; i++) worst = fmax(worst, fabs(px[i] - want[i]));
    if (getenv("CLDIFF_TEST_VERBOSE")) fprintf(stderr, "%s.jpg: max difference from Pillow %.0f\n", names[k], worst);
    assert_true(worst <= 1.0);
    free(px);
    free(want);
  }
  cld_safetensors_close(st);
  float *px = NULL;
  int w, h, c;
  assert_int_equal(cld_jpeg_read(ctx, JPEG_GOLDEN "/cmyk.jpg", &px, &w, &h, &c), CLD_ERR_UNSUPPORTED);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "CMYK"));
  assert_int_equal(cld_jpeg_read(ctx, JPEG_GOLDEN "/trunc.jpg", &px, &w, &h, &c), CLD_ERR_FORMAT);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "trunc.jpg"));
  assert_null(px);
  cld_ctx_destroy(ctx);
}

/* the ImageFolder layout: one subfolder per class, PNG and JPEG mixed, labels by sorted class name */
static void test_image_folder_classes(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  char dir[128], path[256], spec[160];
  snprintf(dir, sizeof dir, "%s/classes", tmpdir);
  assert_int_equal(mkdir(dir, 0755), 0);
  const char *cls[2] = {"zebra", "apple"}; /* made out of order: the labels follow the sorted names */
  for (int k = 0; k < 2; k++) {
    snprintf(path, sizeof path, "%s/%s", dir, cls[k]);
    assert_int_equal(mkdir(path, 0755), 0);
  }
  snprintf(path, sizeof path, "%s/zebra/1.jpg", dir);
  copy_file(JPEG_GOLDEN "/rgb.jpg", path);
  snprintf(path, sizeof path, "%s/zebra/2.JPEG", dir);
  copy_file(JPEG_GOLDEN "/prog.jpg", path);
  snprintf(path, sizeof path, "%s/apple/x.jpg", dir);
  copy_file(JPEG_GOLDEN "/gray.jpg", path);
  snprintf(path, sizeof path, "%s/apple/broken.jpg", dir);
  copy_file(JPEG_GOLDEN "/trunc.jpg", path);
  float g[16];
  for (int i = 0; i < 16; i++) g[i] = 0.5f;
  snprintf(path, sizeof path, "%s/apple/y.png", dir);
  TU_OK(ctx, cld_png_write_grid(ctx, path, g, 1, 1, 4, 4, 1));
  snprintf(spec, sizeof spec, "folder:%s", dir);
  cld_dataset *d;
  TU_OK(ctx, cld_dataset_open_sized(ctx, spec, "train", 4, &d));
  assert_int_equal(d->n, 4);
  assert_int_equal(d->n_skipped, 1); /* the truncated JPEG */
  assert_non_null(strstr(d->skipped_first, "broken.jpg"));
  assert_int_equal(d->c, 3);
  assert_int_equal(d->n_classes, 2);
  assert_string_equal(d->class_names[0], "apple");
  assert_string_equal(d->class_names[1], "zebra");
  int want[4] = {0, 0, 1, 1}; /* apple/x.jpg, apple/y.png, zebra/1.jpg, zebra/2.JPEG */
  for (int i = 0; i < 4; i++) assert_int_equal(d->labels[i], want[i]);
  cld_dataset_free(d);
  /* an image beside the class folders is refused by name; so is an empty class folder */
  snprintf(path, sizeof path, "%s/loose.jpg", dir);
  copy_file(JPEG_GOLDEN "/rgb.jpg", path);
  assert_int_equal(cld_dataset_open_sized(ctx, spec, "train", 4, &d), CLD_ERR_FORMAT);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "loose.jpg"));
  assert_int_equal(unlink(path), 0);
  snprintf(path, sizeof path, "%s/empty", dir);
  assert_int_equal(mkdir(path, 0755), 0);
  assert_int_equal(cld_dataset_open_sized(ctx, spec, "train", 4, &d), CLD_ERR_FORMAT);
  assert_non_null(strstr(cld_ctx_errmsg(ctx), "'empty'"));
  /* Fashion-MNIST carries its labels and class names */
  if (access("/usr/share/datasets/fashion-mnist", R_OK) == 0) {
    TU_OK(ctx, cld_dataset_open(ctx, "fmnist", "test", &d));
    assert_int_equal(d->n_classes, 10);
    assert_string_equal(d->class_names[9], "Ankle boot");
    assert_non_null(d->labels);
    cld_dataset_free(d);
  }
  cld_ctx_destroy(ctx);
}

static void test_npy(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  char path[128];
  snprintf(path, sizeof path, "%s/a.npy", tmpdir);
  float v[6] = {1, 2, 3, 4, 5, 6};
  TU_OK(ctx, cld_npy_write(ctx, path, v, 2, (int64_t[]){3, 2}));
  FILE *f = fopen(path, "rb");
  unsigned char buf[256];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  assert_int_equal(n, 128 + 24);
  assert_memory_equal(buf, "\x93NUMPY\x01\x00", 8);
  assert_int_equal(buf[8] + 256 * buf[9], 118); /* header padded so data starts at 128 */
  assert_non_null(memmem(buf, 128, "'shape': (3, 2)", 15));
  assert_memory_equal(buf + 128, v, 24);
  float *r = NULL;
  int nd = 0;
  int64_t sh[8];
  TU_OK(ctx, cld_npy_read(ctx, path, &r, &nd, sh));
  assert_int_equal(nd, 2);
  assert_memory_equal(r, v, 24);
  free(r);
  /* hostile headers: a shape whose product wraps to 4 (16 bytes present), one that needs far
   * more data than the file holds (it asked malloc for 64 GiB before), and trailing bytes */
  const char *shapes[] = {"(4, 4611686018427387905)", "(4, 1073741824)", "(3, 1)"};
  const char *want[] = {"more than", "bytes of data", "bytes of data"};
  for (int k = 0; k < 3; k++) {
    char hdr[128];
    int hl = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shapes[k]);
    while (hl < 117) hdr[hl++] = ' ';
    hdr[hl++] = '\n';
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)hl, 0};
    f = fopen(path, "wb");
    fwrite(pre, 1, 10, f);
    fwrite(hdr, 1, (size_t)hl, f);
    fwrite(v, sizeof(float), 4, f);
    fclose(f);
    r = NULL;
    assert_int_equal(cld_npy_read(ctx, path, &r, &nd, sh), CLD_ERR_FORMAT);
    assert_null(r);
    assert_non_null(strstr(cld_ctx_errmsg(ctx), path));
    assert_non_null(strstr(cld_ctx_errmsg(ctx), want[k]));
  }
  cld_ctx_destroy(ctx);
}

/* writes 8-byte length + header + n data bytes */
static void put_st(const char *path, const char *header, size_t n) {
  FILE *f = fopen(path, "wb");
  uint64_t hl = strlen(header);
  unsigned char len[8];
  for (int i = 0; i < 8; i++) len[i] = (unsigned char)(hl >> (8 * i));
  fwrite(len, 1, 8, f);
  fwrite(header, 1, hl, f);
  for (size_t i = 0; i < n; i++) fputc(0, f);
  fclose(f);
}

/* safetensors as strict as the reference: a valid file opens; overflowing shapes, huge or
 * fractional numbers, holes, overlaps, trailing bytes, a second __metadata__ and repeated names
 * are refused with the file named */
static void test_safetensors_strict(void **state) {
  (void)state;
  cld_ctx *ctx = tu_ctx();
  char path[128];
  snprintf(path, sizeof path, "%s/x.safetensors", tmpdir);
  cld_safetensors *st = NULL;
  put_st(path, "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F16\",\"shape\":[1,2],\"data_offsets\":[8,12]}}  ", 12);
  TU_OK(ctx, cld_safetensors_open(ctx, path, &st));
  cld_safetensors_close(st);
  const struct { const char *hdr; size_t n; const char *want; } bad[] = {
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,0]}}", 0, "do not fit"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,4]}}", 4, "do not fit"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,1e20]}}", 4, "do not fit"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "do not fit"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "belong to no tensor"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "after the last tensor"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],"
       "\"data_offsets\":[4,8]}}", 8, "overlap"},
      {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, "__metadata__"},
      {"{\"__metadata__\":{\"k\":1}}", 0, "__metadata__"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
       "\"data_offsets\":[4,8]}}", 8, "twice"},
      {"{} trailing", 0, "not a JSON object"},
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    put_st(path, bad[k].hdr, bad[k].n);
    st = NULL;
    assert_int_equal(cld_safetensors_open(ctx, path, &st), CLD_ERR_FORMAT);
    assert_null(st);
    if (!strstr(cld_ctx_errmsg(ctx), bad[k].want) || !strstr(cld_ctx_errmsg(ctx), path))
      fail_msg("case %zu: '%s'", k, cld_ctx_errmsg(ctx));
  }
  cld_ctx_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_idx), cmocka_unit_test(test_idx_hostile), cmocka_unit_test(test_cifar), cmocka_unit_test(test_png_folder), cmocka_unit_test(test_jpeg), cmocka_unit_test(test_image_folder_classes), cmocka_unit_test(test_npy), cmocka_unit_test(test_safetensors_strict),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
