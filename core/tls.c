/*
 * TLS glue over mbedTLS 2.28 (the only file that calls mbedTLS).
 *
 * Verification is always required.  mbedTLS checks the chain, the dates,
 * the key strength and a DNS host name; it does not check IP addresses, so
 * a per-connection verify callback checks IP-literal hosts against the
 * certificate's iPAddress names and records what it saw of the chain, to
 * name the exact check that failed.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/asn1.h>
#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "drove/plugin.h"
#include "util.h"

struct tls_ctx {
	char *ca_file;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_x509_crt ca;
	mbedtls_ssl_config conf;
	int *suites;		/* the ciphersuites offered, in order */
};

struct tls_session {
	mbedtls_ssl_session s;
};

struct tls_conn {
	struct tls_ctx *ctx;
	int fd;
	char *host;
	int ip_len;		/* 4 or 16 for an IP-literal host, else 0 */
	unsigned char ip[16];
	int offered;		/* a saved session was offered */
	int handshake_done;
	unsigned char first;	/* the peer's first byte, during handshake */
	int got_first;
	/* what the verify callback saw */
	int chain_len;
	int top_self_signed;
	int ip_mismatch;
	char top_subject[128];
	char top_issuer[128];
	/* bytes read from the socket ahead of what mbedTLS asked for */
	unsigned char *ra;
	size_t ra_off, ra_len;
	mbedtls_ssl_context ssl;
};

/* mbedTLS reads a record's 5-byte header, then its body, each with its
 * own recv; asked for less than this, one recv of up to this much serves
 * both, and the records after them, from c->ra (allocated only while it
 * holds bytes: it is empty whenever the connection waits). */
#define TLS_READ_AHEAD 16384

/* CA bundles of Debian/Ubuntu, RHEL/Fedora, OpenSUSE, Alpine, the BSDs and
 * macOS (Homebrew and MacPorts). */
static const char *const ca_paths[] = {
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/ca-bundle.pem",
	"/etc/ssl/cert.pem",
	"/usr/local/share/certs/ca-root-nss.crt",
	"/usr/local/etc/ssl/cert.pem",
	"/opt/homebrew/etc/ca-certificates/cert.pem",
	"/usr/local/etc/openssl/cert.pem",
	"/opt/local/share/curl/curl-ca-bundle.crt",
};

/*
 * Key exchange groups, fastest first: X25519 is what OpenSSL clients offer
 * first and costs a fraction of the NIST curves; mbedTLS's own default
 * order starts at secp521r1, and a server that honours the client's order
 * then spends most of a handshake's CPU (both sides) on it.  secp521r1
 * stays, last, for servers that accept nothing else.
 */
static const mbedtls_ecp_group_id curves[] = {
	MBEDTLS_ECP_DP_CURVE25519,
	MBEDTLS_ECP_DP_SECP256R1,
	MBEDTLS_ECP_DP_SECP384R1,
	MBEDTLS_ECP_DP_SECP521R1,
	MBEDTLS_ECP_DP_NONE,
};

/*
 * The ciphersuites offered, in order: ephemeral ECDH with an AEAD cipher
 * first, then the CBC and plain-RSA suites that servers of a few years
 * ago still want (about the list a browser offers).  Not mbedTLS's whole
 * default list: its 127 suites (static ECDH, Camellia, CCM, ...) made
 * every ClientHello 160 bytes of suites longer, and mbedTLS looks each one
 * up in its table, a tenth of the client's instructions in a resumed
 * handshake.  Those this mbedTLS lacks are left out; should it have none
 * of them, its own defaults are offered.
 */
static const int offered_suites[] = {
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	MBEDTLS_TLS_DHE_RSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_DHE_RSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_RSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_RSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_RSA_WITH_AES_128_CBC_SHA256,
	MBEDTLS_TLS_RSA_WITH_AES_256_CBC_SHA256,
	MBEDTLS_TLS_RSA_WITH_AES_128_CBC_SHA,
	MBEDTLS_TLS_RSA_WITH_AES_256_CBC_SHA,
};

/* offered_suites that this mbedTLS has, in that order. */
static int *
suite_list(void)
{
	const int *dflt = mbedtls_ssl_list_ciphersuites();
	size_t n, i, j, k = 0;
	int *out;

	for (n = 0; dflt[n] != 0; n++)
		;
	out = xcalloc(n + 1, sizeof(*out));
	for (i = 0; i < ARRAY_SIZE(offered_suites); i++)
		for (j = 0; j < n; j++)
			if (dflt[j] == offered_suites[i]) {
				out[k++] = dflt[j];
				break;
			}
	if (k == 0)
		memcpy(out, dflt, n * sizeof(*out));
	return out;
}

static void
mbed_err(char *err, size_t errlen, const char *what, int rc)
{
	char buf[160];

	mbedtls_strerror(rc, buf, sizeof(buf));
	errf(err, errlen, "%s: %s (-0x%04x)", what, buf, (unsigned)-rc);
}

static const char *
find_ca_file(const char *ca_file)
{
	const char *env;
	size_t i;

	if (ca_file != NULL && *ca_file != '\0')
		return ca_file;
	env = getenv("SSL_CERT_FILE");
	if (env != NULL && *env != '\0')
		return env;
	for (i = 0; i < ARRAY_SIZE(ca_paths); i++)
		if (access(ca_paths[i], R_OK) == 0)
			return ca_paths[i];
	return NULL;
}

/*
 * mbedTLS 2.28 (as Debian builds it) gives each connection a record
 * buffer of about 16.3 KiB each way, allocated with calloc.  Carved from
 * the heap, calloc clears all of it, so every page of both is resident
 * though a streamed answer's records fill a few; mapped fresh, a page
 * stays untouched until a record uses it.  glibc maps allocations from
 * this size on (a fixed threshold: its adaptive one would climb past the
 * buffers once the first is freed).
 */
#define TLS_MAP_FROM (16 * 1024)

static void
map_record_buffers(void)
{
#if defined(__GLIBC__) && defined(M_MMAP_THRESHOLD)
	(void)mallopt(M_MMAP_THRESHOLD, TLS_MAP_FROM);
#endif
}

/*
 * The DRBG's seed and reseeds: the operating system's generator, read
 * directly (getentropy(3): getrandom(2) on Linux).  mbedTLS's entropy pool
 * would add nothing to it but cost: Debian builds mbedTLS 2.28 with HAVEGE,
 * whose start-up fill alone is about a million instructions, a third of a
 * millisecond before the first connection can start.  A generator that
 * fails fails the handshake; there is no weaker fallback.
 */
static int
os_entropy(void *arg, unsigned char *buf, size_t len)
{
	(void)arg;
	while (len > 0) {
		size_t n = len < 256 ? len : 256;

		if (getentropy(buf, n) != 0)
			return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
		buf += n;
		len -= n;
	}
	return 0;
}

int
tls_ctx_new(const char *ca_file, struct tls_ctx **out, char *err,
    size_t errlen)
{
	static const char pers[] = "drove";
	struct tls_ctx *ctx;
	const char *path;
	int rc;

	*out = NULL;
	map_record_buffers();
	path = find_ca_file(ca_file);
	if (path == NULL) {
		errf(err, errlen, "no CA bundle found: set ca_file or "
		    "SSL_CERT_FILE");
		return DROVE_ETLS;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->ca_file = xstrdup(path);
	mbedtls_ctr_drbg_init(&ctx->drbg);
	mbedtls_x509_crt_init(&ctx->ca);
	mbedtls_ssl_config_init(&ctx->conf);
	rc = mbedtls_ctr_drbg_seed(&ctx->drbg, os_entropy, NULL,
	    (const unsigned char *)pers, sizeof(pers) - 1);
	if (rc != 0) {
		mbed_err(err, errlen, "cannot seed the RNG", rc);
		goto fail;
	}
	errno = 0;
	rc = mbedtls_x509_crt_parse_file(&ctx->ca, path);
	if (rc < 0 &&
	    (errno == EMFILE || errno == ENFILE)) {
		/* out of descriptors, not a bad file: the call waits */
		errf(err, errlen, "cannot read CA file '%s': %s", path,
		    strerror(errno));
		tls_ctx_free(ctx);
		return DROVE_ENOFD;
	}
	if (rc < 0 || ctx->ca.version == 0) {
		if (rc < 0 && access(path, R_OK) != 0)
			errf(err, errlen, "cannot read CA file '%s': %s", path,
			    strerror(errno));
		else
			errf(err, errlen, "no usable CA certificate in '%s'",
			    path);
		goto fail;
	}
	rc = mbedtls_ssl_config_defaults(&ctx->conf, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (rc != 0) {
		mbed_err(err, errlen, "cannot configure TLS", rc);
		goto fail;
	}
	mbedtls_ssl_conf_authmode(&ctx->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&ctx->conf, &ctx->ca, NULL);
	mbedtls_ssl_conf_rng(&ctx->conf, mbedtls_ctr_drbg_random, &ctx->drbg);
	mbedtls_ssl_conf_min_version(&ctx->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_session_tickets(&ctx->conf,
	    MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
	mbedtls_ssl_conf_curves(&ctx->conf, curves);
	ctx->suites = suite_list();
	mbedtls_ssl_conf_ciphersuites(&ctx->conf, ctx->suites);
	*out = ctx;
	return 0;
fail:
	tls_ctx_free(ctx);
	return DROVE_ETLS;
}

void
tls_ctx_free(struct tls_ctx *ctx)
{
	if (ctx == NULL)
		return;
	mbedtls_ssl_config_free(&ctx->conf);
	mbedtls_x509_crt_free(&ctx->ca);
	mbedtls_ctr_drbg_free(&ctx->drbg);
	free(ctx->suites);
	free(ctx->ca_file);
	free(ctx);
}

const char *
tls_ctx_ca_file(const struct tls_ctx *ctx)
{
	return ctx->ca_file;
}

/* Socket callbacks: would-block becomes WANT_READ / WANT_WRITE. */
static int
bio_send(void *arg, const unsigned char *buf, size_t len)
{
	struct tls_conn *c = arg;
	ssize_t n;

	n = send(c->fd, buf, len, MSG_NOSIGNAL);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	if (errno == EPIPE || errno == ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int
bio_recv(void *arg, unsigned char *buf, size_t len)
{
	struct tls_conn *c = arg;
	unsigned char ahead[TLS_READ_AHEAD];
	ssize_t n;

	if (c->ra_len > 0) {
		n = (ssize_t)(len < c->ra_len ? len : c->ra_len);
		memcpy(buf, c->ra + c->ra_off, (size_t)n);
		c->ra_off += (size_t)n;
		c->ra_len -= (size_t)n;
		if (c->ra_len == 0) {
			free(c->ra);
			c->ra = NULL;
			c->ra_off = 0;
		}
		return (int)n;
	}
	if (len < sizeof(ahead)) {
		n = recv(c->fd, ahead, sizeof(ahead), 0);
		if (n > (ssize_t)len) {
			c->ra_len = (size_t)n - len;
			c->ra_off = 0;
			c->ra = xmalloc(c->ra_len);
			memcpy(c->ra, ahead + len, c->ra_len);
			n = (ssize_t)len;
		}
		if (n > 0)
			memcpy(buf, ahead, (size_t)n);
	} else {
		n = recv(c->fd, buf, len, 0);
	}
	if (n > 0 && !c->got_first) {
		c->first = buf[0];
		c->got_first = 1;
	}
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	if (errno == ECONNRESET || errno == EPIPE)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_RECV_FAILED;
}

/*
 * True if the certificate lists ip (len 4 or 16) among its
 * subjectAltName iPAddress entries.  mbedTLS 2.28 keeps only DNS and
 * otherName entries, so this walks the raw extensions.
 */
static int
crt_has_ip(const mbedtls_x509_crt *crt, const unsigned char *ip, int iplen)
{
	unsigned char *p, *end, *ext_end, *names_end;
	size_t len;
	mbedtls_x509_buf oid;
	int crit;

	if (crt->v3_ext.p == NULL || crt->v3_ext.len == 0)
		return 0;
	p = crt->v3_ext.p;
	end = p + crt->v3_ext.len;
	if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED |
	    MBEDTLS_ASN1_SEQUENCE) != 0)
		return 0;
	end = p + len;
	while (p < end) {
		if (mbedtls_asn1_get_tag(&p, end, &len,
		    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
			return 0;
		ext_end = p + len;
		if (mbedtls_asn1_get_tag(&p, ext_end, &oid.len,
		    MBEDTLS_ASN1_OID) != 0)
			return 0;
		oid.p = p;
		p += oid.len;
		/* the optional critical flag */
		(void)mbedtls_asn1_get_bool(&p, ext_end, &crit);
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_SUBJECT_ALT_NAME, &oid) != 0) {
			p = ext_end;
			continue;
		}
		if (mbedtls_asn1_get_tag(&p, ext_end, &len,
		    MBEDTLS_ASN1_OCTET_STRING) != 0 ||
		    mbedtls_asn1_get_tag(&p, ext_end, &len,
		    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
			return 0;
		names_end = p + len;
		while (p < names_end) {
			unsigned char tag = *p++;

			if (mbedtls_asn1_get_len(&p, names_end, &len) != 0)
				return 0;
			if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) &&
			    len == (size_t)iplen &&
			    memcmp(p, ip, len) == 0)
				return 1;
			p += len;
		}
		return 0;
	}
	return 0;
}

/*
 * Called for each certificate of the chain mbedTLS built, from the top
 * (highest depth) down to the server's own (depth 0).
 */
static int
verify_cb(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct tls_conn *c = arg;

	if (depth + 1 > c->chain_len) {
		c->chain_len = depth + 1;
		c->top_self_signed = crt->issuer_raw.len ==
		    crt->subject_raw.len && memcmp(crt->issuer_raw.p,
		    crt->subject_raw.p, crt->issuer_raw.len) == 0;
		mbedtls_x509_dn_gets(c->top_subject, sizeof(c->top_subject),
		    &crt->subject);
		mbedtls_x509_dn_gets(c->top_issuer, sizeof(c->top_issuer),
		    &crt->issuer);
	}
	if (depth == 0 && c->ip_len > 0 && !crt_has_ip(crt, c->ip, c->ip_len)) {
		c->ip_mismatch = 1;
		*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	}
	return 0;
}

struct tls_conn *
tls_conn_new(struct tls_ctx *ctx, int fd, const char *host,
    const struct tls_session *sess, char *err, size_t errlen)
{
	struct tls_conn *c;
	int rc;

	c = xcalloc(1, sizeof(*c));
	c->ctx = ctx;
	c->fd = fd;
	c->host = xstrdup(host);
	mbedtls_ssl_init(&c->ssl);
	if ((rc = mbedtls_ssl_setup(&c->ssl, &ctx->conf)) != 0) {
		mbed_err(err, errlen, "cannot set up TLS", rc);
		goto fail;
	}
	if (inet_pton(AF_INET, host, c->ip) == 1) {
		c->ip_len = 4;
	} else if (inet_pton(AF_INET6, host, c->ip) == 1) {
		c->ip_len = 16;
	} else if ((rc = mbedtls_ssl_set_hostname(&c->ssl, host)) != 0) {
		/* SNI and the name check; never for IP literals */
		mbed_err(err, errlen, "bad TLS host name", rc);
		goto fail;
	}
	mbedtls_ssl_set_verify(&c->ssl, verify_cb, c);
	mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
	if (sess != NULL && mbedtls_ssl_set_session(&c->ssl, &sess->s) == 0)
		c->offered = 1;
	return c;
fail:
	tls_conn_free(c);
	return NULL;
}

void
tls_conn_free(struct tls_conn *c)
{
	if (c == NULL)
		return;
	mbedtls_ssl_free(&c->ssl);
	free(c->ra);
	free(c->host);
	free(c);
}

/* Names the one check that failed, most specific first. */
static void
verify_reason(struct tls_conn *c, uint32_t f, char *err, size_t errlen)
{
	const char *pre = "TLS verify failed";

	if (f & MBEDTLS_X509_BADCERT_EXPIRED)
		errf(err, errlen, "%s: certificate has expired", pre);
	else if (f & MBEDTLS_X509_BADCERT_FUTURE)
		errf(err, errlen, "%s: certificate is not yet valid", pre);
	else if (f & (MBEDTLS_X509_BADCERT_BAD_KEY |
	    MBEDTLS_X509_BADCRL_BAD_KEY))
		errf(err, errlen, "%s: certificate key is too weak", pre);
	else if (f & (MBEDTLS_X509_BADCERT_BAD_MD |
	    MBEDTLS_X509_BADCERT_BAD_PK))
		errf(err, errlen, "%s: certificate uses a weak or "
		    "unsupported signature algorithm", pre);
	else if ((f & MBEDTLS_X509_BADCERT_NOT_TRUSTED) &&
	    c->chain_len == 1 && c->top_self_signed)
		errf(err, errlen, "%s: self-signed certificate", pre);
	else if ((f & MBEDTLS_X509_BADCERT_NOT_TRUSTED) && c->top_self_signed)
		errf(err, errlen, "%s: certificate chain ends in an untrusted "
		    "root (%s)", pre, c->top_subject);
	else if (f & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
		errf(err, errlen, "%s: unknown issuer (%s): an intermediate "
		    "certificate is missing or the CA is not trusted", pre,
		    c->top_issuer);
	else if ((f & MBEDTLS_X509_BADCERT_CN_MISMATCH) && c->ip_len)
		errf(err, errlen, "%s: certificate is not valid for IP "
		    "address %s", pre, c->host);
	else if (f & MBEDTLS_X509_BADCERT_CN_MISMATCH)
		errf(err, errlen, "%s: certificate does not match host name "
		    "'%s'", pre, c->host);
	else if (f & (MBEDTLS_X509_BADCERT_KEY_USAGE |
	    MBEDTLS_X509_BADCERT_EXT_KEY_USAGE | MBEDTLS_X509_BADCERT_NS_CERT_TYPE))
		errf(err, errlen, "%s: certificate is not for a TLS server "
		    "(its key usage or extended key usage does not allow "
		    "server authentication)", pre);
	else if (f & MBEDTLS_X509_BADCERT_REVOKED)
		errf(err, errlen, "%s: certificate was revoked", pre);
	else
		errf(err, errlen, "%s: flags 0x%x", pre, (unsigned)f);
}

int
tls_conn_handshake(struct tls_conn *c, char *err, size_t errlen)
{
	uint32_t flags;
	int rc;

	rc = mbedtls_ssl_handshake(&c->ssl);
	if (rc == 0) {
		c->handshake_done = 1;
		return 0;
	}
	if (rc == MBEDTLS_ERR_SSL_WANT_READ)
		return TLS_WANT_READ;
	if (rc == MBEDTLS_ERR_SSL_WANT_WRITE)
		return TLS_WANT_WRITE;
	flags = mbedtls_ssl_get_verify_result(&c->ssl);
	/* a TLS record starts with a content type from 20 to 24 */
	if (c->got_first && (c->first < 20 || c->first > 24))
		errf(err, errlen, "TLS handshake failed: the server did not "
		    "answer TLS (is it plain HTTP? then use http://)");
	/* a certificate without the server-auth usage fails the
	 * handshake as a bad certificate, its flags set */
	else if ((rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED ||
	    rc == MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE) && flags != 0 &&
	    flags != (uint32_t)-1)
		verify_reason(c, flags, err, errlen);
	else if (rc == MBEDTLS_ERR_NET_CONN_RESET || rc ==
	    MBEDTLS_ERR_SSL_CONN_EOF)
		errf(err, errlen, "TLS handshake failed: connection closed by "
		    "the peer");
	else
		mbed_err(err, errlen, "TLS handshake failed", rc);
	return DROVE_ETLS;
}

ssize_t
tls_conn_read(struct tls_conn *c, void *buf, size_t len, char *err,
    size_t errlen)
{
	int rc;

	rc = mbedtls_ssl_read(&c->ssl, buf, len);
	if (rc > 0)
		return rc;
	switch (rc) {
	case 0:
	case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
		return 0;
	case MBEDTLS_ERR_SSL_WANT_READ:
		return TLS_WANT_READ;
	case MBEDTLS_ERR_SSL_WANT_WRITE:
		return TLS_WANT_WRITE;
	case MBEDTLS_ERR_NET_CONN_RESET:
		errf(err, errlen, "connection reset by the peer");
		return DROVE_ECONNRESET;
	}
	mbed_err(err, errlen, "TLS read failed", rc);
	return DROVE_ETLS;
}

ssize_t
tls_conn_write(struct tls_conn *c, const void *buf, size_t len, char *err,
    size_t errlen)
{
	int rc;

	rc = mbedtls_ssl_write(&c->ssl, buf, len);
	if (rc >= 0)
		return rc;
	switch (rc) {
	case MBEDTLS_ERR_SSL_WANT_READ:
		return TLS_WANT_READ;
	case MBEDTLS_ERR_SSL_WANT_WRITE:
		return TLS_WANT_WRITE;
	case MBEDTLS_ERR_NET_CONN_RESET:
		errf(err, errlen, "connection reset by the peer");
		return DROVE_ECONNRESET;
	}
	mbed_err(err, errlen, "TLS write failed", rc);
	return DROVE_ETLS;
}

int
tls_conn_pending(const struct tls_conn *c)
{
	return c->ra_len > 0 || mbedtls_ssl_check_pending(&c->ssl) ||
	    mbedtls_ssl_get_bytes_avail(&c->ssl) > 0;
}

struct tls_session *
tls_conn_session(struct tls_conn *c)
{
	struct tls_session *s = xcalloc(1, sizeof(*s));

	mbedtls_ssl_session_init(&s->s);
	if (mbedtls_ssl_get_session(&c->ssl, &s->s) != 0) {
		tls_session_free(s);
		return NULL;
	}
	return s;
}

int
tls_conn_resumed(const struct tls_conn *c)
{
	/* a full handshake verifies the peer's chain; a resumed one has no
	 * certificate to verify */
	return c->offered && c->chain_len == 0 && c->handshake_done;
}

void
tls_session_free(struct tls_session *s)
{
	if (s == NULL)
		return;
	mbedtls_ssl_session_free(&s->s);
	free(s);
}

char *
tls_base64(const void *src, size_t len)
{
	size_t olen = 0, cap = 4 * ((len + 2) / 3) + 1;
	char *out = xmalloc(cap);

	if (mbedtls_base64_encode((unsigned char *)out, cap, &olen, src,
	    len) != 0)
		olen = 0;
	out[olen] = '\0';
	return out;
}
