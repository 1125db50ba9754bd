/* lexer.re - the re2c lexer of tri.
 *
 * One function scans a whole file into a token array: comments and white space are
 * skipped, keywords and dtype names are rules of their own, an explicit end-of-input
 * rule stops at the terminating NUL and a default rule reports any other byte once.
 * All state lives in local variables, so lexing is reentrant.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/parse_internal.h"
#include "frontend/parser.h"

static const char *const token_names[] = {
    "end of input",
#define X(name, spelling) spelling,
#include "frontend/tokens.def"
#undef X
};

const char *fe_token_name(int kind) {
  if (kind < 0 || kind >= (int)(sizeof token_names / sizeof *token_names)) return "?";
  return token_names[kind];
}

/* Appends one token to the growing array. */
static void push(fe_Token **toks, int *n, int *cap, fe_Token t) {
  if (*n == *cap) {
    int nc = *cap ? *cap * 2 : 256;
    fe_Token *nt = realloc(*toks, sizeof(fe_Token) * (size_t)nc);
    if (!nt) {
      fputs("tric: out of memory\n", stderr);
      abort();
    }
    *toks = nt;
    *cap = nc;
  }
  (*toks)[(*n)++] = t;
}

fe_Token *fe_lex(fe_Arena *a, fe_Diags *d, const fe_Source *src, int *ntokens) {
  const unsigned char *base = (const unsigned char *)src->text;
  const unsigned char *cur = base, *mar = base, *tok;
  const unsigned char *end = base + src->len;
  fe_Token *toks = NULL;
  int n = 0, cap = 0;
  for (;;) {
    tok = cur;
    fe_Token t = {0};
    t.span.src = src;
    t.span.lo = (uint32_t)(tok - base);
    int kind = -1;
    /*!re2c
      re2c:define:YYCTYPE = "unsigned char";
      re2c:define:YYCURSOR = cur;
      re2c:define:YYMARKER = mar;
      re2c:yyfill:enable = 0;

      digit = [0-9];
      exp = [eE] [+-]? digit+;
      ident = [a-zA-Z_] [a-zA-Z_0-9]*;

      "\x00" {
        if (tok >= end) { kind = 0; goto emit; }
        t.span.hi = t.span.lo + 1;
        fe_error(d, t.span, "unexpected NUL byte in source");
        continue;
      }
      [ \t\r\n]+ { continue; }
      "//" [^\n\x00]* { continue; }
      "/*" {
        const unsigned char *p = cur;
        while (p + 1 < end && !(p[0] == '*' && p[1] == '/')) p++;
        if (p + 1 >= end) {
          t.span.hi = t.span.lo + 2;
          fe_error(d, t.span, "unterminated block comment");
          cur = end;
        } else cur = p + 2;
        continue;
      }

      "import" { kind = TK_IMPORT; goto emit; }
      "const" { kind = TK_CONST; goto emit; }
      "fn" { kind = TK_FN; goto emit; }
      "export" { kind = TK_EXPORT; goto emit; }
      "let" { kind = TK_LET; goto emit; }
      "return" { kind = TK_RETURN; goto emit; }
      "true" { kind = TK_TRUE; goto emit; }
      "false" { kind = TK_FALSE; goto emit; }
      "f32" | "f64" | "f16" | "bf16" | "i8" | "u8" | "i32" | "i64" | "bool" {
        kind = TK_DTYPE;
        t.ival = fe_dtype_lookup((const char *)tok, (size_t)(cur - tok));
        goto emit;
      }
      ident {
        kind = TK_IDENT;
        t.text = fe_strndup(a, (const char *)tok, (size_t)(cur - tok));
        goto emit;
      }
      digit+ {
        kind = TK_INT;
        int64_t v = 0;
        for (const unsigned char *p = tok; p < cur; p++) {
          if (v > (INT64_MAX - (*p - '0')) / 10) {
            t.span.hi = (uint32_t)(cur - base);
            fe_error(d, t.span, "integer literal is too large (the limit is %lld)",
                     (long long)INT64_MAX);
            v = 0;
            break;
          }
          v = v * 10 + (*p - '0');
        }
        t.ival = v;
        goto emit;
      }
      (digit+ "." digit* exp?) | ("." digit+ exp?) | (digit+ exp) {
        kind = TK_FLOAT;
        char buf[128];
        size_t len = (size_t)(cur - tok);
        if (len >= sizeof buf) len = sizeof buf - 1;
        memcpy(buf, tok, len);
        buf[len] = 0;
        t.fval = strtod(buf, NULL);
        if (isinf(t.fval)) {
          t.span.hi = (uint32_t)(cur - base);
          fe_warning(d, t.span, "float literal is too large for any float type (f64's largest is %g): it is inf", DBL_MAX);
        }
        goto emit;
      }

      "(" { kind = TK_LPAREN; goto emit; }
      ")" { kind = TK_RPAREN; goto emit; }
      "[" { kind = TK_LBRACKET; goto emit; }
      "]" { kind = TK_RBRACKET; goto emit; }
      "{" { kind = TK_LBRACE; goto emit; }
      "}" { kind = TK_RBRACE; goto emit; }
      "," { kind = TK_COMMA; goto emit; }
      ";" { kind = TK_SEMI; goto emit; }
      ":" { kind = TK_COLON; goto emit; }
      "..." { kind = TK_ELLIPSIS; goto emit; }
      "." { kind = TK_DOT; goto emit; }
      "->" { kind = TK_ARROW; goto emit; }
      "=" { kind = TK_ASSIGN; goto emit; }
      "||" { kind = TK_OROR; goto emit; }
      "&&" { kind = TK_ANDAND; goto emit; }
      "==" { kind = TK_EQ; goto emit; }
      "!=" { kind = TK_NE; goto emit; }
      "<" { kind = TK_LT; goto emit; }
      "<=" { kind = TK_LE; goto emit; }
      ">" { kind = TK_GT; goto emit; }
      ">=" { kind = TK_GE; goto emit; }
      "+" { kind = TK_PLUS; goto emit; }
      "-" { kind = TK_MINUS; goto emit; }
      "*" { kind = TK_STAR; goto emit; }
      "/" { kind = TK_SLASH; goto emit; }
      "%" { kind = TK_PERCENT; goto emit; }
      "@" { kind = TK_AT; goto emit; }
      "**" { kind = TK_POW; goto emit; }
      "!" { kind = TK_NOT; goto emit; }

      * {
        /* One error for a run of bytes that cannot start a token (a UTF-8 sequence,
           say), not one per byte. */
        const unsigned char *p = cur;
        while (p < end && *p >= 0x80) p++;
        cur = p;
        t.span.hi = (uint32_t)(cur - base);
        if (*tok >= 0x80) fe_error(d, t.span, "non-ASCII character outside a comment");
        else fe_error(d, t.span, "unexpected character '%c'", *tok);
        kind = TK_LEXERROR; /* the parser stays quiet about it and recovers */
        goto emit;
      }
    */
  emit:
    t.kind = kind;
    t.span.hi = (uint32_t)(cur - base);
    if (kind == 0) t.span.hi = t.span.lo = src->len;
    push(&toks, &n, &cap, t);
    if (kind == 0) break;
  }
  *ntokens = n;
  return toks;
}
