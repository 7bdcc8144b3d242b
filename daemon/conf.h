/*
 * conf.h: the daemon's configuration file, /etc/vmd/vmd.conf (format in man/vmd.conf.5.scd).
 *
 * `key = value` lines like xl.conf. vmd is stricter than xl here too: an unknown key, a key set
 * twice or a value of the wrong kind is an error naming the file and line, so a typo cannot
 * silently leave a default in force. Precedence: command line, then the file, then the
 * defaults below; conf_init() sets the defaults, conf_parse() overrides what the file sets.
 */
#ifndef VMD_CONF_H
#define VMD_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"

#define VMD_CONF_PATH "/etc/vmd/vmd.conf"
#define VMD_CONF_MAX_SIZE (64 * 1024)

struct vmd_conf {
	char *socket;          /* NULL: $VMD_SOCKET, else VMD_DEFAULT_SOCKET */
	char *ro_socket;       /* NULL: derived from socket (conf_ro_socket); "" = none */
	char *state_dir;       /* default /var/lib/vmd */
	char *run_dir;         /* NULL: the socket's directory */
	char *backend;         /* NULL: libxl when Xen is there */
	enum log_level log_level;
	char *group;           /* members may change guests; default "vmd" */
	bool group_found;      /* set by conf_check_host: the group exists, with group_gid */
	gid_t group_gid;
	char **storage_roots;  /* where non-root writers' paths must resolve */
	size_t n_storage_roots;
	char *default_bridge;  /* as xl.conf's vif.default.bridge; NULL: libxl's (xenbr0) */
	bool autostart;        /* the daemon's own once-per-boot autostart (see vmd.conf(5)) */
	int claim_mode;        /* memory claims for guests that do not say: -1 = xl.conf's, else on */
	char *xl_conf;         /* xl's global config, read as xl does; default /etc/xen/xl.conf */
	char *dump_dir;        /* on_*=coredump-*: cores go to DIR/NAME; default /var/lib/xen/dump */
	char *ssh_command;     /* vm.migrate: how to reach the target; NULL: ssh */
	char *remote_vmctl;    /* vm.migrate: vmctl on the target; NULL: vmctl */
	uint64_t sim_memory_mib; /* 0: the sim's default */
	uint64_t sim_delay_ms;
	bool sim_delay_set;
};

/* Errors and warnings of a parse or check, each "file:line: text" (line when known). */
struct conf_diag {
	char **errors;
	size_t n_errors;
	char **warnings;
	size_t n_warnings;
};

void conf_init(struct vmd_conf *c);   /* the defaults */
void conf_finish(struct vmd_conf *c); /* frees all; conf_init again before reuse */
void conf_diag_finish(struct conf_diag *diag);

/* Applies the settings of text (len bytes, named fname in messages) over c. Every problem is
 * added to diag; returns the number of errors (0: c holds the file's settings). On errors c
 * is left partly updated: callers stop. */
int conf_parse(struct vmd_conf *c, const char *text, size_t len, const char *fname,
	       struct conf_diag *diag);
/* Reads and parses path. A missing file is an error when must_exist, else c keeps its
 * defaults and 0 is returned. */
int conf_load(struct vmd_conf *c, const char *path, bool must_exist, struct conf_diag *diag);
/* Checks what the syntax cannot: whether the storage roots and the group exist, and looks the
 * group's gid up (group_found, group_gid). Adds warnings only: the daemon starts anyway (an
 * NFS root may not be mounted yet; without the group only root may change guests). */
void conf_check_host(struct vmd_conf *c, struct conf_diag *diag);

/* The read-only socket for a given main socket: "X.sock" -> "X-ro.sock", else "X-ro";
 * malloc'ed, NULL when disabled. */
char *conf_ro_socket(const struct vmd_conf *c, const char *socket_path);

/* The configuration in force in this process, set once by main; before that, the defaults.
 * Ops read their policy (storage roots, default bridge) from here. */
void conf_set_active(const struct vmd_conf *c);
const struct vmd_conf *conf_active(void);

#endif
