#include "common/allow_list.h"

#include "gtest/gtest.h"

namespace bench {
namespace {

TEST(AllowList, BlocksAndNames) {
  auto list = TargetAllowList::Parse({"10.0.0.0/8", "127.0.0.1", "::1/128", "Sim.Default.Svc"});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE(list->Check("a", {"10.20.30.40"}).ok());
  EXPECT_TRUE(list->Check("a", {"127.0.0.1", "::1"}).ok());
  EXPECT_TRUE(list->Check("sim.default.svc", {}).ok());
  EXPECT_EQ(list->Check("a", {"127.0.0.2"}).code(), absl::StatusCode::kPermissionDenied);
  // Every address must be inside: one outside denies.
  EXPECT_EQ(list->Check("a", {"10.0.0.1", "11.0.0.1"}).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(list->Check("a", {}).code(), absl::StatusCode::kPermissionDenied);
}

TEST(AllowList, OddPrefixesMaskPartialBytes) {
  auto list = TargetAllowList::Parse({"192.168.4.0/22"});
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->Check("h", {"192.168.7.255"}).ok());
  EXPECT_FALSE(list->Check("h", {"192.168.8.0"}).ok());
}

TEST(AllowList, EmptyDeniesEverything) {
  auto list = TargetAllowList::Parse({});
  ASSERT_TRUE(list.ok());
  const absl::Status status = list->Check("127.0.0.1", {"127.0.0.1"});
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(status.message().find("allow-list is empty"), std::string::npos);
}

TEST(AllowList, MalformedEntriesAreNamed) {
  EXPECT_EQ(TargetAllowList::Parse({"10.0.0.0/33"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TargetAllowList::Parse({"host/8"}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TargetAllowList::Parse({" "}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AllowList, EndpointsAreResolvedAndChecked) {
  EXPECT_TRUE(CheckTargetAllowed("http://127.0.0.1:8000/v1/completions", {"127.0.0.0/8"}).ok());
  EXPECT_EQ(CheckTargetAllowed("http://127.0.0.1:8000/v1/completions", {"10.0.0.0/8"}).code(),
            absl::StatusCode::kPermissionDenied);
  // localhost resolves to loopback addresses only: allowed by the loopback blocks.
  EXPECT_TRUE(
      CheckTargetAllowed("http://localhost:8000/v1/completions", {"127.0.0.0/8", "::1/128"}).ok());
}

}  // namespace
}  // namespace bench
