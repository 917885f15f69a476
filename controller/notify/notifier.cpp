// SPDX-License-Identifier: GPL-2.0-or-later
#include "notify/notifier.hpp"

#include <curl/curl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "util/log.hpp"

namespace autoresume {
namespace {

constexpr size_t kQueueLimit = 1000;

size_t discard(char*, size_t size, size_t n, void*) { return size * n; }

}  // namespace

Notifier::Notifier(NotifySettings settings) : settings_(std::move(settings)) {
  if (!settings_.webhook_url.empty() || !settings_.program.empty()) thread_ = std::thread([this] { run(); });
}

Notifier::~Notifier() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Notifier::worth_notifying(const std::string& kind) {
  return kind == "budget_exhausted" || kind == "node_quarantined" || kind == "breaker_tripped";
}

std::string Notifier::message_text(const Notification& n, const std::string& cluster) {
  std::string what = n.kind == "budget_exhausted"   ? "job " + n.subject + " exhausted its resume budget and is held"
                     : n.kind == "node_quarantined" ? "node " + n.subject + " is quarantined and needs a human"
                     : n.kind == "breaker_tripped"  ? "the circuit breaker tripped: automated recovery stopped"
                                                    : n.kind + " " + n.subject;
  return "[auto-resume" + (cluster.empty() ? "" : " " + cluster) + "] " + what + ": " + n.detail;
}

void Notifier::on_event(const std::string& kind, const std::string& subject, const std::string& detail) {
  if (!worth_notifying(kind) || !thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= kQueueLimit) {
      log(LogLevel::Error, "notification_dropped", {{"kind", queue_.front().kind}, {"why", "queue full"}});
      queue_.pop_front();
    }
    queue_.push_back({kind, subject, detail});
  }
  cv_.notify_all();
}

void Notifier::run() {
  for (;;) {
    Notification n;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      n = std::move(queue_.front());
      queue_.pop_front();
    }
    deliver(n);
  }
}

bool Notifier::deliver(const Notification& n) {
  bool all = true;
  auto with_retries = [&](const char* destination, auto&& send) {
    for (int attempt = 1; attempt <= settings_.attempts; ++attempt) {
      if (send()) {
        log(LogLevel::Info, "notified", {{"kind", n.kind}, {"subject", n.subject}, {"via", destination}});
        return;
      }
      if (attempt < settings_.attempts) {
        std::unique_lock lock(mutex_);
        if (cv_.wait_for(lock, std::chrono::seconds(1 << (attempt - 1)), [&] { return stopping_; })) break;
      }
    }
    all = false;
    log(LogLevel::Error, "notification_failed", {{"kind", n.kind}, {"subject", n.subject}, {"via", destination},
                                                 {"attempts", std::to_string(settings_.attempts)}});
  };
  if (!settings_.webhook_url.empty()) with_retries("webhook", [&] { return post_webhook(n); });
  if (!settings_.program.empty()) with_retries("program", [&] { return run_program(n); });
  return all;
}

bool Notifier::post_webhook(const Notification& n) {
  CURL* curl = curl_easy_init();
  if (!curl) return false;
  std::string body = nlohmann::json{{"text", message_text(n, settings_.cluster)}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);  // a job's name need not be UTF-8
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, settings_.webhook_url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, static_cast<long>(settings_.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK || status < 200 || status >= 300) {
    log(LogLevel::Warning, "webhook_refused", {{"error", rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP " + std::to_string(status)}});
    return false;
  }
  return true;
}

// The program gets the message on its command line; killed if it runs past the timeout.
bool Notifier::run_program(const Notification& n) {
  std::string text = message_text(n, settings_.cluster);
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    setsid();
    std::string script = settings_.program + " \"$@\"";
    execl("/bin/sh", "sh", "-c", script.c_str(), "autoresume-notify", n.kind.c_str(), n.subject.c_str(),
          text.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + settings_.timeout;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace autoresume
