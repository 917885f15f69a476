// SPDX-License-Identifier: GPL-2.0-or-later
// A value or a readable error, for calls that can fail for reasons a user must see (Slurm down, bad input).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace autoresume {

struct Error {
  int code = 0;  // a Slurm errno where there is one, else 0
  std::string message;
  bool refusal = false;  // the other side answered no as a matter of policy: retrying will not change it
};

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<Error>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;

inline Status ok_status() { return Ok{}; }

}  // namespace autoresume
