/* config.c - where the compilation cache is and how big it may grow.
 *
 * The driver's cache settings come from the command line and the environment, read here
 * alone for `tric build` (build.c) and `tric cache` (main.c) alike, the remote cache's
 * next to the folder's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"

/* The cache folder: --cache-dir, $TRIC_CACHE_DIR, $XDG_CACHE_HOME/tric, ~/.cache/tric. */
const char *cache_dir(const Opts *o, char *buf, size_t cap) {
  const char *d = o->cache_dir ? o->cache_dir : getenv("TRIC_CACHE_DIR");
  if (d && *d) return d;
  const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  if (x && *x) snprintf(buf, cap, "%s/tric", x);
  else if (home && *home) snprintf(buf, cap, "%s/.cache/tric", home);
  else return NULL;
  return buf;
}

/* The size limit: $TRIC_CACHE_MAX_SIZE (a bad value is warned about), else 2 GiB. */
uint64_t cache_max_size(void) {
  uint64_t v = 2ull << 30;
  const char *e = getenv("TRIC_CACHE_MAX_SIZE");
  if (e && *e && !ca_parse_size(e, &v))
    fprintf(stderr, "tric: warning: TRIC_CACHE_MAX_SIZE='%s' is not a size like 2G; using 2G\n", e), v = 2ull << 30;
  return v;
}

/* An environment variable that is set and not empty, or NULL. */
static const char *env(const char *name) {
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

bool remote_config(const Opts *o, ca_RemoteConfig *config, char *why, size_t cap) {
  memset(config, 0, sizeof *config);
  if (o->no_remote_cache) return true;
  config->url = o->remote_cache ? o->remote_cache : env("TRIC_REMOTE_CACHE");
  if (!config->url || !*config->url) {
    config->url = NULL;
    return true;
  }
  if (strncmp(config->url, "http://", 7) && strncmp(config->url, "https://", 8)) {
    snprintf(why, cap, "%s '%.300s' is not an http:// or https:// URL", o->remote_cache ? "--remote-cache" : "TRIC_REMOTE_CACHE",
             strchr(config->url, '@') ? "(not shown: it holds credentials)" : config->url);
    return false;
  }
  const char *ro = env("TRIC_REMOTE_CACHE_READ_ONLY");
  config->read_only = o->remote_read_only || (ro && strcmp(ro, "0") && strcmp(ro, "no") && strcmp(ro, "false"));
  config->token = env("TRIC_REMOTE_CACHE_TOKEN");
  config->userpwd = env("TRIC_REMOTE_CACHE_USERPWD");
  const char *t = env("TRIC_REMOTE_CACHE_TIMEOUT");
  if (t) {
    char *end;
    double s = strtod(t, &end);
    if (end == t || *end || !(s > 0) || s > 86400) {
      snprintf(why, cap, "TRIC_REMOTE_CACHE_TIMEOUT='%s' is not a number of seconds", t);
      return false;
    }
    config->timeout_ms = (long)(s * 1000 + 0.5);
    if (config->timeout_ms < 1) config->timeout_ms = 1;
  }
  return true;
}
