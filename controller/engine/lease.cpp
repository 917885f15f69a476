// SPDX-License-Identifier: GPL-2.0-or-later
#include "engine/lease.hpp"

#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>

#include "util/log.hpp"
#include "util/strings.hpp"

namespace autoresume {

std::string short_hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "localhost";
  std::string s = name;
  return s.substr(0, s.find('.'));
}

namespace {

// Filesystems whose files other hosts see (statfs f_type): NFS, SMB/CIFS, Lustre, GPFS, BeeGFS, CephFS, FUSE.
bool network_filesystem(const std::string& path) {
  struct statfs fs {};
  if (statfs(path.c_str(), &fs) != 0) return false;
  switch (static_cast<unsigned long>(fs.f_type)) {
    case 0x6969:      // NFS
    case 0xFF534D42:  // CIFS
    case 0xFE534D42:  // SMB2
    case 0x0BD00BD0:  // Lustre
    case 0x47504653:  // GPFS
    case 0x19830326:  // BeeGFS
    case 0x00C36400:  // CephFS
    case 0x65735546:  // FUSE
      return true;
    default:
      return false;
  }
}

}  // namespace

std::vector<std::string> high_availability_missing(const Config& config, const SlurmSettings& settings) {
  std::vector<std::string> out;
  const auto& names = settings.controllers;
  if (names.size() < 2) {
    if (config.high_availability)
      out.push_back("HighAvailability=yes, but slurm.conf names one SlurmctldHost only: no backup to stand beside");
    return out;
  }
  if (!config.high_availability) {
    out.push_back("slurm.conf names " + std::to_string(names.size()) + " SlurmctldHost (" + join_commas(names) +
                  ") but HighAvailability=no: auto-resume stops with this host; run an autoresumed beside each with "
                  "HighAvailability=yes and one shared StateDir");
    return out;
  }
  std::string host = config.controller_host.empty() ? short_hostname() : config.controller_host;
  if (std::find(names.begin(), names.end(), host) == names.end())
    out.push_back("ControllerHost " + host + " is none of slurm.conf's SlurmctldHost (" + join_commas(names) +
                  "): this autoresumed would stay standby");
  struct stat ours {}, slurms {};
  bool same_fs = stat(config.state_dir.c_str(), &ours) == 0 && !settings.state_save_location.empty() &&
                 stat(settings.state_save_location.c_str(), &slurms) == 0 && ours.st_dev == slurms.st_dev;
  if (!same_fs && !network_filesystem(config.state_dir))
    out.push_back("StateDir " + config.state_dir + " is not shared: neither on StateSaveLocation's filesystem (" +
                  settings.state_save_location + ") nor on a network filesystem; the other hosts' autoresumed "
                  "cannot take over what this one journals");
  if (config.lease_time.count() >= static_cast<long long>(settings.slurmctld_timeout) * 1000)
    out.push_back("LeaseTime (" + std::to_string(config.lease_time.count() / 1000) + "s) is not below SlurmctldTimeout (" +
                  std::to_string(settings.slurmctld_timeout) + "s): a takeover lags the backup slurmctld's");
  return out;
}

Leadership::Leadership(Store& store, SlurmClient& slurm, const Config& config)
    : store_(store), slurm_(slurm), config_(config) {
  view_.active = false;
  view_.high_availability = config.high_availability;
  view_.host = config.controller_host.empty() ? short_hostname() : config.controller_host;
  holder_ = view_.host + " pid " + std::to_string(getpid());
  view_.why = "starting";
  store_.install_fence(0);  // a standby writes nothing
}

void Leadership::become(bool active, const std::string& why) {
  if (active != view_.active)
    log(active ? LogLevel::Info : LogLevel::Warning, active ? "became_active" : "became_standby",
        {{"host", view_.host}, {"why", why}, {"generation", std::to_string(store_.fence())}});
  view_.active = active;
  view_.why = why;
}

void Leadership::lost(const std::string& why) {
  log(LogLevel::Warning, "lease_lost", {{"error", why}, {"effect", "stops acting; standby"}});
  store_.release_lease();  // refused quietly: the generation is no longer ours
  become(false, "lease lost: " + why);
  view_.lease = store_.lease();
}

// Whether the slurmctld beside us is the one in control now: it answers, and no SlurmctldHost before it does.
bool Leadership::beside_controller_in_control() {
  if (index_ < 0) {
    auto settings = slurm_.load_settings();
    if (!settings) {
      index_problem_ = "slurm.conf's SlurmctldHost list not read yet: " + settings.error().message;
      return false;
    }
    auto& names = settings->controllers;
    auto it = std::find(names.begin(), names.end(), view_.host);
    if (it == names.end()) {
      std::string problem = "ControllerHost " + view_.host + " is none of slurm.conf's SlurmctldHost (" +
                            join_commas(names) + ")";
      if (problem != index_problem_) log(LogLevel::Error, "controller_host_unknown", {{"error", problem}, {"effect", "standby"}});
      index_problem_ = problem;
      return false;
    }
    index_ = static_cast<int>(it - names.begin());
    index_problem_.clear();
    log(LogLevel::Info, "controller_host", {{"host", view_.host}, {"index", std::to_string(index_)},
                                            {"controllers", join_commas(names)}});
  }
  for (int i = 0; i < index_; ++i) {
    auto up = slurm_.ping_controller(i);
    if (up && *up) {
      index_problem_ = "SlurmctldHost #" + std::to_string(i) + " before ours answers: it is in control";
      return false;
    }
  }
  auto up = slurm_.ping_controller(index_);
  if (!up || !*up) {
    index_problem_ = "the slurmctld beside us does not answer";
    return false;
  }
  index_problem_.clear();
  return true;
}

bool Leadership::update(bool now_please) {
  double now = unix_now();
  if (!now_please && now - last_update_ < 1.0) return view_.active;
  last_update_ = now;
  double lease_s = static_cast<double>(config_.lease_time.count()) / 1000.0;
  if (view_.active) {
    if (!store_.renew_lease(lease_s)) {
      lost("another autoresumed took the lease");
      return false;
    }
    view_.lease = store_.lease();
    // A standby beside the slurmctld in control asks for it: handed over here, between two ticks.
    bool asked = config_.high_availability && !view_.lease.wanted_by.empty() && view_.lease.wanted_by != view_.host &&
                 now - view_.lease.wanted_at < lease_s;
    if (asked && !beside_controller_in_control()) {
      store_.release_lease();
      log(LogLevel::Info, "lease_handed_over", {{"to", view_.lease.wanted_by}, {"why", index_problem_}});
      become(false, "handed over to " + view_.lease.wanted_by + " (" + index_problem_ + ")");
      view_.lease = store_.lease();
    }
    return view_.active;
  }
  bool preferred = !config_.high_availability || beside_controller_in_control();
  if (!preferred && index_ < 0) {  // not one of slurm.conf's SlurmctldHost (or the list not read yet): never acts
    view_.why = index_problem_;
    view_.lease = store_.lease();
    return false;
  }
  // Not beside the slurmctld in control: only a lease nobody renewed for 2 x LeaseTime (that one is down too).
  std::string previous = store_.lease().host;
  auto generation = store_.take_lease(holder_, view_.host, lease_s, preferred ? 0 : 2 * lease_s);
  view_.lease = store_.lease();
  if (generation) {
    become(true, preferred ? (config_.high_availability ? "beside the slurmctld in control" : "lone controller")
                           : "lease abandoned by " + (previous.empty() ? "its holder" : previous) + "; " + index_problem_);
    view_.lease = store_.lease();
    return true;
  }
  if (preferred) store_.want_lease(view_.host);
  std::string why = view_.lease.holder.empty()
                        ? "lease released (generation " + std::to_string(view_.lease.generation) + ")"
                        : "lease held by " + view_.lease.holder + " (generation " + std::to_string(view_.lease.generation) + ")";
  if (!preferred) why += "; " + index_problem_;
  if (why != view_.why) log(LogLevel::Info, "standby", {{"why", why}});
  view_.why = why;
  return false;
}

}  // namespace autoresume
