/* Signals, progress of long steps and the outputs of a run, for the petrel command.
 *
 * pet_cli_signals_install() runs first thing in main. Then SIGINT, SIGTERM and SIGUSR1 either
 * ask the running command to stop at its next safe point (poll mode: recon stops at a subset
 * boundary and writes a checkpoint; fwd, back, convert and the demo between batches), or, where
 * the command cannot stop early (exit mode, the default), end the process at once. Either way a
 * second signal ends it at once. Ending at once removes the temporary files being written
 * (pet_file_temp_*) and the outputs this run already wrote (pet_cli_output_add) and exits with
 * 128 + the signal number (130 for Ctrl-C). */
#ifndef PET_CLI_SIGNAL_H
#define PET_CLI_SIGNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "pet_progress.h"
#include "pet_status.h"

void pet_cli_signals_install(void);
/** true: a signal sets the stop flag (the command polls it); false: a signal exits at once. */
void pet_cli_signals_poll(bool poll);
/** Ends a polled step: back to exit mode; PET_ERR_INTERRUPTED if st is PET_OK but a stop was
 *  asked, else st. */
pet_status pet_cli_signals_poll_end(pet_status st);
/** The signal that asked to stop (0: none). */
int pet_cli_stop_signal(void);
/** 128 + the stop signal (130 for SIGINT): the exit code of a run stopped without a checkpoint. */
int pet_cli_signal_exit_code(void);
/** "SIGINT", "SIGTERM", "SIGUSR1", ... */
const char *pet_cli_signal_name(int sig);

/** Records a complete output file of this run, to remove it if the run fails (at most 64). */
void pet_cli_output_add(const char *path);
/** Removes the recorded outputs (and any temporary file still registered); main calls it when
 *  a command fails with an exit code other than 0 and 3. */
void pet_cli_outputs_remove(void);

/** Progress of one long step: lines "what: 42% (done of total unit), elapsed, ETA" on stdout
 *  (or JSON lines) at most every 2 s, starting after 2 s; none when quiet. */
typedef struct pet_cli_eta {
  const char *what, *unit;
  bool quiet, json;
  double t0, last;
} pet_cli_eta;
/** A batch callback that polls the stop flag and prints through eta (borrowed; NULL: no lines). */
pet_batch_cb pet_cli_batch_cb(pet_cli_eta *eta, const char *what, const char *unit, bool quiet, bool json);
/** The stop flag, as a should_stop callback (ctx unused). */
bool pet_cli_should_stop(void *ctx);
void pet_cli_eta_report(void *ctx, int64_t done, int64_t total);

#endif
