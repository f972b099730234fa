/* yread.c - strict YAML pull reader over libyaml events.
 * Anything beyond plain data (anchors, aliases, tags, %TAG, more than one
 * document, deep nesting) is refused with its position. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "plumb/util.h"
#include "plumb/yread.h"
#include "banned.h"

struct plumb_yread {
	yaml_parser_t parser;
	yaml_event_t event;     /* the current event, owned */
	int have_event;
	int depth;
	int done;               /* root node finished */
	char *name;
};

const char *plumb_yread_name(const struct plumb_yread *y) { return y->name; }

int plumb_yread_fail(struct plumb_yread *y, const struct plumb_yev *at, int code,
		     struct plumb_err *err, const char *fmt, ...)
{
	char msg[PLUMB_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (at != NULL)
		return plumb_err_set(err, code, "%s:%zu:%zu: %s", y->name, at->line, at->col, msg);
	return plumb_err_set(err, code, "%s: %s", y->name, msg);
}

static int parser_error(struct plumb_yread *y, struct plumb_err *err)
{
	const yaml_mark_t *m = &y->parser.problem_mark;
	const char *problem = y->parser.problem ? y->parser.problem : "malformed YAML";

	if (y->parser.error == YAML_MEMORY_ERROR)
		return plumb_err_set(err, PLUMB_E_NOMEM, "%s: out of memory while parsing", y->name);
	if (y->parser.context != NULL)
		return plumb_err_set(err, PLUMB_E_PARSE, "%s:%zu:%zu: %s %s", y->name,
				     m->line + 1, m->column + 1, problem, y->parser.context);
	return plumb_err_set(err, PLUMB_E_PARSE, "%s:%zu:%zu: %s", y->name,
			     m->line + 1, m->column + 1, problem);
}

/* Pulls the next raw libyaml event into y->event. */
static int pull(struct plumb_yread *y, struct plumb_err *err)
{
	if (y->have_event) {
		yaml_event_delete(&y->event);
		y->have_event = 0;
	}
	if (!yaml_parser_parse(&y->parser, &y->event))
		return parser_error(y, err);
	y->have_event = 1;
	return 0;
}

static int raw_fail(struct plumb_yread *y, struct plumb_err *err, const char *msg)
{
	const yaml_mark_t *m = &y->event.start_mark;

	return plumb_err_set(err, PLUMB_E_PARSE, "%s:%zu:%zu: %s", y->name,
			     m->line + 1, m->column + 1, msg);
}

int plumb_yread_open(struct plumb_yread **out, const char *name,
		     const void *data, size_t len, struct plumb_err *err)
{
	struct plumb_yread *y;
	int r;

	*out = NULL;
	if ((y = calloc(1, sizeof(*y))) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	if ((y->name = strdup(name)) == NULL || !yaml_parser_initialize(&y->parser)) {
		free(y->name);
		free(y);
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	}
	yaml_parser_set_input_string(&y->parser, data, len);
	if ((r = pull(y, err)) != 0)
		goto out;
	if (y->event.type != YAML_STREAM_START_EVENT) {
		r = raw_fail(y, err, "expected the start of a YAML stream");
		goto out;
	}
	if ((r = pull(y, err)) != 0)
		goto out;
	if (y->event.type == YAML_STREAM_END_EVENT) {
		r = plumb_err_set(err, PLUMB_E_PARSE, "%s: the document is empty", name);
		goto out;
	}
	if (y->event.type != YAML_DOCUMENT_START_EVENT) {
		r = raw_fail(y, err, "expected the start of a document");
		goto out;
	}
	if (y->event.data.document_start.tag_directives.start !=
	    y->event.data.document_start.tag_directives.end) {
		r = raw_fail(y, err, "%TAG directives are not allowed");
		goto out;
	}
	*out = y;
	y = NULL;
	r = 0;
out:
	plumb_yread_free(y);
	return r;
}

void plumb_yread_free(struct plumb_yread *y)
{
	if (y == NULL)
		return;
	if (y->have_event)
		yaml_event_delete(&y->event);
	yaml_parser_delete(&y->parser);
	free(y->name);
	free(y);
}

static void fill(struct plumb_yread *y, struct plumb_yev *ev, enum plumb_ykind kind)
{
	ev->kind = kind;
	ev->value = NULL;
	ev->len = 0;
	ev->plain = 0;
	ev->line = y->event.start_mark.line + 1;
	ev->col = y->event.start_mark.column + 1;
}

int plumb_yread_next(struct plumb_yread *y, struct plumb_yev *ev, struct plumb_err *err)
{
	int r;

	memset(ev, 0, sizeof(*ev));
	if (y->done)
		return plumb_err_set(err, PLUMB_E_INTERNAL, "%s: read past the document", y->name);
	if ((r = pull(y, err)) != 0)
		return r;
	switch (y->event.type) {
	case YAML_ALIAS_EVENT:
		return raw_fail(y, err, "aliases are not allowed");
	case YAML_SCALAR_EVENT:
		if (y->event.data.scalar.anchor != NULL)
			return raw_fail(y, err, "anchors are not allowed");
		if (y->event.data.scalar.tag != NULL)
			return raw_fail(y, err, "tags are not allowed");
		fill(y, ev, PLUMB_Y_SCALAR);
		ev->value = (const char *)y->event.data.scalar.value;
		ev->len = y->event.data.scalar.length;
		ev->plain = y->event.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		break;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT: {
		int is_map = y->event.type == YAML_MAPPING_START_EVENT;
		const yaml_char_t *anchor = is_map ? y->event.data.mapping_start.anchor
						   : y->event.data.sequence_start.anchor;
		const yaml_char_t *tag = is_map ? y->event.data.mapping_start.tag
						: y->event.data.sequence_start.tag;

		if (anchor != NULL)
			return raw_fail(y, err, "anchors are not allowed");
		if (tag != NULL)
			return raw_fail(y, err, "tags are not allowed");
		if (++y->depth > PLUMB_YREAD_MAX_DEPTH)
			return raw_fail(y, err, "nesting is too deep");
		fill(y, ev, is_map ? PLUMB_Y_MAP : PLUMB_Y_SEQ);
		break;
	}
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		y->depth--;
		fill(y, ev, y->event.type == YAML_MAPPING_END_EVENT ? PLUMB_Y_MAP_END : PLUMB_Y_SEQ_END);
		break;
	default:
		return raw_fail(y, err, "unexpected YAML event");
	}
	if (y->depth == 0 && ev->kind != PLUMB_Y_MAP && ev->kind != PLUMB_Y_SEQ)
		y->done = 1;
	return 0;
}

int plumb_yread_close(struct plumb_yread *y, struct plumb_err *err)
{
	int r;

	if (!y->done)
		return plumb_err_set(err, PLUMB_E_INTERNAL, "%s: document not finished", y->name);
	if ((r = pull(y, err)) != 0)
		return r;
	if (y->event.type != YAML_DOCUMENT_END_EVENT)
		return raw_fail(y, err, "expected the end of the document");
	if ((r = pull(y, err)) != 0)
		return r;
	if (y->event.type != YAML_STREAM_END_EVENT)
		return raw_fail(y, err, "only one YAML document is allowed");
	return 0;
}

static const char *kind_name(enum plumb_ykind k)
{
	switch (k) {
	case PLUMB_Y_SCALAR: return "a scalar";
	case PLUMB_Y_MAP: return "a mapping";
	case PLUMB_Y_SEQ: return "a list";
	case PLUMB_Y_MAP_END: return "the end of a mapping";
	case PLUMB_Y_SEQ_END: return "the end of a list";
	}
	return "something else";
}

int plumb_yread_expect(struct plumb_yread *y, struct plumb_yev *ev,
		       enum plumb_ykind kind, const char *what, struct plumb_err *err)
{
	int r;

	if ((r = plumb_yread_next(y, ev, err)) != 0)
		return r;
	if (ev->kind != kind)
		return plumb_yread_fail(y, ev, PLUMB_E_PARSE, err, "%s: expected %s, found %s",
					what, kind_name(kind), kind_name(ev->kind));
	return 0;
}

int plumb_yread_key(struct plumb_yread *y, struct plumb_yev *key, struct plumb_err *err)
{
	int r;

	if ((r = plumb_yread_next(y, key, err)) != 0)
		return r;
	if (key->kind == PLUMB_Y_MAP_END)
		return 0;
	if (key->kind != PLUMB_Y_SCALAR)
		return plumb_yread_fail(y, key, PLUMB_E_PARSE, err, "a key must be a plain string, found %s",
					kind_name(key->kind));
	if (strlen(key->value) != key->len)
		return plumb_yread_fail(y, key, PLUMB_E_PARSE, err, "a key contains a NUL byte");
	return 1;
}

static int is_null(const struct plumb_yev *ev)
{
	return ev->plain && (ev->len == 0 || strcmp(ev->value, "~") == 0 ||
			     strcmp(ev->value, "null") == 0 || strcmp(ev->value, "Null") == 0 ||
			     strcmp(ev->value, "NULL") == 0);
}

int plumb_yread_str(struct plumb_yread *y, char **out, const char *key, int allow_empty,
		    struct plumb_err *err)
{
	struct plumb_yev ev;
	char *s;
	int r;

	*out = NULL;
	if ((r = plumb_yread_expect(y, &ev, PLUMB_Y_SCALAR, key, err)) != 0)
		return r;
	if (is_null(&ev) || (!allow_empty && ev.len == 0))
		return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err, "%s: a value is required", key);
	if (strlen(ev.value) != ev.len)
		return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err, "%s: contains a NUL byte", key);
	if ((s = malloc(ev.len + 1)) == NULL)
		return plumb_err_set(err, PLUMB_E_NOMEM, "out of memory");
	memcpy(s, ev.value, ev.len + 1);
	*out = s;
	return 0;
}

int plumb_yread_bool(struct plumb_yread *y, int *out, const char *key, struct plumb_err *err)
{
	struct plumb_yev ev;
	int r;

	if ((r = plumb_yread_expect(y, &ev, PLUMB_Y_SCALAR, key, err)) != 0)
		return r;
	if (ev.plain && strcmp(ev.value, "true") == 0)
		*out = 1;
	else if (ev.plain && strcmp(ev.value, "false") == 0)
		*out = 0;
	else
		return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
					"%s: expected true or false, found '%s'", key, ev.value);
	return 0;
}

int plumb_yread_u64(struct plumb_yread *y, uint64_t *out, uint64_t max, const char *key,
		    struct plumb_err *err)
{
	struct plumb_yev ev;
	int r;

	if ((r = plumb_yread_expect(y, &ev, PLUMB_Y_SCALAR, key, err)) != 0)
		return r;
	if (!ev.plain || plumb_parse_u64(out, ev.value, max) != 0)
		return plumb_yread_fail(y, &ev, PLUMB_E_INVALID, err,
					"%s: expected a whole number from 0 to %llu, found '%s'",
					key, (unsigned long long)max, ev.value);
	return 0;
}
