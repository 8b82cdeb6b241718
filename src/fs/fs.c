/* File-system helpers (fs.h): whole-file reads, atomic writes, mkdir -p, tree removal. */
#include "fs/fs.h"
#include <dirent.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *cld_fs_read_text(const char *path) {
  struct stat sb;
  if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) { errno = EISDIR; return NULL; } /* a directory reads as garbage */
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *t = NULL;
  long n;
  errno = EIO; /* a short read or a failed seek says so, not a stale errno */
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
    if (!(t = malloc((size_t)n + 1))) errno = ENOMEM;
    else if (fread(t, 1, (size_t)n, f) != (size_t)n) { free(t); t = NULL; errno = EIO; }
    else t[n] = 0;
  }
  fclose(f);
  return t;
}

int cld_fs_sync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY);
  if (fd < 0) return -1;
  int r = fsync(fd);
  close(fd);
  return r;
}

void cld_fs_dirname(const char *path, char *out, size_t n) {
  const char *slash = strrchr(path, '/');
  if (!slash) snprintf(out, n, ".");
  else if (slash == path) snprintf(out, n, "/");
  else snprintf(out, n, "%.*s", (int)(slash - path), path);
}

int cld_fs_write_atomic(const char *path, const void *data, size_t n, char *err, size_t errlen) {
  char tmp[1200], dir[1100];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    if (err) snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
    return -1;
  }
  int ok = fwrite(data, 1, n, f) == n && fflush(f) == 0 && fsync(fileno(f)) == 0;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    if (err) snprintf(err, errlen, "%s: write failed: %s", path, strerror(e));
    errno = e;
    return -1;
  }
  cld_fs_dirname(path, dir, sizeof dir);
  cld_fs_sync_dir(dir); /* durability of the rename; a failure here loses nothing already written */
  return 0;
}

int cld_fs_mkdirs(const char *dir) {
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s", dir);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

void cld_fs_rm_tree(const char *path) {
  DIR *d = opendir(path);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      char sub[1200];
      snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
      struct stat st;
      if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode)) cld_fs_rm_tree(sub);
      else unlink(sub);
    }
    closedir(d);
  }
  rmdir(path);
}

/* FNV-1a 64 (h = 0 starts a new hash): cache keys and integrity checks, not cryptography */
uint64_t cld_hash64(const void *data, size_t n, uint64_t h) {
  const unsigned char *p = data;
  if (!h) h = 1469598103934665603ull; /* FNV-1a 64 */
  for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ull; }
  return h;
}
