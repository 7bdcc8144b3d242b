/*
 * vmctl edit NAME: the guest's definition (vm.config's xlcfg) in $VISUAL / $EDITOR, then
 * vm.update with what the editor left, as virsh edit does: nothing is sent when the text did
 * not change; a config the daemon refuses is reported and, on a terminal, offered for editing
 * again; the edited text is never thrown away while it is not stored (the file stays and its
 * path is printed).
 */
#include "edit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "output.h"
#include "print.h"
#include "util.h"
#include "vmd-proto.h"

#define MAX_EDIT (1 << 20)

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f || fputs(text, f) == EOF || fclose(f) != 0) {
		util_warn("cannot write %s: %s", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	return 0;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = malloc(MAX_EDIT + 1);
	size_t len = 0, n;

	if (!f || !buf) {
		util_warn("cannot read %s: %s", path, strerror(errno));
		free(buf);
		if (f)
			fclose(f);
		return NULL;
	}
	while (len < MAX_EDIT && (n = fread(buf + len, 1, MAX_EDIT - len, f)) > 0)
		len += n;
	if (ferror(f) || len >= MAX_EDIT) {
		util_warn("%s: %s", path, ferror(f) ? strerror(errno) : "too large");
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/* $VISUAL, else $EDITOR, else vi, through the shell (an editor may carry arguments). */
static int run_editor(const char *path)
{
	const char *ed = getenv("VISUAL");
	pid_t pid;
	int st;

	if (!ed || !*ed)
		ed = getenv("EDITOR");
	if (!ed || !*ed)
		ed = "vi";
	pid = fork();
	if (pid < 0) {
		util_warn("cannot run the editor: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		char *cmd = NULL;

		if (asprintf(&cmd, "%s \"$1\"", ed) < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", cmd, "sh", path, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			util_warn("cannot wait for the editor: %s", strerror(errno));
			return -1;
		}
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		util_warn("the editor (%s) failed%s", ed,
			  WIFEXITED(st) ? "" : ": killed by a signal");
		return -1;
	}
	return 0;
}

static bool ask_again(void)
{
	char line[16];

	if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
		return false;
	fputs("Edit again? [y/N] ", stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

int edit_run(struct transport *t, const struct args *a, json_t *config)
{
	const char *name = json_string_value(json_object_get(config, "name"));
	const char *orig = json_string_value(json_object_get(config, "xlcfg"));
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	char *text = NULL;
	int fd, rc = VMCTL_EXIT_FAIL;

	if (!name || !orig)
		return util_malformed("no name or xlcfg");
	snprintf(path, sizeof(path), "%s/vmctl-%s-XXXXXX.cfg", tmp && *tmp ? tmp : "/tmp", name);
	fd = mkstemps(path, 4);
	if (fd < 0) {
		util_warn("cannot create a file for the editor: %s", strerror(errno));
		return VMCTL_EXIT_FAIL;
	}
	close(fd);
	if (write_text(path, orig) < 0)
		goto out;
	for (;;) {
		json_t *p, *reply = NULL;

		if (run_editor(path) < 0 || !(text = read_text(path)))
			goto keep;
		if (strcmp(text, orig) == 0) {
			json_t *r = json_pack("{s:s, s:[]}", "name", name, "changes");

			if (output_is_json())
				output_json(r);
			else
				printf("%s: unchanged\n", name);
			json_decref(r);
			rc = VMCTL_EXIT_OK;
			goto out;
		}
		p = json_pack("{s:s, s:s, s:s}", "name", name, "xlcfg", text, "filename",
			      path + (strrchr(path, '/') ? strrchr(path, '/') - path + 1 : 0));
		free(text);
		text = NULL;
		if (!p) {
			util_warn("%s: not valid UTF-8", path);
			if (ask_again())
				continue;
			goto keep;
		}
		rc = transport_call(t, "vm.update", p, &reply);
		if (rc == VMCTL_EXIT_OK) {
			if (output_is_json())
				output_json(reply);
			else
				rc = print_update(a, reply);
			json_decref(reply);
			goto out;
		}
		if (rc == VMCTL_EXIT_DAEMON) {
			json_int_t code = json_integer_value(json_object_get(reply, "code"));

			rc = output_error(reply);
			json_decref(reply);
			/* the config's own faults can be mended in the editor */
			if ((code == 4 || code == 2 || code == 5 || code == -32602) && ask_again())
				continue;
		}
		goto keep;
	}
keep:
	util_warn("the edited config is kept in %s", path);
	free(text);
	return rc == VMCTL_EXIT_OK ? VMCTL_EXIT_FAIL : rc;
out:
	unlink(path);
	free(text);
	return rc;
}
