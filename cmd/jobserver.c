/* jobserver.c - a client of GNU make's jobserver.
 *
 * Under `make -jN` every job slot but one is a byte in a pipe (make 4.3 and earlier:
 * `--jobserver-auth=R,W` in MAKEFLAGS, two inherited descriptors; make 4.4: also
 * `--jobserver-auth=fifo:PATH`, a named pipe). A process make starts owns one slot
 * without asking (the implicit token); for each further job it runs at once it reads a
 * byte, and writes the same byte back when the job ends. So several tric processes under
 * one make run no more compile tasks together than make's -j.
 *
 * The builder asks for tokens on its loop thread and never blocks there: the read side
 * is opened anew without blocking (make 4.3 shares one open pipe with every client, so
 * changing its flags would change them for make too), watched with a uv_poll, and read
 * one byte at a time; a byte another process took first is EAGAIN, and the poll goes on.
 * The bytes held are kept where the signal handler (output.c) can write them back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"

/* The value of the last --jobserver-auth= (or older --jobserver-fds=) word of flags
 * into buf; false when there is none. */
static bool auth_word(const char *flags, char *buf, size_t cap) {
  bool found = false;
  for (const char *p = flags; *p;) {
    while (*p == ' ') p++;
    size_t n = strcspn(p, " ");
    const char *val = NULL;
    if (!strncmp(p, "--jobserver-auth=", 17)) val = p + 17;
    else if (!strncmp(p, "--jobserver-fds=", 16)) val = p + 16;
    if (val && (size_t)(p + n - val) < cap) {
      snprintf(buf, cap, "%.*s", (int)(p + n - val), val);
      found = true;
    }
    p += n;
  }
  return found;
}

/* Is fd an open pipe or FIFO? */
static bool is_pipe(int fd) {
  struct stat st;
  return fcntl(fd, F_GETFD) >= 0 && !fstat(fd, &st) && S_ISFIFO(st.st_mode);
}

int js_connect(Jobserver *js, const char *makeflags, char *why, size_t cap) {
  memset(js, 0, sizeof *js);
  js->rfd = js->wfd = -1;
  char auth[4096];
  if (!makeflags || !auth_word(makeflags, auth, sizeof auth)) return 0;
  if (!strncmp(auth, "fifo:", 5)) {
    int fd = open(auth + 5, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 || !is_pipe(fd)) {
      snprintf(why, cap, "make's jobserver fifo '%s' cannot be opened: %s", auth + 5, fd < 0 ? strerror(errno) : "not a fifo");
      if (fd >= 0) close(fd);
      return -1;
    }
    js->rfd = js->wfd = fd;
    js->own_rfd = true;
    return 1;
  }
  char *end;
  long r = strtol(auth, &end, 10), w = *end == ',' ? strtol(end + 1, &end, 10) : -1;
  if (*end || r < 0 || w < 0 || r > 1 << 20 || w > 1 << 20) {
    snprintf(why, cap, "make's --jobserver-auth=%s is neither R,W nor fifo:PATH", auth);
    return -1;
  }
  if (!is_pipe((int)r) || !is_pipe((int)w)) { /* make 4.3 passes them only to recipes it deems recursive */
    snprintf(why, cap, "make's jobserver (--jobserver-auth=%s) is not open in this process (a recipe line starting "
                       "with '+' or naming $(MAKE) gets it)", auth);
    return -1;
  }
  js->wfd = (int)w;
  js->rfd = (int)r;
  if (!(fcntl(js->rfd, F_GETFL) & O_NONBLOCK)) { /* a description of our own that never blocks */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", js->rfd);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      snprintf(why, cap, "make's jobserver pipe cannot be reopened without blocking (%s): %s", path, strerror(errno));
      js->rfd = js->wfd = -1;
      return -1;
    }
    js->rfd = fd;
    js->own_rfd = true;
  }
  return 1;
}

/* Reads the tokens wanted, as many as are there; the builder hears of any it got. */
static void on_readable(uv_poll_t *p, int status, int events) {
  Jobserver *js = p->data;
  (void)events;
  int got = 0;
  if (status < 0) js->broken = true; /* the descriptor failed: go on with the implicit token */
  while (status == 0 && js->wanted > 0 && js->nheld < JS_MAX_TOKENS) {
    char c;
    ssize_t r = read(js->rfd, &c, 1);
    if (r == 1) {
      js->held[js->nheld] = c; /* the byte first: the signal handler writes back nheld bytes */
      js->nheld++;
      js->wanted--, got++;
    } else if (r < 0 && errno == EINTR) continue;
    else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break; /* another process was first */
    else { /* make is gone (end of file) or the pipe broke: go on with the implicit token */
      js->broken = true;
      break;
    }
  }
  if ((js->wanted <= 0 || js->broken) && js->polling) {
    uv_poll_stop(&js->poll);
    js->polling = false;
  }
  if (got) js->on_token(js->arg);
}

void js_start(Jobserver *js, uv_loop_t *loop, void (*on_token)(void *arg), void *arg) {
  js->on_token = on_token;
  js->arg = arg;
  if (uv_poll_init(loop, &js->poll, js->rfd)) js->broken = true;
  else js->started = true;
  js->poll.data = js;
}

void js_want(Jobserver *js, int n) {
  if (js->broken) return;
  if (n > JS_MAX_TOKENS - js->nheld) n = JS_MAX_TOKENS - js->nheld;
  js->wanted = n > 0 ? n : 0;
  if (js->wanted && !js->polling) js->polling = !uv_poll_start(&js->poll, UV_READABLE, on_readable);
  else if (!js->wanted && js->polling) {
    uv_poll_stop(&js->poll);
    js->polling = false;
  }
}

void js_release(Jobserver *js, int n) {
  while (n-- > 0 && js->nheld > 0) {
    js->nheld--; /* first: a signal now loses this token rather than giving it back twice */
    char c = js->held[js->nheld];
    while (write(js->wfd, &c, 1) < 0 && errno == EINTR) {
    }
  }
}

void js_stop(Jobserver *js) {
  js_release(js, js->nheld);
  if (js->started) uv_close((uv_handle_t *)&js->poll, NULL);
  js->started = js->polling = false;
  js->wanted = 0;
}

void js_close(Jobserver *js) {
  js_release(js, js->nheld);
  if (js->own_rfd && js->rfd >= 0) close(js->rfd);
  js->rfd = js->wfd = -1;
}
