#include "pet_cli_signal.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pet_cli_util.h"
#include "pet_fileutil.h"

static volatile sig_atomic_t stop_sig = 0;
static volatile sig_atomic_t poll_mode = 0;

#define OUTPUT_SLOTS 64
static char output_names[OUTPUT_SLOTS][PET_FILE_TEMP_NAME_MAX];
static volatile sig_atomic_t output_used[OUTPUT_SLOTS];

const char *pet_cli_signal_name(int sig)
{
  switch (sig) {
  case SIGINT: return "SIGINT";
  case SIGTERM: return "SIGTERM";
  case SIGUSR1: return "SIGUSR1";
  case SIGHUP: return "SIGHUP";
  default: return "a signal";
  }
}

static void say(const char *a, const char *b)
{
  /* write(2) only: this runs in a signal handler */
  (void)!write(STDERR_FILENO, "petrel: ", 8);
  (void)!write(STDERR_FILENO, a, strlen(a));
  (void)!write(STDERR_FILENO, b, strlen(b));
}

static void remove_outputs_now(void)
{
  pet_file_temp_remove_all();
  for (int i = 0; i < OUTPUT_SLOTS; ++i)
    if (output_used[i]) {
      (void)unlink(output_names[i]);
      output_used[i] = 0;
    }
}

static void on_signal(int sig)
{
  if (!poll_mode || stop_sig != 0) {
    remove_outputs_now();
    say(pet_cli_signal_name(sig), stop_sig ? ": second signal, exiting now (nothing written)\n"
                                           : ": exiting now (nothing written)\n");
    _exit(128 + sig);
  }
  stop_sig = sig;
  say(pet_cli_signal_name(sig), ": stopping at the next safe point (a second signal exits at once)\n");
}

void pet_cli_signals_install(void)
{
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGINT);
  sigaddset(&sa.sa_mask, SIGTERM);
  sigaddset(&sa.sa_mask, SIGUSR1);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
}

void pet_cli_signals_poll(bool poll) { poll_mode = poll ? 1 : 0; }

pet_status pet_cli_signals_poll_end(pet_status st)
{
  poll_mode = 0;
  /* a stop asked after the last poll: the command stops here rather than going on */
  return st == PET_OK && stop_sig != 0 ? PET_ERR_INTERRUPTED : st;
}

int pet_cli_stop_signal(void) { return stop_sig; }
int pet_cli_signal_exit_code(void) { return 128 + (stop_sig ? stop_sig : SIGTERM); }
bool pet_cli_should_stop(void *ctx)
{
  (void)ctx;
  return stop_sig != 0;
}

void pet_cli_output_add(const char *path)
{
  if (path == NULL || strlen(path) >= PET_FILE_TEMP_NAME_MAX) return;
  for (int i = 0; i < OUTPUT_SLOTS; ++i)
    if (output_used[i] && !strcmp(output_names[i], path)) return;
  for (int i = 0; i < OUTPUT_SLOTS; ++i)
    if (!output_used[i]) {
      strcpy(output_names[i], path);
      output_used[i] = 1;
      return;
    }
}

void pet_cli_outputs_remove(void) { remove_outputs_now(); }

void pet_cli_eta_report(void *ctx, int64_t done, int64_t total)
{
  pet_cli_eta *e = ctx;
  if (e == NULL || e->quiet || total <= 0) return;
  const double now = pet_cli_now(), el = now - e->t0;
  if (el < 2.0 || (now - e->last < 2.0 && done < total)) return;
  e->last = now;
  const double frac = (double)done / (double)total;
  const double eta = frac > 0 ? el * (1.0 - frac) / frac : 0.0;
  if (e->json)
    printf("{\"event\":\"progress\",\"what\":\"%s\",\"done\":%lld,\"total\":%lld,\"unit\":\"%s\","
           "\"elapsed\":%.3f,\"eta\":%.3f}\n",
           e->what, (long long)done, (long long)total, e->unit, el, eta);
  else
    printf("%s: %3.0f%% (%lld of %lld %s), elapsed %.1f s, ETA %.1f s\n", e->what, 100.0 * frac,
           (long long)done, (long long)total, e->unit, el, eta);
  fflush(stdout);
}

pet_batch_cb pet_cli_batch_cb(pet_cli_eta *eta, const char *what, const char *unit, bool quiet, bool json)
{
  pet_batch_cb cb;
  memset(&cb, 0, sizeof cb);
  cb.should_stop = pet_cli_should_stop;
  if (eta != NULL) {
    memset(eta, 0, sizeof *eta);
    eta->what = what;
    eta->unit = unit;
    eta->quiet = quiet;
    eta->json = json;
    eta->t0 = pet_cli_now();
    cb.progress = pet_cli_eta_report;
    cb.ctx = eta;
  }
  return cb;
}
