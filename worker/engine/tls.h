// TLS as a bytes-only layer over OpenSSL memory BIOs: ciphertext in and out, plaintext in and
// out, no sockets. Used by the engine's client connections and by bench-sim's server side.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace bench::engine {

struct TlsClientOptions {
  // PEM file of trusted CAs; empty: the system store.
  std::string ca_file;
  // PEM text of trusted CAs, in addition to ca_file (tests, certificates carried in a plan).
  std::string ca_pem;
  // Accept any certificate. For test endpoints only: the run says so.
  bool insecure_skip_verify = false;
  // Offered protocols in preference order, e.g. {"h2", "http/1.1"}.
  std::vector<std::string> alpn;
};

struct TlsServerOptions {
  std::string cert_file;  // PEM chain
  std::string key_file;   // PEM private key
  std::string cert_pem;   // alternatives to the files (tests)
  std::string key_pem;
  // Protocols the server accepts, in its preference order.
  std::vector<std::string> alpn;
};

// An SSL_CTX: certificates, verification and ALPN policy shared by many sessions. Immutable after
// creation, so one context may serve sessions on several threads.
class TlsContext {
 public:
  static absl::StatusOr<std::unique_ptr<TlsContext>> CreateClient(const TlsClientOptions& options);
  static absl::StatusOr<std::unique_ptr<TlsContext>> CreateServer(const TlsServerOptions& options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* native() const { return ctx_; }
  bool is_server() const { return is_server_; }
  bool verifies_peer() const { return verifies_peer_; }

 private:
  TlsContext(SSL_CTX* ctx, bool is_server) : ctx_(ctx), is_server_(is_server) {}
  SSL_CTX* ctx_;
  bool is_server_;
  bool verifies_peer_ = false;
  std::string alpn_wire_;  // Server: accepted protocols in ALPN wire format.
};

// One TLS connection's state machine. Single-threaded; the context must outlive it.
class TlsSession {
 public:
  // `server_name` is sent as SNI (unless it is an IP address) and verified against the
  // certificate when the context verifies peers.
  static absl::StatusOr<std::unique_ptr<TlsSession>> CreateClient(const TlsContext& context,
                                                                  std::string_view server_name);
  static absl::StatusOr<std::unique_ptr<TlsSession>> CreateServer(const TlsContext& context);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Feeds ciphertext read from the peer; appends decrypted application data to `plaintext`.
  // Advances the handshake. Errors: kUnavailable for handshake and verification failures (the
  // message names the reason, e.g. "certificate verify failed: self-signed certificate"),
  // kDataLoss for corrupt records.
  absl::Status ReceiveCiphertext(std::string_view ciphertext, std::string& plaintext);
  // Queues application data; it is encrypted once the handshake completes.
  absl::Status SendPlaintext(std::string_view plaintext);
  // Appends everything to be written to the peer (handshake records, encrypted data, alerts).
  void DrainCiphertext(std::string& out);

  bool handshake_done() const { return handshake_done_; }
  // The protocol the server selected with ALPN ("h2", "http/1.1") or empty.
  std::string alpn_selected() const;
  // The peer sent close_notify.
  bool peer_closed() const { return peer_closed_; }

 private:
  explicit TlsSession(SSL* ssl, BIO* network_in, BIO* network_out)
      : ssl_(ssl), network_in_(network_in), network_out_(network_out) {}
  absl::Status Advance(std::string& plaintext);
  absl::Status FlushPending();

  SSL* ssl_;
  BIO* network_in_;                // Owned by ssl_: ciphertext from the peer is written here.
  BIO* network_out_;               // Owned by ssl_: ciphertext for the peer is read from here.
  std::string pending_plaintext_;  // Sent before the handshake completed.
  bool handshake_done_ = false;
  bool peer_closed_ = false;
  bool failed_ = false;
};

}  // namespace bench::engine
