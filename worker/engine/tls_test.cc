#include "worker/engine/tls.h"

#include <string>

#include "gtest/gtest.h"
#include "tests/testing/test_certs.h"

namespace bench::engine {
namespace {

using ::bench::testing::MakeSelfSignedCertificate;
using ::bench::testing::TestCertificate;

const TestCertificate& LocalhostCertificate() {
  static const TestCertificate* cert =
      new TestCertificate(MakeSelfSignedCertificate({"localhost", "127.0.0.1"}));
  return *cert;
}

std::unique_ptr<TlsContext> ServerContext(std::vector<std::string> alpn) {
  TlsServerOptions options;
  options.cert_pem = LocalhostCertificate().cert_pem;
  options.key_pem = LocalhostCertificate().key_pem;
  options.alpn = std::move(alpn);
  auto context = TlsContext::CreateServer(options);
  EXPECT_TRUE(context.ok()) << context.status();
  return std::move(context).value();
}

// Moves ciphertext both ways until both sides are quiet or one fails; returns the first error.
absl::Status Handshake(TlsSession& client, TlsSession& server, std::string& client_plaintext,
                       std::string& server_plaintext) {
  for (int round = 0; round < 20; ++round) {
    std::string to_server, to_client;
    client.DrainCiphertext(to_server);
    if (!to_server.empty()) {
      absl::Status status = server.ReceiveCiphertext(to_server, server_plaintext);
      if (!status.ok()) return status;
    }
    server.DrainCiphertext(to_client);
    if (!to_client.empty()) {
      absl::Status status = client.ReceiveCiphertext(to_client, client_plaintext);
      if (!status.ok()) return status;
    }
    if (to_server.empty() && to_client.empty()) return absl::OkStatus();
  }
  return absl::DeadlineExceededError("handshake did not settle");
}

TEST(Tls, HandshakeNegotiatesH2AndCarriesDataBothWays) {
  auto server_context = ServerContext({"h2", "http/1.1"});
  TlsClientOptions client_options;
  client_options.ca_pem = LocalhostCertificate().cert_pem;
  client_options.alpn = {"h2", "http/1.1"};
  auto client_context = TlsContext::CreateClient(client_options);
  ASSERT_TRUE(client_context.ok()) << client_context.status();
  auto client = TlsSession::CreateClient(**client_context, "localhost");
  ASSERT_TRUE(client.ok()) << client.status();
  auto server = TlsSession::CreateServer(*server_context);
  ASSERT_TRUE(server.ok());

  // Data queued before the handshake completes is sent after it.
  ASSERT_TRUE((*client)->SendPlaintext("PRI * HTTP/2.0\r\n").ok());
  std::string client_in, server_in;
  ASSERT_TRUE(Handshake(**client, **server, client_in, server_in).ok());
  EXPECT_TRUE((*client)->handshake_done());
  EXPECT_TRUE((*server)->handshake_done());
  EXPECT_EQ((*client)->alpn_selected(), "h2");
  EXPECT_EQ((*server)->alpn_selected(), "h2");
  EXPECT_EQ(server_in, "PRI * HTTP/2.0\r\n");

  const std::string big(100000, 'x');
  ASSERT_TRUE((*server)->SendPlaintext(big).ok());
  ASSERT_TRUE(Handshake(**client, **server, client_in, server_in).ok());
  EXPECT_EQ(client_in, big);
}

TEST(Tls, ServerPreferenceDecidesAlpnAndHttp1FallbackWorks) {
  auto server_context = ServerContext({"http/1.1"});
  TlsClientOptions client_options;
  client_options.insecure_skip_verify = true;
  client_options.alpn = {"h2", "http/1.1"};
  auto client_context = TlsContext::CreateClient(client_options);
  ASSERT_TRUE(client_context.ok());
  auto client = TlsSession::CreateClient(**client_context, "127.0.0.1");
  auto server = TlsSession::CreateServer(*server_context);
  ASSERT_TRUE(client.ok() && server.ok());
  std::string client_in, server_in;
  ASSERT_TRUE(Handshake(**client, **server, client_in, server_in).ok());
  EXPECT_EQ((*client)->alpn_selected(), "http/1.1");
}

TEST(Tls, UntrustedCertificateFailsVerificationWithAReason) {
  auto server_context = ServerContext({"h2"});
  TlsClientOptions client_options;  // system store only: our self-signed cert is unknown
  client_options.alpn = {"h2"};
  auto client_context = TlsContext::CreateClient(client_options);
  ASSERT_TRUE(client_context.ok()) << client_context.status();
  auto client = TlsSession::CreateClient(**client_context, "localhost");
  auto server = TlsSession::CreateServer(*server_context);
  ASSERT_TRUE(client.ok() && server.ok());
  std::string client_in, server_in;
  const absl::Status status = Handshake(**client, **server, client_in, server_in);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("certificate verify failed"), std::string::npos) << status;
  EXPECT_NE(status.message().find("self-signed"), std::string::npos) << status;
}

TEST(Tls, WrongHostNameFailsVerification) {
  auto server_context = ServerContext({"h2"});
  TlsClientOptions client_options;
  client_options.ca_pem = LocalhostCertificate().cert_pem;
  auto client_context = TlsContext::CreateClient(client_options);
  ASSERT_TRUE(client_context.ok());
  auto client = TlsSession::CreateClient(**client_context, "gateway.example");
  auto server = TlsSession::CreateServer(*server_context);
  ASSERT_TRUE(client.ok() && server.ok());
  std::string client_in, server_in;
  const absl::Status status = Handshake(**client, **server, client_in, server_in);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("hostname mismatch"), std::string::npos) << status;
}

TEST(Tls, IpAddressIsVerifiedAgainstIpSubjectAltName) {
  auto server_context = ServerContext({});
  TlsClientOptions client_options;
  client_options.ca_pem = LocalhostCertificate().cert_pem;
  auto client_context = TlsContext::CreateClient(client_options);
  ASSERT_TRUE(client_context.ok());
  for (const auto& [host, should_pass] :
       std::vector<std::pair<std::string, bool>>{{"127.0.0.1", true}, {"127.0.0.2", false}}) {
    auto client = TlsSession::CreateClient(**client_context, host);
    auto server = TlsSession::CreateServer(*server_context);
    ASSERT_TRUE(client.ok() && server.ok());
    std::string client_in, server_in;
    EXPECT_EQ(Handshake(**client, **server, client_in, server_in).ok(), should_pass) << host;
  }
}

TEST(Tls, CorruptRecordsAreAnError) {
  auto server_context = ServerContext({});
  auto server = TlsSession::CreateServer(*server_context);
  ASSERT_TRUE(server.ok());
  std::string plaintext;
  const absl::Status status =
      (*server)->ReceiveCiphertext("GET / HTTP/1.1\r\nHost: x\r\n\r\n", plaintext);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_TRUE(plaintext.empty());
  EXPECT_EQ((*server)->ReceiveCiphertext("more", plaintext).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(Tls, BadOptionsAreRejected) {
  TlsClientOptions missing_ca;
  missing_ca.ca_file = "/nonexistent/ca.pem";
  EXPECT_EQ(TlsContext::CreateClient(missing_ca).status().code(),
            absl::StatusCode::kInvalidArgument);
  TlsServerOptions mismatched;
  mismatched.cert_pem = LocalhostCertificate().cert_pem;
  mismatched.key_pem = MakeSelfSignedCertificate({"other"}).key_pem;
  EXPECT_EQ(TlsContext::CreateServer(mismatched).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bench::engine
