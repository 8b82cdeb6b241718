/* The ground floor: file-system helpers every layer may use (the runtime's kernel cache and tuning
 * table, checkpoints, the classifier, the CLI). Depends on nothing in cldiff; errors come back as
 * -1 with errno set and, where a buffer is given, a message naming the path. Internal: not part
 * of the public API. */
#ifndef CLDIFF_FS_H
#define CLDIFF_FS_H
#include <stddef.h>
#include <stdint.h>

/* The whole file, NUL-terminated (malloc'd), or NULL. */
char *cld_fs_read_text(const char *path); /* NULL with errno set (EISDIR for a directory, ENOMEM) */
/* Writes n bytes to path atomically: a temp file in the same directory, fsync, rename, then fsync
 * of the directory, so a reader (or a crash) never sees half a file. 0 or -1 (err gets why). */
int cld_fs_write_atomic(const char *path, const void *data, size_t n, char *err, size_t errlen);
/* mkdir -p: 0 on success (also when it exists), -1 with errno. */
int cld_fs_mkdirs(const char *dir);
/* Removes a directory tree (best effort; symlinks are removed, not followed). */
void cld_fs_rm_tree(const char *path);
/* The directory part of path into out: "." when it has none, "/" for a file at the root. */
void cld_fs_dirname(const char *path, char *out, size_t n);
/* fsyncs a directory, so a rename inside it is durable; 0 or -1. */
int cld_fs_sync_dir(const char *dir);
/* FNV-1a 64 of n bytes, continuing from h (0: a new hash). */
uint64_t cld_hash64(const void *data, size_t n, uint64_t h);
#endif
