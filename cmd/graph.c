/* graph.c - the module graph: finding imports on disk, cycle detection, check order.
 *
 * `import models.blocks;` names models/blocks.tri, looked up relative to the importing
 * file's folder, then in each -I folder in order. A module reached twice (a diamond) is
 * loaded once, identified by its real path. The graph is walked depth first; an import
 * of a module still on the stack is a cycle, reported once with its whole path.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"

double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

char *read_file(fe_Arena *a, const char *path, uint32_t *len, struct stat *stp) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return NULL;
  struct stat st;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    close(fd);
    errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    return NULL;
  }
  if (st.st_size > (off_t)(256u << 20)) {
    close(fd);
    errno = EFBIG;
    return NULL;
  }
  size_t n = (size_t)st.st_size, got = 0;
  char *buf = fe_alloc(a, n + 1);
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  if (got != n) {
    errno = EIO;
    return NULL;
  }
  buf[n] = 0;
  *len = (uint32_t)n;
  if (stp) *stp = st;
  return buf;
}

static const char *dir_of(fe_Arena *a, const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return ".";
  if (slash == path) return "/";
  return fe_strndup(a, path, (size_t)(slash - path));
}

const char *path_join(fe_Arena *a, const char *dir, const char *rel) {
  if (strcmp(dir, ".") == 0) return rel;
  size_t n = strlen(dir);
  return fe_sprintf(a, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", rel);
}

char *path_clean(char *path) {
  char *in = path, *out = path;
  bool abs = *in == '/';
  if (abs) *out++ = *in++;
  while (*in) {
    while (*in == '/') in++;
    size_t n = strcspn(in, "/");
    if (n == 1 && in[0] == '.') { /* a "." component says nothing */
      in += 1;
      continue;
    }
    if (!n) break;
    if (out > path + abs) *out++ = '/';
    memmove(out, in, n);
    out += n, in += n;
  }
  if (out == path) *out++ = '.'; /* "", "./" */
  *out = 0;
  return path;
}

/* Adds the stems of the .tri files in folder to a did-you-mean search. */
static void suggest_files(fe_Arena *a, fe_Suggest *sg, const char *folder) {
  DIR *dd = opendir(folder);
  if (!dd) return;
  for (struct dirent *e; (e = readdir(dd));) {
    size_t n = strlen(e->d_name);
    if (n > 4 && strcmp(e->d_name + n - 4, ".tri") == 0) fe_suggest_add(sg, fe_strndup(a, e->d_name, n - 4));
  }
  closedir(dd);
}

/* The import name closest to a missing one (dotted name, its file rel) among the files
 * of the folders it was looked for in, or NULL. */
static const char *suggest_module(Graph *g, const char *dir, const char *rel, const char *name) {
  const char *last = strrchr(name, '.') ? strrchr(name, '.') + 1 : name;
  fe_Suggest sg;
  fe_suggest_init(&sg, last);
  suggest_files(g->arena, &sg, dir_of(g->arena, path_join(g->arena, dir, rel)));
  for (int i = 0; i < g->nincdirs; i++) suggest_files(g->arena, &sg, dir_of(g->arena, path_join(g->arena, g->incdirs[i], rel)));
  if (!sg.best) return NULL;
  return fe_sprintf(g->arena, "%.*s%s", (int)(last - name), name, sg.best);
}

/* Modules currently being loaded, in DFS order, for cycle messages. */
typedef struct Stack {
  Module *items[256];
  const fe_Node *via[256];
  int n;
} Stack;


static uint64_t str_hash(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

/* The module loaded from real path `real`, if any (open addressing on the real path). */
static Module *find_module(Graph *g, const char *real) {
  if (!g->nslots) return NULL;
  for (uint64_t i = str_hash(real) & (g->nslots - 1);; i = (i + 1) & (g->nslots - 1)) {
    Module *m = g->slots[i];
    if (!m) return NULL;
    if (!strcmp(m->realpath, real)) return m;
  }
}

static void index_module(Graph *g, Module *m) {
  if ((g->all.n + 1) * 2 > g->nslots) { /* keep the table at most half full */
    int n = g->nslots ? g->nslots * 2 : 256;
    Module **slots = fe_alloc(g->arena, sizeof *slots * (size_t)n);
    for (int i = 0; i < g->nslots; i++)
      if (g->slots[i])
        for (uint64_t k = str_hash(g->slots[i]->realpath) & (uint64_t)(n - 1);; k = (k + 1) & (uint64_t)(n - 1))
          if (!slots[k]) {
            slots[k] = g->slots[i];
            break;
          }
    g->slots = slots;
    g->nslots = n;
  }
  for (uint64_t k = str_hash(m->realpath) & (uint64_t)(g->nslots - 1);; k = (k + 1) & (uint64_t)(g->nslots - 1))
    if (!g->slots[k]) {
      g->slots[k] = m;
      return;
    }
}

/* The module reached before by this very path, if any. */
static Module *find_path(Graph *g, const char *path) {
  if (!g->npslots) return NULL;
  for (uint64_t i = str_hash(path) & (uint64_t)(g->npslots - 1);; i = (i + 1) & (uint64_t)(g->npslots - 1)) {
    if (!g->pkeys[i]) return NULL;
    if (!strcmp(g->pkeys[i], path)) return g->pvals[i];
  }
}

static void put_path(Graph *g, const char *path, Module *m) {
  if ((g->npaths + 1) * 2 > g->npslots) { /* at most half full */
    int n = g->npslots ? g->npslots * 2 : 256;
    const char **keys = fe_alloc(g->arena, sizeof *keys * (size_t)n);
    Module **vals = fe_alloc(g->arena, sizeof *vals * (size_t)n);
    for (int i = 0; i < g->npslots; i++)
      if (g->pkeys[i])
        for (uint64_t k = str_hash(g->pkeys[i]) & (uint64_t)(n - 1);; k = (k + 1) & (uint64_t)(n - 1))
          if (!keys[k]) {
            keys[k] = g->pkeys[i], vals[k] = g->pvals[i];
            break;
          }
    g->pkeys = keys, g->pvals = vals, g->npslots = n;
  }
  for (uint64_t k = str_hash(path) & (uint64_t)(g->npslots - 1);; k = (k + 1) & (uint64_t)(g->npslots - 1)) {
    if (g->pkeys[k] && strcmp(g->pkeys[k], path)) continue;
    if (!g->pkeys[k]) g->npaths++;
    g->pkeys[k] = path, g->pvals[k] = m;
    return;
  }
}

static bool ts_before(struct timespec a, struct timespec b) {
  return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

static Module *new_module(Graph *g, fe_Vec *all, const char *path, const char *real, const char *name) {
  Module *m = fe_alloc(g->arena, sizeof *m);
  m->path = path;
  m->realpath = real;
  m->name = name;
  index_module(g, m);
  fe_vec_push(g->arena, all, m);
  return m;
}

static Module *load(Graph *g, Stack *st, fe_Vec *all, const char *path, const char *name, const fe_Node *from) {
  /* a module's identity is its file (device and inode): the same file reached by two
     paths is one module. A path seen before needs no system call at all. */
  Module *seen = find_path(g, path);
  char *text = NULL;
  uint32_t len = 0;
  struct stat ist;
  const char *real = path;
  if (!seen) {
    text = read_file(g->arena, path, &len, &ist);
    if (text) {
      real = fe_sprintf(g->arena, "%llx:%llx", (unsigned long long)ist.st_dev, (unsigned long long)ist.st_ino);
      seen = find_module(g, real);
      if (seen) put_path(g, path, seen);
    }
  }
  if (seen) {
    if (seen->state == 1) { /* a cycle: from its place on the stack back to it */
      int k = st->n - 1;
      while (k >= 0 && st->items[k] != seen) k--;
      char buf[2048];
      size_t blen = 0;
      for (int j = k; j >= 0 && j < st->n && blen < sizeof buf; j++)
        blen += (size_t)snprintf(buf + blen, sizeof buf - blen, "%s -> ", st->items[j]->name);
      if (blen < sizeof buf) snprintf(buf + blen, sizeof buf - blen, "%s", seen->name);
      fe_Diag *d = fe_error(g->diags, from->span, "import cycle: %s", buf);
      for (int j = k + 1; j < st->n; j++)
        fe_note(g->diags, d, st->via[j]->span, "'%s' is imported here", st->items[j]->name);
      return NULL;
    }
    return seen;
  }
  if (!text) {
    if (from) fe_error(g->diags, from->span, "cannot read module '%s' (%s): %s", name, path, strerror(errno));
    else {
      fprintf(stderr, "tric: error: cannot read '%s': %s\n", path, strerror(errno));
      g->io_error = true;
    }
    return NULL;
  }
  Module *m = new_module(g, all, path, real, name);
  put_path(g, path, m);
  m->mtime = m->newest = ist.st_mtim;
  int before = g->diags->nerrors; /* syntax errors too: such a module is not type-checked */
  m->src = fe_source_new(g->arena, path, text, len);
  double t0 = now_seconds();
  m->ast = fe_parse(g->arena, g->diags, m->src);
  m->t_parse = now_seconds() - t0;
  m->state = 1;
  if (st->n >= 256) {
    fe_error(g->diags, from->span, "imports nested too deeply");
    return NULL;
  }
  st->items[st->n] = m;
  st->via[st->n++] = from;
  const char *dir = dir_of(g->arena, path);
  for (const fe_Node *d = m->ast->decls; d; d = d->next) {
    if (d->kind != FE_IMPORT) continue;
    char *rel = fe_sprintf(g->arena, "%s.tri", d->name);
    for (char *p = rel; *p && p < rel + strlen(d->name); p++)
      if (*p == '.') *p = '/';
    const char *cand = path_join(g->arena, dir, rel);
    struct stat sb;
    bool found = find_path(g, cand) || stat(cand, &sb) == 0;
    for (int i = 0; !found && i < g->nincdirs; i++) {
      cand = path_join(g->arena, g->incdirs[i], rel);
      found = find_path(g, cand) || stat(cand, &sb) == 0;
    }
    if (!found) {
      const char *close = suggest_module(g, dir, rel, d->name);
      fe_Diag *e = fe_error(g->diags, d->span, "cannot find module '%s'%s", d->name,
                            close ? fe_sprintf(g->arena, "; did you mean '%s'?", close) : "");
      fe_note(g->diags, e, d->span, "looked for %s (in the importing module's folder '%s')", path_join(g->arena, dir, rel),
              *dir ? dir : ".");
      for (int i = 0; i < g->nincdirs; i++)
        fe_note(g->diags, e, d->span, "and %s (-I %s)", path_join(g->arena, g->incdirs[i], rel), g->incdirs[i]);
      if (!g->nincdirs) fe_note(g->diags, e, d->span, "no -I folder was given: -I DIR searches DIR too");
      m->failed = true;
      continue;
    }
    Module *dep = load(g, st, all, cand, d->name, d);
    if (!dep || dep->failed) {
      m->failed = true;
      continue;
    }
    fe_vec_push(g->arena, &m->deps, dep);
    fe_vec_push(g->arena, &m->deps, (void *)d);
    dep->imported = true;
    if (ts_before(m->newest, dep->newest)) m->newest = dep->newest;
  }
  st->n--;
  m->state = 2;
  if (g->diags->nerrors > before) m->failed = true;
  fe_vec_push(g->arena, &g->modules, m); /* post-order: dependencies first */
  return m;
}

Module *graph_load(Graph *g, const char *path) {
  Stack *st = calloc(1, sizeof *st);
  if (!st) abort();
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  size_t n = strlen(base);
  if (n > 4 && strcmp(base + n - 4, ".tri") == 0) n -= 4;
  Module *root = load(g, st, &g->all, path, fe_strndup(g->arena, base, n), NULL);
  free(st);
  return root;
}

void graph_check(Graph *g) {
  for (int i = 0; i < g->modules.n; i++) {
    graph_check_one(g, g->modules.items[i]);
    if (((Module *)g->modules.items[i])->check_clean) graph_warn_no_export(g, g->modules.items[i]);
  }
}

/* A module that exports nothing and that no module of this run imports compiles to an
 * empty object (the user forgot `export`): warned of at its first function. */
void graph_warn_no_export(Graph *g, Module *m) {
  int before = g->diags->nerrors;
  const fe_Node *first_fn = NULL;
  for (const fe_Node *d = m->ast->decls; d; d = d->next) {
    if (d->kind == FE_FN && (d->flags & FE_EXPORT)) return;
    if (d->kind == FE_FN && !first_fn) first_fn = d;
  }
  if (m->imported) return; /* a library of another module */
  fe_Span at = {m->src, 0, 0};
  if (first_fn) at = (fe_Span){m->src, (uint32_t)first_fn->ival, (uint32_t)(first_fn->ival + (int64_t)strlen(first_fn->name))};
  fe_warning(g->diags, at, "module '%s' exports no function, so its object file would be empty; mark the functions C calls with 'export' (a module that is only imported needs none)", m->name);
  if (g->diags->nerrors > before) m->failed = true; /* -Werror */
}

void graph_check_one(Graph *g, Module *m) {
  {
    m->tc = tc_module_new(g->arena, m->ast, m->name);
    bool deps_ok = !m->failed;
    for (int k = 0; k + 1 < m->deps.n; k += 2) {
      Module *dep = m->deps.items[k];
      if (!dep->tc || dep->failed) deps_ok = false;
      else tc_module_add_import(m->tc, g->diags, m->deps.items[k + 1], dep->tc);
    }
    if (!deps_ok) { /* a module with syntax errors or broken imports is not checked: no cascades */
      m->failed = true;
      return;
    }
    int before = g->diags->nerrors, real_before = before - g->diags->nwerrors;
    double t0 = now_seconds();
    m->nfuncs = tc_check_module(m->tc, g->arena, g->diags, &m->funcs);
    m->t_check = now_seconds() - t0;
    m->check_clean = g->diags->nerrors - g->diags->nwerrors == real_before;
    if (g->diags->nerrors > before) m->failed = true;
  }
}
