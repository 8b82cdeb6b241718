/* The wrappers behind fault_shim.h. Each __wrap_X counts, fails when its count reaches the armed
 * one, else calls __real_X (the linker's name for the real symbol). */
#define _GNU_SOURCE /* dladdr */
#include "fault_shim.h"
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long counts[FAULT_KINDS], armed_at[FAULT_KINDS];
static fault_kind armed_kind = FAULT_KINDS;
static bool fired;
static const char *fired_what = "";
static const char *only_call; /* FAULTS_CALL, read when armed */
static void *fired_caller;

void fault_arm(fault_kind k, long nth) {
  memset(counts, 0, sizeof counts);
  memset(armed_at, 0, sizeof armed_at);
  armed_kind = k;
  armed_at[k] = nth;
  fired = false;
  fired_what = "";
  fired_caller = NULL;
  only_call = getenv("FAULTS_CALL");
  if (only_call && !*only_call) only_call = NULL;
}
void fault_disarm(void) { armed_kind = FAULT_KINDS; }
long fault_count(fault_kind k) { return counts[k]; }
bool fault_fired(void) { return fired; }
const char *fault_what(void) { return fired_what; }
/* the function that made the failed call: its exported name, else addr2line's reading of the
 * symbol table at the return address (the library's functions are not exported), else the offset */
const char *fault_caller(void) {
  static char name[160];
  Dl_info info;
  if (!fired_caller || !dladdr(fired_caller, &info)) return "?";
  if (info.dli_sname) return info.dli_sname;
  unsigned long off = (unsigned long)((char *)fired_caller - (char *)info.dli_fbase) - 1; /* inside the call */
  char cmd[400];
  snprintf(cmd, sizeof cmd, "addr2line -f -e '%s' 0x%lx 2>/dev/null", info.dli_fname, off);
  FILE *p = popen(cmd, "r");
  if (p && fgets(name, sizeof name, p) && name[0] != '?') name[strcspn(name, "\n")] = 0;
  else snprintf(name, sizeof name, "%s+0x%lx", info.dli_fname, off);
  if (p) pclose(p);
  return name;
}
#define hit(k, what) hit_at(k, what, __builtin_return_address(0))

/* true when this call is the one to fail (a failing allocation sets errno as the real one does) */
static bool hit_at(fault_kind k, const char *what, void *caller) {
  if (armed_kind != k) return false;
  /* FAULTS_CALL=NAME: only that call counts (a sweep over every clEnqueueReadBuffer, say, that
   * stays on target when other calls are added before it) */
  if (only_call && strcmp(only_call, what)) return false;
  if (++counts[k] != armed_at[k]) return false;
  fired = true;
  fired_what = what;
  fired_caller = caller;
  if (getenv("FAULTS_TRACE")) { /* where the failing call was made (debugging a finding) */
    void *frames[16];
    backtrace_symbols_fd(frames, backtrace(frames, 16), 2);
  }
  if (k == FAULT_HOST) errno = ENOMEM;
  return true;
}

/* ---- host allocations ---- */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
void *__wrap_malloc(size_t n) { return hit(FAULT_HOST, "malloc") ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t m) { return hit(FAULT_HOST, "calloc") ? NULL : __real_calloc(n, m); }
void *__wrap_realloc(void *p, size_t n) { return hit(FAULT_HOST, "realloc") ? NULL : __real_realloc(p, n); }
char *__wrap_strdup(const char *s) { return hit(FAULT_HOST, "strdup") ? NULL : __real_strdup(s); }

/* ---- OpenCL: object creation (NULL + errcode) ---- */
#define WRAP_CREATE(ret, name, err, params, args)                         \
  ret __real_##name params;                                               \
  ret __wrap_##name params;                                               \
  ret __wrap_##name params {                                              \
    if (hit(FAULT_CL, #name)) { if (errcode_ret) *errcode_ret = err; return NULL; } \
    return __real_##name args;                                            \
  }
WRAP_CREATE(cl_context, clCreateContext, CL_OUT_OF_HOST_MEMORY,
            (const cl_context_properties *pr, cl_uint nd, const cl_device_id *d,
             void(CL_CALLBACK *cb)(const char *, const void *, size_t, void *), void *u, cl_int *errcode_ret),
            (pr, nd, d, cb, u, errcode_ret))
WRAP_CREATE(cl_command_queue, clCreateCommandQueue, CL_OUT_OF_RESOURCES,
            (cl_context c, cl_device_id d, cl_command_queue_properties pr, cl_int *errcode_ret), (c, d, pr, errcode_ret))
WRAP_CREATE(cl_mem, clCreateBuffer, CL_MEM_OBJECT_ALLOCATION_FAILURE,
            (cl_context c, cl_mem_flags f, size_t n, void *h, cl_int *errcode_ret), (c, f, n, h, errcode_ret))
WRAP_CREATE(cl_mem, clCreateSubBuffer, CL_OUT_OF_RESOURCES,
            (cl_mem b, cl_mem_flags f, cl_buffer_create_type t, const void *i, cl_int *errcode_ret), (b, f, t, i, errcode_ret))
WRAP_CREATE(cl_program, clCreateProgramWithSource, CL_OUT_OF_HOST_MEMORY,
            (cl_context c, cl_uint n, const char **s, const size_t *l, cl_int *errcode_ret), (c, n, s, l, errcode_ret))
WRAP_CREATE(cl_program, clCreateProgramWithBinary, CL_OUT_OF_HOST_MEMORY,
            (cl_context c, cl_uint n, const cl_device_id *d, const size_t *l, const unsigned char **b, cl_int *st,
             cl_int *errcode_ret), (c, n, d, l, b, st, errcode_ret))
WRAP_CREATE(cl_kernel, clCreateKernel, CL_OUT_OF_RESOURCES,
            (cl_program p, const char *name, cl_int *errcode_ret), (p, name, errcode_ret))
WRAP_CREATE(void *, clEnqueueMapBuffer, CL_MAP_FAILURE,
            (cl_command_queue q, cl_mem b, cl_bool bl, cl_map_flags f, size_t off, size_t n, cl_uint ne,
             const cl_event *w, cl_event *e, cl_int *errcode_ret), (q, b, bl, f, off, n, ne, w, e, errcode_ret))

/* ---- OpenCL: calls that return a status ---- */
#define WRAP_CALL(name, err, params, args)                  \
  cl_int __real_##name params;                              \
  cl_int __wrap_##name params;                              \
  cl_int __wrap_##name params {                             \
    return hit(FAULT_CL, #name) ? err : __real_##name args; \
  }
WRAP_CALL(clBuildProgram, CL_OUT_OF_HOST_MEMORY,
          (cl_program p, cl_uint n, const cl_device_id *d, const char *o,
           void(CL_CALLBACK *cb)(cl_program, void *), void *u), (p, n, d, o, cb, u))
WRAP_CALL(clEnqueueNDRangeKernel, CL_OUT_OF_RESOURCES,
          (cl_command_queue q, cl_kernel k, cl_uint dim, const size_t *off, const size_t *g, const size_t *l,
           cl_uint ne, const cl_event *w, cl_event *e), (q, k, dim, off, g, l, ne, w, e))
WRAP_CALL(clEnqueueReadBuffer, CL_OUT_OF_RESOURCES,
          (cl_command_queue q, cl_mem b, cl_bool bl, size_t off, size_t n, void *p, cl_uint ne, const cl_event *w,
           cl_event *e), (q, b, bl, off, n, p, ne, w, e))
WRAP_CALL(clEnqueueWriteBuffer, CL_OUT_OF_RESOURCES,
          (cl_command_queue q, cl_mem b, cl_bool bl, size_t off, size_t n, const void *p, cl_uint ne,
           const cl_event *w, cl_event *e), (q, b, bl, off, n, p, ne, w, e))
WRAP_CALL(clEnqueueFillBuffer, CL_OUT_OF_RESOURCES,
          (cl_command_queue q, cl_mem b, const void *pat, size_t ps, size_t off, size_t n, cl_uint ne,
           const cl_event *w, cl_event *e), (q, b, pat, ps, off, n, ne, w, e))
WRAP_CALL(clEnqueueCopyBuffer, CL_OUT_OF_RESOURCES,
          (cl_command_queue q, cl_mem s, cl_mem d, size_t so, size_t dof, size_t n, cl_uint ne, const cl_event *w,
           cl_event *e), (q, s, d, so, dof, n, ne, w, e))
WRAP_CALL(clFinish, CL_OUT_OF_RESOURCES, (cl_command_queue q), (q))
WRAP_CALL(clFlush, CL_OUT_OF_RESOURCES, (cl_command_queue q), (q))
WRAP_CALL(clWaitForEvents, CL_OUT_OF_RESOURCES, (cl_uint n, const cl_event *l), (n, l))
WRAP_CALL(clEnqueueUnmapMemObject, CL_OUT_OF_RESOURCES,
          (cl_command_queue q, cl_mem m, void *p, cl_uint ne, const cl_event *w, cl_event *e), (q, m, p, ne, w, e))
