/* tir_test.c - unit tests of the TIR schema, linked against the typecheck and frontend
 * objects (no LLVM): the op table's rows agree with each other; an internal error
 * (TRIC_BUG) is loud, "tric: internal error: FILE:LINE: message" and an abort, never a
 * silent default; the verifier passes a well-formed function built through the builder
 * and names the first broken node of each bad one, conv2d and pooling nodes included. Prints one "ok"/"FAIL" line per check
 * and exits 1 on any failure. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "typecheck/internal.h"

typedef struct Tally {
  int passed, failed;
} Tally;

/* Records one check. */
static void expect(Tally *t, bool ok, const char *what) {
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (ok) t->passed++;
  else t->failed++;
}

/* Every row's columns agree: reductions and only they have a combine op and an identity,
 * the combine op is a commutative binary elementwise op, leaves take no arguments. */
static void test_table(Tally *t) {
  bool names = true, reductions = true, leaves = true, elementwise = true, attrs = true;
  for (int i = 0; i < TC_NOPS; i++) {
    const tc_OpInfo *o = tc_op_info((tc_Op)i);
    names &= o->name && *o->name && strcmp(tc_op_name((tc_Op)i), o->name) == 0;
    bool red = o->cls == TC_CLASS_REDUCTION;
    reductions &= red == (o->combine != TC_NOPS) && red == (o->identity != TC_ID_NONE);
    if (red) {
      const tc_OpInfo *c = tc_op_info(o->combine);
      reductions &= o->arity == 1 && o->attr == TC_ATTR_REDUCE && c->arity == 2 &&
                    c->cls == TC_CLASS_ELEMENTWISE && (c->flags & TC_F_COMMUTATIVE);
    }
    leaves &= (o->cls == TC_CLASS_LEAF) == (o->arity == 0);
    if (o->cls == TC_CLASS_ELEMENTWISE) elementwise &= o->arity >= 1 && o->attr == TC_ATTR_NONE;
    if (o->flags & TC_F_COMMUTATIVE) elementwise &= o->arity == 2;
    if (o->cls == TC_CLASS_LEAF) attrs &= o->attr != TC_ATTR_NONE;
  }
  expect(t, names, "every op has its name in the table");
  expect(t, reductions, "reductions, and only they, have a commutative binary combine op and an identity");
  expect(t, leaves, "leaves, and only they, take no arguments");
  expect(t, elementwise, "elementwise ops take arguments and no attributes; commutative ops are binary");
  expect(t, attrs, "every leaf has an attribute");
}

/* Runs fn in a child and returns its stderr (static buffer) and how it ended. */
static const char *run_child(void (*fn)(void), int *status) {
  static char buf[4096];
  int p[2];
  if (pipe(p) != 0) abort();
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) abort();
  if (pid == 0) {
    dup2(p[1], 2);
    close(p[0]);
    fn();
    _exit(0); /* not reached when fn reports the bug */
  }
  close(p[1]);
  size_t len = 0;
  ssize_t n;
  while (len < sizeof buf - 1 && (n = read(p[0], buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)n;
  buf[len] = 0;
  close(p[0]);
  waitpid(pid, status, 0);
  return buf;
}

static void ask_bad_op(void) { (void)tc_op_info(TC_NOPS); }

/* A case the code does not know (here an op number past the table) aborts with the
 * located message. */
static void test_bug_is_loud(Tally *t) {
  int st = 0;
  const char *err = run_child(ask_bad_op, &st);
  char want[64];
  snprintf(want, sizeof want, "op number %d is not a TIR op", (int)TC_NOPS);
  expect(t, WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "TRIC_BUG aborts");
  expect(t, strncmp(err, "tric: internal error: typecheck/tir.c:", 38) == 0 && strstr(err, want),
         "TRIC_BUG prints 'tric: internal error: FILE:LINE: message'");
}

/* A function of one parameter x: f32[2, 3] whose nodes are what b holds, returning the
 * last. */
typedef struct Fn {
  fe_Arena a;
  tc_Builder b;
  tc_Param param;
  tc_Func f;
  tc_Node *x;
  const tc_Poly *d2, *d3, *d1;
} Fn;

static void fn_begin(Fn *F) {
  memset(F, 0, sizeof *F);
  F->b.arena = &F->a;
  F->d1 = tc_poly_const(&F->a, 1);
  F->d2 = tc_poly_const(&F->a, 2);
  F->d3 = tc_poly_const(&F->a, 3);
  const tc_Poly *dims[2] = {F->d2, F->d3};
  F->x = tc_build_param(&F->b, 0, FE_F32, 2, dims, (fe_Span){0});
  F->param = (tc_Param){"x", F->x};
}

/* Verifies F; true when the answer is as expected: valid, or invalid with a message
 * holding want (and naming the node as "%N = op"). */
static bool fn_verify(Fn *F, const char *want, char *msg, size_t cap) {
  tc_Func *f = &F->f;
  f->name = "f";
  f->nparams = 1;
  f->params = &F->param;
  f->nnodes = F->b.nodes.n;
  f->nodes = (tc_Node **)F->b.nodes.items;
  f->nresults = 1;
  f->results = &f->nodes[f->nnodes - 1];
  bool ok = tc_verify(f, msg, cap);
  fe_arena_free(&F->a);
  if (!want) return ok;
  return !ok && strstr(msg, want) && msg[0] == '%';
}

static void test_verifier(Tally *t) {
  Fn F;
  char msg[512], what[700];
  fe_Span s = {0};
  /* well formed: softmax-like x - max(x, axis 1, keepdims), a transpose, a comparison */
  fn_begin(&F);
  tc_Node *m = tc_build_reduce(&F.b, TC_RMAX, F.x, 1ll << 1, true, s);
  tc_Node *sub_args[2] = {F.x, m};
  const tc_Poly *d23[2] = {F.d2, F.d3}, *d32[2] = {F.d3, F.d2};
  tc_Node *sub = tc_build_elementwise(&F.b, TC_SUB, FE_F32, 2, d23, 2, sub_args, s);
  int64_t perm[2] = {1, 0};
  tc_Node *tr = tc_build_transpose(&F.b, sub, perm, s);
  tc_Node *zero = tc_build_const(&F.b, FE_F32, 0, 0, s);
  tc_Node *gt_args[2] = {tr, zero};
  tc_build_elementwise(&F.b, TC_GT, FE_BOOL, 2, d32, 2, gt_args, s);
  bool ok = fn_verify(&F, NULL, msg, sizeof msg);
  snprintf(what, sizeof what, "verifier passes a well-formed function (%s)", ok ? "no message" : msg);
  expect(t, ok, what);

  struct {
    const char *want, *what;
  } cases[] = {
      {"axes mask 0x20 outside the argument's rank 2", "a reduction over an axis past the rank"},
      {"perm is not a permutation of 2 axes", "a transpose by [0, 0]"},
      {"arguments and result are not all f32", "an add of f32 and i32"},
      {"argument 1 (rank 2) does not broadcast to the result", "an add of [2, 3] and [3, 2]"},
      {"3 arguments, the op takes 2", "an add of three arguments"},
      {"a comparison gives bool, not f32", "a comparison of dtype f32"},
      {"dim 0 does not follow from argument dim 0", "a reduction whose dims do not follow from its argument"},
      {"not parameter #1 of the function", "a parameter with the wrong index"},
  };
  for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
    fn_begin(&F);
    const tc_Poly *e23[2] = {F.d2, F.d3}, *d32b[2] = {F.d3, F.d2}; /* this function's arena */
    switch (k) {
    case 0: tc_build_reduce(&F.b, TC_RSUM, F.x, 1ll << 5, false, s); break;
    case 1: {
      int64_t p[2] = {0, 0};
      tc_build_transpose(&F.b, F.x, p, s);
      break;
    }
    case 2: {
      tc_Node *y = tc_build_cast(&F.b, F.x, FE_I32, s);
      tc_Node *args[2] = {F.x, y};
      tc_build_node(&F.b, TC_ADD, FE_F32, 2, e23, 2, args, s);
      break;
    }
    case 3: {
      tc_Node *y = tc_build_transpose(&F.b, F.x, perm, s);
      tc_Node *args[2] = {F.x, y};
      tc_build_node(&F.b, TC_ADD, FE_F32, 2, e23, 2, args, s);
      break;
    }
    case 4: {
      tc_Node *args[3] = {F.x, F.x, F.x};
      tc_build_node(&F.b, TC_ADD, FE_F32, 2, e23, 3, args, s);
      break;
    }
    case 5: {
      tc_Node *args[2] = {F.x, F.x};
      tc_build_node(&F.b, TC_EQ, FE_F32, 2, e23, 2, args, s);
      break;
    }
    case 6: {
      tc_Node *r = tc_build_reduce(&F.b, TC_RSUM, F.x, 1ll << 1, false, s);
      r->dims[0] = d32b[0]; /* 3, where the kept axis has 2 */
      break;
    }
    case 7: {
      const tc_Poly *dims[2] = {F.d2, F.d3};
      tc_Node *y = tc_build_param(&F.b, 1, FE_F32, 2, dims, s);
      tc_Node *args[2] = {F.x, y};
      tc_build_node(&F.b, TC_ADD, FE_F32, 2, e23, 2, args, s);
      break;
    }
    }
    ok = fn_verify(&F, cases[k].want, msg, sizeof msg);
    snprintf(what, sizeof what, "verifier rejects %s: '%s'", cases[k].what, msg);
    expect(t, ok, what);
  }
}

/* A function of x (f32[N, 4, H, 8] when sym, else f32[2, 4, 9, 8]) and w (f32[6, 2, 3, 2]),
 * its nodes those made after neural_begin, returning the last; the size symbols N, H and,
 * when sym, the floor-division symbol floor((H - 2)/2) that a 2 x 2 window of stride 2
 * over H makes. */
typedef struct NFn {
  fe_Arena a;
  tc_Builder b;
  tc_Param params[2];
  tc_Sym syms[3];
  tc_Func f;
  tc_Node *x, *w;
  const tc_Poly *hq; /* floor((H - 2)/2) + 1 */
} NFn;

/* The constant size v in F's arena. */
static const tc_Poly *pc(NFn *F, int64_t v) { return tc_poly_const(&F->a, v); }

/* Starts F with its parameters x and w (symbolic x when sym) and its size symbols. */
static void neural_begin(NFn *F, bool sym) {
  memset(F, 0, sizeof *F);
  F->b.arena = &F->a;
  const tc_Poly *N = tc_poly_sym(&F->a, 0), *H = tc_poly_sym(&F->a, 1);
  F->syms[0] = (tc_Sym){"N", TC_SYM_PARAM, NULL, NULL};
  F->syms[1] = (tc_Sym){"H", TC_SYM_PARAM, NULL, NULL};
  F->syms[2] = (tc_Sym){"floor((H - 2)/2)", TC_SYM_FLOORDIV, tc_poly_add(&F->a, H, pc(F, -2)), pc(F, 2)};
  F->hq = tc_poly_add(&F->a, tc_poly_sym(&F->a, 2), pc(F, 1));
  const tc_Poly *xd[4] = {sym ? N : pc(F, 2), pc(F, 4), sym ? H : pc(F, 9), pc(F, 8)};
  const tc_Poly *wd[4] = {pc(F, 6), pc(F, 2), pc(F, 3), pc(F, 2)};
  F->x = tc_build_param(&F->b, 0, FE_F32, 4, xd, (fe_Span){0});
  F->w = tc_build_param(&F->b, 1, FE_F32, 4, wd, (fe_Span){0});
  F->params[0] = (tc_Param){"x", F->x};
  F->params[1] = (tc_Param){"w", F->w};
}

/* As fn_verify, for an NFn. */
static bool neural_verify(NFn *F, const char *want, char *msg, size_t cap) {
  tc_Func *f = &F->f;
  f->name = "f";
  f->nparams = 2;
  f->params = F->params;
  f->nsyms = 3;
  f->nparam_syms = 2;
  f->syms = F->syms;
  f->nnodes = F->b.nodes.n;
  f->nodes = (tc_Node **)F->b.nodes.items;
  f->nresults = 1;
  f->results = &f->nodes[f->nnodes - 1];
  bool ok = tc_verify(f, msg, cap);
  fe_arena_free(&F->a);
  if (!want) return ok;
  return !ok && strstr(msg, want) && msg[0] == '%';
}

/* conv2d and the poolings built through the builder: their attributes land in their
 * structs, the verifier passes well-formed nodes (constant and symbolic output sizes) and
 * names each broken one. */
static void test_neural(Tally *t) {
  NFn F;
  char msg[512], what[700];
  fe_Span s = {0};
  const int64_t st[2] = {2, 1}, pad[2] = {0, 1}, dil[2] = {1, 3}, k3[2] = {3, 3}, s2[2] = {2, 2}, p1[2] = {1, 1};
  const int64_t k32[2] = {3, 2}, s23[2] = {2, 3}, k2[2] = {2, 2}, p0[2] = {0, 0}, p2[2] = {2, 2};

  neural_begin(&F, false);
  const tc_Poly *cd[4] = {pc(&F, 2), pc(&F, 6), pc(&F, 4), pc(&F, 7)};
  tc_Node *cv = tc_build_conv2d(&F.b, F.x, F.w, st, pad, dil, 2, cd, s);
  bool attrs = cv->op == TC_CONV2D && cv->nargs == 2 && cv->conv.stride[0] == 2 && cv->conv.pad[1] == 1 &&
               cv->conv.dil[1] == 3 && cv->conv.groups == 2;
  const tc_Poly *md[4] = {pc(&F, 2), pc(&F, 4), pc(&F, 5), pc(&F, 4)};
  tc_Node *mp = tc_build_pool2d(&F.b, TC_MAXPOOL2D, F.x, k3, s2, p1, md, s);
  attrs &= mp->op == TC_MAXPOOL2D && mp->pool.kernel[0] == 3 && mp->pool.stride[1] == 2 && mp->pool.pad[0] == 1;
  const tc_Poly *ad[4] = {pc(&F, 2), pc(&F, 4), pc(&F, 5), pc(&F, 3)};
  tc_Node *ap = tc_build_pool2d(&F.b, TC_AVGPOOL2D, F.x, k32, s23, p1, ad, s);
  attrs &= ap->pool.kernel[1] == 2 && ap->pool.stride[1] == 3;
  expect(t, attrs, "the builder fills conv2d's and pooling's attribute structs");
  bool ok = neural_verify(&F, NULL, msg, sizeof msg);
  snprintf(what, sizeof what, "verifier passes conv2d, maxpool2d and avgpool2d of constant shapes (%s)", ok ? "no message" : msg);
  expect(t, ok, what);

  neural_begin(&F, true);
  const tc_Poly *sd[4] = {tc_poly_sym(&F.a, 0), pc(&F, 4), F.hq, pc(&F, 4)};
  tc_build_pool2d(&F.b, TC_MAXPOOL2D, F.x, k2, s2, p0, sd, s);
  ok = neural_verify(&F, NULL, msg, sizeof msg);
  snprintf(what, sizeof what, "verifier passes a pooling whose output H is floor((H - 2)/2) + 1 (%s)", ok ? "no message" : msg);
  expect(t, ok, what);

  struct {
    const char *want, *what;
  } cases[] = {
      {"dim 3 is not the output size of its window", "a conv2d of the wrong output width"},
      {"x's 4 channels are not groups * w's input channels (6)", "a conv2d whose groups do not match w"},
      {"kernel 3, stride 2, padding 2 in dim 2", "a pooling padded by more than half its kernel"},
      {"result dims are not [N, C, ...]", "a pooling that changes the channels"},
      {"dim 2 is not the output size of its window", "a symbolic pooling whose H is not its floor-division symbol"},
      {"dim 2 is not the output size of its window", "a pooling whose window is larger than the input"},
      {"arguments and result are not all f32", "a conv2d of f32 x and f16 w"},
  };
  for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
    neural_begin(&F, k == 4);
    switch (k) {
    case 0: {
      const tc_Poly *d[4] = {pc(&F, 2), pc(&F, 6), pc(&F, 4), pc(&F, 8)};
      tc_build_conv2d(&F.b, F.x, F.w, st, pad, dil, 2, d, s);
      break;
    }
    case 1: {
      const tc_Poly *d[4] = {pc(&F, 2), pc(&F, 6), pc(&F, 4), pc(&F, 7)};
      tc_build_conv2d(&F.b, F.x, F.w, st, pad, dil, 3, d, s);
      break;
    }
    case 2: {
      const tc_Poly *d[4] = {pc(&F, 2), pc(&F, 4), pc(&F, 6), pc(&F, 5)};
      tc_build_pool2d(&F.b, TC_AVGPOOL2D, F.x, k3, s2, p2, d, s);
      break;
    }
    case 3: {
      const tc_Poly *d[4] = {pc(&F, 2), pc(&F, 3), pc(&F, 5), pc(&F, 4)};
      tc_build_pool2d(&F.b, TC_MAXPOOL2D, F.x, k3, s2, p1, d, s);
      break;
    }
    case 4: { /* floor((H - 2)/2) + 1 is a 2-window's; a 3-window of stride 2 needs floor((H - 3)/2) + 1 */
      const tc_Poly *d[4] = {tc_poly_sym(&F.a, 0), pc(&F, 4), F.hq, pc(&F, 3)};
      tc_build_pool2d(&F.b, TC_MAXPOOL2D, F.x, k3, s2, p0, d, s);
      break;
    }
    case 5: { /* kernel 11 over 9 rows: no output size fits */
      const int64_t kb[2] = {11, 1}, one[2] = {1, 1};
      const tc_Poly *d[4] = {pc(&F, 2), pc(&F, 4), pc(&F, 0), pc(&F, 8)};
      tc_build_pool2d(&F.b, TC_MAXPOOL2D, F.x, kb, one, p0, d, s);
      break;
    }
    case 6: {
      tc_Node *w16 = tc_build_cast(&F.b, F.w, FE_F16, s);
      const tc_Poly *d[4] = {pc(&F, 2), pc(&F, 6), pc(&F, 4), pc(&F, 7)};
      tc_build_conv2d(&F.b, F.x, w16, st, pad, dil, 2, d, s);
      break;
    }
    }
    ok = neural_verify(&F, cases[k].want, msg, sizeof msg);
    snprintf(what, sizeof what, "verifier rejects %s: '%s'", cases[k].what, msg);
    expect(t, ok, what);
  }
}

int main(void) {
  Tally t = {0};
  test_table(&t);
  test_bug_is_loud(&t);
  test_verifier(&t);
  test_neural(&t);
  printf("tir_test: %d passed, %d failed\n", t.passed, t.failed);
  return t.failed ? 1 : 0;
}
