#include "frontend/frontend.h"
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
  (void)argc;
  FILE *f = fopen(argv[1], "rb"); fseek(f, 0, SEEK_END); long n = ftell(f); rewind(f);
  fe_Arena a = {0}; char *t = fe_alloc(&a, (size_t)n + 1); if (fread(t, 1, (size_t)n, f) != (size_t)n) return 3; fclose(f);
  fe_Source *s = fe_source_new(&a, argv[1], t, (uint32_t)n);
  fe_Diags d = {.arena = &a};
  fe_Module *m = fe_parse(&a, &d, s);
  fe_dump_ast(stdout, m);
  fe_diags_print(&d, stderr, false);
  fe_arena_free(&a);
  return d.nerrors ? 1 : 0;
}
