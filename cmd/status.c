/* status.c - what tric exits with when code generation fails.
 *
 * Codegen says what kind of failure it met (cg_Status); the driver alone turns that into
 * an exit status, here, for the target check in main.c and for every compile step. A
 * message's wording is for people and decides nothing.
 */
#include "cmd/cmd.h"

int exit_for(cg_Status st) {
  switch (st) {
  case CG_OK: return EXIT_OK;
  case CG_ERR_TARGET:
  case CG_ERR_CPU: return EXIT_USAGE; /* a name on the command line LLVM does not know */
  case CG_ERR_RESOURCE:
  case CG_ERR_INTERNAL: return EXIT_IO;
  }
  return EXIT_IO; /* no other status exists: a value outside the enum is a bug, not a user's mistake */
}
