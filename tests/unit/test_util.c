/* test_util.c - durations, RFC 3339 times, numbers, modes, UUIDs, the text
 * test, paths and the bounded buffer. */
#include "testlib.h"

#include "plumb/buf.h"
#include "plumb/error.h"
#include "plumb/path.h"
#include "plumb/util.h"

static void durations(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(plumb_duration_parse(&v, "90s"), 0);
	assert_int_equal(v, 90);
	assert_int_equal(plumb_duration_parse(&v, "5m"), 0);
	assert_int_equal(v, 300);
	assert_int_equal(plumb_duration_parse(&v, "1h30m"), 0);
	assert_int_equal(v, 5400);
	assert_int_equal(plumb_duration_parse(&v, "2d"), 0);
	assert_int_equal(v, 172800);
	assert_int_not_equal(plumb_duration_parse(&v, "90"), 0);
	assert_int_not_equal(plumb_duration_parse(&v, ""), 0);
	assert_int_not_equal(plumb_duration_parse(&v, "m"), 0);
	assert_int_not_equal(plumb_duration_parse(&v, "5x"), 0);
	assert_int_not_equal(plumb_duration_parse(&v, "-5m"), 0);
	assert_int_not_equal(plumb_duration_parse(&v, "5 m"), 0);
	assert_int_not_equal(plumb_duration_parse(&v, "99999999999999999999s"), 0);
}

static void times(void **state)
{
	char buf[21];
	time_t t;

	(void)state;
	assert_int_equal(plumb_time_parse(&t, "1970-01-01T00:00:00Z"), 0);
	assert_int_equal(t, 0);
	assert_int_equal(plumb_time_parse(&t, "2027-01-31T00:00:00Z"), 0);
	assert_int_equal(t, 1801353600);   /* date -u -d 2027-01-31T00:00:00Z +%s */
	assert_int_equal(plumb_time_parse(&t, "2024-02-29T12:34:56.789Z"), 0);
	plumb_time_format(buf, t);
	assert_string_equal(buf, "2024-02-29T12:34:56Z");
	assert_int_equal(plumb_time_parse(&t, "2024-02-29T14:34:56+02:00"), 0);
	plumb_time_format(buf, t);
	assert_string_equal(buf, "2024-02-29T12:34:56Z");
	assert_int_not_equal(plumb_time_parse(&t, "2023-02-29T00:00:00Z"), 0);
	assert_int_not_equal(plumb_time_parse(&t, "2023-13-01T00:00:00Z"), 0);
	assert_int_not_equal(plumb_time_parse(&t, "2023-01-01 00:00:00Z"), 0);
	assert_int_not_equal(plumb_time_parse(&t, "2023-01-01T00:00:00"), 0);
	assert_int_not_equal(plumb_time_parse(&t, "2023-01-01T24:00:00Z"), 0);
	assert_int_not_equal(plumb_time_parse(&t, "2023-01-01T00:00:00Zjunk"), 0);
}

static void numbers_and_modes(void **state)
{
	uint64_t v;
	unsigned m;

	(void)state;
	assert_int_equal(plumb_parse_u64(&v, "18446744073709551615", UINT64_MAX), 0);
	assert_true(v == UINT64_MAX);
	assert_int_not_equal(plumb_parse_u64(&v, "18446744073709551616", UINT64_MAX), 0);
	assert_int_not_equal(plumb_parse_u64(&v, "11", 10), 0);
	assert_int_not_equal(plumb_parse_u64(&v, "+1", 10), 0);
	assert_int_not_equal(plumb_parse_u64(&v, " 1", 10), 0);
	assert_int_equal(plumb_parse_mode(&m, "0644"), 0);
	assert_int_equal(m, 0644);
	assert_int_equal(plumb_parse_mode(&m, "755"), 0);
	assert_int_equal(m, 0755);
	assert_int_equal(plumb_parse_mode(&m, "4755"), 0);
	assert_int_equal(m, 04755);
	assert_int_not_equal(plumb_parse_mode(&m, "0648"), 0);
	assert_int_not_equal(plumb_parse_mode(&m, "64"), 0);
	assert_int_not_equal(plumb_parse_mode(&m, "07777x"), 0);
}

static void uuids(void **state)
{
	char a[37], b[37];

	(void)state;
	assert_int_equal(plumb_uuid4(a), 0);
	assert_int_equal(plumb_uuid4(b), 0);
	assert_int_equal(strlen(a), 36);
	assert_string_not_equal(a, b);
	assert_int_equal(a[14], '4');
	assert_true(strchr("89ab", a[19]) != NULL);
	assert_int_equal(a[8], '-');
}

static void text(void **state)
{
	(void)state;
	assert_true(plumb_is_text((const unsigned char *)"hello\n\tworld", 12));
	assert_true(plumb_is_text((const unsigned char *)"h\xc3\xa9llo", 6));
	assert_false(plumb_is_text((const unsigned char *)"a\0b", 3));
	assert_false(plumb_is_text((const unsigned char *)"\xc3", 1));
	assert_false(plumb_is_text((const unsigned char *)"\xff\xfe", 2));
	assert_false(plumb_is_text((const unsigned char *)"\x1b[31m", 5));
}

static void paths(void **state)
{
	(void)state;
	assert_null(plumb_path_check_abs("/etc/motd", 9));
	assert_null(plumb_path_check_abs("/a", 2));
	assert_null(plumb_path_check_abs("/etc/..x/.y", 11));
	assert_non_null(plumb_path_check_abs("/", 1));
	assert_non_null(plumb_path_check_abs("", 0));
	assert_non_null(plumb_path_check_abs("etc", 3));
	assert_non_null(plumb_path_check_abs("/etc/", 5));
	assert_non_null(plumb_path_check_abs("//etc", 5));
	assert_non_null(plumb_path_check_abs("/etc/.", 6));
	assert_non_null(plumb_path_check_abs("/etc/..", 7));
	assert_non_null(plumb_path_check_abs("/./etc", 6));
	assert_non_null(plumb_path_check_abs("/e\0c", 4));
	assert_null(plumb_path_check_rel("files/motd", 10));
	assert_non_null(plumb_path_check_rel("/files/motd", 11));
	assert_non_null(plumb_path_check_rel("files/../x", 10));
	assert_non_null(plumb_path_check_rel("", 0));
	{
		char big[300];

		big[0] = '/';
		memset(big + 1, 'a', 256);
		big[257] = '\0';
		assert_string_equal(plumb_path_check_abs(big, 257), "path has a component longer than NAME_MAX");
	}
}

static void bounded_buffer(void **state)
{
	struct plumb_buf b;
	char *p;
	size_t n;

	(void)state;
	plumb_buf_init(&b, 10);
	assert_int_equal(plumb_buf_adds(&b, "hello"), 0);
	assert_int_equal(plumb_buf_addf(&b, "%d", 12345), 0);
	assert_int_equal(b.len, 10);
	assert_int_equal(plumb_buf_adds(&b, "!"), PLUMB_E_TOOBIG);
	assert_string_equal(b.data, "hello12345");   /* unchanged by the failure */
	p = plumb_buf_detach(&b, &n);
	assert_int_equal(n, 10);
	assert_null(b.data);
	free(p);
	plumb_buf_release(&b);
}

/* A string cut inside a UTF-8 character loses the partial character, and
 * only that; whole characters and ASCII stay. */
static void utf8_trim(void **state)
{
	(void)state;
	char a[] = "abc", b[] = "ab\xc3", c[] = "x\xe2\x82", d[] = "x\xe2\x82\xac", e[] = "\xf0\x9f\x98",
	     f[] = "", g[] = "\x80\x80";

	plumb_utf8_trim(a);
	assert_string_equal(a, "abc");
	plumb_utf8_trim(b);
	assert_string_equal(b, "ab");
	plumb_utf8_trim(c);
	assert_string_equal(c, "x");
	plumb_utf8_trim(d);
	assert_string_equal(d, "x\xe2\x82\xac");
	plumb_utf8_trim(e);
	assert_string_equal(e, "");
	plumb_utf8_trim(f);
	assert_string_equal(f, "");
	plumb_utf8_trim(g);   /* only continuation bytes: nothing to anchor on, left alone */
	assert_string_equal(g, "\x80\x80");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(durations),
		cmocka_unit_test(times),
		cmocka_unit_test(numbers_and_modes),
		cmocka_unit_test(uuids),
		cmocka_unit_test(text),
		cmocka_unit_test(paths),
		cmocka_unit_test(bounded_buffer),
		cmocka_unit_test(utf8_trim),
	};

	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
