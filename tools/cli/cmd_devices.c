/* `cldiff devices`: every platform and device, with the capabilities cldiff uses. */
#include "cli.h"
#include <stdio.h>
#include <string.h>

int cmd_devices(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: cldiff devices\n\nLists every OpenCL platform and device with the capabilities cldiff\n"
             "uses, marks the ones it can run on, and the one it picks by default, and how to run\n"
             "on several of them (mpirun).\n");
      return 0;
    }
    fprintf(stderr, "cldiff devices: unknown option '%s'\n", argv[i]);
    return 2;
  }
  cld_device_info info[64];
  int n = 0;
  cld_devices_list(info, 64, &n);
  if (n == 0) {
    printf("no OpenCL devices found; install an OpenCL driver (for CPUs: apt-get install pocl-opencl-icd)\n");
    return 1;
  }
  cld_ctx *ctx = NULL;
  char err[512];
  int def = -1;
  if (cld_ctx_create(NULL, &ctx, err, sizeof err) == CLD_OK) {
    def = cld_ctx_device(ctx)->index;
    cld_ctx_destroy(ctx);
  }
  for (int i = 0; i < n && i < 64; i++) {
    const cld_device_info *d = &info[i];
    printf("[%d]%s %s\n", d->index, d->index == def ? " (default)" : "", d->name);
    printf("    platform:      %s\n", d->platform);
    printf("    vendor:        %s\n", d->vendor);
    printf("    type:          %s\n", d->is_gpu ? "GPU" : d->is_cpu ? "CPU" : "other");
    printf("    version:       %s / %s, driver %s\n", d->version, d->c_version, d->driver);
    printf("    compute units: %d at %d MHz, max work-group %zu, float vector %d\n", d->compute_units, d->clock_mhz,
           d->max_work_group, d->pref_vec_float);
    printf("    memory:        %.1f GiB global, %.1f GiB max buffer, %.0f KiB local\n", d->global_mem / 1073741824.0,
           d->max_alloc / 1073741824.0, d->local_mem / 1024.0);
    printf("    fp64:          %s\n", d->fp64 ? "yes" : "no");
    printf("    usable:        %s%s\n", d->usable ? "yes" : "no: ", d->usable ? "" : d->why_not);
  }
  int usable = 0;
  for (int i = 0; i < n && i < 64; i++) usable += info[i].usable;
  printf("\nseveral devices: mpirun -np N cldiff train|sample ... runs one rank per device (rank r takes\n"
         "usable device r mod %d on its host, or --device); across hosts: mpirun -np N --hostfile FILE\n"
         "with --out on a shared filesystem (README, \"Several GPUs\")\n", usable > 0 ? usable : 1);
  return 0;
}
