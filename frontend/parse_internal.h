/* parse_internal.h - private to frontend/: the parse state shared by the lemon grammar
 * and its driver in parse.c, and the small constructors the grammar actions call. */
#ifndef TRIC_PARSE_INTERNAL_H
#define TRIC_PARSE_INTERNAL_H

#include "frontend/frontend.h"

/* The state of one parse, passed to every action through lemon's %extra_context. */
typedef struct fe_Parser {
  fe_Arena *arena;
  fe_Diags *diags;
  fe_Module *module;
  fe_Node *last_decl;
  int failed;
  int nsyntax; /* syntax errors reported */
  const fe_Token *tokens; /* the whole token array, to look behind an error */
  const fe_Token *cur;    /* the token being pushed */
} fe_Parser;

/* A list under construction: first and last node of a next-linked list. */
typedef struct fe_List {
  fe_Node *head, *tail;
} fe_List;

/* A dotted import path under construction. */
typedef struct fe_Dotted {
  const char *text;
} fe_Dotted;

/* A node of kind k spanning from the start of `from` to the end of `to`. */
fe_Node *fe_mk(fe_Parser *ps, fe_Kind k, fe_Span from, fe_Span to);
/* The span covering a and b. */
fe_Span fe_span(fe_Span a, fe_Span b);
/* Appends n to the list l and returns the new list. */
fe_List fe_append(fe_List l, fe_Node *n);
/* Gives n the depth one more than its deepest operand's (child_depth) and reports, once,
 * the node at which the expression grows deeper than FE_MAX_DEPTH. */
void fe_nested(fe_Parser *ps, fe_Node *n, int child_depth);
/* The greatest depth of first and of the next-linked list items (either may be NULL). */
int fe_list_depth(const fe_Node *first, const fe_Node *items);
/* A binary operation node spanning its operands. */
fe_Node *fe_binary(fe_Parser *ps, int op, fe_Node *a, fe_Node *b);
/* A slice item start:stop:step located at the colon (or the parts it has). */
fe_Node *fe_slice(fe_Parser *ps, fe_Token *colon, fe_Node *a, fe_Node *b, fe_Node *c);
/* Appends a top-level declaration (NULL after a recovered error is ignored). */
void fe_parser_add_decl(fe_Parser *ps, fe_Node *d);
/* Reports a syntax error at tok. */
void fe_parser_syntax_error(fe_Parser *ps, fe_Token *tok);
/* Reports nesting too deep for the parser stack. */
void fe_parser_overflow(fe_Parser *ps);

/* The entry points lemon generates (prefix fe_Parse). */
void *fe_ParseAlloc(void *(*alloc)(size_t), fe_Parser *ps);
void fe_ParseFree(void *p, void (*freeproc)(void *));
void fe_Parse(void *p, int major, fe_Token *minor);

#endif
