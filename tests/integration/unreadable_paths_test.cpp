// SPDX-License-Identifier: GPL-2.0-or-later
// Every binary run as an ordinary user against paths it cannot read or write (slurm.conf, autoresume.conf, a file it
// names, StateDir, munge's socket): one line naming the path and the reason, the documented exit code, and never an
// uncaught exception (which aborts with 134 and "terminate called ...").
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "catch_compat.hpp"
#include "devcluster.hpp"

using namespace autoresume::testing;

namespace {

// A directory root owns with mode 0700 (its files exist but the test user cannot reach them), beside an open one.
struct LockedPaths {
  std::string open;
  std::string locked;

  LockedPaths() {
    char tmpl[] = "/tmp/autoresume-unreadable-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    open = tmpl;
    locked = open + "/locked";
    REQUIRE(chmod(open.c_str(), 0755) == 0);
    REQUIRE(mkdir(locked.c_str(), 0700) == 0);
    write(locked + "/slurm.conf", "ClusterName=unreadable\n");
    write(locked + "/autoresume.conf", "LogLevel=info\n");
    write(locked + "/token", "0123456789abcdef0123\n");
  }
  ~LockedPaths() { run("rm -rf " + open); }

  static void write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
    REQUIRE(chmod(path.c_str(), 0644) == 0);  // readable by all: only the directory keeps the user out
  }
  // An autoresume.conf the test user can read, with these lines.
  std::string config(const std::string& name, const std::string& lines) const {
    std::string path = open + "/" + name;
    write(path, lines);
    return path;
  }
};

std::string bin(const std::string& relative) { return binary_dir() + "/" + relative; }

// Runs COMMAND as the test user with SLURM_CONF pointing into the locked directory.
CommandResult as_user_locked(const LockedPaths& p, const std::string& command) {
  return run(as_user("env SLURM_CONF=" + p.locked + "/slurm.conf " + command));
}

void says(const CommandResult& r, int rc, const std::string& path, const std::string& reason = "Permission denied") {
  INFO(r.out);
  CHECK(r.rc == rc);
  CHECK(r.out.find(path) != std::string::npos);
  CHECK(r.out.find(reason) != std::string::npos);
  CHECK(r.out.find("terminate called") == std::string::npos);
  CHECK(r.out.find("fatal") == std::string::npos);  // libslurm's own exit on a slurm.conf it cannot read
}

}  // namespace

TEST_CASE("autoresumectl as an ordinary user: unreadable slurm.conf, munge socket, bad usage", "[integration][files]") {
  LockedPaths p;
  std::string ctl = bin("ctl/autoresumectl") + " --url http://127.0.0.1:9 --timeout 2 ";
  SECTION("a command needs ClusterName from a slurm.conf it cannot read: refused (1), the file named") {
    says(as_user_locked(p, ctl + "replace n1"), 1, p.locked + "/slurm.conf");
  }
  SECTION("a read goes out unsigned and finds no controller: unreachable (3)") {
    auto r = as_user_locked(p, ctl + "status");
    INFO(r.out);
    CHECK(r.rc == 3);
    CHECK(r.out.find("cannot reach autoresumed") != std::string::npos);
  }
  SECTION("a munge socket it cannot reach: refused (1), the socket named") {
    says(as_user_locked(p, ctl + "--cluster unreadable --munge-socket " + p.locked + "/munge.socket replace n1"), 1,
         p.locked + "/munge.socket");
  }
  SECTION("a bad option or no subcommand: usage (2)") {
    CHECK(as_user_locked(p, ctl + "--no-such-option status").rc == 2);
    CHECK(as_user_locked(p, ctl).rc == 2);
    CHECK(as_user_locked(p, ctl + "--timeout 0 status").rc == 2);
  }
}

TEST_CASE("autoresumed as an ordinary user: unreadable config, token file, slurm.conf, StateDir",
          "[integration][files]") {
  LockedPaths p;
  std::string daemon = bin("controller/autoresumed") + " -f -c ";
  SECTION("autoresume.conf it cannot read") {
    says(as_user_locked(p, daemon + p.locked + "/autoresume.conf"), 1, p.locked + "/autoresume.conf");
  }
  SECTION("a file a key names (MetricsTokenFile): the config file and line, then the file") {
    std::string conf = p.config("token.conf", "MetricsTokenFile=" + p.locked + "/token\n");
    auto r = as_user_locked(p, daemon + conf + " --check-config");
    says(r, 1, p.locked + "/token");
    CHECK(r.out.find(conf + ":1:") != std::string::npos);
  }
  SECTION("a StateDir it cannot create or write: said before daemonizing") {
    std::string conf = p.config("state.conf", "StateDir=" + p.locked + "/state\nListenAddress=none\n");
    says(as_user_locked(p, daemon + conf), 1, p.locked + "/state");
    says(as_user_locked(p, bin("controller/autoresumed") + " --reset-breaker -c " + conf), 1, p.locked + "/state");
  }
  SECTION("slurm.conf it cannot read, with a usable StateDir") {
    std::string conf = p.config("slurm.conf.conf", "StateDir=" + p.open + "/state\nListenAddress=none\n");
    REQUIRE(run("mkdir -m 0777 " + p.open + "/state").rc == 0);
    says(as_user_locked(p, daemon + conf), 1, p.locked + "/slurm.conf");
    says(as_user_locked(p, bin("controller/autoresumed") + " --check-slurm -c " + conf), 1, p.locked + "/slurm.conf");
  }
  SECTION("a bad option: usage (2)") { CHECK(as_user_locked(p, daemon + "/dev/null --no-such-option").rc == 2); }
}

TEST_CASE("autoresume-agent as an ordinary user: unreadable slurm.conf", "[integration][files]") {
  LockedPaths p;
  std::string agent =
      bin("agent/autoresume-agent") + " --nvml-lib " + std::string(AUTORESUME_FAKE_NVML) + " --node n1 ";
  SECTION("the daemon needs Slurm: agent error (2), the file named") {
    says(as_user_locked(p, agent + "run --listen none --expected-gpus 1"), 2, p.locked + "/slurm.conf");
  }
  SECTION("check --drain on a failing node: the verdict stands (1), the drain says why it could not happen") {
    auto r = as_user_locked(p, agent + "check --drain --expected-gpus 1");
    says(r, 1, p.locked + "/slurm.conf");
    CHECK(r.out.find("not drained") != std::string::npos);
  }
}
