/* petrel command-line subcommands. Each returns a process exit code (0 ok, 1 failure,
 * 2 usage error, 3 interrupted with a checkpoint written). Only main() exits. */
#ifndef PET_CLI_H
#define PET_CLI_H

#ifdef __cplusplus
extern "C" {
#endif

int pet_cli_main(int argc, char **argv);
int pet_cli_info(int argc, char **argv);
int pet_cli_demo(int argc, char **argv);
int pet_cli_demo_dynamic(int argc, char **argv);
int pet_cli_recon(int argc, char **argv);
int pet_cli_sens(int argc, char **argv);
int pet_cli_scatter(int argc, char **argv);
int pet_cli_diff(int argc, char **argv);
int pet_cli_fwd(int argc, char **argv);
int pet_cli_back(int argc, char **argv);
int pet_cli_convert(int argc, char **argv);
int pet_cli_simulate(int argc, char **argv);
int pet_cli_demo_total_body(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif /* PET_CLI_H */
