/*
 * vmd-proto.h: the wire contract shared by vmd and vmctl.
 *
 * The normative text is proto/vmd-protocol.md; this header holds the numbers that both sides
 * compile against: protocol version, limits, error codes and method names. Changing a value
 * here is a protocol change and needs the spec and schemas changed with it.
 */
#ifndef VMD_PROTO_H
#define VMD_PROTO_H

#define VMD_PROTO_VERSION 1
#define VMD_DEFAULT_SOCKET "/run/vmd/vmd.sock"
#define VMD_SOCKET_ENV "VMD_SOCKET"

/* A request line (without its newline) longer than this is refused before parsing. */
#define VMD_MAX_LINE (1024 * 1024)
/* Guest names: [A-Za-z0-9._-], no leading dot, 1..VMD_NAME_MAX bytes. */
#define VMD_NAME_MAX 64
/* Outgoing bytes queued for one client before the daemon drops that client. */
/* vm.install: the smallest disk it installs onto (bytes), and the installer's memory (MiB)
 * when the request names none: what current Debian/Ubuntu/Fedora installers need. */
#define VMD_INSTALL_MIN_DISK (16u << 20)
#define VMD_INSTALL_DEFAULT_MEMORY 1024
#define VMD_MAX_OUTQ (16 * 1024 * 1024)
/* A client's input is not read while this much of its output is queued (it resumes below a
 * quarter of it): a client that pipelines and reads gets every reply. */
#define VMD_OUTQ_PAUSE (4 * 1024 * 1024)
/* Bounds per peer uid (not root, not the daemon's own): connections, and output queued on
 * all of them; and output queued on all connections together. Over one, the connection that
 * would cross it is dropped (a client that does not read its replies or events). */
#define VMD_MAX_CONNS_PER_UID 64
#define VMD_MAX_OUTQ_PER_UID (64 * 1024 * 1024)
#define VMD_MAX_OUTQ_ALL (256 * 1024 * 1024)

/* JSON-RPC 2.0 protocol faults. */
#define VMD_ERR_PARSE -32700          /* the line is not JSON (or not UTF-8) */
#define VMD_ERR_INVALID_REQUEST -32600 /* not a JSON-RPC 2.0 request object; line too long */
#define VMD_ERR_METHOD_NOT_FOUND -32601
#define VMD_ERR_INVALID_PARAMS -32602  /* wrong type, missing or unknown parameter */
#define VMD_ERR_INTERNAL -32603

/* Application errors: stable codes, documented in proto/vmd-protocol.md. */
#define VMD_ERR_NOT_FOUND 1       /* no guest (or job) of that name */
#define VMD_ERR_EXISTS 2          /* name, UUID or MAC already taken */
#define VMD_ERR_BAD_STATE 3       /* the guest is not in a state that allows this */
#define VMD_ERR_INVALID_CONFIG 4  /* the guest configuration is wrong; data names key/line */
#define VMD_ERR_PERMISSION 5      /* the caller may not do this */
#define VMD_ERR_BACKEND 6         /* the hypervisor refused or failed */
#define VMD_ERR_BUSY 7            /* another operation on this guest is in progress */
#define VMD_ERR_IO 8              /* reading or writing a file failed */
#define VMD_ERR_TIMEOUT 9         /* a wait ran out (e.g. shutdown --wait --timeout) */
#define VMD_ERR_NO_RESOURCES 10   /* not enough host memory (or other resource) */
#define VMD_ERR_CANCELLED 11      /* a job was cancelled */
#define VMD_ERR_NOT_SUPPORTED 12  /* vmd cannot do this here (block-device clone, no virt-sysprep) */

#endif
