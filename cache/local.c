/* local.c - the local folder as a backend: entries as files under DIR/v1/entries.
 *
 * A file appears by rename from v1/tmp, so a reader sees an entry whole or not at all and
 * processes may share the folder; an entry's last use is its file's mtime.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/internal.h"

void ca_local_path(const ca_Cache *c, const char *rel, char *out, size_t cap) { snprintf(out, cap, "%s/v1/%s", c->dir, rel); }

int ca_mkdir_p(const char *p) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", p);
  for (char *s = buf + 1; *s; s++)
    if (*s == '/') {
      *s = 0;
      if (mkdir(buf, 0777) && errno != EEXIST) return -1;
      *s = '/';
    }
  if (mkdir(buf, 0777) && errno != EEXIST) return -1;
  return 0;
}

int ca_local_write(ca_Cache *c, const char *rel, const void *data, size_t len) {
  char tmp[4096], dst[4096];
  ca_local_path(c, "tmp/XXXXXX", tmp, sizeof tmp);
  ca_local_path(c, rel, dst, sizeof dst);
  int fd = mkstemp(tmp);
  if (fd < 0) return -1;
  int err = fchmod(fd, c->file_mode) ? errno : 0; /* mkstemp makes 0600: others could not read a shared cache */
  const uint8_t *p = data;
  size_t left = len;
  while (left && !err) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno != EINTR) err = errno;
    else if (w > 0) p += w, left -= (size_t)w;
  }
  if (close(fd) && !err) err = errno;
  if (!err && rename(tmp, dst)) {
    err = errno;
    if (err == ENOENT) { /* the fan-out folder does not exist yet */
      char *slash = strrchr(dst, '/');
      *slash = 0;
      err = ca_mkdir_p(dst) ? errno : 0;
      *slash = '/';
      if (!err && rename(tmp, dst)) err = errno;
    }
  }
  if (err) {
    unlink(tmp);
    errno = err;
    return -1;
  }
  return 0;
}

/* The whole regular file at p (malloc'd, NUL-terminated); NULL with errno set. */
static uint8_t *read_path(const char *p, size_t *len, int64_t *mtime) {
  int fd = open(p, O_RDONLY);
  if (fd < 0) return NULL;
  struct stat st;
  int bad = fstat(fd, &st) ? errno : S_ISREG(st.st_mode) ? 0 : ENOENT; /* not a file: as if absent */
  if (bad) {
    int err = bad;
    close(fd);
    errno = err;
    return NULL;
  }
  if (mtime) *mtime = (int64_t)st.st_mtime;
  uint8_t *buf = malloc((size_t)st.st_size + 1);
  size_t got = 0;
  int err = buf ? 0 : ENOMEM;
  while (buf && got < (size_t)st.st_size) {
    ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      err = r < 0 ? errno : EIO; /* shorter than its size: truncated under us */
      break;
    }
    got += (size_t)r;
  }
  close(fd);
  if (!buf || got != (size_t)st.st_size) {
    free(buf);
    errno = err;
    return NULL;
  }
  buf[got] = 0;
  *len = got;
  return buf;
}

uint8_t *ca_local_read(const ca_Cache *c, const char *rel, size_t *len, int64_t *mtime) {
  char p[4096];
  ca_local_path(c, rel, p, sizeof p);
  return read_path(p, len, mtime);
}

/* ---------------------------------------------------------------- the backend */

static void entry_path(ca_Cache *c, const char *name, char *out, size_t cap) {
  char rel[600];
  snprintf(rel, sizeof rel, "entries/%s", name);
  ca_local_path(c, rel, out, cap);
}

static ca_BStatus local_get(void *self, const char *name, uint8_t **data, size_t *len, int64_t *used) {
  char p[4096];
  entry_path(self, name, p, sizeof p);
  errno = 0;
  *data = read_path(p, len, used);
  if (*data) return CA_B_OK;
  return errno == ENOENT || errno == ENOTDIR ? CA_B_ABSENT : CA_B_FAILED;
}

static ca_BStatus local_put(void *self, const char *name, const void *data, size_t len) {
  char rel[600];
  snprintf(rel, sizeof rel, "entries/%s", name);
  return ca_local_write(self, rel, data, len) ? CA_B_FAILED : CA_B_OK;
}

static ca_BStatus local_touch(void *self, const char *name) {
  char p[4096];
  entry_path(self, name, p, sizeof p);
  return utimensat(AT_FDCWD, p, NULL, 0) ? CA_B_FAILED : CA_B_OK;
}

static ca_BStatus local_remove(void *self, const char *name) {
  char p[4096];
  entry_path(self, name, p, sizeof p);
  if (!unlink(p)) return CA_B_OK;
  return errno == ENOENT ? CA_B_ABSENT : CA_B_FAILED;
}

static void local_where(void *self, const char *name, char *out, size_t cap) { entry_path(self, name, out, cap); }

/* Every file named like an entry ("KEY.tce", 32 hex digits) in a folder of entries/. */
static ca_BStatus local_list(void *self, int (*each)(void *ctx, const ca_Object *o), void *ctx) {
  ca_Cache *c = self;
  char root[2200];
  ca_local_path(c, "entries", root, sizeof root);
  DIR *d = opendir(root);
  if (!d) return errno == ENOENT ? CA_B_ABSENT : CA_B_FAILED;
  struct dirent *de;
  int stop = 0;
  while (!stop && (de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char sub[2200 + 258];
    snprintf(sub, sizeof sub, "%s/%s", root, de->d_name);
    DIR *d2 = opendir(sub);
    if (!d2) continue;
    struct dirent *f;
    while (!stop && (f = readdir(d2))) {
      size_t len = strlen(f->d_name);
      if (len != 36 || strcmp(f->d_name + 32, ".tce")) continue;
      char p[2200 + 2 * 258], name[2 * 258];
      snprintf(p, sizeof p, "%s/%s", sub, f->d_name);
      snprintf(name, sizeof name, "%s/%s", de->d_name, f->d_name);
      struct stat st;
      if (stat(p, &st)) continue;
      ca_Object o = {name, (uint64_t)st.st_size, (int64_t)st.st_mtime};
      stop = each(ctx, &o);
    }
    closedir(d2);
  }
  closedir(d);
  return CA_B_OK;
}

static const ca_BackendOps local_ops = {.kind = "local", .get = local_get, .put = local_put, .touch = local_touch,
                                        .list = local_list, .remove = local_remove, .where = local_where};

ca_Backend ca_local_entries(ca_Cache *c) { return (ca_Backend){&local_ops, c}; }
