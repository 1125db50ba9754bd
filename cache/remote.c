/* remote.c - a shared cache on an HTTP server, through libcurl.
 *
 * Entries are the local cache's bytes, at URL/v1/KK/KEY.tce: GET reads one (404: absent),
 * PUT writes one. Any server that stores what is PUT and returns it on GET serves (nginx
 * or Apache with WebDAV, a ccache/sccache-style HTTP cache). Every transfer runs on one
 * thread of the remote's own, on a libcurl multi handle, so a build's lookups all fly at
 * once while the loop thread goes on checking modules; the loop thread waits only for the
 * answer it needs next. A server that fails (no connection, a timeout, an answer that is
 * not 200/404 to a GET or 2xx to a PUT) costs one warning: the remote is dropped for the
 * rest of the run and everything still in flight ends at once. Nothing here trusts the
 * bytes: store.c decodes them like a local entry's (checksum, key, kind). This file is
 * transport only; what is asked, counted and kept is store.c's policy.
 *
 * libcurl is loaded with dlopen the first time a remote is attached, not linked: its
 * dependencies (TLS, Kerberos, LDAP, ... 27 more shared libraries) doubled the start-up of
 * every tric process, and an all-cached rebuild of examples/resnet18.tri went from 8 to
 * 19 ms. A machine without libcurl.so.4 builds without the remote, with one warning.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CURL_DISABLE_TYPECHECK /* calls go through the table below, not the checking macros */
#include <curl/curl.h>
#include <dlfcn.h>

#include "cache/internal.h"

enum { CONNECT_TIMEOUT_MS = 2000, MAX_CONNECTIONS = 8 };
#define MAX_ENTRY_BYTES ((size_t)1 << 30) /* a longer answer is not an entry */

typedef enum { J_GET, J_PUT } JobKind;

typedef struct Job {
  JobKind kind;
  char *url;
  uint8_t *body; /* GET: what came; PUT: what goes */
  size_t len, cap, sent;
  CURL *easy;
  long http;
  bool done;
  ca_BStatus status; /* once done */
  char why[CURL_ERROR_SIZE + 128];
  struct Job *next; /* in the queue of jobs not yet started */
  struct Job *owner_next; /* PUTs: the remote's list, freed at the end */
  struct Job *active_next; /* on the multi handle */
} Job;

typedef struct Remote {
  char base[2048];  /* the URL, without a trailing slash */
  char shown[2048]; /* the URL for messages: no user or password */
  char *auth_header; /* "Authorization: Bearer ..." or NULL */
  char *userpwd;
  long timeout_ms;
  pthread_t thread;
  bool started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  CURLM *multi;
  Job *queue, **queue_tail; /* submitted, not yet on the multi handle */
  Job *puts;                /* every PUT, to free at the end */
  Job *active_list;         /* on the multi handle */
  int active;
  bool stopping, dead, no_writes;
  bool dead_said, writes_said;
  char dead_why[CURL_ERROR_SIZE + 2300];
  struct curl_slist *headers;
  uint64_t get_errors; /* GETs that failed (not those dropped after another failed) */
} Remote;

typedef struct Batch {
  Remote *r;
  int n;
  Job *jobs;
} Batch;

/* The libcurl functions used, looked up once per process (under curl_once). */
typedef struct Curl {
  CURLcode (*global_init)(long);
  CURL *(*easy_init)(void);
  CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
  CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
  void (*easy_cleanup)(CURL *);
  const char *(*easy_strerror)(CURLcode);
  CURLM *(*multi_init)(void);
  CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
  CURLMcode (*multi_add_handle)(CURLM *, CURL *);
  CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
  CURLMcode (*multi_perform)(CURLM *, int *);
  CURLMsg *(*multi_info_read)(CURLM *, int *);
  CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd[], unsigned int, int, int *);
  CURLMcode (*multi_wakeup)(CURLM *);
  CURLMcode (*multi_cleanup)(CURLM *);
  struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
  void (*slist_free_all)(struct curl_slist *);
} Curl;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static Curl K;
static char curl_why[512]; /* empty once libcurl is loaded and started */

static void curl_init(void) {
  void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(curl_why, sizeof curl_why, "cannot load libcurl.so.4 (%s); install Debian's libcurl4", dlerror());
    return;
  }
#define SYM(f)                                                                                   \
  if (!(*(void **)&K.f = dlsym(h, "curl_" #f))) {                                                \
    snprintf(curl_why, sizeof curl_why, "libcurl.so.4 has no curl_" #f " (7.68 or later is needed)"); \
    return;                                                                                      \
  }
  SYM(global_init) SYM(easy_init) SYM(easy_setopt) SYM(easy_getinfo) SYM(easy_cleanup) SYM(easy_strerror)
  SYM(multi_init) SYM(multi_setopt) SYM(multi_add_handle) SYM(multi_remove_handle) SYM(multi_perform)
  SYM(multi_info_read) SYM(multi_poll) SYM(multi_wakeup) SYM(multi_cleanup) SYM(slist_append) SYM(slist_free_all)
#undef SYM
  CURLcode rc = K.global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK) snprintf(curl_why, sizeof curl_why, "libcurl cannot start: %s", K.easy_strerror(rc));
}

/* ---------------------------------------------------------------- transfers */

static size_t on_data(char *p, size_t size, size_t n, void *arg) {
  Job *j = arg;
  size_t got = size * n;
  if (got > MAX_ENTRY_BYTES - j->len) return 0; /* too long: fails the transfer */
  if (j->len + got + 1 > j->cap) {
    size_t cap = j->cap ? j->cap : 65536;
    while (cap < j->len + got + 1) cap *= 2;
    uint8_t *nb = realloc(j->body, cap);
    if (!nb) return 0;
    j->body = nb, j->cap = cap;
  }
  memcpy(j->body + j->len, p, got);
  j->len += got;
  return got;
}

static size_t on_read(char *p, size_t size, size_t n, void *arg) {
  Job *j = arg;
  size_t room = size * n, left = j->len - j->sent;
  if (room > left) room = left;
  memcpy(p, j->body + j->sent, room);
  j->sent += room;
  return room;
}

/* Puts j on the multi handle (under mu). */
static void start_job(Remote *r, Job *j) {
  CURL *e = K.easy_init();
  if (!e) {
    j->status = CA_B_FAILED;
    snprintf(j->why, sizeof j->why, "cannot start a transfer");
    j->done = true;
    return;
  }
  j->easy = e;
  K.easy_setopt(e, CURLOPT_URL, j->url);
  K.easy_setopt(e, CURLOPT_PRIVATE, j);
  K.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  K.easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, r->timeout_ms < CONNECT_TIMEOUT_MS ? r->timeout_ms : (long)CONNECT_TIMEOUT_MS);
  K.easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms);
  K.easy_setopt(e, CURLOPT_ERRORBUFFER, j->why);
  K.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  K.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  K.easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
  if (r->userpwd) {
    K.easy_setopt(e, CURLOPT_USERPWD, r->userpwd);
    K.easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
  }
  if (j->kind == J_GET) {
    K.easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    K.easy_setopt(e, CURLOPT_WRITEDATA, j);
  } else {
    K.easy_setopt(e, CURLOPT_UPLOAD, 1L);
    K.easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    K.easy_setopt(e, CURLOPT_READDATA, j);
    K.easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)j->len);
  }
  K.multi_add_handle(r->multi, e);
  j->active_next = r->active_list;
  r->active_list = j;
  r->active++;
}

/* Ends j (under mu, on the worker) with status. */
static void end_job(Remote *r, Job *j, ca_BStatus status) {
  if (j->easy) {
    Job **p = &r->active_list;
    while (*p != j) p = &(*p)->active_next;
    *p = j->active_next;
    K.multi_remove_handle(r->multi, j->easy);
    K.easy_cleanup(j->easy);
    j->easy = NULL;
    r->active--;
  }
  j->status = status;
  j->done = true;
}

/* What a finished transfer means. */
static void settle(Remote *r, Job *j, CURLcode rc) {
  long http = 0;
  K.easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &http);
  j->http = http;
  ca_BStatus st = CA_B_FAILED;
  char why[sizeof j->why];
  why[0] = 0;
  if (rc != CURLE_OK) snprintf(why, sizeof why, "%s", j->why[0] ? j->why : K.easy_strerror(rc));
  else if (j->kind == J_GET && http == 200) st = CA_B_OK;
  else if (j->kind == J_GET && (http == 404 || http == 410)) st = CA_B_ABSENT;
  else if (j->kind == J_PUT && http >= 200 && http < 300) st = CA_B_OK;
  else snprintf(why, sizeof why, "HTTP %ld to a %s", http, j->kind == J_GET ? "GET" : "PUT");
  snprintf(j->why, sizeof j->why, "%s", why);
  if (st == CA_B_FAILED) {
    bool refused = j->kind == J_PUT && rc == CURLE_OK && http >= 400 && http < 500;
    if (refused) r->no_writes = true; /* the server reads but does not take writes from us */
    else if (!r->dead) {
      r->dead = true;
      snprintf(r->dead_why, sizeof r->dead_why, "%s", why);
    }
  }
  end_job(r, j, st);
}

static void *worker(void *arg) {
  Remote *r = arg;
  pthread_mutex_lock(&r->mu);
  for (;;) {
    /* start what was submitted (or end it, once the remote is dropped), at most
       MAX_CONNECTIONS at a time: handed more, libcurl queues them itself and starts them on
       the connections the first answers free, inside one curl_multi_perform, before a
       failing server's first answer can drop the remote (and a queued transfer waited on
       poll's timeout) */
    while (r->queue && (r->dead || r->active < MAX_CONNECTIONS)) {
      Job *j = r->queue;
      r->queue = j->next;
      if (!r->queue) r->queue_tail = &r->queue;
      if (r->dead) end_job(r, j, CA_B_FAILED);
      else start_job(r, j);
    }
    if (r->dead && r->active) { /* everything in flight ends now */
      while (r->active_list) end_job(r, r->active_list, CA_B_FAILED);
      pthread_cond_broadcast(&r->cv);
      continue;
    }
    if (!r->active) {
      pthread_cond_broadcast(&r->cv);
      if (r->stopping) break;
      pthread_cond_wait(&r->cv, &r->mu);
      continue;
    }
    pthread_mutex_unlock(&r->mu);
    int running = 0;
    K.multi_perform(r->multi, &running);
    pthread_mutex_lock(&r->mu);
    CURLMsg *m;
    int left;
    bool any = false;
    while ((m = K.multi_info_read(r->multi, &left)))
      if (m->msg == CURLMSG_DONE) {
        Job *j;
        K.easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
        settle(r, j, m->data.result);
        any = true;
      }
    if (any) pthread_cond_broadcast(&r->cv);
    if (r->active && (!r->queue || r->active >= MAX_CONNECTIONS) && !r->dead) {
      pthread_mutex_unlock(&r->mu);
      K.multi_poll(r->multi, NULL, 0, 100, NULL);
      pthread_mutex_lock(&r->mu);
    }
  }
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

/* Hands j to the worker. */
static void submit(Remote *r, Job *j) {
  pthread_mutex_lock(&r->mu);
  j->next = NULL;
  *r->queue_tail = j;
  r->queue_tail = &j->next;
  if (!r->started) r->started = !pthread_create(&r->thread, NULL, worker, r);
  if (!r->started) { /* no thread: the remote cannot be used */
    r->queue = NULL, r->queue_tail = &r->queue;
    j->status = CA_B_FAILED, j->done = true;
    if (!r->dead) r->dead = true, snprintf(r->dead_why, sizeof r->dead_why, "cannot start a thread");
  }
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
  K.multi_wakeup(r->multi);
}

/* ---------------------------------------------------------------- the backend */

/* The URL without "user:password@", for messages. */
static void shown_url(const char *url, char *out, size_t cap) {
  const char *auth = strstr(url, "://");
  const char *host = auth ? auth + 3 : url;
  const char *end = host + strcspn(host, "/?#");
  const char *at = memchr(host, '@', (size_t)(end - host));
  if (!at) snprintf(out, cap, "%s", url);
  else snprintf(out, cap, "%.*s%s", (int)(host - url), url, at + 1);
}

/* The one warning of a run about the server as a whole (under mu). */
static void say_dead(Remote *r) {
  if (r->dead && !r->dead_said) {
    r->dead_said = true;
    fprintf(stderr, "tric: warning: remote cache %s: %s; building without it\n", r->shown, r->dead_why);
  }
  if (r->no_writes && !r->writes_said && !r->dead) {
    r->writes_said = true;
    fprintf(stderr, "tric: warning: remote cache %s refuses writes; storing nothing there in this run\n", r->shown);
  }
}

static char *object_url(Remote *r, const char *name) {
  size_t len = strlen(r->base) + strlen(name) + 8;
  char *url = malloc(len);
  if (!url) abort();
  snprintf(url, len, "%s/v1/%s", r->base, name);
  return url;
}

/* Waits for j (under mu); says what the server did wrong, once. */
static void wait_job(Remote *r, Job *j) {
  while (!j->done) pthread_cond_wait(&r->cv, &r->mu);
  say_dead(r);
}

/* A GET's answer: the body handed over on OK. */
static ca_BStatus get_answer(Remote *r, Job *j, uint8_t **data, size_t *len) {
  *data = NULL, *len = 0;
  if (j->status == CA_B_FAILED && j->why[0]) r->get_errors++;
  if (j->status != CA_B_OK) return j->status;
  *data = j->body, *len = j->len;
  j->body = NULL;
  if (!*data && !(*data = malloc(1))) abort(); /* an empty answer */
  return CA_B_OK;
}

static ca_BStatus http_get(void *self, const char *name, uint8_t **data, size_t *len, int64_t *used) {
  Remote *r = self;
  Job j = {.kind = J_GET, .url = object_url(r, name)};
  submit(r, &j);
  pthread_mutex_lock(&r->mu);
  wait_job(r, &j);
  ca_BStatus st = get_answer(r, &j, data, len);
  pthread_mutex_unlock(&r->mu);
  if (used) *used = 0;
  free(j.url), free(j.body);
  return st;
}

static ca_BStatus http_put(void *self, const char *name, const void *data, size_t len) {
  Remote *r = self;
  pthread_mutex_lock(&r->mu);
  bool skip = r->dead || r->no_writes;
  pthread_mutex_unlock(&r->mu);
  if (skip) return CA_B_FAILED;
  Job *j = calloc(1, sizeof *j);
  if (!j || !(j->body = malloc(len ? len : 1))) abort();
  memcpy(j->body, data, len);
  j->len = len;
  j->kind = J_PUT;
  j->url = object_url(r, name);
  pthread_mutex_lock(&r->mu);
  j->owner_next = r->puts;
  r->puts = j;
  pthread_mutex_unlock(&r->mu);
  submit(r, j);
  return CA_B_OK; /* under way: close waits for it */
}

static ca_BStatus http_touch(void *self, const char *name) { /* the server keeps its own times */
  (void)self, (void)name;
  return CA_B_OK;
}

static ca_BStatus http_list(void *self, int (*each)(void *ctx, const ca_Object *o), void *ctx) {
  (void)self, (void)each, (void)ctx;
  errno = ENOTSUP; /* plain HTTP has no listing */
  return CA_B_FAILED;
}

static ca_BStatus http_remove(void *self, const char *name) {
  (void)self, (void)name;
  errno = ENOTSUP; /* readers never delete on a shared server: writers overwrite */
  return CA_B_FAILED;
}

static void http_where(void *self, const char *name, char *out, size_t cap) {
  Remote *r = self;
  snprintf(out, cap, "%s/v1/%s", r->shown, name);
}

static void *http_get_start(void *self, const char *const *names, int n) {
  Batch *b = calloc(1, sizeof *b);
  if (!b || !(b->jobs = calloc((size_t)n, sizeof *b->jobs))) abort();
  b->r = self, b->n = n;
  for (int i = 0; i < n; i++) {
    b->jobs[i].kind = J_GET;
    b->jobs[i].url = object_url(b->r, names[i]);
    submit(b->r, &b->jobs[i]);
  }
  return b;
}

static ca_BStatus http_get_wait(void *batch, int i, uint8_t **data, size_t *len) {
  Batch *b = batch;
  pthread_mutex_lock(&b->r->mu);
  wait_job(b->r, &b->jobs[i]);
  ca_BStatus st = get_answer(b->r, &b->jobs[i], data, len);
  pthread_mutex_unlock(&b->r->mu);
  return st;
}

static void http_get_end(void *batch) {
  Batch *b = batch;
  pthread_mutex_lock(&b->r->mu); /* the worker may still hold GETs no one waited for */
  for (int i = 0; i < b->n; i++)
    while (!b->jobs[i].done) pthread_cond_wait(&b->r->cv, &b->r->mu);
  pthread_mutex_unlock(&b->r->mu);
  for (int i = 0; i < b->n; i++) free(b->jobs[i].url), free(b->jobs[i].body);
  free(b->jobs), free(b);
}

static void http_close(void *self, ca_RemoteCounts *counts) {
  Remote *r = self;
  pthread_mutex_lock(&r->mu);
  r->stopping = true;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
  K.multi_wakeup(r->multi);
  if (r->started) pthread_join(r->thread, NULL); /* each transfer is bounded by its timeout */
  pthread_mutex_lock(&r->mu);
  counts->errors += r->get_errors;
  for (Job *j = r->puts; j; j = j->owner_next)
    if (j->status == CA_B_OK) counts->puts++, counts->bytes_out += j->len;
    else if (j->why[0]) counts->errors++;
  say_dead(r);
  pthread_mutex_unlock(&r->mu);
  for (Job *j = r->puts, *next; j; j = next) {
    next = j->owner_next;
    free(j->url), free(j->body), free(j);
  }
  K.multi_cleanup(r->multi);
  K.slist_free_all(r->headers);
  free(r->auth_header), free(r->userpwd);
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->cv);
  free(r);
}

static const ca_BackendOps http_ops = {.kind = "http",     .get = http_get,
                                       .put = http_put,       .touch = http_touch,
                                       .list = http_list,     .remove = http_remove,
                                       .where = http_where,   .get_start = http_get_start,
                                       .get_wait = http_get_wait, .get_end = http_get_end,
                                       .close = http_close};

ca_Backend ca_http_backend(const ca_RemoteConfig *rc, char *why, size_t cap) {
  ca_Backend none = {NULL, NULL};
  const char *u = rc->url;
  char shown[2048];
  shown_url(u, shown, sizeof shown);
  if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) {
    snprintf(why, cap, "remote cache %s: not an http:// or https:// URL", shown);
    return none;
  }
  size_t n = strlen(u);
  while (n > 8 && u[n - 1] == '/') n--;
  if (n >= sizeof ((Remote *)0)->base || strpbrk(u, " \t\r\n")) {
    snprintf(why, cap, "remote cache URL: too long, or has spaces");
    return none;
  }
  pthread_once(&curl_once, curl_init);
  if (curl_why[0]) {
    snprintf(why, cap, "remote cache: %s", curl_why);
    return none;
  }
  Remote *r = calloc(1, sizeof *r);
  if (!r) abort();
  memcpy(r->base, u, n);
  shown_url(r->base, r->shown, sizeof r->shown);
  r->timeout_ms = rc->timeout_ms > 0 ? rc->timeout_ms : 10000;
  r->headers = K.slist_append(NULL, "Expect:"); /* no wait for "100 Continue" before a PUT's body */
  if (rc->token && *rc->token) {
    size_t len = strlen(rc->token) + 32;
    r->auth_header = malloc(len);
    if (!r->auth_header) abort();
    snprintf(r->auth_header, len, "Authorization: Bearer %s", rc->token);
    r->headers = K.slist_append(r->headers, r->auth_header);
  }
  if (rc->userpwd && *rc->userpwd && !(r->userpwd = strdup(rc->userpwd))) abort();
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cv, NULL);
  r->queue_tail = &r->queue;
  r->multi = K.multi_init();
  if (!r->multi || !r->headers) abort();
  K.multi_setopt(r->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)MAX_CONNECTIONS);
  return (ca_Backend){&http_ops, r};
}
