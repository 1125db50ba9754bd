/* output.c - atomic output files.
 *
 * Every output is written to a temporary file beside its destination and renamed into
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

#include "cmd/cmd.h"

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
