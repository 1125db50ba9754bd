/* support.c - the arena, sources, diagnostics and the dtype and name tables.
 *
 * These are the services every layer shares. The arena is a list of chunks freed at
 * once; diagnostics are kept in order and printed gcc-style with the source line and a
 * caret span, so that editors and CI annotate them.
 */
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"

/* ---------------------------------------------------------------- internal errors */

void fe_bug(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "tric: internal error: %s:%d: ", file, line);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  fflush(stderr); /* the driver buffers stderr when it is not a terminal */
  abort();
}

_Noreturn void fe_oom(void) {
  fputs("tric: out of memory\n", stderr);
  fflush(stderr); /* the driver buffers stderr when it is not a terminal */
  abort();
}

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
    if (!c) fe_oom();
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
  if (d->warn == FE_WARN_NONE) return NULL;
  va_list ap;
  va_start(ap, fmt);
  fe_Diag *g = diag_new(d, FE_WARNING, span, fmt, ap);
  va_end(ap);
  if (d->warn == FE_WARN_ERROR) {
    g->sev = FE_ERROR;
    g->msg = fe_sprintf(d->arena, "%s [-Werror]", g->msg);
    g = diag_append(d, g);
    if (g) d->nwerrors++;
    return g;
  }
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
  if (!v || !file) fe_oom();
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

/* Type names of C, NumPy and PyTorch, and the dtype tri calls each. */
static const struct {
  char name[12];
  int dtype;
} dtype_aliases[] = {
    {"float", FE_F32},   {"float32", FE_F32}, {"double", FE_F64}, {"float64", FE_F64},  {"half", FE_F16},
    {"float16", FE_F16}, {"bfloat16", FE_BF16}, {"int", FE_I32}, {"int32", FE_I32},    {"int32_t", FE_I32},
    {"long", FE_I64},    {"int64", FE_I64},   {"int64_t", FE_I64}, {"int8", FE_I8},     {"int8_t", FE_I8},
    {"char", FE_I8},     {"uint8", FE_U8},    {"uint8_t", FE_U8},  {"boolean", FE_BOOL}, {"_Bool", FE_BOOL},
};

int fe_dtype_alias(const char *name) {
  for (size_t i = 0; i < sizeof dtype_aliases / sizeof *dtype_aliases; i++)
    if (strcmp(dtype_aliases[i].name, name) == 0) return dtype_aliases[i].dtype;
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

/* ---------------------------------------------------------------- C names */

/* Identifiers a generated header cannot use as they are: C and C++ keywords (the header
 * is included from both), the alternative operator spellings of C++, the types and
 * macros of <stdint.h> (the one header it includes) and the macros it defines itself.
 * A parameter named like one of these breaks the prototype, or, for a macro, is
 * replaced by the preprocessor. Fixed-size rows keep the table in read-only data. */
static const char c_reserved[][24] = {
    /* C keywords, C99 to C23 */
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
    "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict",
    "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union",
    "unsigned", "void", "volatile", "while", "bool", "true", "false", "alignas", "alignof",
    "constexpr", "nullptr", "static_assert", "thread_local", "typeof", "typeof_unqual",
    "_Bool", "_Complex", "_Imaginary", "_Alignas", "_Alignof", "_Atomic", "_Generic",
    "_Noreturn", "_Static_assert", "_Thread_local", "_BitInt", "_Decimal32", "_Decimal64",
    "_Decimal128",
    /* C++ keywords and alternative tokens */
    "asm", "catch", "char8_t", "char16_t", "char32_t", "class", "concept", "consteval",
    "constinit", "const_cast", "co_await", "co_return", "co_yield", "decltype", "delete",
    "dynamic_cast", "explicit", "export", "friend", "mutable", "namespace", "new", "noexcept",
    "operator", "private", "protected", "public", "reinterpret_cast", "requires",
    "static_cast", "template", "this", "throw", "try", "typeid", "typename", "using",
    "virtual", "wchar_t", "and", "and_eq", "bitand", "bitor", "compl", "not", "not_eq", "or",
    "or_eq", "xor", "xor_eq",
    /* <stdint.h> types (and the <stddef.h> ones it may bring in) */
    "int8_t", "int16_t", "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t",
    "int_least8_t", "int_least16_t", "int_least32_t", "int_least64_t", "uint_least8_t",
    "uint_least16_t", "uint_least32_t", "uint_least64_t", "int_fast8_t", "int_fast16_t",
    "int_fast32_t", "int_fast64_t", "uint_fast8_t", "uint_fast16_t", "uint_fast32_t",
    "uint_fast64_t", "intptr_t", "uintptr_t", "intmax_t", "uintmax_t", "size_t", "ptrdiff_t",
    "wint_t", "NULL",
    /* <stdint.h> macros */
    "INT8_MIN", "INT16_MIN", "INT32_MIN", "INT64_MIN", "INT8_MAX", "INT16_MAX", "INT32_MAX",
    "INT64_MAX", "UINT8_MAX", "UINT16_MAX", "UINT32_MAX", "UINT64_MAX", "INT8_WIDTH",
    "INT16_WIDTH", "INT32_WIDTH", "INT64_WIDTH", "UINT8_WIDTH", "UINT16_WIDTH", "UINT32_WIDTH",
    "UINT64_WIDTH", "INT_LEAST8_MIN", "INT_LEAST16_MIN", "INT_LEAST32_MIN", "INT_LEAST64_MIN",
    "INT_LEAST8_MAX", "INT_LEAST16_MAX", "INT_LEAST32_MAX", "INT_LEAST64_MAX",
    "UINT_LEAST8_MAX", "UINT_LEAST16_MAX", "UINT_LEAST32_MAX", "UINT_LEAST64_MAX",
    "INT_FAST8_MIN", "INT_FAST16_MIN", "INT_FAST32_MIN", "INT_FAST64_MIN", "INT_FAST8_MAX",
    "INT_FAST16_MAX", "INT_FAST32_MAX", "INT_FAST64_MAX", "UINT_FAST8_MAX", "UINT_FAST16_MAX",
    "UINT_FAST32_MAX", "UINT_FAST64_MAX", "INTPTR_MIN", "INTPTR_MAX", "UINTPTR_MAX",
    "INTPTR_WIDTH", "UINTPTR_WIDTH", "INTMAX_MIN", "INTMAX_MAX", "UINTMAX_MAX",
    "INTMAX_WIDTH", "UINTMAX_WIDTH", "PTRDIFF_MIN", "PTRDIFF_MAX", "PTRDIFF_WIDTH",
    "SIZE_MAX", "SIZE_WIDTH", "SIG_ATOMIC_MIN", "SIG_ATOMIC_MAX", "SIG_ATOMIC_WIDTH",
    "WCHAR_MIN", "WCHAR_MAX", "WCHAR_WIDTH", "WINT_MIN", "WINT_MAX", "WINT_WIDTH", "INT8_C",
    "INT16_C", "INT32_C", "INT64_C", "UINT8_C", "UINT16_C", "UINT32_C", "UINT64_C",
    "INTMAX_C", "UINTMAX_C", "__STDC_LIMIT_MACROS", "__STDC_CONSTANT_MACROS",
    /* the generated header's own macros */
    "TRIC_OK", "TRIC_ERR_SIZE", "TRIC_ERR_NOMEM",
};

/* Functions of the C standard library, libm and common POSIX that a user's program links
 * against: an exported function of the same name would be the definition the linker
 * picks for every call of it in that program. Also main, the program's own entry. */
static const char c_library[][16] = {
    "main",
    /* <math.h> (double, float and long double forms) */
    "acos", "acosf", "acosl", "asin", "asinf", "asinl", "atan", "atanf", "atanl", "atan2",
    "atan2f", "atan2l", "cos", "cosf", "cosl", "sin", "sinf", "sinl", "tan", "tanf", "tanl",
    "acosh", "acoshf", "acoshl", "asinh", "asinhf", "asinhl", "atanh", "atanhf", "atanhl",
    "cosh", "coshf", "coshl", "sinh", "sinhf", "sinhl", "tanh", "tanhf", "tanhl", "exp",
    "expf", "expl", "exp2", "exp2f", "exp2l", "expm1", "expm1f", "expm1l", "exp10", "exp10f",
    "frexp", "frexpf", "frexpl", "ilogb", "ilogbf", "ilogbl", "ldexp", "ldexpf", "ldexpl",
    "log", "logf", "logl", "log10", "log10f", "log10l", "log1p", "log1pf", "log1pl", "log2",
    "log2f", "log2l", "logb", "logbf", "logbl", "modf", "modff", "modfl", "scalbn", "scalbnf",
    "scalbnl", "scalbln", "scalblnf", "scalblnl", "cbrt", "cbrtf", "cbrtl", "fabs", "fabsf",
    "fabsl", "hypot", "hypotf", "hypotl", "pow", "powf", "powl", "sqrt", "sqrtf", "sqrtl",
    "erf", "erff", "erfl", "erfc", "erfcf", "erfcl", "lgamma", "lgammaf", "lgammal",
    "tgamma", "tgammaf", "tgammal", "gamma", "ceil", "ceilf", "ceill", "floor", "floorf",
    "floorl", "nearbyint", "nearbyintf", "nearbyintl", "rint", "rintf", "rintl", "lrint",
    "lrintf", "lrintl", "llrint", "llrintf", "llrintl", "round", "roundf", "roundl", "lround",
    "lroundf", "lroundl", "llround", "llroundf", "llroundl", "trunc", "truncf", "truncl",
    "fmod", "fmodf", "fmodl", "remainder", "remainderf", "remainderl", "remquo", "remquof",
    "remquol", "copysign", "copysignf", "copysignl", "nan", "nanf", "nanl", "nextafter",
    "nextafterf", "nextafterl", "nexttoward", "nexttowardf", "nexttowardl", "fdim", "fdimf",
    "fdiml", "fmax", "fmaxf", "fmaxl", "fmin", "fminf", "fminl", "fma", "fmaf", "fmal",
    "sincos", "sincosf", "j0", "j1", "jn", "y0", "y1", "yn", "drem", "significand",
    /* <stdlib.h> */
    "abs", "labs", "llabs", "div", "ldiv", "lldiv", "atof", "atoi", "atol", "atoll", "strtod",
    "strtof", "strtold", "strtol", "strtoll", "strtoul", "strtoull", "rand", "srand",
    "random", "srandom", "drand48", "malloc", "calloc", "realloc", "free", "aligned_alloc",
    "posix_memalign", "abort", "atexit", "at_quick_exit", "exit", "_Exit", "quick_exit",
    "getenv", "setenv", "unsetenv", "putenv", "system", "bsearch", "qsort", "mblen",
    "mbtowc", "wctomb", "mbstowcs", "wcstombs", "mkstemp", "realpath",
    /* <string.h> */
    "memcpy", "memmove", "memset", "memcmp", "memchr", "strcpy", "strncpy", "strcat",
    "strncat", "strcmp", "strncmp", "strcoll", "strxfrm", "strchr", "strrchr", "strspn",
    "strcspn", "strpbrk", "strstr", "strtok", "strlen", "strnlen", "strerror", "strdup",
    "strndup", "strsep", "strtok_r", "strcasecmp", "strncasecmp", "bzero", "bcopy",
    /* <stdio.h> */
    "printf", "fprintf", "sprintf", "snprintf", "vprintf", "vfprintf", "vsprintf",
    "vsnprintf", "scanf", "fscanf", "sscanf", "fopen", "fclose", "fflush", "freopen", "fread",
    "fwrite", "fgetc", "fgets", "fputc", "fputs", "getc", "getchar", "gets", "putc",
    "putchar", "puts", "ungetc", "fseek", "ftell", "rewind", "fgetpos", "fsetpos", "feof",
    "ferror", "clearerr", "perror", "remove", "rename", "tmpfile", "tmpnam", "setbuf",
    "setvbuf", "fileno", "fdopen", "popen", "pclose", "getline", "dprintf",
    /* <time.h>, <signal.h>, <setjmp.h>, <ctype.h>, <assert.h>, <locale.h>, <errno.h> */
    "time", "clock", "difftime", "mktime", "strftime", "gmtime", "localtime", "asctime",
    "ctime", "nanosleep", "clock_gettime", "signal", "raise", "kill", "setjmp", "longjmp",
    "isalnum", "isalpha", "isblank", "iscntrl", "isdigit", "isgraph", "islower", "isprint",
    "ispunct", "isspace", "isupper", "isxdigit", "tolower", "toupper", "setlocale",
    "localeconv", "errno",
    /* POSIX <unistd.h>, <fcntl.h>, <pthread.h> (every program links -lpthread) */
    "open", "close", "read", "write", "lseek", "pipe", "dup", "dup2", "fork", "execv",
    "execve", "execvp", "_exit", "sleep", "usleep", "getpid", "access", "unlink", "link",
    "chdir", "getcwd", "stat", "fstat", "mmap", "munmap", "select", "poll", "socket", "bind",
    "listen", "accept", "connect", "send", "recv", "ioctl", "fcntl", "sysconf", "isatty",
    "wait", "waitpid", "pthread_create", "pthread_join", "pthread_self", "pthread_exit",
};

bool fe_c_reserved(const char *name) {
  if (name[0] == '_' && (name[1] == '_' || (name[1] >= 'A' && name[1] <= 'Z'))) return true; /* C reserves these */
  for (size_t i = 0; i < sizeof c_reserved / sizeof *c_reserved; i++)
    if (strcmp(c_reserved[i], name) == 0) return true;
  return false;
}

bool fe_c_library_function(const char *name) {
  for (size_t i = 0; i < sizeof c_library / sizeof *c_library; i++)
    if (strcmp(c_library[i], name) == 0) return true;
  return false;
}

/* ---------------------------------------------------------------- did you mean */

int fe_edit_distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  if (n > 63 || m > 63) return 64; /* long names are not typos of each other */
  int d[64][64];
  for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
  for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
  for (size_t i = 1; i <= n; i++)
    for (size_t j = 1; j <= m; j++) {
      int cost = a[i - 1] != b[j - 1];
      int v = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
      if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
        v = d[i - 2][j - 2] + 1; /* a transposition */
      d[i][j] = v;
    }
  return d[n][m];
}

void fe_suggest_init(fe_Suggest *s, const char *name) {
  s->name = name;
  s->best = NULL;
  size_t len = strlen(name);
  s->dist = (len <= 3 ? 1 : len <= 6 ? 2 : 3) + 1; /* the first distance not accepted */
}

void fe_suggest_add(fe_Suggest *s, const char *candidate) {
  if (!candidate || strcmp(candidate, s->name) == 0) return;
  int d = fe_edit_distance(s->name, candidate);
  bool better = d < s->dist || (d == s->dist && s->best && strcmp(candidate, s->best) < 0); /* ties: any order gives one answer */
  if (better && (size_t)d < strlen(candidate)) {
    s->dist = d;
    s->best = candidate;
  }
}
