// SPDX-License-Identifier: GPL-2.0-or-later
// The remediation methods' configuration and the ladder's vocabulary: ReplaceMethod / RebootMethod, what `auto`
// picks from slurm.conf's machinery, the rung an agent's reason names, and the climb.
#include "catch_compat.hpp"

#include "config/config.hpp"
#include "recovery/remediation.hpp"

using namespace autoresume;

TEST_CASE("ReplaceMethod: one method, or a fallback and per-node globs where the first match wins", "[remediation]") {
  auto one = parse_method_choice("power_cycle");
  REQUIRE(one.ok());
  CHECK(one->for_node("gpu-01") == Method::PowerCycle);

  auto mixed = parse_method_choice("power_cycle, gpu-onprem*:reboot,gpu-onprem-9:none");
  REQUIRE(mixed.ok());
  CHECK(mixed->for_node("gpu-cloud-3") == Method::PowerCycle);
  CHECK(mixed->for_node("gpu-onprem-2") == Method::Reboot);
  CHECK(mixed->for_node("gpu-onprem-9") == Method::Reboot);  // the earlier glob matched first

  for (const char* bad : {"", "powercycle", "gpu_reset", "restart", "power_cycle,gpu*", "power_cycle,:reboot",
                          "auto,n[1-4]:reset"}) {
    INFO(bad);
    CHECK_FALSE(parse_method_choice(bad).ok());
  }
}

TEST_CASE("ReplaceMethod and RebootMethod in the configuration, and a bad one stops with file, line and what is expected",
          "[remediation][config]") {
  auto c = parse_config("ReplaceMethod=reboot,cloud-*:power_cycle\nRebootMethod=none\n", "a.conf");
  REQUIRE(c.ok());
  CHECK(c->replace_method.for_node("cloud-7") == Method::PowerCycle);
  CHECK(c->replace_method.for_node("n1") == Method::Reboot);
  CHECK(c->reboot_method.for_node("n1") == Method::None);

  auto defaults = parse_config("", "a.conf");
  REQUIRE(defaults.ok());
  CHECK(defaults->replace_method.for_node("n1") == Method::Auto);

  auto bad = parse_config("PollInterval=1s\nReplaceMethod=gpu_reset\n", "a.conf");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.rfind("a.conf:2: ReplaceMethod=gpu_reset: ", 0) == 0);
  CHECK(bad.error().message.find("expected auto, program, reboot, power_cycle or none") != std::string::npos);
}

TEST_CASE("auto picks the site's program, else power saving, else Slurm's reboot, else waiting", "[remediation]") {
  Config config;
  SlurmSettings bare;
  SlurmSettings cloud;
  cloud.suspend_program = "/opt/cloud/suspend", cloud.resume_program = "/opt/cloud/resume";
  SlurmSettings onprem;
  onprem.reboot_program = "/usr/sbin/ipmi-reboot";
  SlurmSettings both = cloud;
  both.reboot_program = onprem.reboot_program;

  CHECK(resolve_method("replace", "n1", config, nullptr) == Method::Auto);  // slurm.conf not read yet: undecided
  CHECK(resolve_method("replace", "n1", config, &bare) == Method::None);
  CHECK(resolve_method("replace", "n1", config, &cloud) == Method::PowerCycle);
  CHECK(resolve_method("replace", "n1", config, &onprem) == Method::Reboot);
  CHECK(resolve_method("replace", "n1", config, &both) == Method::PowerCycle);
  CHECK(resolve_method("reboot", "n1", config, &both) == Method::Reboot);
  CHECK(resolve_method("reboot", "n1", config, &cloud) == Method::PowerCycle);

  // 22.05 without PrivateData=cloud: a powered-down node vanishes from Slurm's answers, auto does not power cycle.
  SlurmSettings hidden = cloud;
  hidden.powered_down_hidden = true;
  CHECK(resolve_method("replace", "n1", config, &hidden) == Method::None);
  CHECK_FALSE(hidden.power_cycle_missing().empty());
  CHECK(cloud.power_cycle_missing().empty());

  config.replace_program = "/usr/local/sbin/replace";
  CHECK(resolve_method("replace", "n1", config, &both) == Method::Program);
  CHECK(resolve_method("reboot", "n1", config, &bare) == Method::Program);  // the replace program, for want of one
  config.reboot_program = "/usr/local/sbin/reboot";
  CHECK(resolve_method("reboot", "n1", config, &both) == Method::Program);

  // Said in the configuration: what it says, per node.
  config.replace_method = parse_method_choice("reboot,cloud-*:power_cycle").value();
  CHECK(resolve_method("replace", "cloud-1", config, &bare) == Method::PowerCycle);
  CHECK(resolve_method("replace", "n1", config, &bare) == Method::Reboot);
  // The agent's rungs have their own method whatever the configuration says.
  CHECK(resolve_method("reset_gpu", "n1", config, &both) == Method::GpuReset);
  CHECK(resolve_method("restart_app", "n1", config, &both) == Method::Restart);
}

TEST_CASE("the rung an agent's drain reason names, and the climb when a rung did not hold", "[remediation]") {
  CHECK(ladder_rung("autoresume: gpu0: xid 62 [reset_gpu]") == "reset_gpu");
  CHECK(ladder_rung("autoresume: gpu1: xid 13 [restart_app]") == "restart_app");
  CHECK(ladder_rung("autoresume: gpu0: xid 79 [reboot]") == "reboot");
  CHECK(ladder_rung("autoresume: gpu0: xid 62 [reset_gpu: done]") == "reset_gpu");
  CHECK(ladder_rung("autoresume: gpu0: xid 62 [reset_gpu: failed: exit 3]") == "reset_gpu");
  CHECK_FALSE(ladder_rung("autoresume: gpu0: xid 79").has_value());
  CHECK_FALSE(ladder_rung("reset_gpu please").has_value());  // a bare word is not a rung

  CHECK(escalate("restart_app") == "reset_gpu");
  CHECK(escalate("reset_gpu") == "reboot");
  CHECK(escalate("reboot") == "replace");
  CHECK(escalate("replace") == "replace");
}

TEST_CASE("slurm.conf: a SlurmdTimeout a dead node's ping round can outlast is named, with what to raise it to",
          "[settings]") {
  SlurmSettings s;
  CHECK(s.ping_timing_risk().empty());  // Slurm's defaults: SlurmdTimeout=300, MessageTimeout=10
  s.slurmd_timeout = 10;
  s.message_timeout = 10;  // set live nodes DOWN in every run on 24.11
  std::string risk = s.ping_timing_risk();
  CHECK(risk.find("SlurmdTimeout=10 is too short for MessageTimeout=10") != std::string::npos);
  CHECK(risk.find("raise SlurmdTimeout to 20 s or more, or lower MessageTimeout to 3") != std::string::npos);
  s.message_timeout = 5;  // about 1 run in 10 on 24.11: an answer 3 + 1 + 5 + 1 s old is judged against 10
  CHECK(s.ping_timing_risk().find("raise SlurmdTimeout to 13 s or more, or lower MessageTimeout to 3") !=
        std::string::npos);
  s.message_timeout = 3;  // what the local cluster sets
  CHECK(s.ping_timing_risk().empty());
  s.slurmd_timeout = 19;
  s.message_timeout = 10;
  CHECK_FALSE(s.ping_timing_risk().empty());
  s.slurmd_timeout = 20;
  CHECK(s.ping_timing_risk().empty());
  s.slurmd_timeout = 6;  // no MessageTimeout short enough: only raising SlurmdTimeout helps
  s.message_timeout = 2;
  risk = s.ping_timing_risk();
  CHECK(risk.find("raise SlurmdTimeout to 8 s or more") != std::string::npos);
  CHECK(risk.find("lower MessageTimeout") == std::string::npos);
  s.slurmd_timeout = 0;  // never set DOWN for silence
  CHECK(s.ping_timing_risk().empty());
}
