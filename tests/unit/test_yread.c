/* test_yread.c - the strict YAML reader: depth cap, positions, typed
 * scalars, and refusal of what plain data does not need. */
#include "testlib.h"

#include "plumb/yread.h"

/* Reads events until the document ends or fails; returns the code. */
static int drain(const char *doc, struct plumb_err *err)
{
	struct plumb_yread *y;
	struct plumb_yev ev;
	int r, depth = 0;

	if ((r = plumb_yread_open(&y, "doc", doc, strlen(doc), err)) != 0)
		return r;
	do {
		if ((r = plumb_yread_next(y, &ev, err)) != 0)
			break;
		if (ev.kind == PLUMB_Y_MAP || ev.kind == PLUMB_Y_SEQ)
			depth++;
		else if (ev.kind == PLUMB_Y_MAP_END || ev.kind == PLUMB_Y_SEQ_END)
			depth--;
	} while (depth > 0);
	if (r == 0)
		r = plumb_yread_close(y, err);
	plumb_yread_free(y);
	return r;
}

static void depth_cap(void **state)
{
	char doc[128];
	struct plumb_err err;
	int d;

	(void)state;
	/* 16 levels pass, 17 fail. */
	for (d = 16; d <= 17; d++) {
		memset(doc, '[', (size_t)d);
		memset(doc + d, ']', (size_t)d);
		doc[2 * d] = '\0';
		if (d == 16) {
			assert_int_equal(drain(doc, &err), 0);
		} else {
			assert_int_equal(drain(doc, &err), PLUMB_E_PARSE);
			assert_string_equal(err.msg, "doc:1:17: nesting is too deep");
		}
	}
}

static void refusals(void **state)
{
	struct plumb_err err;

	(void)state;
	assert_int_equal(drain("a: &x 1\n", &err), PLUMB_E_PARSE);
	assert_string_equal(err.msg, "doc:1:4: anchors are not allowed");
	assert_int_equal(drain("a: *x\n", &err), PLUMB_E_PARSE);
	assert_string_equal(err.msg, "doc:1:4: aliases are not allowed");
	assert_int_equal(drain("a: !!str 1\n", &err), PLUMB_E_PARSE);
	assert_string_equal(err.msg, "doc:1:4: tags are not allowed");
	assert_int_equal(drain("a: 1\n---\nb: 2\n", &err), PLUMB_E_PARSE);
	assert_string_equal(err.msg, "doc:2:1: only one YAML document is allowed");
	assert_int_equal(drain("", &err), PLUMB_E_PARSE);
	assert_string_equal(err.msg, "doc: the document is empty");
	assert_int_equal(drain("a: [1, 2\n", &err), PLUMB_E_PARSE);
	assert_non_null(strstr(err.msg, "doc:2:1: "));
	assert_int_equal(drain("a: 1\n", &err), 0);
}

static void typed(void **state)
{
	static const char doc[] = "b: true\nn: 42\nq: \"42\"\ns: ''\nz: ~\nbig: 18446744073709551616\n";
	struct plumb_yread *y;
	struct plumb_yev key, ev;
	struct plumb_err err;
	uint64_t v;
	char *s;
	int b;

	(void)state;
	assert_int_equal(plumb_yread_open(&y, "doc", doc, sizeof(doc) - 1, &err), 0);
	assert_int_equal(plumb_yread_expect(y, &ev, PLUMB_Y_MAP, "root", &err), 0);
	assert_int_equal(plumb_yread_key(y, &key, &err), 1);
	assert_int_equal(plumb_yread_bool(y, &b, "b", &err), 0);
	assert_true(b);
	assert_int_equal(plumb_yread_key(y, &key, &err), 1);
	assert_int_equal(plumb_yread_u64(y, &v, 100, "n", &err), 0);
	assert_int_equal(v, 42);
	assert_int_equal(plumb_yread_key(y, &key, &err), 1);
	/* a quoted number is a string, not a number */
	assert_int_equal(plumb_yread_u64(y, &v, 100, "q", &err), PLUMB_E_INVALID);
	assert_string_equal(err.msg, "doc:3:4: q: expected a whole number from 0 to 100, found '42'");
	assert_int_equal(plumb_yread_key(y, &key, &err), 1);
	assert_int_equal(plumb_yread_str(y, &s, "s", 1, &err), 0);
	assert_string_equal(s, "");
	free(s);
	assert_int_equal(plumb_yread_key(y, &key, &err), 1);
	assert_int_equal(plumb_yread_str(y, &s, "z", 1, &err), PLUMB_E_INVALID);
	assert_string_equal(err.msg, "doc:5:4: z: a value is required");
	assert_int_equal(plumb_yread_key(y, &key, &err), 1);
	assert_int_equal(plumb_yread_u64(y, &v, UINT64_MAX, "big", &err), PLUMB_E_INVALID);
	assert_int_equal(plumb_yread_key(y, &key, &err), 0);
	assert_int_equal(plumb_yread_close(y, &err), 0);
	plumb_yread_free(y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(depth_cap),
		cmocka_unit_test(refusals),
		cmocka_unit_test(typed),
	};

	return cmocka_run_group_tests_name("yread", tests, NULL, NULL);
}
