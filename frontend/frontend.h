/* frontend.h - the contract of tric's lowest layer.
 *
 * The frontend turns the bytes of one .tri file into tokens and an AST. It also owns
 * the two services every later layer uses: the arena (one per compile, freed in one go)
 * and diagnostics (errors are values appended to a list; only cmd/ decides the exit
 * status). Nothing here has global or static mutable state: two modules can be lexed
 * and parsed at once on two threads.
 */
#ifndef TRIC_FRONTEND_H
#define TRIC_FRONTEND_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---------------------------------------------------------------- internal errors */

/* Reports a bug in tric itself (a case the code does not handle, a broken invariant) as
 * "tric: internal error: FILE:LINE: message" on stderr and aborts. Never for bad input:
 * that is a located diagnostic. */
_Noreturn void fe_bug(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define TRIC_BUG(...) fe_bug(__FILE__, __LINE__, __VA_ARGS__)
/* Says "tric: out of memory" (flushed: the driver buffers stderr) and aborts. */
_Noreturn void fe_oom(void);

/* ---------------------------------------------------------------- arena */

typedef struct fe_Chunk fe_Chunk;
typedef struct fe_Arena {
  fe_Chunk *head; /* newest chunk first */
} fe_Arena;

/* Returns zeroed, 16-byte aligned memory that lives until fe_arena_free. Aborts when
 * the system is out of memory (an internal failure, not a user error). */
void *fe_alloc(fe_Arena *a, size_t n);
/* Copies n bytes of s into the arena and NUL-terminates them. */
char *fe_strndup(fe_Arena *a, const char *s, size_t n);
/* printf into the arena. */
char *fe_sprintf(fe_Arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *fe_vsprintf(fe_Arena *a, const char *fmt, va_list ap);
/* Frees every allocation of the arena at once. */
void fe_arena_free(fe_Arena *a);

/* A growable array of pointers in an arena. */
typedef struct fe_Vec {
  void **items;
  int n, cap;
} fe_Vec;
/* Appends p to v, growing it inside arena a. */
void fe_vec_push(fe_Arena *a, fe_Vec *v, void *p);

/* ---------------------------------------------------------------- sources */

/* One source file held in memory. text is NUL-terminated (len excludes the NUL). */
typedef struct fe_Source {
  const char *path; /* as given or resolved, used in diagnostics */
  const char *text;
  uint32_t len;
  uint32_t *line_starts; /* offsets of line starts, nlines entries */
  uint32_t nlines;
} fe_Source;

/* Builds a source over text (which must stay alive, NUL-terminated) in arena a. */
fe_Source *fe_source_new(fe_Arena *a, const char *path, const char *text, uint32_t len);
/* Converts an offset into a 1-based line and column (bytes). */
void fe_source_linecol(const fe_Source *s, uint32_t off, int *line, int *col);

/* A range of bytes [lo, hi) of one source. */
typedef struct fe_Span {
  const fe_Source *src;
  uint32_t lo, hi;
} fe_Span;

/* ---------------------------------------------------------------- diagnostics */

typedef enum { FE_ERROR, FE_WARNING, FE_NOTE } fe_Severity;

typedef struct fe_Diag fe_Diag;
struct fe_Diag {
  fe_Severity sev;
  fe_Span span;
  const char *msg;
  fe_Diag *notes; /* notes attached to this diagnostic, in order */
  fe_Diag *next;
};

/* What warnings become: reported (the default), errors (-Werror) or nothing (-w). */
typedef enum { FE_WARN_REPORT, FE_WARN_ERROR, FE_WARN_NONE } fe_WarnMode;

/* The diagnostics of one compile. */
typedef struct fe_Diags {
  fe_Arena *arena;
  fe_Diag *first, *last;
  int nerrors;      /* warnings made errors by FE_WARN_ERROR included */
  int nwerrors;     /* those warnings */
  fe_WarnMode warn; /* set by the driver before the compile */
} fe_Diags;

/* Appends an error at span; returns it so that notes can be attached. Identical errors
 * (same span and message) are reported once. */
fe_Diag *fe_error(fe_Diags *d, fe_Span span, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends a warning at span: an error ending in "[-Werror]" under FE_WARN_ERROR, nothing
 * (NULL) under FE_WARN_NONE. */
fe_Diag *fe_warning(fe_Diags *d, fe_Span span, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Attaches a note to diag (which may be NULL: then the note is dropped). */
void fe_note(fe_Diags *d, fe_Diag *diag, fe_Span span, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prints every diagnostic in order as FILE:LINE:COL: severity: message, the source line
 * and a caret/tilde span. colour adds ANSI colours. */
void fe_diags_print(const fe_Diags *d, FILE *out, bool colour);
/* Prints the diagnostics from `from` (an element of d's list, or NULL for none) on. */
void fe_diags_print_from(const fe_Diags *d, const fe_Diag *from, FILE *out, bool colour);

/* ---------------------------------------------------------------- tokens */

/* Token kinds are lemon's terminal codes (TK_*), generated into build/frontend/parser.h. */
typedef struct fe_Token {
  int kind;
  fe_Span span;
  const char *text; /* identifier spelling, arena-owned; NULL for punctuation */
  int64_t ival;     /* integer literal value, or dtype code for TK_DTYPE */
  double fval;      /* float literal value */
} fe_Token;

/* Lexes src into a malloc'd array of tokens (the caller frees it; identifier texts live
 * in arena a) ending with an end-of-input token (kind 0). Lexical errors go to diags;
 * the result still covers the whole file. */
fe_Token *fe_lex(fe_Arena *a, fe_Diags *d, const fe_Source *src, int *ntokens);
/* The printable name of a token kind ("IDENT", "'+'"). */
const char *fe_token_name(int kind);

/* ---------------------------------------------------------------- dtypes */

#define FE_DTYPES(X)                                                                         \
  X(F32, "f32", "float", 4)                                                                  \
  X(F64, "f64", "double", 8)                                                                 \
  X(F16, "f16", "uint16_t", 2)                                                               \
  X(BF16, "bf16", "uint16_t", 2)                                                             \
  X(I8, "i8", "int8_t", 1)                                                                   \
  X(U8, "u8", "uint8_t", 1)                                                                  \
  X(I32, "i32", "int32_t", 4)                                                                \
  X(I64, "i64", "int64_t", 8)                                                                \
  X(BOOL, "bool", "uint8_t", 1)

typedef enum {
#define X(id, name, ctype, size) FE_##id,
  FE_DTYPES(X)
#undef X
      FE_NDTYPES
} fe_DType;

/* "f32" for FE_F32 and so on. */
const char *fe_dtype_name(int dt);
/* The C type of the dtype in generated headers. */
const char *fe_dtype_ctype(int dt);
/* Size in bytes of one element. */
int fe_dtype_size(int dt);
/* Looks a dtype up by name; -1 when name is not a dtype. */
int fe_dtype_lookup(const char *name, size_t len);
/* The dtype another language's type name (float, int64_t, float16) stands for, or -1. */
int fe_dtype_alias(const char *name);
bool fe_dtype_is_float(int dt); /* f32 f64 f16 bf16 */
bool fe_dtype_is_int(int dt);   /* i8 u8 i32 i64 */

/* ---------------------------------------------------------------- C names */

/* Is name unusable as an identifier in a generated header (a C or C++ keyword, a type or
 * macro of <stdint.h>, the header's own macros, or a name C reserves)? */
bool fe_c_reserved(const char *name);
/* Is name a function of the C library, libm or common POSIX (or main), which an exported
 * function of that name would replace in every program it is linked into? */
bool fe_c_library_function(const char *name);

/* ---------------------------------------------------------------- did you mean */

/* The Damerau-Levenshtein distance (optimal string alignment) between a and b. */
int fe_edit_distance(const char *a, const char *b);

/* The candidate closest to a misspelt name, within a distance that grows with its length. */
typedef struct fe_Suggest {
  const char *name; /* the name that was not found */
  const char *best; /* the closest candidate so far, or NULL */
  int dist;         /* its distance (or the first one not accepted) */
} fe_Suggest;
/* Starts a search for names close to name. */
void fe_suggest_init(fe_Suggest *s, const char *name);
/* Considers candidate (NULL is ignored); of equally close ones the first in strcmp order wins. */
void fe_suggest_add(fe_Suggest *s, const char *candidate);

/* ---------------------------------------------------------------- AST */

#define FE_AST_KINDS(X)                                                                      \
  X(IMPORT)      /* name: dotted path */                                                     \
  X(CONST)       /* name, a: type or NULL, b: value */                                       \
  X(FN)          /* name (ival: its offset), flags: FE_EXPORT, a: params, b: results, c: body */ \
  X(PARAM)       /* name, a: type */                                                         \
  X(TYPE)        /* ival: dtype, a: dims (NULL and !FE_RANKED for a scalar) */               \
  X(DIM_INT)     /* ival */                                                                  \
  X(DIM_SYM)     /* name */                                                                  \
  X(DIM_ELLIPSIS)                                                                            \
  X(DIM_BIN)     /* op (+ - *), a, b: a size expression in a result type */                  \
  X(LET)         /* name (ival: its offset), a: value */                                     \
  X(LET_TUPLE)   /* a: NAME list, b: value */                                                \
  X(RETURN)      /* a: value */                                                              \
  X(INT_LIT)     /* ival */                                                                  \
  X(FLOAT_LIT)   /* fval */                                                                  \
  X(BOOL_LIT)    /* ival */                                                                  \
  X(NAME)        /* name */                                                                  \
  X(DTYPE_LIT)   /* ival: dtype */                                                           \
  X(MEMBER)      /* a: object, name */                                                       \
  X(UNARY)       /* op, a */                                                                 \
  X(BINARY)      /* op, a, b */                                                              \
  X(CALL)        /* a: callee, b: arguments (KWARG for keyword ones) */                      \
  X(KWARG)       /* name, a: value */                                                        \
  X(INDEX)       /* a: object, b: SLICE or expression items */                               \
  X(SLICE)       /* a: start, b: stop, c: step; each may be NULL */                          \
  X(LIST)        /* a: items */                                                              \
  X(TUPLE)       /* a: items */

typedef enum {
#define X(k) FE_##k,
  FE_AST_KINDS(X)
#undef X
      FE_NKINDS
} fe_Kind;

#define FE_OPS(X)                                                                            \
  X(ADD, "+") X(SUB, "-") X(MUL, "*") X(DIV, "/") X(MOD, "%") X(MATMUL, "@") X(POW, "**")    \
  X(EQ, "==") X(NE, "!=") X(LT, "<") X(LE, "<=") X(GT, ">") X(GE, ">=")                     \
  X(AND, "&&") X(OR, "||") X(NEG, "-") X(NOT, "!")

typedef enum {
#define X(id, s) FE_OP_##id,
  FE_OPS(X)
#undef X
      FE_NOPS
} fe_Op;

enum { FE_EXPORT = 1, FE_RANKED = 2 };

/* The deepest nesting of operations and calls an expression may have: checking and code
 * generation recurse over expressions, and this keeps them within any thread's stack.
 * Brackets that build no node (parentheses around an expression) count only against
 * FE_MAX_NEST, the brackets open at once, which bounds the parser's own stack. */
enum { FE_MAX_DEPTH = 1000, FE_MAX_NEST = 4096 };

typedef struct fe_Node fe_Node;
struct fe_Node {
  fe_Kind kind;
  int op;    /* fe_Op for UNARY and BINARY */
  int flags; /* FE_EXPORT, FE_RANKED */
  int depth; /* operator nesting of an expression (bounded, so later passes may recurse) */
  fe_Span span;
  const char *name;
  int64_t ival;
  double fval;
  fe_Node *a, *b, *c;
  fe_Node *next; /* next item of the list this node is in */
};

/* Name of an AST kind ("BINARY"). */
const char *fe_kind_name(fe_Kind k);
/* Spelling of an operator ("+"). */
const char *fe_op_name(int op);
/* Number of nodes in a next-linked list. */
int fe_list_len(const fe_Node *n);

/* One parsed module. */
typedef struct fe_Module {
  const fe_Source *src;
  fe_Node *decls; /* next-linked */
} fe_Module;

/* Lexes and parses src. Syntax errors go to diags (recovering at ';' and '}'); returns
 * the module (possibly partial) or NULL if nothing could be built. */
fe_Module *fe_parse(fe_Arena *a, fe_Diags *d, const fe_Source *src);
/* Writes one line per token: LINE:COL KIND 'text'. */
void fe_dump_tokens(FILE *out, const fe_Token *toks, int n);
/* Writes the AST as an indented tree. */
void fe_dump_ast(FILE *out, const fe_Module *m);

#endif
