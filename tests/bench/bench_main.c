/*
 * corecache-bench: entry point.
 *
 * Each benchmark is a subcommand with its own options; this file only maps
 * the first argument to a subcommand through one table, so adding a
 * benchmark is one row here and one file, and the top-level help can never
 * disagree with what dispatch accepts. Exit status: 0 success, 1 runtime
 * error or failed verification, 2 usage error (help included, since a
 * request for help ran no benchmark).
 */
#include "bench.h"

struct bench_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

static const struct bench_cmd bench_cmds[] = {
	{ "engine", "cache engine: GET/SET rates, limits, baselines, miss ratio",
	  bench_engine_run },
	{ "dataplane", "DPDK worker: GET replies/s vs testpmd macswap",
	  bench_dataplane_run },
};

#define BENCH_NCMDS (sizeof(bench_cmds) / sizeof(bench_cmds[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: corecache-bench <command> [options]\n"
		   "       corecache-bench <command> --help\n\ncommands:\n");
	for (size_t i = 0; i < BENCH_NCMDS; i++)
		fprintf(f, "  %-12s %s\n", bench_cmds[i].name,
			bench_cmds[i].summary);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "corecache-bench: missing command\n");
		usage(stderr);
		return BENCH_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stderr);
		return BENCH_EXIT_USAGE;
	}
	for (size_t i = 0; i < BENCH_NCMDS; i++)
		if (strcmp(argv[1], bench_cmds[i].name) == 0)
			return bench_cmds[i].run(argc - 1, argv + 1);
	fprintf(stderr, "corecache-bench: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return BENCH_EXIT_USAGE;
}
