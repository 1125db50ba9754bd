/* parser.y - the lemon grammar of tri, ordered like the language reference.
 *
 * Each rule builds AST nodes in the module's arena; the parse state travels in
 * %extra_context, so the generated parser has no global state. Syntax errors are
 * reported once at the offending token and recovered from at the next ';' or '}', so
 * one mistake yields one error.
 */

%name fe_Parse
%token_prefix TK_
%extra_context { fe_Parser *ps }
%token_type { fe_Token * }
%default_type { fe_Node * }
%start_symbol module

%include {
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "frontend/parse_internal.h"
/* Prototypes for the template's other entry points, which tric does not call. */
void fe_ParseInit(void *p, fe_Parser *ps);
void fe_ParseFinalize(void *p);
int fe_ParseFallback(int token);
}

/* Tokens point into the token array and own nothing. */
%token_destructor { (void)ps; (void)$$; }

%syntax_error {
  (void)yymajor;
  fe_parser_syntax_error(ps, TOKEN);
}

%parse_failure { ps->failed = 1; }
/* The stack grows on the heap (0: no fixed size), so nesting is bounded by the driver's
 * bracket limit and fe_nested's depth limit, which report where it is crossed; overflow
 * means the heap ran out. */
%stack_size 0
%stack_overflow { fe_parser_overflow(ps); }

/* ================================================================ tokens */

%token IMPORT CONST FN EXPORT LET RETURN TRUE FALSE DTYPE IDENT INT FLOAT
       LPAREN RPAREN LBRACKET RBRACKET LBRACE RBRACE COMMA SEMI COLON DOT ELLIPSIS
       ARROW ASSIGN OROR ANDAND EQ NE LT LE GT GE PLUS MINUS STAR SLASH PERCENT AT
       POW NOT LEXERROR.

/* ================================================================ precedence
 * From loose to tight, as in the reference: || ; && ; comparisons (non-associative);
 * + - ; * / % @ ; unary - ! ; ** (right-associative); postfix call, slice, member. */
%left OROR.
%left ANDAND.
%nonassoc EQ NE LT LE GT GE.
%left PLUS MINUS.
%left STAR SLASH PERCENT AT.
%right NOT.
%right POW.
%left LPAREN LBRACKET DOT.

/* ================================================================ module */

module ::= decls.

decls ::= .
decls ::= decls decl(D). { fe_parser_add_decl(ps, D); }

%type decl { fe_Node * }
decl(D) ::= IMPORT(K) dotted(P) SEMI(E).
  { D = fe_mk(ps, FE_IMPORT, K->span, E->span); D->name = P.text; }
decl(D) ::= CONST(K) IDENT(N) ASSIGN expr(V) SEMI(E).
  { D = fe_mk(ps, FE_CONST, K->span, E->span); D->name = N->text; D->b = V; }
decl(D) ::= CONST(K) IDENT(N) COLON type(T) ASSIGN expr(V) SEMI(E).
  { D = fe_mk(ps, FE_CONST, K->span, E->span); D->name = N->text; D->a = T; D->b = V; }
decl(D) ::= fnhead(H) LBRACE stmts(B) RBRACE(E).
  { D = H; D->c = B.head; D->span.hi = E->span.hi; }
decl(D) ::= error SEMI. { D = NULL; }
decl(D) ::= error RBRACE. { D = NULL; }

%type dotted { fe_Dotted }
dotted(P) ::= IDENT(N). { P.text = N->text; }
dotted(P) ::= dotted(Q) DOT IDENT(N). { P.text = fe_sprintf(ps->arena, "%s.%s", Q.text, N->text); }

/* ---------------------------------------------------------------- functions */

fnhead(H) ::= FN(K) IDENT(N) LPAREN params(P) RPAREN ARROW results(R).
  { H = fe_mk(ps, FE_FN, K->span, K->span); H->name = N->text; H->ival = N->span.lo; H->a = P.head; H->b = R.head; }
fnhead(H) ::= EXPORT(X) FN IDENT(N) LPAREN params(P) RPAREN ARROW results(R).
  { H = fe_mk(ps, FE_FN, X->span, X->span); H->name = N->text; H->ival = N->span.lo; H->a = P.head; H->b = R.head;
    H->flags |= FE_EXPORT; }

%type params { fe_List }
params(L) ::= . { L.head = L.tail = NULL; }
params(L) ::= paramlist(M). { L = M; }
params(L) ::= paramlist(M) COMMA. { L = M; }
%type paramlist { fe_List }
paramlist(L) ::= param(P). { L.head = L.tail = P; }
paramlist(L) ::= paramlist(M) COMMA param(P). { L = fe_append(M, P); }
param(P) ::= IDENT(N) COLON type(T).
  { P = fe_mk(ps, FE_PARAM, N->span, T->span); P->name = N->text; P->a = T; }

%type results { fe_List }
results(L) ::= type(T). { L.head = L.tail = T; }
results(L) ::= LPAREN typelist(M) RPAREN. { L = M; }
%type typelist { fe_List }
typelist(L) ::= type(T). { L.head = L.tail = T; }
typelist(L) ::= typelist(M) COMMA type(T). { L = fe_append(M, T); }

/* ---------------------------------------------------------------- types */

type(T) ::= DTYPE(D). { T = fe_mk(ps, FE_TYPE, D->span, D->span); T->ival = D->ival; }
type(T) ::= DTYPE(D) LBRACKET dims(L) RBRACKET(E).
  { T = fe_mk(ps, FE_TYPE, D->span, E->span); T->ival = D->ival; T->a = L.head; T->flags |= FE_RANKED; }

%type dims { fe_List }
dims(L) ::= . { L.head = L.tail = NULL; }
dims(L) ::= dimlist(M). { L = M; }
%type dimlist { fe_List }
dimlist(L) ::= dim(D). { L.head = L.tail = D; }
dimlist(L) ::= dimlist(M) COMMA dim(D). { L = fe_append(M, D); }
dim(D) ::= dexpr(E). { D = E; }
dim(D) ::= ELLIPSIS(E). { D = fe_mk(ps, FE_DIM_ELLIPSIS, E->span, E->span); }

/* Size expressions (an extension: N + M, N * 784, N - 1), for result types. */
dexpr(D) ::= INT(I). { D = fe_mk(ps, FE_DIM_INT, I->span, I->span); D->ival = I->ival; }
dexpr(D) ::= IDENT(N). { D = fe_mk(ps, FE_DIM_SYM, N->span, N->span); D->name = N->text; }
dexpr(D) ::= LPAREN dexpr(E) RPAREN. { D = E; }
dexpr(D) ::= dexpr(A) PLUS dexpr(B). { D = fe_binary(ps, FE_OP_ADD, A, B); D->kind = FE_DIM_BIN; }
dexpr(D) ::= dexpr(A) MINUS dexpr(B). { D = fe_binary(ps, FE_OP_SUB, A, B); D->kind = FE_DIM_BIN; }
dexpr(D) ::= dexpr(A) STAR dexpr(B). { D = fe_binary(ps, FE_OP_MUL, A, B); D->kind = FE_DIM_BIN; }
dexpr(D) ::= dexpr(A) SLASH dexpr(B). { D = fe_binary(ps, FE_OP_DIV, A, B); D->kind = FE_DIM_BIN; }

/* ---------------------------------------------------------------- statements */

%type stmts { fe_List }
stmts(L) ::= . { L.head = L.tail = NULL; }
stmts(L) ::= stmts(M) stmt(S). { L = S ? fe_append(M, S) : M; }

stmt(S) ::= LET(K) IDENT(N) ASSIGN expr(V) SEMI(E).
  { S = fe_mk(ps, FE_LET, K->span, E->span); S->name = N->text; S->ival = N->span.lo; S->a = V; }
stmt(S) ::= LET(K) LPAREN namelist(L) RPAREN ASSIGN expr(V) SEMI(E).
  { S = fe_mk(ps, FE_LET_TUPLE, K->span, E->span); S->a = L.head; S->b = V; }
stmt(S) ::= RETURN(K) expr(V) SEMI(E).
  { S = fe_mk(ps, FE_RETURN, K->span, E->span); S->a = V; }
stmt(S) ::= error SEMI. { S = NULL; }

%type namelist { fe_List }
namelist(L) ::= IDENT(N).
  { fe_Node *n = fe_mk(ps, FE_NAME, N->span, N->span); n->name = N->text; L.head = L.tail = n; }
namelist(L) ::= namelist(M) COMMA IDENT(N).
  { fe_Node *n = fe_mk(ps, FE_NAME, N->span, N->span); n->name = N->text; L = fe_append(M, n); }

/* ---------------------------------------------------------------- expressions */

expr(E) ::= expr(A) OROR expr(B). { E = fe_binary(ps, FE_OP_OR, A, B); }
expr(E) ::= expr(A) ANDAND expr(B). { E = fe_binary(ps, FE_OP_AND, A, B); }
expr(E) ::= expr(A) EQ expr(B). { E = fe_binary(ps, FE_OP_EQ, A, B); }
expr(E) ::= expr(A) NE expr(B). { E = fe_binary(ps, FE_OP_NE, A, B); }
expr(E) ::= expr(A) LT expr(B). { E = fe_binary(ps, FE_OP_LT, A, B); }
expr(E) ::= expr(A) LE expr(B). { E = fe_binary(ps, FE_OP_LE, A, B); }
expr(E) ::= expr(A) GT expr(B). { E = fe_binary(ps, FE_OP_GT, A, B); }
expr(E) ::= expr(A) GE expr(B). { E = fe_binary(ps, FE_OP_GE, A, B); }
expr(E) ::= expr(A) PLUS expr(B). { E = fe_binary(ps, FE_OP_ADD, A, B); }
expr(E) ::= expr(A) MINUS expr(B). { E = fe_binary(ps, FE_OP_SUB, A, B); }
expr(E) ::= expr(A) STAR expr(B). { E = fe_binary(ps, FE_OP_MUL, A, B); }
expr(E) ::= expr(A) SLASH expr(B). { E = fe_binary(ps, FE_OP_DIV, A, B); }
expr(E) ::= expr(A) PERCENT expr(B). { E = fe_binary(ps, FE_OP_MOD, A, B); }
expr(E) ::= expr(A) AT expr(B). { E = fe_binary(ps, FE_OP_MATMUL, A, B); }
expr(E) ::= expr(A) POW expr(B). { E = fe_binary(ps, FE_OP_POW, A, B); }
expr(E) ::= MINUS(K) expr(A). [NOT]
  { E = fe_mk(ps, FE_UNARY, K->span, A->span); E->op = FE_OP_NEG; E->a = A; fe_nested(ps, E, A->depth); }
expr(E) ::= NOT(K) expr(A).
  { E = fe_mk(ps, FE_UNARY, K->span, A->span); E->op = FE_OP_NOT; E->a = A; fe_nested(ps, E, A->depth); }
expr(E) ::= postfix(P). { E = P; }

postfix(E) ::= primary(P). { E = P; }
postfix(E) ::= postfix(F) LPAREN args(L) RPAREN(R).
  { E = fe_mk(ps, FE_CALL, F->span, R->span); E->a = F; E->b = L.head; fe_nested(ps, E, fe_list_depth(F, L.head)); }
postfix(E) ::= postfix(F) LBRACKET slices(L) RBRACKET(R).
  { E = fe_mk(ps, FE_INDEX, F->span, R->span); E->a = F; E->b = L.head; fe_nested(ps, E, fe_list_depth(F, L.head)); }
postfix(E) ::= postfix(F) DOT IDENT(N).
  { E = fe_mk(ps, FE_MEMBER, F->span, N->span); E->a = F; E->name = N->text; fe_nested(ps, E, F->depth); }

primary(E) ::= INT(I). { E = fe_mk(ps, FE_INT_LIT, I->span, I->span); E->ival = I->ival; }
primary(E) ::= FLOAT(F). { E = fe_mk(ps, FE_FLOAT_LIT, F->span, F->span); E->fval = F->fval; }
primary(E) ::= TRUE(T). { E = fe_mk(ps, FE_BOOL_LIT, T->span, T->span); E->ival = 1; }
primary(E) ::= FALSE(T). { E = fe_mk(ps, FE_BOOL_LIT, T->span, T->span); E->ival = 0; }
primary(E) ::= IDENT(N). { E = fe_mk(ps, FE_NAME, N->span, N->span); E->name = N->text; }
primary(E) ::= DTYPE(D). { E = fe_mk(ps, FE_DTYPE_LIT, D->span, D->span); E->ival = D->ival; }
primary(E) ::= LPAREN(L) expr(A) RPAREN(R). { E = A; E->span = fe_span(L->span, R->span); }
primary(E) ::= LPAREN(L) expr(A) COMMA exprlist(M) RPAREN(R).
  { E = fe_mk(ps, FE_TUPLE, L->span, R->span); A->next = M.head; E->a = A; fe_nested(ps, E, fe_list_depth(NULL, A)); }
primary(E) ::= LBRACKET(L) RBRACKET(R). { E = fe_mk(ps, FE_LIST, L->span, R->span); }
primary(E) ::= LBRACKET(L) exprlist(M) RBRACKET(R).
  { E = fe_mk(ps, FE_LIST, L->span, R->span); E->a = M.head; fe_nested(ps, E, fe_list_depth(NULL, M.head)); }
primary(E) ::= LBRACKET(L) exprlist(M) COMMA RBRACKET(R).
  { E = fe_mk(ps, FE_LIST, L->span, R->span); E->a = M.head; fe_nested(ps, E, fe_list_depth(NULL, M.head)); }

%type exprlist { fe_List }
exprlist(L) ::= expr(A). { L.head = L.tail = A; }
exprlist(L) ::= exprlist(M) COMMA expr(A). { L = fe_append(M, A); }

/* Call arguments: positional, then keyword (NAME = value); the checker enforces the order. */
%type args { fe_List }
args(L) ::= . { L.head = L.tail = NULL; }
args(L) ::= arglist(M). { L = M; }
args(L) ::= arglist(M) COMMA. { L = M; }
%type arglist { fe_List }
arglist(L) ::= arg(A). { L.head = L.tail = A; }
arglist(L) ::= arglist(M) COMMA arg(A). { L = fe_append(M, A); }
arg(A) ::= expr(V). { A = V; }
arg(A) ::= IDENT(N) ASSIGN expr(V).
  { A = fe_mk(ps, FE_KWARG, N->span, V->span); A->name = N->text; A->a = V; A->depth = V->depth; }

/* Slice items: an index, or start:stop[:step] with any part left out. */
%type slices { fe_List }
slices(L) ::= slice(S). { L.head = L.tail = S; }
slices(L) ::= slices(M) COMMA slice(S). { L = fe_append(M, S); }
slice(S) ::= expr(V). { S = V; }
slice(S) ::= opt(A) COLON(C) opt(B). { S = fe_slice(ps, C, A, B, NULL); }
slice(S) ::= opt(A) COLON(C) opt(B) COLON opt(D). { S = fe_slice(ps, C, A, B, D); }
opt(E) ::= . { E = NULL; }
opt(E) ::= expr(V). { E = V; }
