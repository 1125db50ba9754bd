/* tir.c - printing of sizes, types and the tensor IR (the --dump=types and --dump=ir
 * formats, which golden tests compare: keep them stable). */
#include <string.h>

#include "typecheck/internal.h"

static const tc_OpInfo op_table[] = {
#define X(id, name, arity, cls, attr, dt, combine, identity, flags)                                   \
  {name, arity, TC_CLASS_##cls, TC_ATTR_##attr, TC_DT_##dt, TC_##combine, TC_ID_##identity, flags},
    TC_OPS(X)
#undef X
};
_Static_assert(sizeof op_table / sizeof op_table[0] == TC_NOPS, "one op_table row per tc_Op");

const tc_OpInfo *tc_op_info(tc_Op op) {
  if ((unsigned)op >= TC_NOPS) TRIC_BUG("op number %d is not a TIR op", (int)op);
  return &op_table[op];
}

const char *tc_op_name(tc_Op op) { return (unsigned)op < TC_NOPS ? op_table[op].name : "(not an op)"; }

const char *tc_type_str(fe_Arena *a, int dtype, int rank, const tc_Poly **dims, const tc_Sym *syms) {
  char buf[1024], p[256];
  size_t len = (size_t)snprintf(buf, sizeof buf, "%s", fe_dtype_name(dtype));
  if (rank) len += (size_t)snprintf(buf + len, sizeof buf - len, "[");
  for (int i = 0; i < rank && len < sizeof buf; i++) {
    tc_poly_str(dims[i], syms, p, sizeof p);
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", p, i + 1 < rank ? ", " : "]");
  }
  return fe_strndup(a, buf, strlen(buf) < sizeof buf ? strlen(buf) : sizeof buf - 1);
}

static void dump_header(FILE *out, const tc_Func *f) {
  fprintf(out, "%s\n", f->signature);
  fprintf(out, "  sizes:");
  for (int i = 0; i < f->nparam_syms; i++) fprintf(out, " %s", f->syms[i].name);
  fputc('\n', out);
  for (int i = f->nparam_syms; i < f->nsyms; i++) fprintf(out, "  derived %s\n", f->syms[i].name);
  char a[256], b[256];
  for (int i = 0; i < f->nchecks; i++) {
    tc_poly_str(f->checks[i].a, f->syms, a, sizeof a);
    if (f->checks[i].kind == TC_CHECK_EQ) {
      tc_poly_str(f->checks[i].b, f->syms, b, sizeof b);
      fprintf(out, "  check %s == %s (%s)\n", a, b, f->checks[i].why);
    } else fprintf(out, "  check %s >= 0 (%s)\n", a, f->checks[i].why);
  }
}

void tc_dump_types(FILE *out, tc_Func *funcs, int n, fe_Arena *a) {
  for (int k = 0; k < n; k++) {
    tc_Func *f = &funcs[k];
    dump_header(out, f);
    for (int i = 0; i < f->nbindings; i++) {
      const tc_Node *t = f->binding_nodes[i];
      fprintf(out, "  %s: %s\n", f->binding_names[i], tc_type_str(a, t->dtype, t->rank, t->dims, f->syms));
    }
    for (int i = 0; i < f->nresults; i++) {
      const tc_Node *t = f->results[i];
      fprintf(out, "  result %d: %s\n", i, tc_type_str(a, t->dtype, t->rank, t->dims, f->syms));
    }
  }
}

void tc_dump_ir(FILE *out, tc_Func *funcs, int n, fe_Arena *a) {
  char p[256];
  for (int k = 0; k < n; k++) {
    tc_Func *f = &funcs[k];
    dump_header(out, f);
    for (int i = 0; i < f->nnodes; i++) {
      const tc_Node *t = f->nodes[i];
      fprintf(out, "  %%%d = %s %s", t->id, tc_op_name(t->op), tc_type_str(a, t->dtype, t->rank, t->dims, f->syms));
      for (int j = 0; j < t->nargs; j++) fprintf(out, "%s%%%d", j ? ", " : " ", t->args[j]->id);
      switch (tc_op_info(t->op)->attr) {
      case TC_ATTR_NONE: break;
      case TC_ATTR_PARAM: fprintf(out, " #%lld", (long long)t->param.index); break;
      case TC_ATTR_CONST:
        if (fe_dtype_is_float(t->dtype)) fprintf(out, " %.17g", t->cst.f);
        else fprintf(out, " %lld", (long long)t->cst.i);
        break;
      case TC_ATTR_DIMVAL: tc_poly_str(t->dimval.size, f->syms, p, sizeof p); fprintf(out, " %s", p); break;
      case TC_ATTR_REDUCE:
        fprintf(out, " axes=0x%llx keepdims=%lld", (unsigned long long)t->reduce.axes_mask,
                (long long)t->reduce.keepdims);
        break;
      case TC_ATTR_CONCAT: fprintf(out, " axis=%lld", (long long)t->concat.axis); break;
      case TC_ATTR_CONV:
        fprintf(out, " stride=[%lld,%lld] padding=[%lld,%lld] dilation=[%lld,%lld] groups=%lld", (long long)t->conv.stride[0],
                (long long)t->conv.stride[1], (long long)t->conv.pad[0], (long long)t->conv.pad[1],
                (long long)t->conv.dil[0], (long long)t->conv.dil[1], (long long)t->conv.groups);
        break;
      case TC_ATTR_POOL:
        fprintf(out, " kernel=[%lld,%lld] stride=[%lld,%lld] padding=[%lld,%lld]", (long long)t->pool.kernel[0],
                (long long)t->pool.kernel[1], (long long)t->pool.stride[0], (long long)t->pool.stride[1],
                (long long)t->pool.pad[0], (long long)t->pool.pad[1]);
        break;
      case TC_ATTR_TRANSPOSE:
        fprintf(out, " perm=[");
        for (int j = 0; j < t->rank; j++) fprintf(out, "%s%lld", j ? "," : "", (long long)t->transpose.perm[j]);
        fprintf(out, "]");
        break;
      case TC_ATTR_SLICE:
        fprintf(out, " [");
        for (int j = 0; j < t->args[0]->rank; j++) {
          tc_poly_str(t->slice.starts[j], f->syms, p, sizeof p);
          fprintf(out, "%s%s%s:%lld", j ? ", " : "", t->slice.drop[j] ? "at " : "", p, (long long)t->slice.steps[j]);
        }
        fprintf(out, "]");
        break;
      }
      fputc('\n', out);
    }
    for (int i = 0; i < f->nresults; i++) fprintf(out, "  return %%%d\n", f->results[i]->id);
  }
}
