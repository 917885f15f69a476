// SPDX-License-Identifier: GPL-2.0-or-later
#include "munge/munge_credential.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <munge.h>

#include <cstdlib>
#include <memory>

namespace autoresume {
namespace {

using Context = std::unique_ptr<std::remove_pointer_t<munge_ctx_t>, decltype(&munge_ctx_destroy)>;

Result<Context> context(const std::string& socket) {
  Context ctx(munge_ctx_create(), munge_ctx_destroy);
  if (!ctx) return Error{0, "munge: cannot create a context"};
  if (!socket.empty() && munge_ctx_set(ctx.get(), MUNGE_OPT_SOCKET, socket.c_str()) != EMUNGE_SUCCESS)
    return Error{0, "munge: bad socket " + socket};
  return ctx;
}

}  // namespace

std::string credential_payload(const std::string& cluster, const std::string& method, const std::string& path) {
  return cluster + ": " + method + " " + path;
}

Result<std::string> encode_credential(const std::string& socket, const std::string& payload) {
  auto ctx = context(socket);
  if (!ctx) return ctx.error();
  char* cred = nullptr;
  munge_err_t rc = munge_encode(&cred, ctx->get(), payload.data(), static_cast<int>(payload.size()));
  if (rc != EMUNGE_SUCCESS) {
    std::string why = munge_ctx_strerror(ctx->get()) ? munge_ctx_strerror(ctx->get()) : munge_strerror(rc);
    return Error{static_cast<int>(rc), "munge: cannot encode a credential: " + why};
  }
  std::string out = cred;
  std::free(cred);
  return out;
}

Result<MungeIdentity> decode_credential(const std::string& socket, const std::string& credential,
                                        const std::string& expected_payload) {
  auto ctx = context(socket);
  if (!ctx) return ctx.error();
  void* payload = nullptr;
  int length = 0;
  MungeIdentity who;
  munge_err_t rc = munge_decode(credential.c_str(), ctx->get(), &payload, &length, &who.uid, &who.gid);
  std::string got = payload ? std::string(static_cast<const char*>(payload), static_cast<size_t>(length)) : "";
  std::free(payload);
  if (rc != EMUNGE_SUCCESS) {
    std::string why = munge_ctx_strerror(ctx->get()) ? munge_ctx_strerror(ctx->get()) : munge_strerror(rc);
    return Error{static_cast<int>(rc), "munge credential refused: " + why};
  }
  in_addr addr{};
  char text[INET_ADDRSTRLEN] = {};
  if (munge_ctx_get(ctx->get(), MUNGE_OPT_ADDR4, &addr) == EMUNGE_SUCCESS && inet_ntop(AF_INET, &addr, text, sizeof text))
    who.origin = text;
  if (got != expected_payload)
    return Error{0, "munge credential was made for \"" + got + "\", not for \"" + expected_payload + "\""};
  return who;
}

}  // namespace autoresume
