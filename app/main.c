/* The petrel command: subcommands dispatch to pet_cli_*.c; statuses become exit codes here. */
#include <stdio.h>
#include <string.h>

#include "pet_cli.h"
#include "pet_cli_signal.h"
#include "pet_cli_util.h"

int main(int argc, char **argv)
{
  /* before anything else, so that no signal is lost to the default action */
  pet_cli_signals_install();
  pet_cli_set_program(argc > 0 ? argv[0] : NULL);
  /* progress lines reach a pipe (tee, a log reader) as they are printed */
  setvbuf(stdout, NULL, _IOLBF, 0);
  int rc = pet_cli_main(argc, argv);
  /* a failed run leaves none of its outputs; 3 (stopped with a checkpoint) keeps what the
   * resumed run builds on */
  if (rc != 0 && rc != 3) pet_cli_outputs_remove();
  return rc;
}
