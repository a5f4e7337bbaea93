/*
 * libFuzzer target: the meta protocol parser (mg, ms, md, ma, mn, me and
 * their flags) through proto_process.
 *
 * Inputs are records separated by '\n'. A record's first byte picks the
 * meta command its line starts with (the rest of the record follows it);
 * with the high bit set the record goes through as it is, which is how a
 * data block or any other line gets in. So the fuzzer spends its time on
 * flags and tokens, not on finding the command names.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const verbs[] = { "mg ", "ms ", "md ", "ma ", "mn", "me " };
#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_fixture *f = fuzz_fixture_get();
	/* Each record grows by at most 3 bytes (a verb replaces its byte). */
	uint8_t *req = malloc(size * 3 + 1);
	size_t n = 0, i = 0;

	if (!req)
		abort();
	while (i < size) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t end = nl ? (size_t)(nl - data) + 1 : size;
		uint8_t sel = data[i];

		if (sel & 0x80) {
			memcpy(req + n, data + i + 1, end - i - 1);
			n += end - i - 1;
		} else {
			const char *v = verbs[sel % NVERBS];

			memcpy(req + n, v, strlen(v));
			n += strlen(v);
			memcpy(req + n, data + i + 1, end - i - 1);
			n += end - i - 1;
		}
		i = end;
	}
	fuzz_feed_tcp(f, req, n, 0);
	free(req);
	return 0;
}
