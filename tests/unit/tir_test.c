/* tir_test.c - unit tests of the TIR schema, linked against the typecheck and frontend
 * objects (no LLVM): the op table's rows agree with each other, and an internal error
 * (TRIC_BUG) is loud, "tric: internal error: FILE:LINE: message" and an abort, never a
 * silent default. Prints one "ok"/"FAIL" line per check and exits 1 on any failure. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "typecheck/typecheck.h"

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

int main(void) {
  Tally t = {0};
  test_table(&t);
  test_bug_is_loud(&t);
  printf("tir_test: %d passed, %d failed\n", t.passed, t.failed);
  return t.failed ? 1 : 0;
}
