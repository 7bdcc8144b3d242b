/*
 * test-ssh.c: ssh:// URIs and the ssh command lines built from them (common/ssh.c), which
 * both vmctl -H and vm.migrate hand to execvp: what may reach ssh's command line or the
 * remote shell, and how.
 */
#include "ssh.h"
#include <stdbool.h>

#include "test.h"

static void parses_the_forms(void)
{
	struct ssh_target t;
	const char *why = NULL;

	CHECK(ssh_parse_uri("ssh://host", &t, &why) == 0);
	CHECK_STR(t.host, "host");
	CHECK(!t.user[0] && !t.port[0] && !t.path[0]);
	CHECK(ssh_parse_uri("ssh://adm-1@dom0.example.org:2222/run/vmd/vmd-ro.sock", &t, &why) == 0);
	CHECK_STR(t.user, "adm-1");
	CHECK_STR(t.host, "dom0.example.org");
	CHECK_STR(t.port, "2222");
	CHECK_STR(t.path, "/run/vmd/vmd-ro.sock");
	CHECK(ssh_parse_uri("ssh://root@[fe80::1]:22/s.sock", &t, &why) == 0);
	CHECK_STR(t.host, "fe80::1");
	CHECK_STR(t.port, "22");
	CHECK(ssh_parse_uri("ssh://h/", &t, &why) == 0); /* a bare slash: the default socket */
	CHECK(!t.path[0]);

	char buf[400];
	ssh_parse_uri("ssh://root@[::1]:2200/x.sock", &t, &why);
	ssh_format_uri(&t, false, buf, sizeof buf);
	CHECK_STR(buf, "ssh://root@[::1]:2200");
	ssh_format_uri(&t, true, buf, sizeof buf);
	CHECK_STR(buf, "ssh://root@[::1]:2200/x.sock");
}

static void refuses_what_ssh_or_a_shell_would_misread(void)
{
	static const char *const bad[] = {
		"", "host", "http://host", "ssh://", "ssh://@host", "ssh://-oProxyCommand=x",
		"ssh://-l@host", "ssh://us er@host", "ssh://u;id@host", "ssh://host:0",
		"ssh://host:65536", "ssh://host:22a", "ssh://host:", "ssh://[::1", "ssh://[zz]",
		"ssh://[::1]x", "ssh://host/a b", "ssh://host/a'b", "ssh://host/a?b", "ssh://host/a#b",
		"ssh://ho$t", "ssh://host;reboot", "ssh://host/$(reboot)x'",
	};
	struct ssh_target t;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *why = NULL;
		int r = ssh_parse_uri(bad[i], &t, &why);
		if (r == 0)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK(r < 0 && why && *why);
	}
}

static int argc_of(char **argv)
{
	int n = 0;
	while (argv[n])
		n++;
	return n;
}

static void builds_the_command_line(void)
{
	struct ssh_target t;
	const char *why;
	char *words[] = {"console", "web", "--timeout", "5"};

	ssh_parse_uri("ssh://adm@h:2222/run/vmd/vmd.sock", &t, &why);
	struct ssh_opts o = {.tty = true, .timeout_s = 7};
	char **argv = ssh_argv(&t, &o, words, 4, &why);
	CHECK(argv != NULL);
	int n = argc_of(argv);
	CHECK_STR(argv[0], "ssh");
	CHECK_STR(argv[1], "-t");
	CHECK_STR(argv[3], "ConnectTimeout=7");
	CHECK_STR(argv[n - 3], "--");
	CHECK_STR(argv[n - 2], "h");
	/* One string for the remote shell, each word quoted: it sees exactly these words. */
	CHECK_STR(argv[n - 1], "'vmctl' '-s' '/run/vmd/vmd.sock' 'console' 'web' '--timeout' '5'");
	bool has_port = false, has_user = false, batch = false;
	for (int i = 0; i < n - 1; i++) {
		has_port |= strcmp(argv[i], "-p") == 0 && strcmp(argv[i + 1], "2222") == 0;
		has_user |= strcmp(argv[i], "-l") == 0 && strcmp(argv[i + 1], "adm") == 0;
		batch |= strcmp(argv[i], "BatchMode=yes") == 0;
	}
	CHECK(has_port && has_user && !batch);
	ssh_argv_free(argv);

	/* A command of the admin's, run by the shell with the arguments appended. */
	ssh_parse_uri("ssh://h", &t, &why);
	struct ssh_opts o2 = {.command = "ssh -F /etc/vmd/ssh.conf", .remote_vmctl = "/opt/vmctl",
			      .batch = true};
	char *proxy[] = {"proxy"};
	argv = ssh_argv(&t, &o2, proxy, 1, &why);
	n = argc_of(argv);
	CHECK_STR(argv[0], "/bin/sh");
	CHECK_STR(argv[1], "-c");
	CHECK_STR(argv[2], "ssh -F /etc/vmd/ssh.conf \"$@\"");
	CHECK_STR(argv[3], "ssh");
	CHECK_STR(argv[4], "-T");
	CHECK_STR(argv[n - 1], "'/opt/vmctl' 'proxy'");
	batch = false;
	for (int i = 0; i < n; i++)
		batch |= strcmp(argv[i], "BatchMode=yes") == 0;
	CHECK(batch);
	ssh_argv_free(argv);

	/* A word that single quotes cannot hold is refused, not passed on. */
	char *quote[] = {"info", "it's"};
	why = NULL;
	CHECK(ssh_argv(&t, &o, quote, 2, &why) == NULL && why);
}

int main(void)
{
	RUN(parses_the_forms);
	RUN(refuses_what_ssh_or_a_shell_would_misread);
	RUN(builds_the_command_line);
	TEST_DONE();
}
