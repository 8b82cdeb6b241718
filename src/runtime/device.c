/* Device enumeration and choice. A device is usable when it reports OpenCL >= 1.2 (device and
 * OpenCL C version) and has what the ops need; there is no vendor whitelist. Choice: an index or
 * a name substring; by default the first usable GPU, else the first usable device. */
#include "runtime/runtime.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void get_str(cl_device_id d, cl_device_info what, char *buf, size_t n) {
  buf[0] = 0;
  if (clGetDeviceInfo(d, what, n, buf, NULL) != CL_SUCCESS) buf[0] = 0;
  buf[n - 1] = 0;
}

/* "OpenCL 1.2 ..." / "OpenCL C 1.2 ..." -> major*10+minor, or 0 */
static int parse_version(const char *s, const char *prefix) {
  size_t n = strlen(prefix);
  if (strncmp(s, prefix, n)) return 0;
  int maj = 0, min = 0;
  if (sscanf(s + n, "%d.%d", &maj, &min) != 2) return 0;
  return maj * 10 + min;
}

cld_status cld_device_fill_info(cl_platform_id p, cl_device_id d, int index, cld_device_info *info) {
  memset(info, 0, sizeof *info);
  info->index = index;
  clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof info->platform, info->platform, NULL);
  info->platform[sizeof info->platform - 1] = 0;
  get_str(d, CL_DEVICE_NAME, info->name, sizeof info->name);
  get_str(d, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
  get_str(d, CL_DEVICE_VERSION, info->version, sizeof info->version);
  get_str(d, CL_DRIVER_VERSION, info->driver, sizeof info->driver);
  get_str(d, CL_DEVICE_OPENCL_C_VERSION, info->c_version, sizeof info->c_version);
  cl_device_type type = 0;
  clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL);
  info->is_gpu = (type & CL_DEVICE_TYPE_GPU) != 0;
  info->is_cpu = (type & CL_DEVICE_TYPE_CPU) != 0;
  cl_uint u = 0;
  clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof u, &u, NULL);
  info->compute_units = (int)u;
  u = 0;
  clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof u, &u, NULL);
  info->clock_mhz = (int)u;
  u = 0;
  clGetDeviceInfo(d, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof u, &u, NULL);
  info->pref_vec_float = (int)u;
  cl_ulong ul = 0;
  clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof ul, &ul, NULL);
  info->global_mem = ul;
  ul = 0;
  clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof ul, &ul, NULL);
  info->max_alloc = ul;
  ul = 0;
  clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof ul, &ul, NULL);
  info->local_mem = ul;
  size_t wg = 0;
  clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
  info->max_work_group = wg;
  cl_device_fp_config fp = 0;
  clGetDeviceInfo(d, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof fp, &fp, NULL);
  info->fp64 = fp != 0;
  cl_bool avail = CL_FALSE, compiler = CL_FALSE;
  clGetDeviceInfo(d, CL_DEVICE_AVAILABLE, sizeof avail, &avail, NULL);
  clGetDeviceInfo(d, CL_DEVICE_COMPILER_AVAILABLE, sizeof compiler, &compiler, NULL);

  int dv = parse_version(info->version, "OpenCL ");
  int cv = parse_version(info->c_version, "OpenCL C ");
  info->usable = true;
  if (dv < 12) snprintf(info->why_not, sizeof info->why_not, "device version '%s' is below OpenCL 1.2", info->version);
  else if (cv < 12) snprintf(info->why_not, sizeof info->why_not, "OpenCL C version '%s' is below 1.2", info->c_version);
  else if (!avail) snprintf(info->why_not, sizeof info->why_not, "device reports itself unavailable");
  else if (!compiler) snprintf(info->why_not, sizeof info->why_not, "device has no OpenCL C compiler");
  else if (wg < 64) snprintf(info->why_not, sizeof info->why_not, "max work-group size %zu < 64", wg);
  else return CLD_OK;
  info->usable = false;
  return CLD_OK;
}

/* Calls fn for every device; stops early when fn returns true. Returns the device count. */
typedef bool (*dev_fn)(void *user, cl_platform_id p, cl_device_id d, int index);
static int for_each_device(dev_fn fn, void *user, cl_int *err) {
  cl_uint np = 0;
  *err = clGetPlatformIDs(0, NULL, &np);
  if (*err != CL_SUCCESS || np == 0) return 0;
  cl_platform_id plats[16];
  if (np > 16) np = 16;
  clGetPlatformIDs(np, plats, NULL);
  int index = 0;
  for (cl_uint i = 0; i < np; i++) {
    cl_uint nd = 0;
    if (clGetDeviceIDs(plats[i], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0) continue;
    cl_device_id devs[32];
    if (nd > 32) nd = 32;
    clGetDeviceIDs(plats[i], CL_DEVICE_TYPE_ALL, nd, devs, NULL);
    for (cl_uint j = 0; j < nd; j++, index++)
      if (fn && fn(user, plats[i], devs[j], index)) return index + 1;
  }
  return index;
}

typedef struct { cld_device_info *out; int max; } list_ctx;
static bool list_one(void *user, cl_platform_id p, cl_device_id d, int index) {
  list_ctx *lc = user;
  if (index < lc->max) cld_device_fill_info(p, d, index, &lc->out[index]);
  return false;
}

cld_status cld_devices_list(cld_device_info *out, int max, int *count) {
  if (!count || (max > 0 && !out)) return CLD_ERR_INVALID_ARG;
  list_ctx lc = {out, max};
  cl_int e;
  *count = for_each_device(list_one, &lc, &e);
  return CLD_OK;
}

static bool contains_nocase(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  for (; *hay; hay++) {
    size_t i = 0;
    while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) i++;
    if (i == n) return true;
  }
  return n == 0;
}

typedef struct {
  const char *want;
  int want_index; /* -1: match by name */
  int pass;       /* default choice: 0 = GPUs only, 1 = anything usable */
  bool found;
  cl_platform_id p;
  cl_device_id d;
  cld_device_info info;
} choose_ctx;

static bool choose_one(void *user, cl_platform_id p, cl_device_id d, int index) {
  choose_ctx *c = user;
  cld_device_info info;
  cld_device_fill_info(p, d, index, &info);
  bool match;
  if (c->want_index >= 0) match = index == c->want_index;
  else if (c->want) match = contains_nocase(info.name, c->want) || contains_nocase(info.platform, c->want);
  else match = info.usable && (c->pass == 1 || info.is_gpu);
  if (!match) return false;
  c->found = true;
  c->p = p;
  c->d = d;
  c->info = info;
  return true;
}

cld_status cld_device_choose(const char *want, cl_platform_id *pp, cl_device_id *dp, cld_device_info *info,
                             char *err, size_t errlen) {
  choose_ctx c;
  memset(&c, 0, sizeof c);
  c.want_index = -1;
  if (want && *want) {
    char *end;
    long v = strtol(want, &end, 10);
    if (*end == 0 && v >= 0) c.want_index = (int)v;
    else c.want = want;
  }
  cl_int e = CL_SUCCESS;
  int n = for_each_device(choose_one, &c, &e);
  if (!c.found && !want) {
    c.pass = 1;
    n = for_each_device(choose_one, &c, &e);
  }
  if (!c.found) {
    if (n == 0 && !want)
      snprintf(err, errlen, "no OpenCL device found (clGetPlatformIDs: %s); install an OpenCL driver, "
               "e.g. pocl-opencl-icd", cld_cl_errstr(e));
    else if (!want)
      snprintf(err, errlen, "none of the %d OpenCL devices is usable (see `cldiff devices`)", n);
    else
      snprintf(err, errlen, "device '%s' not found among %d OpenCL devices (see `cldiff devices`)", want, n);
    return CLD_ERR_NO_DEVICE;
  }
  if (!c.info.usable) {
    snprintf(err, errlen, "device %d '%s' cannot run cldiff: %s", c.info.index, c.info.name, c.info.why_not);
    return CLD_ERR_UNSUPPORTED;
  }
  *pp = c.p;
  *dp = c.d;
  *info = c.info;
  return CLD_OK;
}
