/* The petrel command: subcommands dispatch to pet_cli_*.c; statuses become exit codes here. */
#include <stdio.h>
#include <string.h>

#include "pet_cli.h"

int main(int argc, char **argv) { return pet_cli_main(argc, argv); }
