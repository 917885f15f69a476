// SPDX-License-Identifier: GPL-2.0-or-later
// The agent's checks through the real dlopen path, against the fake NVML library the project builds.
#include <unistd.h>

#include "catch_compat.hpp"
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "checks/checks.hpp"
#include "node_drain.hpp"
#include "slurm/fake_slurm.hpp"

using namespace autoresume;
using namespace autoresume::agent;

namespace {

// Writes the fake's state and points it there; returns the checks' verdicts by name.
struct FakeGpus {
  std::string path = "/tmp/autoresume-fake-nvml-" + std::to_string(getpid()) + ".json";
  explicit FakeGpus(const std::string& state) {
    std::ofstream(path) << state;
    setenv("FAKE_NVML_STATE", path.c_str(), 1);
  }
  ~FakeGpus() { std::remove(path.c_str()); }
  std::map<std::string, CheckResult> check(Thresholds t = {}) {
    auto lib = nvml::Library::load(AUTORESUME_FAKE_NVML);
    auto results = gpu_checks(*lib, read_gpus(*lib), t);
    std::map<std::string, CheckResult> by_name;
    for (auto& r : results) by_name.emplace(r.name, r);
    return by_name;
  }
};

const char* kOneH200 = R"({"gpus": [{"name": "NVIDIA H200", "uuid": "GPU-0", "temperature": 41, "ecc_uncorrected": 0,
  "remapped": {"correctable": 0, "uncorrectable": 0, "pending": 0, "failure": 0}, "retired_pending": false}]})";

// The healthy H200 above with some fields replaced.
std::string one_gpu(const std::string& fields) {
  auto state = nlohmann::json::parse(kOneH200);
  state["gpus"][0].update(nlohmann::json::parse("{" + fields + "}"));
  return state.dump();
}

}  // namespace

TEST_CASE("a healthy single GPU: every check ok, NVLink not applicable", "[agent]") {
  FakeGpus f(kOneH200);
  auto r = f.check();
  CHECK(r.at("gpu_count").verdict == Verdict::Ok);
  CHECK(r.at("gpu_count").detail == "1 GPUs");
  CHECK(r.at("gpu0:lost").detail == "NVIDIA H200");
  CHECK(r.at("gpu0:temperature").verdict == Verdict::Ok);
  CHECK(r.at("gpu0:temperature").detail == "41 C (max 85 C)");
  CHECK(r.at("gpu0:ecc").verdict == Verdict::Ok);
  CHECK(r.at("gpu0:row_remap").verdict == Verdict::Ok);
  CHECK(r.at("gpu0:retired_pages").verdict == Verdict::Ok);
  CHECK(r.at("gpu0:nvlink").verdict == Verdict::NotApplicable);
}

TEST_CASE("temperature: above GpuTempMax fails, within 5 C warns", "[agent]") {
  FakeGpus f(one_gpu(R"("temperature": 86)"));
  CHECK(f.check().at("gpu0:temperature").verdict == Verdict::Fail);
  Thresholds hot;
  hot.gpu_temp_max = 90;
  CHECK(f.check(hot).at("gpu0:temperature").verdict == Verdict::Warn);
  hot.gpu_temp_max = 95;
  CHECK(f.check(hot).at("gpu0:temperature").verdict == Verdict::Ok);
}

TEST_CASE("memory faults: uncorrectable ECC, pending or failed row remap, pending page retirement", "[agent]") {
  CHECK(FakeGpus(one_gpu(R"("ecc_uncorrected": 2)")).check().at("gpu0:ecc").verdict == Verdict::Fail);
  CHECK(FakeGpus(one_gpu(R"("remapped": {"correctable": 1, "uncorrectable": 0, "pending": 1, "failure": 0})"))
            .check().at("gpu0:row_remap").verdict == Verdict::Fail);
  CHECK(FakeGpus(one_gpu(R"("remapped": {"correctable": 0, "uncorrectable": 1, "pending": 0, "failure": 1})"))
            .check().at("gpu0:row_remap").verdict == Verdict::Fail);
  CHECK(FakeGpus(one_gpu(R"("remapped": {"correctable": 3, "uncorrectable": 1, "pending": 0, "failure": 0})"))
            .check().at("gpu0:row_remap").verdict == Verdict::Ok);
  CHECK(FakeGpus(one_gpu(R"("retired_pending": true)")).check().at("gpu0:retired_pages").verdict == Verdict::Fail);
}

TEST_CASE("NOT_SUPPORTED is not applicable, never a fault", "[agent]") {
  FakeGpus f(one_gpu(R"("not_supported": ["temperature", "ecc", "row_remap", "retired_pages"])"));
  auto r = f.check();
  for (const char* c : {"gpu0:temperature", "gpu0:ecc", "gpu0:row_remap", "gpu0:retired_pages", "gpu0:nvlink"}) {
    INFO(c);
    CHECK(r.at(c).verdict == Verdict::NotApplicable);
  }
  CHECK(healthy({r.at("gpu0:ecc"), r.at("gpu0:nvlink")}));
}

TEST_CASE("an NVLink link expected up but down fails", "[agent]") {
  CHECK(FakeGpus(one_gpu(R"("nvlink": [true, true, true, true])")).check().at("gpu0:nvlink").verdict == Verdict::Ok);
  auto down = FakeGpus(one_gpu(R"("nvlink": [true, false, true, true])")).check().at("gpu0:nvlink");
  CHECK(down.verdict == Verdict::Fail);
  CHECK(down.detail == "3 of 4 links up");
}

TEST_CASE("a lost GPU fails", "[agent]") {
  FakeGpus f(R"({"gpus": [{"name": "a"}, {"name": "b", "lost": true}]})");
  auto r = f.check();
  CHECK(r.at("gpu0:lost").verdict == Verdict::Ok);
  CHECK(r.at("gpu1:lost").verdict == Verdict::Fail);
  CHECK(r.at("gpu1:lost").detail == "GPU is lost (NVML_ERROR_GPU_IS_LOST)");
  CHECK(r.count("gpu1:temperature") == 0);
}

TEST_CASE("GPU count against the expected count", "[agent]") {
  FakeGpus f(R"({"gpus": [{"name": "a"}, {"name": "b"}]})");
  Thresholds t;
  t.expected_gpus = 2;
  CHECK(f.check(t).at("gpu_count").verdict == Verdict::Ok);
  t.expected_gpus = 8;
  auto r = f.check(t).at("gpu_count");
  CHECK(r.verdict == Verdict::Fail);
  CHECK(r.detail == "2 GPUs, expected 8");
}

TEST_CASE("no NVML library or no driver: no GPUs, host checks only, unless GPUs are expected", "[agent]") {
  auto missing = nvml::Library::load("/nonexistent/libnvidia-ml.so.1");
  CHECK_FALSE(missing->available());
  auto r = gpu_checks(*missing, read_gpus(*missing), {});
  REQUIRE(r.size() == 1);
  CHECK(r[0].verdict == Verdict::NotApplicable);
  CHECK(r[0].detail.rfind("no GPUs (", 0) == 0);
  Thresholds t;
  t.expected_gpus = 1;
  CHECK(gpu_checks(*missing, {}, t)[0].verdict == Verdict::Fail);

  FakeGpus f(R"({"init_error": 9, "gpus": []})");
  auto lib = nvml::Library::load(AUTORESUME_FAKE_NVML);
  CHECK_FALSE(lib->available());
  CHECK(lib->unavailable_reason() == "nvmlInit: Driver Not Loaded");
}

TEST_CASE("host checks: free space and available memory against their minimums", "[agent]") {
  Thresholds t;
  t.disks = {{"/", 1}, {"/", ~0ull}, {"/nonexistent-path", 1}};
  t.min_memory_available = 1;
  auto r = host_checks(t);
  REQUIRE(r.size() == 4);
  CHECK(r[0].verdict == Verdict::Ok);
  CHECK(r[1].verdict == Verdict::Fail);
  CHECK(r[2].verdict == Verdict::Fail);
  CHECK(r[3].name == "memory");
  CHECK(r[3].verdict == Verdict::Ok);
  t.min_memory_available = ~0ull;
  CHECK(host_checks(t).back().verdict == Verdict::Fail);
}

TEST_CASE("agent drain: the first failing check is the reason, and a warn never drains", "[agent]") {
  std::vector<CheckResult> warn_only = {{"gpu0:temperature", Verdict::Warn, "82 C (max 85 C)"}};
  CHECK(drain_reason(warn_only).empty());
  std::vector<CheckResult> failing = {{"gpu_count", Verdict::Ok, "1 GPUs"},
                                      {"gpu0:temperature", Verdict::Fail, "34 C (max 29 C)"},
                                      {"memory", Verdict::Fail, "0.1 GiB available"}};
  CHECK(drain_reason(failing) == "autoresume: gpu0:temperature: 34 C (max 29 C)");
}

TEST_CASE("agent drain: drains its own node, never over someone else's reason", "[agent]") {
  FakeSlurm s;
  s.add_node("n1");
  s.add_node("n2");
  CHECK(drain_own_node(s, "n1", "autoresume: gpu0:ecc: 2 uncorrectable (volatile)") ==
        "drained n1: autoresume: gpu0:ecc: 2 uncorrectable (volatile)");
  CHECK(s.nodes["n1"].drain);
  CHECK(drain_own_node(s, "n1", "autoresume: gpu0:ecc: 3").rfind("already drained by auto-resume", 0) == 0);
  s.nodes["n2"].drain = true;
  s.nodes["n2"].reason = "maintenance: new PSU";
  CHECK(drain_own_node(s, "n2", "autoresume: gpu0:lost: GPU is lost") ==
        "not drained: the node already carries someone else's reason: maintenance: new PSU");
  CHECK(s.nodes["n2"].reason == "maintenance: new PSU");
  CHECK(drain_own_node(s, "n9", "autoresume: x").rfind("not drained: ", 0) == 0);
  CHECK(s.calls == std::vector<std::string>{"drain n1 autoresume: gpu0:ecc: 2 uncorrectable (volatile)"});
}

TEST_CASE("the expected GPU count from a node's gres, as Slurm configures it", "[agent]") {
  CHECK(gpu_count_in_gres("gpu:8") == 8u);
  CHECK(gpu_count_in_gres("gpu:h200:8(S:0-1)") == 8u);
  CHECK(gpu_count_in_gres("gpu:a100:2,gpu:h200:2") == 4u);
  CHECK(gpu_count_in_gres("nic:1,gpu:h200:4(S:0),mps:400") == 4u);
  CHECK_FALSE(gpu_count_in_gres(""));
  CHECK_FALSE(gpu_count_in_gres("nic:1"));
  FakeSlurm slurm;
  slurm.add_node("g1").gres = "gpu:h200:8";
  slurm.add_node("c1");
  CHECK(expected_gpus_from_slurm(slurm, "g1") == 8u);
  CHECK_FALSE(expected_gpus_from_slurm(slurm, "c1"));
  CHECK_FALSE(expected_gpus_from_slurm(slurm, "nope"));
}
