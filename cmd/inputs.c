/* inputs.c - what a build is asked to make: its targets and the paths of their outputs.
 *
 * An input is a file or a folder searched for *.tri (sorted, so a run's order is the same
 * on every machine); each module found is a target, its object named by -o or after the
 * source, its other outputs after the object. Two targets that would write one object
 * are refused before anything is read.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd/build.h"

/* path with its extension (if any) replaced by ext. */
static char *with_ext(fe_Arena *a, const char *path, const char *ext) {
  const char *slash = strrchr(path, '/');
  const char *dot = strrchr(path, '.');
  size_t n = dot && (!slash || dot > slash) && dot != path ? (size_t)(dot - path) : strlen(path);
  return fe_sprintf(a, "%.*s%s", (int)n, path, ext);
}

static char *base_stem(fe_Arena *a, const char *path) {
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  return with_ext(a, base, "");
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every *.tri under dir (sorted), as paths relative to dir. */
static void find_sources(fe_Arena *a, const char *dir, const char *rel, fe_Vec *out) {
  const char *full = rel[0] ? fe_sprintf(a, "%s/%s", dir, rel) : dir;
  DIR *d = opendir(full);
  if (!d) return;
  fe_Vec names = {0};
  struct dirent *de;
  while ((de = readdir(d)))
    if (de->d_name[0] != '.') fe_vec_push(a, &names, fe_strndup(a, de->d_name, strlen(de->d_name)));
  closedir(d);
  if (names.n) qsort(names.items, (size_t)names.n, sizeof(void *), cmp_str);
  for (int i = 0; i < names.n; i++) {
    const char *r = rel[0] ? fe_sprintf(a, "%s/%s", rel, (char *)names.items[i]) : names.items[i];
    const char *p = fe_sprintf(a, "%s/%s", dir, r);
    struct stat st;
    if (stat(p, &st)) continue;
    size_t n = strlen(r);
    if (S_ISDIR(st.st_mode)) find_sources(a, dir, r, out);
    else if (n > 4 && !strcmp(r + n - 4, ".tri")) fe_vec_push(a, out, (void *)r);
  }
}

static int cmp_obj(const void *a, const void *b) {
  int c = strcmp((*(Target *const *)a)->obj, (*(Target *const *)b)->obj);
  return c ? c : strcmp((*(Target *const *)a)->file, (*(Target *const *)b)->file);
}

int add_inputs(Build *b, const char *input, fe_Vec *targets) {
  const Opts *o = b->o;
  fe_Arena *a = b->g.arena;
  struct stat st;
  bool many = o->nfiles > 1;
  if (!stat(input, &st) && S_ISDIR(st.st_mode)) {
    fe_Vec rels = {0};
    find_sources(a, input, "", &rels);
    if (!rels.n) {
      fprintf(stderr, "tric: error: no .tri files under '%s'\n", input);
      return EXIT_IO;
    }
    for (int i = 0; i < rels.n; i++) {
      const char *rel = rels.items[i];
      Target *t = fe_alloc(a, sizeof *t);
      t->file = path_join(a, input, rel);
      t->stem = base_stem(a, rel);
      t->obj = o->out ? path_join(a, o->out, with_ext(a, rel, ".o")) : with_ext(a, t->file, ".o");
      fe_vec_push(a, targets, t);
    }
    return 0;
  }
  Target *t = fe_alloc(a, sizeof *t);
  t->file = input;
  t->stem = base_stem(a, input);
  if (o->out && (many || o->out_dir)) t->obj = path_join(a, o->out, fe_sprintf(a, "%s.o", t->stem));
  else t->obj = o->out ? o->out : fe_sprintf(a, "%s.o", t->stem);
  fe_vec_push(a, targets, t);
  return 0;
}

int check_outputs_apart(const Opts *o, fe_Vec *targets) {
  int status = 0;
  if (targets->n > 1) { /* two modules writing one object would each overwrite the other */
    Target **by_obj = malloc(sizeof *by_obj * (size_t)targets->n);
    if (!by_obj) abort();
    memcpy(by_obj, targets->items, sizeof *by_obj * (size_t)targets->n);
    qsort(by_obj, (size_t)targets->n, sizeof *by_obj, cmp_obj);
    for (int i = 1; i < targets->n && !status; i++)
      if (!strcmp(by_obj[i - 1]->obj, by_obj[i]->obj)) {
        fprintf(stderr, "tric: error: '%s' and '%s' would both write '%s' (outputs are named after the file)\n"
                        "(see tric --help)\n", by_obj[i - 1]->file, by_obj[i]->file, by_obj[i]->obj);
        status = EXIT_USAGE;
      }
    free(by_obj);
  }
  if (!status && o->mf && targets->n > 1) { /* one file cannot hold several modules' rules */
    fprintf(stderr, "tric: error: -MF names one depfile, but the inputs hold %d modules; -MD writes one beside each object\n"
                    "(see tric --help)\n", targets->n);
    status = EXIT_USAGE;
  }
  return status;
}

void name_outputs(const Opts *o, Target *t, fe_Arena *a) {
  t->hdr = with_ext(a, t->obj, ".h");
  t->guard = cg_header_guard(a, t->file, t->hdr);
  t->ll = with_ext(a, t->obj, ".ll");
  t->as = with_ext(a, t->obj, ".s");
  t->plan = with_ext(a, t->obj, ".plan");
  t->plan_json = with_ext(a, t->obj, ".plan.json");
  t->dep = o->mf ? o->mf : with_ext(a, t->obj, ".d");
}
