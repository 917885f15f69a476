// SPDX-License-Identifier: GPL-2.0-or-later
// Alerts delivered end to end: a real Prometheus (Debian's package) scrapes the live controller and agents and
// evaluates observability/prometheus/autoresume-rules.yml; a real Alertmanager (Debian's package) routes with
// observability/alertmanager/alertmanager.yml and its templates, pointed at a local webhook and SMTP receiver
// (tests/integration/alert_receiver.py). A killed node and a sustained GPU temperature above the limit arrive in
// the chat webhook with summary, steps and dashboard link; the documented test notification (severity critical)
// arrives by webhook and by mail. The site's addresses and the rules' `for:` durations are the only changes.
#include "catch_compat.hpp"
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "devcluster.hpp"
#include "prometheus.hpp"
#include "resume_cluster.hpp"

using namespace autoresume;
using namespace autoresume::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

// alert_receiver.py: a Slack-compatible webhook and an SMTP server, one file per notification.
struct Receiver {
  std::string dir, webhook, smtp;
  int pid = 0;
  explicit Receiver(const std::string& base) : dir(base + "/received") {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto started = run("nohup python3 " + source_dir() + "/tests/integration/alert_receiver.py " + dir + " >" + dir +
                       "/../receiver.out 2>&1 & echo $!");
    pid = std::stoi(trim(started.out));
    REQUIRE(wait_until(10s, [&] { return !trim(read_file(dir + "/../receiver.out")).empty(); }));
    std::string ports = trim(read_file(dir + "/../receiver.out"));
    webhook = ports.substr(0, ports.find(' '));
    smtp = ports.substr(ports.find(' ') + 1);
  }
  ~Receiver() { stop_pid(pid); }
  // Every notification of one kind ("webhook" or "mail") received so far, as text.
  std::vector<std::string> all(const std::string& kind) const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.path().filename().string().rfind(kind + "-", 0) == 0) out.push_back(read_file(e.path().string()));
    return out;
  }
  // The chat text of every webhook post (Slack's format: attachments with title and text).
  std::vector<std::string> chat_texts() const {
    std::vector<std::string> out;
    for (const auto& body : all("webhook")) {
      json j = json::parse(body, nullptr, false);
      if (j.is_discarded()) continue;
      for (const auto& a : j.value("attachments", json::array()))
        out.push_back(a.value("title", "") + "\n" + a.value("text", ""));
    }
    return out;
  }
};

// Alertmanager with the project's configuration, the site's parts pointed at the receiver.
struct Alertmanager {
  std::string dir, address;
  int pid = 0;
  Alertmanager(const std::string& base, const Receiver& rx) : dir(base + "/alertmanager") {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir + "/data");
    std::string src = source_dir() + "/observability/alertmanager";
    std::string conf = read_file(src + "/alertmanager.yml");
    auto replace = [&](const std::string& from, const std::string& to) {
      size_t at = conf.find(from);
      REQUIRE(at != std::string::npos);
      conf.replace(at, from.size(), to);
    };
    replace("smtp.example.org:587", "127.0.0.1:" + rx.smtp);
    replace("smtp_require_tls: true", "smtp_require_tls: false");
    replace("/etc/prometheus/alertmanager_templates/autoresume.tmpl", src + "/autoresume.tmpl");
    conf = std::regex_replace(conf, std::regex("/etc/prometheus/alertmanager-chat-webhook-url"), dir + "/webhook-url");
    conf = std::regex_replace(conf, std::regex("group_wait: \\d+s"), "group_wait: 1s");
    conf = std::regex_replace(conf, std::regex("group_interval: \\d+m"), "group_interval: 1s");
    std::ofstream(dir + "/webhook-url") << "http://127.0.0.1:" << rx.webhook << "/hook";
    std::ofstream(dir + "/alertmanager.yml") << conf;
    std::string port = free_port();
    address = "127.0.0.1:" + port;
    // --cluster.listen-address= : no gossip listener (it would bind every interface).
    auto started = run("cd " + dir + " && nohup prometheus-alertmanager --config.file=alertmanager.yml "
                       "--storage.path=data --web.listen-address=" + address + " --cluster.listen-address= "
                       ">alertmanager.log 2>&1 & echo $!");
    pid = std::stoi(trim(started.out));
    REQUIRE(wait_until(30s, [&] { return run("curl -sf http://" + address + "/-/ready").rc == 0; }));
  }
  ~Alertmanager() { stop_pid(pid); }
};

bool contains(const std::vector<std::string>& texts, const std::vector<std::string>& parts) {
  for (const auto& t : texts) {
    bool all = true;
    for (const auto& p : parts) all = all && t.find(p) != std::string::npos;
    if (all) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("(alerts) a killed node and a hot GPU reach the chat webhook through real Prometheus and Alertmanager",
          "[alerts]") {
  ResumeCluster rc("alerts", {"BreakerSettle=0s", "BreakerFraction=1.0"});
  start_agents(rc.c);

  // The rules as shipped, but for: durations of minutes shortened to seconds (their timing is promtool's test).
  std::string rules = read_file(source_dir() + "/observability/prometheus/autoresume-rules.yml");
  rules = std::regex_replace(rules, std::regex("for: \\d+m"), "for: 5s");
  std::ofstream(rc.c.dir() + "/rules.yml") << rules;
  Receiver rx(rc.c.dir());
  Alertmanager am(rc.c.dir(), rx);
  std::vector<std::pair<std::string, std::string>> jobs;
  jobs.emplace_back("autoresume-controller", trim(read_file(rc.c.dir() + "/autoresume.url")).substr(7));
  for (const char* n : {"n1", "n2", "n3"})
    jobs.emplace_back("autoresume-agent", trim(read_file(rc.c.dir() + "/agent-" + n + ".url")).substr(7));
  Prometheus prom(rc.c.dir(), jobs, {rc.c.dir() + "/rules.yml"}, am.address);
  REQUIRE(wait_until(30s, [&] { return prom.value("count(autoresume_gpu_temperature_celsius)") == 3; }));

  // A node dies: the controller takes it out of service, AutoResumeNodeFailed fires and is delivered.
  rc.c.kill_node("n3");
  const std::string grafana = "https://grafana.example.org";
  REQUIRE(wait_until(60s, [&] {
    return contains(rx.chat_texts(), {"AutoResumeNodeFailed", "Node n3 failed", "Steps: 1. autoresumectl nodes n3",
                                      "Dashboard: " + grafana + "/d/autoresume/auto-resume?viewPanel=19&var-node=n3"});
  }));

  // A GPU above the limit, sustained: GpuTemperatureHigh fires (for: 5s here) and is delivered.
  set_gpu(rc.c, "n1", 95);
  REQUIRE(wait_until(60s, [&] {
    return contains(rx.chat_texts(), {"GpuTemperatureHigh", "GPU 0 on n1 above 85 C", "is at 95 C",
                                      "Steps: 1. Look at the GPU health dashboard",
                                      "Dashboard: " + grafana + "/d/autoresume-gpu/gpu-health?viewPanel=1&var-node=n1"});
  }));
  // Warnings go to chat only: no mail so far.
  CHECK(rx.all("mail").empty());

  // The documented one-line test notification, severity critical: chat and the on-call mailbox.
  auto sent = run("amtool --alertmanager.url=http://" + am.address + " alert add AutoResumeTestNotification "
                  "severity=critical --annotation=summary='test notification' --annotation=runbook='none: a test' "
                  "--annotation=dashboard=/d/autoresume");
  INFO(sent.out);
  REQUIRE(sent.rc == 0);
  REQUIRE(wait_until(30s, [&] { return !rx.all("mail").empty(); }));
  std::string mail = rx.all("mail").front();
  INFO(mail);
  CHECK(mail.find("hpc-oncall@example.org") != std::string::npos);
  CHECK(mail.find("AutoResumeTestNotification") != std::string::npos);
  CHECK(mail.find("test notification") != std::string::npos);
  REQUIRE(wait_until(30s, [&] { return contains(rx.chat_texts(), {"AutoResumeTestNotification", "Steps: none: a test"}); }));
}
