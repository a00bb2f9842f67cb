/* The list-mode simulation step shared by petrel simulate and petrel demo --total-body. */
#ifndef PET_CLI_SIMULATE_H
#define PET_CLI_SIMULATE_H

#include <stdbool.h>
#include <stdint.h>

#include "pet_scanner.h"
#include "pet_simulate.h"

/** A built-in scanner ("total-body", "clinical", "small") or a scanner JSON file. Returns
 *  ownership of *s. Errors: those of pet_scanner_read_json. */
pet_status pet_cli_scanner_open(const char *name, pet_scanner **s);
/** pet_simulate_listmode_file with a progress bar on stderr (none when quiet) and the stop
 *  flag polled between chunks; records path as an output of the run. */
pet_status pet_cli_simulate_file(const pet_event_sim *es, const char *path, int deflate, int64_t chunk, bool quiet,
                                 pet_sim_file_stats *stats);

#endif
