/* config.c - where the compilation cache is and how big it may grow.
 *
 * The driver's cache settings come from the command line and the environment, read here
 * alone for `tric build` (build.c) and `tric cache` (main.c) alike. A remote backend's
 * URL, when there is one, is to be read here too, next to the folder, so that both
 * commands see the same cache.
 */
#include <stdio.h>
#include <stdlib.h>

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
