/* path.c - path validation for baseline entries.
 * Pure string checks; nothing here touches the filesystem. */
#include <limits.h>
#include <string.h>

#include "plumb/path.h"
#include "banned.h"

static const char *check_components(const char *p, size_t len)
{
	size_t i = 0;

	if (len == 0)
		return "path is empty";
	if (len > PLUMB_PATH_MAX)
		return "path is too long";
	if (memchr(p, '\0', len) != NULL)
		return "path contains a NUL byte";
	while (i < len) {
		size_t j = i;

		while (j < len && p[j] != '/')
			j++;
		if (j == i)
			return j == len ? "path ends with '/'" : "path has an empty component ('//')";
		if (j - i == 1 && p[i] == '.')
			return "path has a '.' component";
		if (j - i == 2 && p[i] == '.' && p[i + 1] == '.')
			return "path has a '..' component";
		if (j - i > NAME_MAX)
			return "path has a component longer than NAME_MAX";
		i = j + 1;
		if (j + 1 == len)
			return "path ends with '/'";
	}
	return NULL;
}

const char *plumb_path_check_abs(const char *p, size_t len)
{
	if (len == 0 || p[0] != '/')
		return "path must be absolute";
	if (len == 1)
		return "path must not be '/'";
	return check_components(p + 1, len - 1);
}

const char *plumb_path_check_rel(const char *p, size_t len)
{
	if (len > 0 && p[0] == '/')
		return "path must be relative to the baseline";
	return check_components(p, len);
}
