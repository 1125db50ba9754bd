/* support.c - the arena, sources, diagnostics and the dtype and name tables.
 *
 * These are the services every layer shares. The arena is a list of chunks freed at
 * once; diagnostics are kept in order and printed gcc-style with the source line and a
 * caret span, so that editors and CI annotate them.
 */
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"

/* ---------------------------------------------------------------- arena */

struct fe_Chunk {
  fe_Chunk *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
};

void *fe_alloc(fe_Arena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  fe_Chunk *c = a->head;
  if (!c || c->cap - c->used < n) {
    size_t cap = n > 65536 ? n : 65536;
    c = malloc(sizeof *c + cap);
    if (!c) {
      fputs("tric: out of memory\n", stderr);
      abort();
    }
    c->used = 0;
    c->cap = cap;
    c->next = a->head;
    a->head = c;
  }
  void *p = c->data + c->used;
  c->used += n;
  memset(p, 0, n);
  return p;
}

char *fe_strndup(fe_Arena *a, const char *s, size_t n) {
  char *p = fe_alloc(a, n + 1);
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

char *fe_vsprintf(fe_Arena *a, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  char *p = fe_alloc(a, (size_t)(n > 0 ? n : 0) + 1);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  return p;
}

char *fe_sprintf(fe_Arena *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *p = fe_vsprintf(a, fmt, ap);
  va_end(ap);
  return p;
}

void fe_arena_free(fe_Arena *a) {
  fe_Chunk *c = a->head;
  while (c) {
    fe_Chunk *n = c->next;
    free(c);
    c = n;
  }
  a->head = NULL;
}

void fe_vec_push(fe_Arena *a, fe_Vec *v, void *p) {
  if (v->n == v->cap) {
    int cap = v->cap ? v->cap * 2 : 8;
    void **items = fe_alloc(a, sizeof(void *) * (size_t)cap);
    if (v->n) memcpy(items, v->items, sizeof(void *) * (size_t)v->n);
    v->items = items;
    v->cap = cap;
  }
  v->items[v->n++] = p;
}

/* ---------------------------------------------------------------- sources */

fe_Source *fe_source_new(fe_Arena *a, const char *path, const char *text, uint32_t len) {
  fe_Source *s = fe_alloc(a, sizeof *s);
  s->path = path;
  s->text = text;
  s->len = len;
  uint32_t n = 1;
  for (uint32_t i = 0; i < len; i++)
    if (text[i] == '\n') n++;
  s->line_starts = fe_alloc(a, sizeof(uint32_t) * n);
  s->nlines = 0;
  s->line_starts[s->nlines++] = 0;
  for (uint32_t i = 0; i < len; i++)
    if (text[i] == '\n') s->line_starts[s->nlines++] = i + 1;
  return s;
}

void fe_source_linecol(const fe_Source *s, uint32_t off, int *line, int *col) {
  uint32_t lo = 0, hi = s->nlines;
  while (hi - lo > 1) {
    uint32_t mid = (lo + hi) / 2;
    if (s->line_starts[mid] <= off) lo = mid;
    else hi = mid;
  }
  *line = (int)lo + 1;
  *col = (int)(off - s->line_starts[lo]) + 1;
}

/* ---------------------------------------------------------------- diagnostics */

static fe_Diag *diag_new(fe_Diags *d, fe_Severity sev, fe_Span span, const char *fmt,
                         va_list ap) {
  fe_Diag *g = fe_alloc(d->arena, sizeof *g);
  g->sev = sev;
  g->span = span;
  g->msg = fe_vsprintf(d->arena, fmt, ap);
  return g;
}

static fe_Diag *diag_append(fe_Diags *d, fe_Diag *g) {
  for (fe_Diag *o = d->first; o; o = o->next)
    if (o->sev == g->sev && o->span.src == g->span.src && o->span.lo == g->span.lo &&
        strcmp(o->msg, g->msg) == 0)
      return NULL; /* reported already */
  if (d->last) d->last->next = g;
  else d->first = g;
  d->last = g;
  if (g->sev == FE_ERROR) d->nerrors++;
  return g;
}

fe_Diag *fe_error(fe_Diags *d, fe_Span span, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fe_Diag *g = diag_new(d, FE_ERROR, span, fmt, ap);
  va_end(ap);
  return diag_append(d, g);
}

fe_Diag *fe_warning(fe_Diags *d, fe_Span span, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fe_Diag *g = diag_new(d, FE_WARNING, span, fmt, ap);
  va_end(ap);
  return diag_append(d, g);
}

void fe_note(fe_Diags *d, fe_Diag *diag, fe_Span span, const char *fmt, ...) {
  if (!diag) return;
  va_list ap;
  va_start(ap, fmt);
  fe_Diag *g = diag_new(d, FE_NOTE, span, fmt, ap);
  va_end(ap);
  fe_Diag **p = &diag->notes;
  while (*p) p = &(*p)->next;
  *p = g;
}

static void print_one(const fe_Diag *g, FILE *out, bool colour) {
  static const char *const sevname[] = {"error", "warning", "note"};
  static const char *const sevcol[] = {"\033[1;31m", "\033[1;35m", "\033[1;36m"};
  const char *bold = colour ? "\033[1m" : "", *reset = colour ? "\033[0m" : "";
  const fe_Source *s = g->span.src;
  if (!s) {
    fprintf(out, "%stric: %s%s:%s %s\n", bold, colour ? sevcol[g->sev] : "",
            sevname[g->sev], reset, g->msg);
    return;
  }
  int line, col;
  fe_source_linecol(s, g->span.lo, &line, &col);
  fprintf(out, "%s%s:%d:%d: %s%s:%s%s %s%s\n", bold, s->path, line, col,
          colour ? sevcol[g->sev] : "", sevname[g->sev], reset, bold, g->msg, reset);
  uint32_t ls = s->line_starts[line - 1], le = ls;
  while (le < s->len && s->text[le] != '\n') le++;
  if (le > ls && s->text[le - 1] == '\r') le--;
  /* a very long line is shown as a window around the span */
  const char *pre = "", *post = "";
  if (g->span.lo > ls + 100) ls = g->span.lo - 60, pre = "...";
  if (le > ls + 200) le = (g->span.hi > ls + 140 ? g->span.lo + 80 : ls + 200), post = "...";
  if (le < g->span.lo) le = g->span.lo;
  fprintf(out, "%5d | %s%.*s%s\n", line, pre, (int)(le - ls), s->text + ls, post);
  fprintf(out, "      | %s", *pre ? "   " : "");
  for (uint32_t i = ls; i < g->span.lo && i < le; i++) fputc(s->text[i] == '\t' ? '\t' : ' ', out);
  uint32_t hi = g->span.hi > le ? le : g->span.hi;
  fprintf(out, "%s^", colour ? "\033[1;32m" : "");
  for (uint32_t i = g->span.lo + 1; i < hi; i++) fputc('~', out);
  fprintf(out, "%s\n", reset);
}

/* Orders diagnostics of one file by position (the lexer reports before the parser);
 * files keep the order in which they first reported. */
static int diag_before(const fe_Diag *a, int fa, const fe_Diag *b, int fb) {
  if (fa != fb) return fa < fb;
  return a->span.lo < b->span.lo;
}

void fe_diags_print(const fe_Diags *d, FILE *out, bool colour) { fe_diags_print_from(d, d->first, out, colour); }

void fe_diags_print_from(const fe_Diags *d, const fe_Diag *from, FILE *out, bool colour) {
  (void)d;
  int n = 0;
  for (const fe_Diag *g = from; g; g = g->next) n++;
  if (!n) return;
  const fe_Diag **v = malloc(sizeof *v * (size_t)n);
  int *file = malloc(sizeof *file * (size_t)n);
  if (!v || !file) abort();
  int i = 0;
  for (const fe_Diag *g = from; g; g = g->next, i++) {
    int f = i;
    for (int j = 0; j < i; j++)
      if (v[j]->span.src == g->span.src) { f = file[j]; break; }
    /* insertion sort keeps equal keys in emission order */
    int k = i;
    while (k > 0 && diag_before(g, f, v[k - 1], file[k - 1])) {
      v[k] = v[k - 1];
      file[k] = file[k - 1];
      k--;
    }
    v[k] = g;
    file[k] = f;
  }
  for (i = 0; i < n; i++) {
    print_one(v[i], out, colour);
    for (const fe_Diag *nt = v[i]->notes; nt; nt = nt->next) print_one(nt, out, colour);
  }
  free(v);
  free(file);
}

/* ---------------------------------------------------------------- tables */

static const struct {
  const char *name, *ctype;
  int size;
} dtypes[] = {
#define X(id, name, ctype, size) {name, ctype, size},
    FE_DTYPES(X)
#undef X
};

const char *fe_dtype_name(int dt) { return dt >= 0 && dt < FE_NDTYPES ? dtypes[dt].name : "?"; }
const char *fe_dtype_ctype(int dt) { return dtypes[dt].ctype; }
int fe_dtype_size(int dt) { return dtypes[dt].size; }
bool fe_dtype_is_float(int dt) { return dt == FE_F32 || dt == FE_F64 || dt == FE_F16 || dt == FE_BF16; }
bool fe_dtype_is_int(int dt) { return dt == FE_I8 || dt == FE_U8 || dt == FE_I32 || dt == FE_I64; }

int fe_dtype_lookup(const char *name, size_t len) {
  for (int i = 0; i < FE_NDTYPES; i++)
    if (strlen(dtypes[i].name) == len && memcmp(dtypes[i].name, name, len) == 0) return i;
  return -1;
}

static const char *const kind_names[] = {
#define X(k) #k,
    FE_AST_KINDS(X)
#undef X
};

const char *fe_kind_name(fe_Kind k) { return kind_names[k]; }

static const char *const op_names[] = {
#define X(id, s) s,
    FE_OPS(X)
#undef X
};

const char *fe_op_name(int op) { return op_names[op]; }

int fe_list_len(const fe_Node *n) {
  int k = 0;
  for (; n; n = n->next) k++;
  return k;
}
