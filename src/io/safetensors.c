/* safetensors reading and writing (https://github.com/huggingface/safetensors format):
 * 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
 * then the byte buffer. Reading validates everything before anything is used; writing is
 * atomic. Store-level load/save map parameter names one to one (diffusers names). */
#include "graph/graph_internal.h"
#include "cldiff/io.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

typedef enum { DT_F32, DT_F16, DT_BF16, DT_F64 } st_dtype;

typedef struct {
  char *name;
  st_dtype dtype;
  int ndim;
  int64_t shape[8];
  int64_t numel;
  uint64_t begin, end; /* relative to the data buffer */
} st_tensor;

struct cld_safetensors {
  cld_ctx *ctx;
  char path[512];
  unsigned char *file;
  size_t size, data_start;
  st_tensor *t;
  int n;
  cJSON *metadata;
};

static size_t dtype_size(st_dtype d) { return d == DT_F64 ? 8 : d == DT_F32 ? 4 : 2; }

static int parse_dtype(const char *s, st_dtype *d) {
  if (!strcmp(s, "F32")) *d = DT_F32;
  else if (!strcmp(s, "F16")) *d = DT_F16;
  else if (!strcmp(s, "BF16")) *d = DT_BF16;
  else if (!strcmp(s, "F64")) *d = DT_F64;
  else return -1;
  return 0;
}

void cld_safetensors_close(cld_safetensors *st) {
  if (!st) return;
  for (int i = 0; i < st->n; i++) free(st->t[i].name);
  free(st->t);
  free(st->file);
  cJSON_Delete(st->metadata);
  free(st);
}

static int cmp_begin(const void *a, const void *b) {
  const st_tensor *x = a, *y = b;
  return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* an integer-valued JSON number in [0, max] into *out (no float-to-integer conversion outside it) */
static bool json_uint(const cJSON *v, double max, uint64_t *out) {
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= max) || v->valuedouble != floor(v->valuedouble)) return false;
  *out = (uint64_t)v->valuedouble;
  return true;
}

static bool metadata_ok(const cJSON *m) {
  if (!cJSON_IsObject(m)) return false;
  const cJSON *v;
  cJSON_ArrayForEach(v, m) if (!cJSON_IsString(v)) return false;
  return true;
}

/* shape, element count (overflow-checked) and data_offsets of tensor e, which must fit the data
 * buffer exactly as numel * dtype size */
static cld_status tensor_extent(cld_safetensors *st, const cJSON *e, const cJSON *of, const cJSON *sh, size_t data_size,
                                st_tensor *t) {
  const double max_bytes = (double)data_size;
  uint64_t numel = 1, b = 0, en = 0;
  const cJSON *d;
  bool ok = true;
  cJSON_ArrayForEach(d, sh) {
    uint64_t v;
    if (!json_uint(d, 9007199254740992.0, &v)) { ok = false; break; }
    if (v && numel > (UINT64_C(1) << 62) / v) { ok = false; break; } /* checked before it multiplies */
    t->shape[t->ndim++] = (int64_t)v;
    numel *= v;
  }
  ok = ok && json_uint(cJSON_GetArrayItem(of, 0), max_bytes, &b) && json_uint(cJSON_GetArrayItem(of, 1), max_bytes, &en);
  t->numel = (int64_t)numel;
  t->begin = b;
  t->end = en;
  if (!ok || en < b || en - b != numel * dtype_size(t->dtype) || numel > (UINT64_C(1) << 62) / 8)
    return cld_seterr(st->ctx, CLD_ERR_FORMAT, "%s: tensor '%s': shape or data_offsets [%llu, %llu) do not fit %llu elements in "
                      "a %zu-byte buffer: truncated or corrupt", st->path, e->string, (unsigned long long)b,
                      (unsigned long long)en, (unsigned long long)numel, data_size);
  return CLD_OK;
}

/* the tensors tile the data buffer: sorted by offset each starts where the previous ends, from 0
 * to the end of the file (no overlaps, no holes, no trailing bytes), as the reference requires */
static cld_status check_layout(cld_safetensors *st, size_t data_size) {
  st_tensor *sorted = malloc((size_t)(st->n ? st->n : 1) * sizeof *sorted);
  if (!sorted) return cld_seterr(st->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  memcpy(sorted, st->t, (size_t)st->n * sizeof *sorted);
  qsort(sorted, (size_t)st->n, sizeof *sorted, cmp_begin);
  cld_status rc = CLD_OK;
  uint64_t at = 0;
  for (int i = 0; i < st->n && !rc; i++) {
    if (sorted[i].begin < at)
      rc = cld_seterr(st->ctx, CLD_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap", st->path, sorted[i - 1].name, sorted[i].name);
    else if (sorted[i].begin > at)
      rc = cld_seterr(st->ctx, CLD_ERR_FORMAT, "%s: %llu bytes before tensor '%s' belong to no tensor", st->path,
                      (unsigned long long)(sorted[i].begin - at), sorted[i].name);
    at = sorted[i].end;
  }
  if (!rc && at != data_size)
    rc = cld_seterr(st->ctx, CLD_ERR_FORMAT, "%s: %llu bytes after the last tensor belong to no tensor", st->path,
                    (unsigned long long)(data_size - at));
  free(sorted);
  return rc;
}

cld_status cld_safetensors_open(cld_ctx *ctx, const char *path, cld_safetensors **out) {
  if (!ctx || !path || !out) return CLD_ERR_INVALID_ARG;
  struct stat sb;
  if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
    return cld_seterr(ctx, CLD_ERR_IO, "%s: not a regular file (%s)", path, S_ISDIR(sb.st_mode) ? "a directory" : "a device or pipe");
  FILE *f = fopen(path, "rb");
  if (!f) return cld_seterr(ctx, CLD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  cld_safetensors *st = calloc(1, sizeof *st);
  if (!st) { fclose(f); return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__); }
  st->ctx = ctx;
  snprintf(st->path, sizeof st->path, "%s", path);
  cld_status rc = CLD_OK;
  long sz = -1;
  if (fseek(f, 0, SEEK_END) == 0) sz = ftell(f);
  if (sz < 0 || fseek(f, 0, SEEK_SET) != 0) rc = cld_seterr(ctx, CLD_ERR_IO, "%s: cannot determine the file size", path);
  else if (!(st->file = malloc((size_t)sz + 1))) rc = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory (%ld bytes)", path, sz);
  else if (fread(st->file, 1, (size_t)sz, f) != (size_t)sz) rc = cld_seterr(ctx, CLD_ERR_IO, "%s: read failed", path);
  fclose(f);
  if (rc) { cld_safetensors_close(st); return rc; }
  st->size = (size_t)sz;
  if (st->size < 8) {
    cld_safetensors_close(st);
    return cld_seterr(ctx, CLD_ERR_FORMAT, "%s: truncated: %zu bytes, no safetensors header length", path, (size_t)sz);
  }
  uint64_t hl = 0;
  for (int i = 7; i >= 0; i--) hl = (hl << 8) | st->file[i];
  if (hl > st->size - 8 || hl > (100u << 20)) {
    cld_status e = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: header length %llu exceeds the file (%zu bytes): truncated or not safetensors",
                              path, (unsigned long long)hl, st->size);
    cld_safetensors_close(st);
    return e;
  }
  st->data_start = 8 + (size_t)hl;
  char *hdr = malloc((size_t)hl + 1);
  if (!hdr) { cld_safetensors_close(st); return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__); }
  memcpy(hdr, st->file + 8, (size_t)hl);
  hdr[hl] = 0;
  const char *hdr_end = NULL;
  cJSON *root = hdr[0] == '{' ? cJSON_ParseWithOpts(hdr, &hdr_end, 1) : NULL; /* nothing but padding after the object */
  free(hdr);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    cld_safetensors_close(st);
    return cld_seterr(ctx, CLD_ERR_FORMAT, "%s: header (bytes 8..%llu) is not a JSON object", path, (unsigned long long)(8 + hl));
  }
  int cnt = cJSON_GetArraySize(root);
  st->t = calloc((size_t)(cnt > 0 ? cnt : 1), sizeof *st->t);
  if (!st->t) rc = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory for %d header entries", path, cnt);
  size_t data_size = st->size - st->data_start;
  cJSON *e;
  cJSON_ArrayForEach(e, root) {
    if (rc) break;
    if (!strcmp(e->string, "__metadata__")) {
      if (st->metadata || !metadata_ok(e)) {
        rc = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: %s __metadata__ (it must be one object of strings)", path,
                        st->metadata ? "a second" : "a malformed");
        break;
      }
      st->metadata = cJSON_Duplicate(e, 1);
      continue;
    }
    if (cld_safetensors_find(st, e->string) >= 0) {
      rc = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: tensor '%s' appears twice in the header", path, e->string);
      break;
    }
    st_tensor *t = &st->t[st->n];
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype"), *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || parse_dtype(dt->valuestring, &t->dtype)) {
      rc = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: tensor '%s': dtype %s not supported (F32, F16, BF16, F64)", path, e->string,
                      cJSON_IsString(dt) ? dt->valuestring : "missing");
      break;
    }
    if (!cJSON_IsArray(sh) || cJSON_GetArraySize(sh) > 8 || !cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2) {
      rc = cld_seterr(ctx, CLD_ERR_FORMAT, "%s: tensor '%s': bad shape or data_offsets", path, e->string);
      break;
    }
    if ((rc = tensor_extent(st, e, of, sh, data_size, t))) break;
    if (!(t->name = strdup(e->string))) { rc = cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", path); break; }
    st->n++;
  }
  cJSON_Delete(root);
  if (!rc) rc = check_layout(st, data_size);
  if (rc) { cld_safetensors_close(st); return rc; }
  *out = st;
  return CLD_OK;
}

int cld_safetensors_count(const cld_safetensors *st) { return st ? st->n : 0; }
const char *cld_safetensors_name(const cld_safetensors *st, int i) { return st && i >= 0 && i < st->n ? st->t[i].name : NULL; }
int cld_safetensors_find(const cld_safetensors *st, const char *name) {
  for (int i = 0; st && i < st->n; i++)
    if (!strcmp(st->t[i].name, name)) return i;
  return -1;
}
int cld_safetensors_shape(const cld_safetensors *st, int i, int64_t shape[8]) {
  if (!st || i < 0 || i >= st->n) return -1;
  memcpy(shape, st->t[i].shape, sizeof st->t[i].shape);
  return st->t[i].ndim;
}
int64_t cld_safetensors_numel(const cld_safetensors *st, int i) { return st && i >= 0 && i < st->n ? st->t[i].numel : 0; }

const char *cld_safetensors_metadata(const cld_safetensors *st, const char *key) {
  if (!st || !st->metadata) return NULL;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(st->metadata, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static float half_to_float(uint16_t h) {
  uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023, bits;
  if (e == 0) {
    float v = ldexpf((float)m, -24);
    return s ? -v : v;
  }
  if (e == 31) bits = s | 0x7f800000u | (m << 13);
  else bits = s | ((e + 112) << 23) | (m << 13);
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

cld_status cld_safetensors_read(cld_safetensors *st, int i, float *out) {
  if (!st || !out || i < 0 || i >= st->n) return CLD_ERR_INVALID_ARG;
  const st_tensor *t = &st->t[i];
  const unsigned char *p = st->file + st->data_start + t->begin;
  for (int64_t k = 0; k < t->numel; k++) {
    switch (t->dtype) {
    case DT_F32: memcpy(&out[k], p + 4 * k, 4); break;
    case DT_F64: { double d; memcpy(&d, p + 8 * k, 8); out[k] = (float)d; break; }
    case DT_F16: { uint16_t h = (uint16_t)(p[2 * k] | (p[2 * k + 1] << 8)); out[k] = half_to_float(h); break; }
    case DT_BF16: { uint32_t bits = (uint32_t)(p[2 * k] | (p[2 * k + 1] << 8)) << 16; memcpy(&out[k], &bits, 4); break; }
    }
  }
  return CLD_OK;
}

static int write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

cld_status cld_safetensors_write(cld_ctx *ctx, const char *path, const cld_st_entry *entries, int n,
                                 const char *const *metadata) {
  if (!ctx || !path || (n > 0 && !entries)) return CLD_ERR_INVALID_ARG;
  cJSON *root = cJSON_CreateObject();
  if (metadata) {
    cJSON *m = cJSON_CreateObject();
    for (int i = 0; metadata[i] && metadata[i + 1]; i += 2) cJSON_AddStringToObject(m, metadata[i], metadata[i + 1]);
    cJSON_AddItemToObject(root, "__metadata__", m);
  }
  uint64_t off = 0;
  for (int i = 0; i < n; i++) {
    int64_t numel = 1;
    cJSON *o = cJSON_CreateObject(), *sh = cJSON_CreateArray(), *of = cJSON_CreateArray();
    for (int d = 0; d < entries[i].ndim; d++) {
      cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)entries[i].shape[d]));
      numel *= entries[i].shape[d];
    }
    cJSON_AddStringToObject(o, "dtype", "F32");
    cJSON_AddItemToObject(o, "shape", sh);
    cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
    off += (uint64_t)numel * 4;
    cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
    cJSON_AddItemToObject(o, "data_offsets", of);
    cJSON_AddItemToObject(root, entries[i].name, o);
  }
  char *hdr = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!hdr) return cld_seterr(ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  size_t hl = strlen(hdr), padded = (hl + 7) / 8 * 8;
  char tmp[1024];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) { free(hdr); return cld_seterr(ctx, CLD_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno)); }
  unsigned char len8[8];
  for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
  int bad = write_all(fd, len8, 8) || write_all(fd, hdr, hl) || write_all(fd, "        ", padded - hl);
  free(hdr);
  for (int i = 0; i < n && !bad; i++) {
    int64_t numel = 1;
    for (int d = 0; d < entries[i].ndim; d++) numel *= entries[i].shape[d];
    bad = write_all(fd, entries[i].data, (size_t)numel * 4); /* little-endian hosts */
  }
  bad = bad || fsync(fd) != 0;
  bad = (close(fd) != 0) || bad;
  if (bad || rename(tmp, path) != 0) {
    int err = errno;
    unlink(tmp);
    return cld_seterr(ctx, CLD_ERR_IO, "%s: write failed: %s (nothing was replaced)", path, strerror(err));
  }
  return CLD_OK;
}

cld_status cld_store_save(cld_store *s, const char *path, const char *const *metadata) {
  if (!s || !path) return CLD_ERR_INVALID_ARG;
  cld_st_entry *e = calloc((size_t)(s->n ? s->n : 1), sizeof *e);
  float *all = malloc((s->total ? s->total : 1) * sizeof(float));
  cld_status st = (!e || !all) ? cld_seterr(s->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__) : CLD_OK;
  for (int i = 0; i < s->n && !st; i++) {
    st = cld_store_read(s, i, all + s->p[i].off);
    e[i] = (cld_st_entry){s->p[i].name, s->p[i].ndim, s->p[i].shape, all + s->p[i].off};
  }
  if (!st) st = cld_safetensors_write(s->ctx, path, e, s->n, metadata);
  free(e);
  free(all);
  return st;
}

cld_status cld_store_load(cld_store *s, const char *path, int *n_unused) {
  if (!s || !path) return CLD_ERR_INVALID_ARG;
  cld_safetensors *f;
  cld_status st = cld_safetensors_open(s->ctx, path, &f);
  if (st) return st;
  int used = 0;
  for (int i = 0; i < s->n && !st; i++) { /* check everything before writing anything */
    int j = cld_safetensors_find(f, s->p[i].name);
    if (j < 0) { st = cld_seterr(s->ctx, CLD_ERR_FORMAT, "%s: parameter '%s' is missing", path, s->p[i].name); break; }
    int64_t shp[8];
    int nd = cld_safetensors_shape(f, j, shp);
    bool same = nd == s->p[i].ndim;
    for (int d = 0; same && d < nd; d++) same = shp[d] == s->p[i].shape[d];
    if (!same) {
      char a[96] = "", b[96] = "";
      for (int d = 0; d < nd; d++) snprintf(a + strlen(a), sizeof a - strlen(a), d ? ",%lld" : "%lld", (long long)shp[d]);
      for (int d = 0; d < s->p[i].ndim; d++)
        snprintf(b + strlen(b), sizeof b - strlen(b), d ? ",%lld" : "%lld", (long long)s->p[i].shape[d]);
      st = cld_seterr(s->ctx, CLD_ERR_SHAPE, "%s: parameter '%s' has shape (%s) in the file, the model needs (%s)", path,
                      s->p[i].name, a, b);
    }
    used++;
  }
  float *buf = st ? NULL : malloc((s->total ? s->total : 1) * sizeof(float));
  if (!st && !buf) st = cld_seterr(s->ctx, CLD_ERR_NOMEM, "%s: out of host memory", __func__);
  for (int i = 0; i < s->n && !st; i++) st = cld_safetensors_read(f, cld_safetensors_find(f, s->p[i].name), buf + s->p[i].off);
  for (int i = 0; i < s->n && !st; i++) /* a model holding NaN or Inf samples garbage: refuse it by name */
    for (int64_t k = 0; k < s->p[i].numel; k++)
      if (!isfinite(buf[s->p[i].off + (size_t)k])) {
        st = cld_seterr(s->ctx, CLD_ERR_FORMAT, "%s: parameter '%s' holds %s at element %lld", path, s->p[i].name,
                        isnan(buf[s->p[i].off + (size_t)k]) ? "NaN" : "Inf", (long long)k);
        break;
      }
  for (int i = 0; i < s->n && !st; i++) st = cld_store_write(s, i, buf + s->p[i].off);
  if (!st && n_unused) *n_unused = cld_safetensors_count(f) - used;
  free(buf);
  cld_safetensors_close(f);
  return st;
}
