// SPDX-License-Identifier: Apache-2.0
/*
 * Client-side mTLS diagnosis (tls_check.h) with OpenSSL: local checks of the client's files,
 * and one handshake of our own to classify what the agent refused. gRPC reports all of these
 * as UNAVAILABLE "failed to connect" or "Socket closed" (NOTES-GRPC.md).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls_check.h"

static X509 *read_cert(const char *what, const char *path, char *why, size_t len)
{
	FILE *f = fopen(path, "re");
	X509 *x;

	if (!f) {
		snprintf(why, len, "%s %s: %s", what, path, strerror(errno));
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		snprintf(why, len, "%s %s: no PEM certificate in it", what, path);
	return x;
}

static EVP_PKEY *read_key(const char *path, char *why, size_t len)
{
	FILE *f = fopen(path, "re");
	EVP_PKEY *k;

	if (!f) {
		snprintf(why, len, "key %s: %s", path, strerror(errno));
		return NULL;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, (void *)""); /* "": no prompt if encrypted */
	fclose(f);
	if (!k)
		snprintf(why, len, "key %s: no unencrypted PEM private key in it", path);
	return k;
}

static void asn1_time(const ASN1_TIME *t, char *buf, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n = 0;

	if (b && ASN1_TIME_print(b, t))
		n = BIO_read(b, buf, (int)len - 1);
	buf[n > 0 ? n : 0] = 0;
	BIO_free(b);
}

/* In date, and allowed to authenticate a TLS client. */
static int check_client_cert(X509 *cert, const char *path, char *why, size_t len)
{
	char when[64];

	if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
		asn1_time(X509_get0_notAfter(cert), when, sizeof(when));
		snprintf(why, len, "certificate %s expired on %s", path, when);
		return -EINVAL;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0) {
		asn1_time(X509_get0_notBefore(cert), when, sizeof(when));
		snprintf(why, len, "certificate %s is not valid before %s", path, when);
		return -EINVAL;
	}
	if ((X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) &&
	    !(X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT)) {
		snprintf(why, len,
			 "certificate %s does not allow client authentication: its extended key "
			 "usage lacks clientAuth",
			 path);
		return -EINVAL;
	}
	if (X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0) != 1) {
		snprintf(why, len,
			 "certificate %s is not valid for TLS client authentication (key usage)",
			 path);
		return -EINVAL;
	}
	return 0;
}

int rpc_tls_check_local(const struct rpc_tls *tls, char *why, size_t len)
{
	X509 *ca = NULL, *cert = NULL;
	EVP_PKEY *key = NULL;
	int r = -EINVAL;

	if (!tls || !tls->ca)
		return 0;
	ca = read_cert("CA", tls->ca, why, len);
	if (!ca)
		goto out;
	if (!tls->cert || !tls->key) {
		r = 0;
		goto out;
	}
	cert = read_cert("certificate", tls->cert, why, len);
	key = cert ? read_key(tls->key, why, len) : NULL;
	if (!key)
		goto out;
	if (X509_check_private_key(cert, key) != 1) {
		snprintf(why, len, "key %s does not match certificate %s", tls->key, tls->cert);
		goto out;
	}
	r = check_client_cert(cert, tls->cert, why, len);
out:
	ERR_clear_error();
	X509_free(ca);
	X509_free(cert);
	EVP_PKEY_free(key);
	return r;
}

/* HOST:PORT or [V6]:PORT into host and port; false if it is neither. */
static bool split_addr(const char *addr, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon;

	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');

		if (!end || end[1] != ':')
			return false;
		snprintf(host, hlen, "%.*s", (int)(end - addr - 1), addr + 1);
		snprintf(port, plen, "%s", end + 2);
		return true;
	}
	colon = strrchr(addr, ':');
	if (!colon || colon == addr || strchr(addr, '/'))
		return false;
	snprintf(host, hlen, "%.*s", (int)(colon - addr), addr);
	snprintf(port, plen, "%s", colon + 1);
	return true;
}

/* A connected TCP socket with send and receive timeouts, or -1. */
static int tcp_connect(const char *host, const char *port, int timeout_ms)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	int fd = -1;

	if (getaddrinfo(host, port, &hints, &res))
		return -1;
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		struct pollfd p;
		int err = 0;
		socklen_t elen = sizeof(err);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		p = (struct pollfd){.fd = fd, .events = POLLOUT};
		if ((connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) ||
		    poll(&p, 1, timeout_ms) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) || err) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd >= 0) {
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	return fd;
}

#define NO_CLIENT_CERT "the agent requires a client certificate: give --cert and --key"

/* Whether the peer ended the connection (EOF, reset, an alert) rather than stayed silent. */
static bool closed_on_us(SSL *ssl, int rc)
{
	switch (SSL_get_error(ssl, rc)) {
	case SSL_ERROR_ZERO_RETURN:
	case SSL_ERROR_SSL:
		return true;
	case SSL_ERROR_SYSCALL:
		return errno != EAGAIN && errno != EWOULDBLOCK;
	default:
		return false;
	}
}

/* What the agent's alert (the reason of the last OpenSSL error) says about our certificate. */
static const char *alert_meaning(int reason, bool sent_cert)
{
	switch (reason) {
	case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
		return NO_CLIENT_CERT;
	case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
		return sent_cert ? "the agent refused the handshake (no common cipher or protocol?)"
				 : NO_CLIENT_CERT;
	case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
		return "the agent refused the client certificate: it is not signed by a CA the "
		       "agent trusts (its --tls-ca)";
	case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
	case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
		return "the agent refused the client certificate (wrong key usage, or not signed by "
		       "a CA the agent trusts)";
	case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
		return "the agent refused the client certificate: expired";
	default:
		return NULL;
	}
}

/* Whether the peer answered the ClientHello as a TLS server would: a certificate or an alert. */
static bool spoke_tls(SSL *ssl, int reason)
{
	return SSL_get0_peer_certificate(ssl) || reason >= SSL_AD_REASON_OFFSET;
}

static bool is_ip(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* The server certificate against the CA and the name we dialled; 1 with @why if wrong. */
static int check_server(SSL *ssl, const char *addr, const char *host, const char *ca, char *why,
			size_t len)
{
	X509 *peer = SSL_get0_peer_certificate(ssl);
	long v = SSL_get_verify_result(ssl);

	if (!peer)
		return 0;
	if (v != X509_V_OK) {
		snprintf(why, len, "the agent's certificate does not verify against the CA %s: %s", ca,
			 X509_verify_cert_error_string(v));
		return 1;
	}
	if (is_ip(host) ? X509_check_ip_asc(peer, host, 0) != 1
		  : X509_check_host(peer, host, 0, 0, NULL) != 1) {
		snprintf(why, len,
			 "the agent's certificate is not for %s (its subjectAltName does not name "
			 "it): dial a name it carries",
			 addr);
		return 1;
	}
	return 0;
}

static int plaintext_to_tls(const char *addr, char *why, size_t len)
{
	snprintf(why, len, "%s is a TLS port and the call was plaintext: give --ca, --cert and "
		 "--key (or set them in the config file)", addr);
	return 1;
}

/* The agent closed on our certificate: say whether it verifies against our own CA file. */
static void refused_cert(const struct rpc_tls *tls, char *why, size_t len)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *vctx = X509_STORE_CTX_new();
	X509 *cert = read_cert("certificate", tls->cert, why, len);
	int ok = -1;

	if (store && vctx && cert && X509_STORE_load_file(store, tls->ca) == 1 &&
	    X509_STORE_CTX_init(vctx, store, cert, NULL) == 1)
		ok = X509_verify_cert(vctx);
	if (ok == 0)
		snprintf(why, len,
			 "the agent refused the client certificate: it is not signed by a CA the "
			 "agent trusts (nor by %s: %s)",
			 tls->ca, X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx)));
	else
		snprintf(why, len,
			 "the agent refused the client certificate %s: it is not signed by a CA the "
			 "agent trusts (its --tls-ca)",
			 tls->cert);
	X509_free(cert);
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
}

int rpc_tls_diagnose(const char *addr, const struct rpc_tls *tls, int timeout_ms, char *why,
		     size_t len)
{
	static const unsigned char alpn[] = "\x02h2";
	bool tls_call = tls && tls->ca, sent_cert = tls_call && tls->cert && tls->key;
	char host[256], port[16], byte;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	int fd, found = 0, reason, rc;
	const char *meaning;

	if (!split_addr(addr, host, sizeof(host), port, sizeof(port)))
		return 0;
	fd = tcp_connect(host, port, timeout_ms);
	if (fd < 0)
		return 0; /* not a TLS matter: gRPC's "connection refused" says it */
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		goto out;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* verified by hand: see every cause */
	SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
	if (tls_call && SSL_CTX_load_verify_locations(ctx, tls->ca, NULL) != 1)
		goto out;
	if (sent_cert && (SSL_CTX_use_certificate_chain_file(ctx, tls->cert) != 1 ||
			  SSL_CTX_use_PrivateKey_file(ctx, tls->key, SSL_FILETYPE_PEM) != 1))
		goto out;
	ssl = SSL_new(ctx);
	if (!ssl || !SSL_set_fd(ssl, fd))
		goto out;
	if (!is_ip(host))
		SSL_set_tlsext_host_name(ssl, host);
	ERR_clear_error();
	if (SSL_connect(ssl) == 1) {
		if (!tls_call) {
			found = plaintext_to_tls(addr, why, len);
			goto out;
		}
		found = check_server(ssl, addr, host, tls->ca, why, len);
		if (found)
			goto out;
		/*
		 * TLS 1.3: the agent judges our certificate after our Finished. gRPC's server
		 * then closes without an alert; an accepted client gets its HTTP/2 settings.
		 */
		ERR_clear_error();
		errno = 0;
		rc = SSL_peek(ssl, &byte, 1);
		if (rc > 0 || !closed_on_us(ssl, rc))
			goto out; /* accepted, or no answer in time: not ours to say */
		meaning = alert_meaning(ERR_GET_REASON(ERR_peek_last_error()), sent_cert);
		if (!meaning && sent_cert)
			refused_cert(tls, why, len);
		else
			snprintf(why, len, "%s", meaning ? meaning : NO_CLIENT_CERT);
		found = 1;
		goto out;
	}
	reason = ERR_GET_REASON(ERR_peek_last_error());
	meaning = alert_meaning(reason, sent_cert);
	if (!tls_call && spoke_tls(ssl, reason)) {
		found = plaintext_to_tls(addr, why, len);
	} else if (meaning && tls_call) {
		found = check_server(ssl, addr, host, tls->ca, why, len);
		if (!found)
			snprintf(why, len, "%s", meaning);
		found = 1;
	} else if (tls_call && !SSL_get0_peer_certificate(ssl) && reason != 0 &&
		   reason < SSL_AD_REASON_OFFSET) {
		snprintf(why, len, "%s does not speak TLS (a plaintext port, e.g. an agent with "
			 "--insecure-tcp): drop --ca, --cert and --key, or dial its TLS port", addr);
		found = 1;
	}
out:
	ERR_clear_error();
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return found;
}
