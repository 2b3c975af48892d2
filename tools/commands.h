/*
 * commands.h - the subcommands of pce.  Each takes the arguments after its
 * name (argv[0] is the name) and returns the exit status (cli.h).
 */
#ifndef PCE_TOOLS_COMMANDS_H
#define PCE_TOOLS_COMMANDS_H

int cmd_analyze(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_cluster(int argc, char **argv);

#endif /* PCE_TOOLS_COMMANDS_H */
