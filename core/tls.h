/*
 * TLS client over a non-blocking socket.  Every mbedTLS call of drove lives
 * in tls.c, so moving to another mbedTLS major touches one file.
 *
 * Functions that can block return TLS_WANT_READ or TLS_WANT_WRITE: wait for
 * that on the fd (unless tls_conn_pending() says bytes are buffered), then
 * call the same function again with the same arguments.
 */
#ifndef DROVE_TLS_H
#define DROVE_TLS_H

#include <stddef.h>
#include <sys/types.h>

#define TLS_WANT_READ (-1000)
#define TLS_WANT_WRITE (-1001)

/* Shared configuration: one CA chain, RNG and mbedTLS config. */
struct tls_ctx;
/* A saved session for resumption. */
struct tls_session;
struct tls_conn;

/*
 * Loads the CA certificates from ca_file, or if it is NULL from
 * $SSL_CERT_FILE, or else from the first system bundle found.  Returns 0
 * and *out, or DROVE_ETLS with the reason in err.  Free with tls_ctx_free
 * once no connection uses it.
 */
int tls_ctx_new(const char *ca_file, struct tls_ctx **out, char *err,
    size_t errlen);
void tls_ctx_free(struct tls_ctx *ctx);
/* The CA file the context was loaded from (borrowed). */
const char *tls_ctx_ca_file(const struct tls_ctx *ctx);

/*
 * Starts a client connection on the connected socket fd (borrowed; the
 * caller closes it after tls_conn_free).  host (copied) is the name sent
 * as SNI and checked against the certificate; an IPv4 or IPv6 literal is
 * checked against the certificate's IP addresses instead.  sess, if not
 * NULL, is offered for resumption.  Returns NULL with a reason in err.
 */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int fd, const char *host,
    const struct tls_session *sess, char *err, size_t errlen);
void tls_conn_free(struct tls_conn *c);
/* 0 when done, TLS_WANT_*, or DROVE_ETLS with the reason in err (for a
 * verification failure: "certificate verify failed: <which check>"). */
int tls_conn_handshake(struct tls_conn *c, char *err, size_t errlen);
/* Bytes read (> 0), 0 at the peer's close, TLS_WANT_*, or DROVE_ETLS /
 * DROVE_ECONNRESET with the reason in err. */
ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t len, char *err,
    size_t errlen);
/* Bytes written (> 0), TLS_WANT_*, or < 0 with the reason in err. */
ssize_t tls_conn_write(struct tls_conn *c, const void *buf, size_t len,
    char *err, size_t errlen);
/* True if decrypted or undecrypted bytes are already buffered. */
int tls_conn_pending(const struct tls_conn *c);
/* True if the handshake resumed a saved session. */
int tls_conn_resumed(const struct tls_conn *c);
/* A copy of the established session, or NULL; free with
 * tls_session_free. */
struct tls_session *tls_conn_session(struct tls_conn *c);
void tls_session_free(struct tls_session *s);

/* Base64 of src into a new allocation (NUL-terminated). */
char *tls_base64(const void *src, size_t len);

#endif /* DROVE_TLS_H */
