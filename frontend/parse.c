/* parse.c - drives the lemon parser over the token array and prints the debug dumps.
 *
 * The lexer runs first over the whole file; the tokens are then pushed one by one into
 * the generated push parser. Only the first syntax error of a statement is reported:
 * lemon's recovery discards tokens up to the next ';' or '}' and stays quiet until three
 * tokens have been shifted again.
 */
#include <stdlib.h>
#include <string.h>

#include "frontend/parse_internal.h"
#include "frontend/parser.h"

fe_Span fe_span(fe_Span a, fe_Span b) {
  fe_Span s = a;
  if (b.hi > s.hi) s.hi = b.hi;
  if (b.lo < s.lo) s.lo = b.lo;
  return s;
}

fe_Node *fe_mk(fe_Parser *ps, fe_Kind k, fe_Span from, fe_Span to) {
  fe_Node *n = fe_alloc(ps->arena, sizeof *n);
  n->kind = k;
  n->span = fe_span(from, to);
  return n;
}

fe_List fe_append(fe_List l, fe_Node *n) {
  if (!l.head) l.head = n;
  else l.tail->next = n;
  l.tail = n;
  return l;
}

void fe_nested(fe_Parser *ps, fe_Node *n, int child_depth) {
  n->depth = child_depth + 1;
  if (n->depth == FE_MAX_DEPTH + 1) { /* reported once, at the node that crosses it */
    fe_error(ps->diags, n->span, "expression nested too deeply: more than %d nested operations and calls (split it with let)",
             FE_MAX_DEPTH);
    ps->failed = 1;
  }
}

int fe_list_depth(const fe_Node *first, const fe_Node *items) {
  int d = first ? first->depth : 0;
  for (const fe_Node *n = items; n; n = n->next)
    if (n->depth > d) d = n->depth;
  return d;
}

fe_Node *fe_binary(fe_Parser *ps, int op, fe_Node *a, fe_Node *b) {
  fe_Node *n = fe_mk(ps, FE_BINARY, a->span, b->span);
  n->op = op;
  n->a = a;
  n->b = b;
  fe_nested(ps, n, a->depth > b->depth ? a->depth : b->depth);
  return n;
}

fe_Node *fe_slice(fe_Parser *ps, fe_Token *colon, fe_Node *a, fe_Node *b, fe_Node *c) {
  fe_Span s = colon->span;
  if (a) s = fe_span(s, a->span);
  if (b) s = fe_span(s, b->span);
  if (c) s = fe_span(s, c->span);
  fe_Node *n = fe_mk(ps, FE_SLICE, s, s);
  n->a = a;
  n->b = b;
  n->c = c;
  int d = a ? a->depth : 0;
  if (b && b->depth > d) d = b->depth;
  if (c && c->depth > d) d = c->depth;
  fe_nested(ps, n, d);
  return n;
}

void fe_parser_add_decl(fe_Parser *ps, fe_Node *d) {
  if (!d) return;
  if (ps->last_decl) ps->last_decl->next = d;
  else ps->module->decls = d;
  ps->last_decl = d;
}

/* Is the token the first on its line? */
static bool starts_line(const fe_Token *t) {
  const char *text = t->span.src->text;
  for (uint32_t i = t->span.lo; i > 0; i--) {
    char c = text[i - 1];
    if (c == '\n') return true;
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

void fe_parser_syntax_error(fe_Parser *ps, fe_Token *tok) {
  ps->nsyntax++;
  if (tok->kind == TK_LEXERROR) return; /* reported by the lexer */
  const fe_Token *prev = tok > ps->tokens ? tok - 1 : NULL;
  if (prev && tok->kind != 0 && starts_line(tok) && prev->kind != TK_SEMI && prev->kind != TK_LBRACE &&
      prev->kind != TK_RBRACE && prev->kind != TK_COMMA && prev->kind != TK_LPAREN && prev->kind != TK_LBRACKET) {
    fe_Span at = {prev->span.src, prev->span.hi, prev->span.hi + 1};
    fe_error(ps->diags, at, "expected ';' at the end of this line");
    return;
  }
  if (tok->kind == TK_IDENT && prev && (prev->kind == TK_COLON || prev->kind == TK_ARROW)) {
    int dt = fe_dtype_alias(tok->text);
    fe_Suggest sg;
    fe_suggest_init(&sg, tok->text);
    for (int i = 0; i < FE_NDTYPES; i++) fe_suggest_add(&sg, fe_dtype_name(i));
    const char *best = dt >= 0 ? fe_dtype_name(dt) : sg.best;
    if (best) fe_error(ps->diags, tok->span, "unknown type '%s'; did you mean '%s'?", tok->text, best);
    else fe_error(ps->diags, tok->span, "unknown type '%s': a type is a dtype (f32 f64 f16 bf16 i8 u8 i32 i64 bool), with its dimensions in brackets, as f32[N, 784]", tok->text);
    return;
  }
  if (tok->kind == TK_LBRACE && prev && prev->kind == TK_RPAREN) {
    fe_error(ps->diags, tok->span, "expected '-> TYPE' before '{': a function declares its result type, as fn f(x: f32[N]) -> f32[N] { ... }");
    return;
  }
  if (prev && prev->kind == TK_ARROW) {
    fe_error(ps->diags, tok->span, "expected a result type after '->', as f32[N] or (f32[N], f32[N]), found %s",
             tok->kind == TK_IDENT ? fe_sprintf(ps->arena, "'%s'", tok->text) : fe_token_name(tok->kind));
    return;
  }
  if (prev && (tok->kind == TK_LET || tok->kind == TK_RETURN || tok->kind == TK_RBRACE) && prev->kind != TK_SEMI &&
      prev->kind != TK_LBRACE && prev->kind != TK_RBRACE) {
    fe_Span at = {prev->span.src, prev->span.hi, prev->span.hi + 1};
    fe_error(ps->diags, at, "expected ';' before %s", tok->kind == TK_RBRACE ? "'}'" : fe_sprintf(ps->arena, "'%s'", fe_token_name(tok->kind)));
    return;
  }
  if (tok->kind == 0) fe_error(ps->diags, tok->span, "unexpected end of input");
  else if (tok->kind == TK_IDENT)
    fe_error(ps->diags, tok->span, "unexpected identifier '%s'", tok->text);
  else fe_error(ps->diags, tok->span, "unexpected %s", fe_token_name(tok->kind));
}

void fe_parser_overflow(fe_Parser *ps) {
  fe_error(ps->diags, ps->cur->span, "expression nested too deeply: no memory for the parser's stack");
  ps->failed = 1;
}

fe_Module *fe_parse(fe_Arena *a, fe_Diags *d, const fe_Source *src) {
  int n;
  fe_Token *toks = fe_lex(a, d, src, &n);
  fe_Parser ps = {.arena = a, .diags = d, .tokens = toks};
  ps.module = fe_alloc(a, sizeof *ps.module);
  ps.module->src = src;
  void *p = fe_ParseAlloc(malloc, &ps);
  if (!p) fe_oom();
  int open = 0; /* brackets open: bounds the parser's stack, which grows with them */
  for (int i = 0; i < n && !ps.failed; i++) {
    int k = toks[i].kind;
    if (k == TK_LPAREN || k == TK_LBRACKET || k == TK_LBRACE) open++;
    else if ((k == TK_RPAREN || k == TK_RBRACKET || k == TK_RBRACE) && open > 0) open--;
    if (open > FE_MAX_NEST) {
      fe_error(d, toks[i].span, "expression nested too deeply: more than %d brackets open (split it with let)", FE_MAX_NEST);
      break;
    }
    ps.cur = &toks[i];
    fe_Parse(p, k, &toks[i]);
  }
  fe_ParseFree(p, free);
  free(toks); /* the AST keeps spans and texts, never tokens */
  return ps.module;
}

/* ---------------------------------------------------------------- dumps */

void fe_dump_tokens(FILE *out, const fe_Token *toks, int n) {
  for (int i = 0; i < n; i++) {
    const fe_Token *t = &toks[i];
    int line, col;
    fe_source_linecol(t->span.src, t->span.lo, &line, &col);
    fprintf(out, "%d:%d %s", line, col, fe_token_name(t->kind));
    if (t->kind == TK_IDENT) fprintf(out, " %s", t->text);
    else if (t->kind == TK_INT) fprintf(out, " %lld", (long long)t->ival);
    else if (t->kind == TK_FLOAT) fprintf(out, " %.17g", t->fval);
    else if (t->kind == TK_DTYPE) fprintf(out, " %s", fe_dtype_name((int)t->ival));
    fputc('\n', out);
  }
}

static void dump_node(FILE *out, const fe_Node *n, int depth, const char *role);

static void dump_list(FILE *out, const fe_Node *n, int depth, const char *role) {
  for (; n; n = n->next) dump_node(out, n, depth, role);
}

static void dump_node(FILE *out, const fe_Node *n, int depth, const char *role) {
  int line, col;
  fe_source_linecol(n->span.src, n->span.lo, &line, &col);
  fprintf(out, "%*s%s%s%s", depth * 2, "", role ? role : "", role ? ": " : "",
          fe_kind_name(n->kind));
  switch (n->kind) {
  case FE_INT_LIT: case FE_DIM_INT: fprintf(out, " %lld", (long long)n->ival); break;
  case FE_FLOAT_LIT: fprintf(out, " %.17g", n->fval); break;
  case FE_BOOL_LIT: fprintf(out, " %s", n->ival ? "true" : "false"); break;
  case FE_TYPE: case FE_DTYPE_LIT: fprintf(out, " %s", fe_dtype_name((int)n->ival)); break;
  case FE_UNARY: case FE_BINARY: case FE_DIM_BIN: fprintf(out, " %s", fe_op_name(n->op)); break;
  default: break;
  }
  if (n->name) fprintf(out, " %s", n->name);
  if (n->flags & FE_EXPORT) fprintf(out, " export");
  if (n->kind == FE_TYPE && (n->flags & FE_RANKED)) fprintf(out, " ranked");
  fprintf(out, " @%d:%d\n", line, col);
  switch (n->kind) {
  case FE_FN:
    dump_list(out, n->a, depth + 1, "param");
    dump_list(out, n->b, depth + 1, "result");
    dump_list(out, n->c, depth + 1, NULL);
    break;
  case FE_SLICE:
    if (n->a) dump_node(out, n->a, depth + 1, "start");
    if (n->b) dump_node(out, n->b, depth + 1, "stop");
    if (n->c) dump_node(out, n->c, depth + 1, "step");
    break;
  case FE_CALL: case FE_INDEX:
    dump_node(out, n->a, depth + 1, NULL);
    dump_list(out, n->b, depth + 1, NULL);
    break;
  case FE_LET_TUPLE:
    dump_list(out, n->a, depth + 1, NULL);
    dump_node(out, n->b, depth + 1, NULL);
    break;
  case FE_TYPE: case FE_LIST: case FE_TUPLE: dump_list(out, n->a, depth + 1, NULL); break;
  default:
    if (n->a) dump_node(out, n->a, depth + 1, NULL);
    if (n->b) dump_node(out, n->b, depth + 1, NULL);
    if (n->c) dump_node(out, n->c, depth + 1, NULL);
  }
}

void fe_dump_ast(FILE *out, const fe_Module *m) {
  fprintf(out, "MODULE %s\n", m->src->path);
  dump_list(out, m->decls, 1, NULL);
}
