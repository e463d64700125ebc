/* Unit tests for node/metrics: exposition escaping and the histogram
 * arithmetic, checked against values written by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "lib/ts_err.h"
#include "node/metrics.h"

static void
test_escape(void **state)
{
	(void)state;
	char out[64];
	metrics_escape_label("a\\b\"c\nd", out, sizeof(out));
	assert_string_equal(out, "a\\\\b\\\"c\\nd");
	metrics_escape_help("a\\b\"c\nd", out, sizeof(out));
	assert_string_equal(out, "a\\\\b\"c\\nd");
	/* Never cut an escape in half. */
	metrics_escape_label("ab\"", out, 4);
	assert_string_equal(out, "ab");
	metrics_escape_label("", out, sizeof(out));
	assert_string_equal(out, "");
}

static char *
render(void)
{
	struct evbuffer *b = evbuffer_new();
	assert_non_null(b);
	metrics_snapshot s;
	memset(&s, 0, sizeof(s));
	s.shares_ok = 1;
	s.shares_by_state[SHARE_INSTALLED] = 3;
	s.event_streams = 2;
	s.stream_keepalives = 5;
	s.tls_ok = 7;
	s.tls_failed = 1;
	assert_int_equal(metrics_render(b, &s), 0);
	size_t n = evbuffer_get_length(b);
	char *text = malloc(n + 1);
	assert_non_null(text);
	evbuffer_remove(b, text, n);
	text[n] = '\0';
	evbuffer_free(b);
	return text;
}

static void
test_render(void **state)
{
	(void)state;
	int64_t now = metrics_now_us();
	/* 30 ms, 3 ms and 20 s calls; one refused. */
	metrics_provider_call("confirmOrder", 0, now - 30000);
	metrics_provider_call("confirmOrder", TS_EDENIED, now - 3000);
	metrics_provider_call("confirmOrder", TS_ENET, now - 20000000);
	metrics_outbox(METRICS_OUTBOX_RETRY);
	metrics_outbox(METRICS_OUTBOX_RETRY);
	/* the download-progress notice has its own label, not "other" */
	metrics_provider_call("handleDownloadProgressInfo", 0, now - 1000);
	metrics_provider_call("someFutureCall", 0, now - 1000);
	char *t = render();
	assert_non_null(strstr(t, "# HELP tapshare_shares Shares in the store, by state.\n# TYPE tapshare_shares gauge\n"));
	assert_non_null(strstr(t, "\ntapshare_shares{state=\"installed\"} 3\n"));
	assert_non_null(strstr(t, "\ntapshare_event_streams 2\n"));
	assert_non_null(strstr(t, "\ntapshare_event_stream_keepalives_total 5\n"));
	assert_non_null(strstr(t, "\ntapshare_tls_handshakes_total{result=\"ok\"} 7\n"));
	assert_non_null(strstr(t, "\ntapshare_outbox_rows_total{result=\"retry\"} 2\n"));
	assert_non_null(strstr(t, "\ntapshare_provider_calls_total{function=\"confirmOrder\",result=\"executed\"} 1\n"));
	assert_non_null(strstr(t, "\ntapshare_provider_calls_total{function=\"confirmOrder\",result=\"refused\"} 1\n"));
	assert_non_null(strstr(t, "\ntapshare_provider_calls_total{function=\"confirmOrder\",result=\"failed\"} 1\n"));
	assert_non_null(strstr(t, "\ntapshare_provider_calls_total{function=\"handleDownloadProgressInfo\",result=\"executed\"} 1\n"));
	assert_non_null(strstr(t, "\ntapshare_provider_calls_total{function=\"other\",result=\"executed\"} 1\n"));
	/* Cumulative buckets: 3 ms is <= 0.005, 30 ms <= 0.05, 20 s only in +Inf. */
	assert_non_null(strstr(t, "\ntapshare_provider_call_seconds_bucket{function=\"confirmOrder\",le=\"0.0025\"} 0\n"));
	assert_non_null(strstr(t, "\ntapshare_provider_call_seconds_bucket{function=\"confirmOrder\",le=\"0.005\"} 1\n"));
	assert_non_null(strstr(t, "\ntapshare_provider_call_seconds_bucket{function=\"confirmOrder\",le=\"0.025\"} 1\n"));
	assert_non_null(strstr(t, "\ntapshare_provider_call_seconds_bucket{function=\"confirmOrder\",le=\"0.05\"} 2\n"));
	assert_non_null(strstr(t, "\ntapshare_provider_call_seconds_bucket{function=\"confirmOrder\",le=\"15\"} 2\n"));
	assert_non_null(strstr(t, "\ntapshare_provider_call_seconds_bucket{function=\"confirmOrder\",le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(t, "\ntapshare_provider_call_seconds_count{function=\"confirmOrder\"} 3\n"));
	/* sum: about 20.033 s (the calls' own durations are a few µs longer). */
	const char *sum = strstr(t, "\ntapshare_provider_call_seconds_sum{function=\"confirmOrder\"} 20.03");
	assert_non_null(sum);
	/* A histogram without labels. */
	assert_non_null(strstr(t, "\ntapshare_store_commit_seconds_bucket{le=\"+Inf\"} 0\n"));
	assert_non_null(strstr(t, "\ntapshare_store_commit_seconds_sum 0.000000\n"));
	assert_non_null(strstr(t, "\ntapshare_store_commit_seconds_count 0\n"));
	free(t);
}

static void
test_step_latency(void **state)
{
	(void)state;
	metrics_share_step("share-a", SHARE_EID_CONFIRMED, 0);
	metrics_share_step("share-a", SHARE_AUTHORISED, 0);
	/* Unknown to this process and no created_at: not observed. */
	metrics_share_step("share-b", SHARE_INSTALLED, 0);
	char *t = render();
	assert_non_null(strstr(t, "\ntapshare_share_step_seconds_bucket{state=\"authorised\",le=\"0.01\"} 1\n"));
	assert_non_null(strstr(t, "\ntapshare_share_step_seconds_count{state=\"authorised\"} 1\n"));
	assert_non_null(strstr(t, "\ntapshare_share_step_seconds_count{state=\"installed\"} 0\n"));
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_step_latency),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
