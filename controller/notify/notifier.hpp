// SPDX-License-Identifier: GPL-2.0-or-later
// Notifications for what needs a human: a job's resume budget exhausted, a node quarantined, the breaker
// tripped. Sent from a thread of their own (the control loop only enqueues), to WebhookURL (a JSON POST a Slack
// incoming webhook accepts: {"text": ...}) and/or NotifyProgram (called with kind, subject and detail as
// arguments), each with bounded retries and timeouts. A full queue drops the oldest message, and says so.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "engine/snapshot.hpp"

namespace autoresume {

struct NotifySettings {
  std::string webhook_url;
  std::string program;
  std::string cluster;  // named in every message
  int attempts = 3;     // per destination, with 1 s, 2 s, 4 s ... between them
  std::chrono::seconds timeout{5};
};

struct Notification {
  std::string kind, subject, detail;
};

class Notifier final : public ControllerObserver {
 public:
  explicit Notifier(NotifySettings settings);
  ~Notifier() override;

  static bool worth_notifying(const std::string& kind);
  static std::string message_text(const Notification& n, const std::string& cluster);

  void on_event(const std::string& kind, const std::string& subject, const std::string& detail) override;
  void on_job_phase_left(JobPhase, double) override {}
  void on_job_recovered(double) override {}
  void on_node_phase_left(NodePhase, double) override {}

 private:
  void run();
  bool deliver(const Notification& n);
  bool post_webhook(const Notification& n);
  bool run_program(const Notification& n);

  NotifySettings settings_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Notification> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace autoresume
