// SPDX-License-Identifier: GPL-2.0-or-later
// Admin commands travel from the HTTP threads to the loop thread, which alone acts on Slurm and the journal:
// a handler pushes a command and waits (bounded) for the loop's answer; the loop waits between ticks on this
// queue, so that a command or an agent's wake-up is served at once instead of after the poll interval.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>

#include "autoresume/result.hpp"

namespace autoresume {

struct QueuedCommand {
  std::string verb;  // replace, reboot, validate, release, breaker_reset
  std::string node;
  std::string by;    // "uid 0", for the journal
  std::promise<Result<std::string>> done;
};

class CommandQueue {
 public:
  std::future<Result<std::string>> push(std::string verb, std::string node, std::string by) {
    auto cmd = std::make_unique<QueuedCommand>();
    cmd->verb = std::move(verb);
    cmd->node = std::move(node);
    cmd->by = std::move(by);
    auto future = cmd->done.get_future();
    {
      std::lock_guard lock(mutex_);
      commands_.push_back(std::move(cmd));
    }
    cv_.notify_all();
    return future;
  }
  void wake() {
    {
      std::lock_guard lock(mutex_);
      woken_ = true;
    }
    cv_.notify_all();
  }
  // Loop side: returns early when a command or a wake-up arrives (or stop() is called); true if woken up.
  bool wait_for(std::chrono::milliseconds d) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, d, [&] { return woken_ || stopped_ || !commands_.empty(); });
    return std::exchange(woken_, false);
  }
  std::deque<std::unique_ptr<QueuedCommand>> take() {
    std::lock_guard lock(mutex_);
    return std::exchange(commands_, {});
  }
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<QueuedCommand>> commands_;
  bool woken_ = false;
  bool stopped_ = false;
};

}  // namespace autoresume
