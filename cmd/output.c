/* output.c - output files: a target's outputs, each written atomically.
 *
 * A target's outputs (object, header, IR, assembly, plan, depfile) come from its cache
 * entry or its fresh compile alike, and on a failure those an earlier build left are
 * removed, so nothing stale survives. Every output is written to a temporary file beside its destination and renamed into
 * place, so a reader never sees a partial object or header. Temporary files still open
 * when SIGINT, SIGTERM or SIGHUP arrives are removed before the process dies, and the job
 * slots taken from make's jobserver are given back; this table and that pointer are the
 * driver's, the only mutable global state tric has, and live in cmd/ on purpose.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/build.h"

enum { MAX_PENDING = 16 };
static char pending[MAX_PENDING][4096];
static volatile sig_atomic_t npending;
static const Jobserver *volatile tokens; /* make's job slots this process holds */

static void on_signal(int sig) {
  for (int i = 0; i < npending; i++)
    if (pending[i][0]) unlink(pending[i]);
  const Jobserver *js = tokens;
  if (js && js->wfd >= 0 && js->nheld > 0 && write(js->wfd, js->held, (size_t)js->nheld) < 0) {
    /* nothing more to do on the way out */
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

void install_signal_cleanup(const Jobserver *js) {
  tokens = js;
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGHUP, on_signal);
}

/* Does path already hold exactly these bytes? (st receives its status.) */
static bool same_content(const char *path, const void *data, size_t len, struct stat *st0) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return false;
  struct stat st;
  bool same = !fstat(fd, &st) && S_ISREG(st.st_mode) && (size_t)st.st_size == len;
  *st0 = st;
  if (same && len) {
    char *buf = malloc(len);
    size_t got = 0;
    while (buf && got < len) {
      ssize_t r = read(fd, buf + got, len - got);
      if (r <= 0) break;
      got += (size_t)r;
    }
    same = buf && got == len && !memcmp(buf, data, len);
    free(buf);
  }
  close(fd);
  return same;
}

int write_atomic(const char *path, const void *data, size_t len, const struct timespec *not_before) {
  /* an unchanged output is not rewritten, only touched if make would think it stale
   * (never with not_before NULL: Ninja's restat then sees that nothing changed) */
  struct stat st;
  if (same_content(path, data, len, &st)) {
    bool fresh = !not_before || st.st_mtim.tv_sec > not_before->tv_sec ||
                 (st.st_mtim.tv_sec == not_before->tv_sec && st.st_mtim.tv_nsec >= not_before->tv_nsec);
    if (fresh || utimensat(AT_FDCWD, path, NULL, 0) == 0) return 0;
  }
  int slot = npending < MAX_PENDING ? npending : MAX_PENDING - 1;
  if (snprintf(pending[slot], sizeof pending[slot], "%s.tmp.XXXXXX", path) >= (int)sizeof pending[slot]) {
    fprintf(stderr, "tric: error: output path too long: %s\n", path);
    return -1;
  }
  int fd = mkstemp(pending[slot]);
  if (fd < 0) {
    fprintf(stderr, "tric: error: cannot create '%s': %s\n", pending[slot], strerror(errno));
    pending[slot][0] = 0;
    return -1;
  }
  npending = slot + 1;
  const char *p = data;
  size_t left = len;
  int err = 0;
  while (left) {
    ssize_t w = write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    p += w;
    left -= (size_t)w;
  }
  mode_t mask = umask(0); /* mkstemp makes 0600; give outputs the usual 0666 & ~umask */
  umask(mask);
  if (!err && fchmod(fd, 0666 & ~mask) != 0) err = errno;
  if (close(fd) != 0 && !err) err = errno;
  if (!err && rename(pending[slot], path) != 0) err = errno;
  if (err) {
    unlink(pending[slot]);
    fprintf(stderr, "tric: error: cannot write '%s': %s\n", path, strerror(err));
  }
  pending[slot][0] = 0;
  npending = slot;
  return err ? -1 : 0;
}

/* ---------------------------------------------------------------- a target's outputs */

static int mkdirs_for(Build *b, const char *file) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", file);
  char *slash = strrchr(buf, '/');
  struct stat st;
  if (!slash) return 0;
  *slash = 0;
  if (!strcmp(buf, b->made_dir)) return 0;
  if (!stat(buf, &st) && S_ISDIR(st.st_mode)) { /* the common case: it exists */
    memcpy(b->made_dir, buf, sizeof buf);
    return 0;
  }
  *slash = '/';
  for (char *s = buf + 1; *s; s++)
    if (*s == '/') {
      *s = 0;
      if (mkdir(buf, 0777) && errno != EEXIST) return -1;
      *s = '/';
    }
  return 0;
}

static void dep_append(char **buf, size_t *len, size_t *cap, const char *s, bool path) {
  for (; *s; s++) {
    if (*len + 3 >= *cap) {
      *cap *= 2;
      *buf = realloc(*buf, *cap);
      if (!*buf) abort();
    }
    if (path && (*s == ' ' || *s == '#')) (*buf)[(*len)++] = '\\';
    if (path && *s == '$') (*buf)[(*len)++] = '$';
    (*buf)[(*len)++] = *s;
  }
}

/* The modules m depends on (itself first), each once. */
static void closure(Module *m, fe_Vec *seen, fe_Arena *a) {
  for (int i = 0; i < seen->n; i++)
    if (seen->items[i] == m) return;
  fe_vec_push(a, seen, m);
  for (int k = 0; k + 1 < m->deps.n; k += 2) closure(m->deps.items[k], seen, a);
}

/* Writes the depfile: the object depends on its source and every module it imports;
 * each import also gets an empty rule, so deleting one is no error for make. */
static int write_depfile(Build *b, Target *t) {
  fe_Vec mods = {0};
  closure(t->m, &mods, b->g.arena);
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  if (!buf) abort();
  dep_append(&buf, &len, &cap, t->obj, true);
  dep_append(&buf, &len, &cap, ":", false);
  for (int i = 0; i < mods.n; i++) {
    dep_append(&buf, &len, &cap, " ", false);
    dep_append(&buf, &len, &cap, ((Module *)mods.items[i])->path, true);
  }
  dep_append(&buf, &len, &cap, "\n", false);
  for (int i = 1; i < mods.n; i++) {
    dep_append(&buf, &len, &cap, "\n", false);
    dep_append(&buf, &len, &cap, ((Module *)mods.items[i])->path, true);
    dep_append(&buf, &len, &cap, ":\n", false);
  }
  int rc = write_atomic(t->dep, buf, len, b->o->keep_mtime ? NULL : &t->m->newest);
  free(buf);
  return rc;
}

/* Writes a target's outputs from its sections (cache entry or fresh compile). */
int write_outputs(Build *b, Target *t, const void *const data[CA_NSECTIONS], const size_t len[CA_NSECTIONS]) {
  const Opts *o = b->o;
  double t0 = now_seconds();
  if (mkdirs_for(b, t->obj)) {
    fprintf(stderr, "tric: error: cannot create the folder of '%s': %s\n", t->obj, strerror(errno));
    return -1;
  }
  int rc = 0;
  const struct timespec *nb = o->keep_mtime ? NULL : &t->m->newest; /* touch an unchanged output? */
  if ((o->emit & CG_EMIT_OBJ) && write_atomic(t->obj, data[CA_OBJ], len[CA_OBJ], nb)) rc = -1;
  if (!rc && (o->emit & CG_EMIT_HEADER) && write_atomic(t->hdr, data[CA_HEADER], len[CA_HEADER], nb)) rc = -1;
  if (!rc && (o->emit & CG_EMIT_LLVM_IR) && write_atomic(t->ll, data[CA_LLVM_IR], len[CA_LLVM_IR], nb)) rc = -1;
  if (!rc && (o->emit & CG_EMIT_ASM) && write_atomic(t->as, data[CA_ASM], len[CA_ASM], nb)) rc = -1;
  if (!rc && (o->emit & CG_EMIT_PLAN) && write_atomic(t->plan, t->plan_text, strlen(t->plan_text), nb)) rc = -1;
  if (!rc && (o->emit & CG_EMIT_PLAN_JSON) &&
      write_atomic(t->plan_json, t->plan_json_text, strlen(t->plan_json_text), nb))
    rc = -1;
  if (!rc && o->md && write_depfile(b, t)) rc = -1;
  t->stage[ST_WRITE] += now_seconds() - t0;
  return rc;
}

void remove_outputs(const Opts *o, Target *t) {
  if (o->emit & CG_EMIT_OBJ) unlink(t->obj);
  if (o->emit & CG_EMIT_HEADER) unlink(t->hdr);
  if (o->emit & CG_EMIT_LLVM_IR) unlink(t->ll);
  if (o->emit & CG_EMIT_ASM) unlink(t->as);
  if (o->emit & CG_EMIT_PLAN) unlink(t->plan);
  if (o->emit & CG_EMIT_PLAN_JSON) unlink(t->plan_json);
}
