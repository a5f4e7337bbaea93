/*
 * libFuzzer target: the text protocol parser (get/set/cas/incr/...,
 * noreply, data blocks, malformed lines) through proto_process, fed the
 * way the TCP path feeds it: all at once or in pieces.
 *
 * The first byte picks the piece size (0: whole input), so the fuzzer also
 * explores requests cut at every point. Lines that would start a meta
 * command (mg, ms, ...) are turned into unknown commands, keeping this
 * target on the text parser; fuzz_meta covers the meta one.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* "m<letter> " or "mn" at a line start becomes "x<letter>": still a
 * request line, never a meta command. */
static void steer_to_text(uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if ((i == 0 || p[i - 1] == '\n') && p[i] == 'm' &&
		    p[i + 1] != '\0' && strchr("gsdanme", p[i + 1]))
			p[i] = 'x';
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_fixture *f = fuzz_fixture_get();
	size_t chunk;
	uint8_t *copy;

	if (size == 0)
		return 0;
	chunk = data[0] % 32 == 0 ? 0 : (size_t)(data[0] % 32) * 7;
	copy = malloc(size - 1 ? size - 1 : 1);
	if (!copy)
		abort();
	memcpy(copy, data + 1, size - 1);
	steer_to_text(copy, size - 1);
	fuzz_feed_tcp(f, copy, size - 1, chunk);
	free(copy);
	return 0;
}
