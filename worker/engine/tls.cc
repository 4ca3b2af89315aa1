#include "worker/engine/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace bench::engine {
namespace {

// The calling thread's OpenSSL error queue as text, emptied.
std::string TakeOpenSslErrors() {
  std::string text;
  for (unsigned long error = ERR_get_error(); error != 0; error = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(error, buffer, sizeof(buffer));
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text.empty() ? "no OpenSSL error recorded" : text;
}

absl::StatusOr<std::string> AlpnWire(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const std::string& protocol : protocols) {
    if (protocol.empty() || protocol.size() > 255) {
      return absl::InvalidArgumentError(absl::StrCat("invalid ALPN protocol '", protocol, "'"));
    }
    wire.push_back(static_cast<char>(protocol.size()));
    wire += protocol;
  }
  return wire;
}

bool IsIpAddress(const std::string& host) {
  unsigned char buffer[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

absl::Status AddCaPem(SSL_CTX* ctx, const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return absl::ResourceExhaustedError("BIO_new_mem_buf");
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int added = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, cert);
    X509_free(cert);
    ++added;
  }
  BIO_free(bio);
  ERR_clear_error();  // The loop ends with a "no start line" error by design.
  if (added == 0) return absl::InvalidArgumentError("tls: no PEM certificate in the CA text");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<TlsContext>> TlsContext::CreateClient(
    const TlsClientOptions& options) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new: " + TakeOpenSslErrors());
  std::unique_ptr<TlsContext> context(new TlsContext(ctx, /*is_server=*/false));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (options.insecure_skip_verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    context->verifies_peer_ = true;
    if (options.ca_file.empty() && options.ca_pem.empty()) {
      if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        return absl::InternalError("tls: cannot load the system CA store: " + TakeOpenSslErrors());
      }
    }
    if (!options.ca_file.empty() &&
        SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("tls.caFile: cannot load ", options.ca_file, ": ", TakeOpenSslErrors()));
    }
    if (!options.ca_pem.empty()) BENCH_RETURN_IF_ERROR(AddCaPem(ctx, options.ca_pem));
  }
  if (!options.alpn.empty()) {
    BENCH_ASSIGN_OR_RETURN(const std::string wire, AlpnWire(options.alpn));
    // Note the inverted convention: 0 is success here.
    if (SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(wire.data()),
                                static_cast<unsigned>(wire.size())) != 0) {
      return absl::InternalError("SSL_CTX_set_alpn_protos: " + TakeOpenSslErrors());
    }
  }
  return context;
}

absl::StatusOr<std::unique_ptr<TlsContext>> TlsContext::CreateServer(
    const TlsServerOptions& options) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new: " + TakeOpenSslErrors());
  std::unique_ptr<TlsContext> context(new TlsContext(ctx, /*is_server=*/true));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);

  if (!options.cert_pem.empty()) {
    BIO* bio = BIO_new_mem_buf(options.cert_pem.data(), static_cast<int>(options.cert_pem.size()));
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    const bool ok = cert != nullptr && SSL_CTX_use_certificate(ctx, cert) == 1;
    X509_free(cert);
    if (!ok) return absl::InvalidArgumentError("tls: bad certificate PEM: " + TakeOpenSslErrors());
  } else if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("tls: cannot load certificate ",
                                                   options.cert_file, ": ", TakeOpenSslErrors()));
  }
  if (!options.key_pem.empty()) {
    BIO* bio = BIO_new_mem_buf(options.key_pem.data(), static_cast<int>(options.key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    const bool ok = key != nullptr && SSL_CTX_use_PrivateKey(ctx, key) == 1;
    EVP_PKEY_free(key);
    if (!ok) return absl::InvalidArgumentError("tls: bad private key PEM: " + TakeOpenSslErrors());
  } else if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls: cannot load key ", options.key_file, ": ", TakeOpenSslErrors()));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return absl::InvalidArgumentError("tls: the key does not match the certificate");
  }
  if (!options.alpn.empty()) {
    BENCH_ASSIGN_OR_RETURN(context->alpn_wire_, AlpnWire(options.alpn));
    SSL_CTX_set_alpn_select_cb(
        ctx,
        [](SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
           unsigned in_length, void* arg) -> int {
          const auto* wire = static_cast<const std::string*>(arg);
          unsigned char* selected = nullptr;
          // Server preference order: our list first.
          if (SSL_select_next_proto(
                  &selected, out_length, reinterpret_cast<const unsigned char*>(wire->data()),
                  static_cast<unsigned>(wire->size()), in, in_length) != OPENSSL_NPN_NEGOTIATED) {
            return SSL_TLSEXT_ERR_NOACK;
          }
          *out = selected;
          return SSL_TLSEXT_ERR_OK;
        },
        &context->alpn_wire_);
  }
  return context;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

absl::StatusOr<std::unique_ptr<TlsSession>> TlsSession::CreateClient(const TlsContext& context,
                                                                     std::string_view server_name) {
  ERR_clear_error();
  SSL* ssl = SSL_new(context.native());
  if (ssl == nullptr) return absl::InternalError("SSL_new: " + TakeOpenSslErrors());
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);  // ssl owns both from here.
  std::unique_ptr<TlsSession> session(new TlsSession(ssl, in, out));
  const std::string host(server_name);
  const bool is_ip = IsIpAddress(host);
  if (!is_ip && !host.empty()) SSL_set_tlsext_host_name(ssl, host.c_str());
  if (context.verifies_peer() && !host.empty()) {
    const int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str())
                         : SSL_set1_host(ssl, host.c_str());
    if (ok != 1) {
      return absl::InvalidArgumentError(absl::StrCat("tls: cannot verify against '", host, "'"));
    }
  }
  SSL_set_connect_state(ssl);
  std::string ignored;
  BENCH_RETURN_IF_ERROR(session->Advance(ignored));  // Writes the ClientHello.
  return session;
}

absl::StatusOr<std::unique_ptr<TlsSession>> TlsSession::CreateServer(const TlsContext& context) {
  ERR_clear_error();
  SSL* ssl = SSL_new(context.native());
  if (ssl == nullptr) return absl::InternalError("SSL_new: " + TakeOpenSslErrors());
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  SSL_set_accept_state(ssl);
  return std::unique_ptr<TlsSession>(new TlsSession(ssl, in, out));
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

absl::Status TlsSession::ReceiveCiphertext(std::string_view ciphertext, std::string& plaintext) {
  if (failed_) return absl::FailedPreconditionError("tls: session already failed");
  if (!ciphertext.empty() &&
      BIO_write(network_in_, ciphertext.data(), static_cast<int>(ciphertext.size())) !=
          static_cast<int>(ciphertext.size())) {
    return absl::ResourceExhaustedError("tls: BIO_write failed");
  }
  return Advance(plaintext);
}

absl::Status TlsSession::Advance(std::string& plaintext) {
  ERR_clear_error();
  if (!handshake_done_) {
    const int rc = SSL_do_handshake(ssl_);
    if (rc != 1) {
      const int error = SSL_get_error(ssl_, rc);
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return absl::OkStatus();
      failed_ = true;
      const long verify = SSL_get_verify_result(ssl_);
      if (verify != X509_V_OK) {
        return absl::UnavailableError(absl::StrCat("tls: certificate verify failed: ",
                                                   X509_verify_cert_error_string(verify)));
      }
      return absl::UnavailableError("tls: handshake failed: " + TakeOpenSslErrors());
    }
    handshake_done_ = true;
    BENCH_RETURN_IF_ERROR(FlushPending());
  }
  char buffer[16384];
  for (;;) {
    const int n = SSL_read(ssl_, buffer, sizeof(buffer));
    if (n > 0) {
      plaintext.append(buffer, static_cast<size_t>(n));
      continue;
    }
    const int error = SSL_get_error(ssl_, n);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return absl::OkStatus();
    if (error == SSL_ERROR_ZERO_RETURN) {
      peer_closed_ = true;
      return absl::OkStatus();
    }
    failed_ = true;
    return absl::DataLossError("tls: " + TakeOpenSslErrors());
  }
}

absl::Status TlsSession::SendPlaintext(std::string_view plaintext) {
  if (failed_) return absl::FailedPreconditionError("tls: session already failed");
  if (!handshake_done_) {
    pending_plaintext_.append(plaintext);
    return absl::OkStatus();
  }
  if (plaintext.empty()) return absl::OkStatus();
  ERR_clear_error();
  // A memory BIO never pushes back, so a write takes everything at once.
  const int n = SSL_write(ssl_, plaintext.data(), static_cast<int>(plaintext.size()));
  if (n != static_cast<int>(plaintext.size())) {
    failed_ = true;
    return absl::InternalError("tls: SSL_write: " + TakeOpenSslErrors());
  }
  return absl::OkStatus();
}

absl::Status TlsSession::FlushPending() {
  if (pending_plaintext_.empty()) return absl::OkStatus();
  std::string pending;
  pending.swap(pending_plaintext_);
  return SendPlaintext(pending);
}

void TlsSession::DrainCiphertext(std::string& out) {
  const size_t pending = BIO_ctrl_pending(network_out_);
  if (pending == 0) return;
  const size_t offset = out.size();
  out.resize(offset + pending);
  const int n = BIO_read(network_out_, out.data() + offset, static_cast<int>(pending));
  out.resize(offset + static_cast<size_t>(n > 0 ? n : 0));
}

std::string TlsSession::alpn_selected() const {
  const unsigned char* data = nullptr;
  unsigned length = 0;
  SSL_get0_alpn_selected(ssl_, &data, &length);
  return std::string(reinterpret_cast<const char*>(data), length);
}

}  // namespace bench::engine
