/*
 * seed.h: a guest's cloud-init NoCloud seed, the ISO 9660 volume labelled "cidata" that
 * cloud-init's NoCloud datasource finds by its label and reads user-data, meta-data and,
 * when there is one, network-config from (the cloud-init docs' `genisoimage -volid cidata
 * -joliet -rock` layout), written with libisofs.
 *
 * seed_write does blocking I/O and runs libisofs' writer thread: meant for worker threads
 * (job.h) or small seeds; it touches neither libevent nor jansson.
 */
#ifndef VMD_SEED_H
#define VMD_SEED_H

#include <stddef.h>

#include "err.h"

/* The most user-data, meta-data and network-config may hold together: cloud-init reads them
 * whole into memory, and a seed of this size is already far beyond any real one (EC2 stops
 * user-data at 16 KiB); it also leaves room in a request's line (VMD_MAX_LINE, 1 MiB) for
 * the JSON escapes of the texts, so the limit is this clear error, not a protocol one. */
#define SEED_MAX_BYTES (256u << 10)

struct seed {
	const char *user_data;      /* the guest's user-data, as given */
	size_t user_data_len;
	const char *meta_data;      /* NULL: made from instance_id and hostname */
	size_t meta_data_len;
	const char *network_config; /* NULL: none (cloud-init's default: DHCP on the first NIC) */
	size_t network_config_len;
	const char *instance_id;    /* for a made meta-data */
	const char *hostname;
	char *const *ssh_keys;      /* for a made meta-data: its public-keys (the default user's) */
	size_t n_ssh_keys;
};

/* What cloud-init makes of user-data that starts so: a #cloud-config document, a script, a
 * list of URLs, a MIME multi-part message, ... ("cloud-config", "script", ...); NULL when
 * it would ignore it (cloud-init logs "Unhandled non-multipart userdata" and runs none of
 * it), with err set. Empty user-data is none (cloud-init does nothing with it): "empty". */
const char *seed_user_data_kind(const char *data, size_t len, struct err *err);

/* The meta-data of a seed: instance-id, local-hostname and, when there are keys,
 * public-keys (cloud-init installs them for the image's default user), as YAML (malloc'ed).
 * The keys must pass seed_check_ssh_key. */
char *seed_meta_data(const char *instance_id, const char *hostname, char *const *keys,
		     size_t n_keys);
/* Is key one line of an OpenSSH public key ("ssh-ed25519 AAAA... comment")? 0, or -1 with
 * err INVALID_PARAMS. */
int seed_check_ssh_key(const char *key, struct err *err);

/* The seed's image, in *out (malloc'ed, *len bytes; a multiple of 2048). 0, or -1 with err as
 * seed_write's (but for VMD_ERR_IO). */
int seed_build(const struct seed *s, unsigned char **out, size_t *len, struct err *err);

/* Writes the seed to path, whole or not at all (a temporary file renamed over it), mode
 * 0640. 0, or -1 with err: user-data cloud-init would ignore (VMD_ERR_INVALID_PARAMS), more
 * than SEED_MAX_BYTES (VMD_ERR_INVALID_PARAMS), a file that cannot be written
 * (VMD_ERR_IO), libisofs failing (VMD_ERR_INTERNAL). */
int seed_write(const char *path, const struct seed *s, struct err *err);

#endif
