/* test_gitobj.c - payload/signature splitting of raw commit and tag objects,
 * including the crafted objects libgit2's extractor got wrong. */
#include "testlib.h"

#include "plumb/gitobj.h"

#define SIG "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"
#define SIGH "-----BEGIN SSH SIGNATURE-----\n U1NIU0lH\n -----END SSH SIGNATURE-----\n"

static void commit_split(void **state)
{
	static const char obj[] = "tree 1111\nparent 2222\nauthor a <a> 1 +0000\ncommitter c <c> 1 +0000\n"
				  "gpgsig " SIGH "\nmessage\n";
	static const char payload[] = "tree 1111\nparent 2222\nauthor a <a> 1 +0000\ncommitter c <c> 1 +0000\n"
				      "\nmessage\n";
	struct plumb_signed_obj so;
	struct plumb_err err;

	(void)state;
	assert_int_equal(plumb_gitobj_commit_split(&so, (const unsigned char *)obj, sizeof(obj) - 1, &err), 0);
	assert_int_equal(so.payload_len, sizeof(payload) - 1);
	assert_memory_equal(so.payload, payload, so.payload_len);
	assert_string_equal(so.signature, SIG);
	plumb_signed_obj_release(&so);
}

static void commit_refusals(void **state)
{
	static const char two[] = "tree 1\ngpgsig " SIGH "gpgsig " SIGH "\nm\n";
	static const char in_msg[] = "tree 1\n\ngpgsig " SIGH "\n";
	static const char nul[] = "tree 1\ngpgsig " SIGH "\nm\0x\n";
	static const char sha256[] = "tree 1\ngpgsig-sha256 " SIGH "\nm\n";
	struct plumb_signed_obj so;
	struct plumb_err err;

	(void)state;
	assert_int_equal(plumb_gitobj_commit_split(&so, (const unsigned char *)two, sizeof(two) - 1, &err),
			 PLUMB_E_INVALID);
	assert_string_equal(err.msg, "commit has 2 gpgsig headers");
	assert_int_equal(plumb_gitobj_commit_split(&so, (const unsigned char *)in_msg, sizeof(in_msg) - 1, &err),
			 PLUMB_E_NOTFOUND);
	assert_int_equal(plumb_gitobj_commit_split(&so, (const unsigned char *)nul, sizeof(nul) - 1, &err),
			 PLUMB_E_INVALID);
	assert_string_equal(err.msg, "commit object contains a NUL byte");
	/* gpgsig-sha256 alone is not our signature */
	assert_int_equal(plumb_gitobj_commit_split(&so, (const unsigned char *)sha256, sizeof(sha256) - 1, &err),
			 PLUMB_E_NOTFOUND);
}

static void commit_other_gpgsig_removed(void **state)
{
	static const char obj[] = "tree 1\ngpgsig-sha256 " SIGH "gpgsig " SIGH "\nm\n";
	struct plumb_signed_obj so;
	struct plumb_err err;

	(void)state;
	assert_int_equal(plumb_gitobj_commit_split(&so, (const unsigned char *)obj, sizeof(obj) - 1, &err), 0);
	assert_int_equal(so.payload_len, strlen("tree 1\n\nm\n"));
	assert_memory_equal(so.payload, "tree 1\n\nm\n", so.payload_len);
	plumb_signed_obj_release(&so);
}

static void tag_split_and_headers(void **state)
{
	static const char obj[] = "object 3333\ntype commit\ntag prod\ntagger t <t> 1 +0000\n\nrelease\n"
				  "-----BEGIN SSH SIGNATURE-----\nfirst\n-----END SSH SIGNATURE-----\n" SIG;
	static const char sig_in_header[] = "object 3333\n" SIG "\nmsg\n";
	struct plumb_signed_obj so;
	struct plumb_err err;
	char v[64];

	(void)state;
	assert_int_equal(plumb_gitobj_tag_split(&so, (const unsigned char *)obj, sizeof(obj) - 1, &err), 0);
	assert_string_equal(so.signature, SIG);   /* the LAST signature line */
	assert_int_equal(so.payload_len, sizeof(obj) - 1 - strlen(SIG));
	plumb_signed_obj_release(&so);
	assert_int_equal(plumb_gitobj_tag_split(&so, (const unsigned char *)sig_in_header, sizeof(sig_in_header) - 1,
						&err), PLUMB_E_NOTFOUND);
	assert_int_equal(plumb_gitobj_header(v, sizeof(v), (const unsigned char *)obj, sizeof(obj) - 1, "tag"), 0);
	assert_string_equal(v, "prod");
	assert_int_equal(plumb_gitobj_header(v, sizeof(v), (const unsigned char *)obj, sizeof(obj) - 1, "type"), 0);
	assert_string_equal(v, "commit");
	/* only headers count, never the message */
	assert_int_equal(plumb_gitobj_header(v, sizeof(v), (const unsigned char *)obj, sizeof(obj) - 1, "release"),
			 PLUMB_E_NOTFOUND);
	{
		static const char twice[] = "tag a\ntag b\n\nm\n";

		assert_int_equal(plumb_gitobj_header(v, sizeof(v), (const unsigned char *)twice, sizeof(twice) - 1, "tag"),
				 PLUMB_E_INVALID);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(commit_split),
		cmocka_unit_test(commit_refusals),
		cmocka_unit_test(commit_other_gpgsig_removed),
		cmocka_unit_test(tag_split_and_headers),
	};

	return cmocka_run_group_tests_name("gitobj", tests, NULL, NULL);
}
